"""The registry of laws by name."""

from __future__ import annotations

from ..errors import InputError
from ._law import Law

_REGISTRY: dict[str, Law] = {}


def register_law(law: Law) -> Law:
    """Add ``law`` under ``law.name``. A name is registered once and never changes meaning."""
    if law.name in _REGISTRY and _REGISTRY[law.name] is not law:
        raise ValueError(f"a law named {law.name!r} is already registered")
    _REGISTRY[law.name] = law
    return law


def get_law(name: str | Law, *, files: bool = True) -> Law:
    """The registered law called ``name``, or the law of a formula or (``files``) of a ``.toml``
    law file (see `formula`); a ``Law`` passes through."""
    if isinstance(name, Law):
        return name
    if name in _REGISTRY:
        return _REGISTRY[name]
    from . import formula

    if isinstance(name, str) and name.endswith(".toml") and not formula.is_formula(name):
        if not files:
            raise InputError(f"a law is named here by a registered name or by its formula, not by a law file; "
                             f"got `{name}`")
        return formula.load_law_file(name)
    if formula.is_formula(name) or (isinstance(name, str) and any(c in name for c in "*/^()+")):  # a formula, or an attempt at one
        return formula.parse_formula(name)
    raise InputError(f"unknown law `{name}`; registered laws: {', '.join(sorted(_REGISTRY))} (or a formula, "
                     "as `L(N, D) = E + A / N^alpha + B / D^beta; E >= 0`, or a .toml law file)")


def list_laws() -> list[Law]:
    """All registered laws, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
