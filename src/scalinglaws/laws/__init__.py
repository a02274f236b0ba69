"""Laws: `Law` and `Param` values and the registry. Importing this registers every family."""

from . import alabdulmohsin, curves, data_scaling, downstream, dynamics, inference, pretraining  # noqa: F401  (registration)
from ._law import FAMILIES, SPACES, Law, Param, from_space, to_space
from ._registry import get_law, list_laws, register_law

__all__ = ["FAMILIES", "SPACES", "Law", "Param", "from_space", "get_law", "list_laws", "register_law", "to_space"]
