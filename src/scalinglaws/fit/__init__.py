"""The fitting engine: a problem in (`prepare`), a `FitResult` out (`solve`, `fit_law`).

It knows nothing of bootstraps or law selection, which call it from above (`scalinglaws.uncertainty`,
`scalinglaws.select`); the public `scalinglaws.fit` composes them.
"""

from .api import Problem, fit_law, prepare, solve
from .losses import LOSSES
from .methods import METHODS
from .records import Bootstrap, Selection
from .result import FitResult, Starts

__all__ = ["LOSSES", "METHODS", "Bootstrap", "FitResult", "Problem", "Selection", "Starts", "fit_law", "prepare", "solve"]
