"""Errors raised for problems in what the user gave (data, arguments) or in a fit."""

from __future__ import annotations

__all__ = ["ScalingLawsError", "InputError", "MissingColumnError", "MissingExtraError", "FitError", "shown"]


class ScalingLawsError(Exception):
    """Base class: a problem the user can act on. The CLI prints its message as one line."""


class InputError(ScalingLawsError, ValueError):
    """Bad input: the message names the argument or column, the rule and the value."""


class MissingColumnError(InputError):
    """A law input that no column of the table provides (the caller may add which laws the table allows)."""


class MissingExtraError(ScalingLawsError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra to install."""


class FitError(ScalingLawsError, RuntimeError):
    """A fit that could not produce a usable result (every start failed)."""


def shown(value) -> str:
    """A table cell as an error message quotes it: as the user wrote it (``-5``, not ``np.int64(-5)``)."""
    return repr(value.item() if hasattr(value, "item") else value)
