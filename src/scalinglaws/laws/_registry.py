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


def get_law(name: str | Law) -> Law:
    """The registered law called ``name`` (a ``Law`` passes through)."""
    if isinstance(name, Law):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown law `{name}`; registered laws: {', '.join(sorted(_REGISTRY))}") from None


def list_laws() -> list[Law]:
    """All registered laws, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
