"""scalinglaws: fit, forecast and plan with neural scaling laws.

A flat public API: laws are values (`Law`, `Param`, the registry), `fit` turns a table of runs into
a `FitResult`, `compute_optimal` plans a budget.
"""

from ._jax import enable_compilation_cache
from .data import DATASETS, Runs, load_dataset, load_runs, read_runs
from .errors import FitError, InputError, ScalingLawsError
from .api import fit, fit_groups, fits_table, predict_mix
from .chain import ChainResult, fit_chain
from .evaluate import Backtest, backtest
from .fit import FitResult, Starts
from .fit.backend import use_backend
from .data.checkpoints import flag_warmup
from .laws import Law, Param, get_law, list_laws, register_law
from .observational import ObservationalFit, fit_observational
from .passk import pass_at_k
from .inverse import compute_for_loss, critical_batch, epochs_worth_it, inference_aware, reach, smaller_model_overhead
from .plan import compute_optimal, optimal_exponents
from . import plot, report  # noqa: E402  (figures and the HTML report: the top layers)

__version__ = "0.1.0"

__all__ = [
    "Backtest",
    "ChainResult",
    "DATASETS",
    "FitError",
    "FitResult",
    "InputError",
    "Law",
    "ObservationalFit",
    "Param",
    "Runs",
    "ScalingLawsError",
    "Starts",
    "__version__",
    "use_backend",
    "enable_compilation_cache",
    "backtest",
    "compute_for_loss",
    "compute_optimal",
    "critical_batch",
    "epochs_worth_it",
    "fit",
    "fit_chain",
    "fit_groups",
    "fits_table",
    "flag_warmup",
    "fit_observational",
    "get_law",
    "inference_aware",
    "list_laws",
    "load_dataset",
    "load_runs",
    "pass_at_k",
    "plot",
    "report",
    "optimal_exponents",
    "predict_mix",
    "reach",
    "read_runs",
    "register_law",
    "smaller_model_overhead",
]
