"""Fitting: `fit` -> `FitResult`, the losses and the batched JAX engine."""

from .api import fit
from .losses import LOSSES
from .methods import METHODS
from .result import FitResult, Starts

__all__ = ["LOSSES", "METHODS", "FitResult", "Starts", "fit"]
