"""Laws: `Law` and `Param` values and the registry. Importing this registers every family."""

from . import alabdulmohsin, curves, downstream, pretraining  # noqa: F401  (registration)
from ._law import Law, Param
from ._registry import get_law, list_laws, register_law

__all__ = ["Law", "Param", "get_law", "list_laws", "register_law"]
