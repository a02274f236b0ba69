"""The command-line interface. The only package that prints or sets exit codes.

Exit codes: 0 ok, 1 the input or the fit failed (one line on stderr, no traceback), 2 usage.
``commands`` holds the app, its helpers and the commands on runs; ``decide`` the commands that turn
a fit into a decision (plan, compare, isoflop, rank, design, cost).
"""

from . import decide, see  # noqa: F401  (register their commands on the app)
from .commands import app, main, run

__all__ = ["app", "main", "run"]
