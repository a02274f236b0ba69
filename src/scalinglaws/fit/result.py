"""`FitResult`: an immutable record of a fit, its starts and its status."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import FitError, InputError
from ..laws import SPACES, Law, get_law
from .records import Bootstrap, Calibration, Selection, check_level, decades_outside, too_few_converged


@dataclass(frozen=True)
class Starts:
    """Every start the solver ran: its final parameters, objective and status, as the method left
    them (a start marked ``out_of_bounds`` left the law's bounds; it is never reported as the fit)."""

    params: dict[str, tuple[float, ...]]
    objective: tuple[float, ...]
    status: tuple[str, ...]
    iterations: tuple[int, ...]


@dataclass(frozen=True)
class FitResult:
    """The outcome of `scalinglaws.fit`.

    Attributes:
        law: the fitted law.
        params: fitted values keyed by the law's symbols (fixed ones included).
        objective: the loss at ``params`` (a sum over points for ``huber``; the negative
            log-likelihood for ``huber-mle``; the mean for ``mse``).
        status: the reported start's status: ``"converged"`` (certified by the Newton-decrement
            test), ``"max_iterations"`` or ``"stopped"`` (the best found, not certified).
        n_starts: starts the solver ran; ``n_at_best``: how many independent starts converged to
            the best objective (relative 1e-6); ``n_screened``: candidates screened before solving;
            ``status_counts``: how many starts ended with each status (``discarded``: pruned).
        at_bound: parameters that ended on one of their bounds.
        loss_params: fitted parameters of the loss itself (``sigma`` for ``huber-mle``).
        columns, y_column: which table columns fed the law's inputs and target.
        x_range: the observed ``[min, max]`` of each input (for extrapolation checks).
        notes: data hygiene findings (duplicates, excluded rows, columns found by their names).
        warnings: diagnostics of the fit (see `scalinglaws.fit._diagnose`): too few distinct
            values of an input, parameters with no effect (a term switched off), an asymptote
            beyond the observations, residuals that trend with scale.
        selection: with ``law="auto"``, why this law was chosen (every candidate's backtest score).
        calibration: with ``bootstrap``, the law's own held-out errors inside the training runs by
            distance extrapolated, which widen intervals beyond the training range.
    """

    law: Law
    params: dict[str, float]
    objective: float
    status: str
    loss: str
    delta: float
    method: str
    n_points: int
    n_starts: int
    n_at_best: int
    n_screened: int
    status_counts: dict[str, int] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    at_bound: tuple[str, ...] = ()
    loss_params: dict[str, float] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    y_column: str = "y"
    x_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    n_excluded: int = 0
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    starts: Starts | None = field(default=None, repr=False)
    bootstrap: Bootstrap | None = field(default=None, repr=False)
    selection: Selection | None = field(default=None, repr=False)
    calibration: Calibration | None = field(default=None, repr=False)

    def _repr_html_(self) -> str:
        from ..report.notebook import fit_html  # Jupyter's display hook: drawn by the layer that draws

        return fit_html(self)

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    def predict(self, x: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """The forecast at new points: a mapping or table keyed by law inputs (or the fit's column
        names). It is the law with its fitted parameters; for ``--law auto`` with rivals (laws of
        the same residual space and range as the chosen one), the average of the chosen law's and
        its rivals' forecasts in that space (log y for losses), weighted by ``1 / score^2``
        (`Selection.weights`): on the real loss tables of benchmarks/bench_real_intervals.py it
        forecast as well as or better than the chosen law alone."""
        return _in_range(_finite_predictions(self.forecast(self.prediction_inputs(x)), self.law), self.law)

    def forecast(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """`predict` at arrays keyed by the law's inputs, unchecked: NaN or inf where the law is
        not finite (`plan` minimises it along a budget's curve)."""
        own = self.law.predict(self.params, arrays)
        weights = {} if self.selection is None else self.selection.weights()
        if len(weights) < 2:
            return own
        law = self.law
        with np.errstate(all="ignore"):
            members = np.stack(np.broadcast_arrays(law.to_space(own), *self._rival_forecasts(arrays)))
            w = np.array([weights[self.law.name]] + [weights[r.law] for r in self.selection.rivals])
            w = w.reshape((-1,) + (1,) * (members.ndim - 1)) * np.isfinite(members)  # not finite at a point: no say there
            total = w.sum(axis=0)
            mean = np.sum(np.where(w > 0, members, 0.0) * w, axis=0) / np.where(total > 0, total, 1.0)
            return np.where(np.isfinite(members[0]), law.from_space(mean), np.broadcast_to(own, members.shape[1:]))

    def _rival_forecasts(self, arrays) -> list[np.ndarray]:
        """Each rival's forecast at ``arrays``, in the law's residual space (NaN/inf where not finite)."""
        rivals = () if self.selection is None else self.selection.rivals
        with np.errstate(all="ignore"):
            return [self.law.to_space(get_law(r.law).predict(r.params, arrays)) for r in rivals]

    def predict_interval(self, x: Mapping[str, Any] | pd.DataFrame, level: float = 0.9):
        """``(lo, hi)`` prediction interval for new runs at ``x`` (needs a fit with ``bootstrap``):
        parameter uncertainty and run-to-run noise (the bootstrap), widened beyond the training range
        by the law's own extrapolation errors inside the training runs (``calibration``). Raises
        `FitError` for points beyond the training range when no calibration could be made."""
        parts = self.interval_parts(x, level)
        return parts["lo"], parts["hi"]

    def interval_parts(self, x: Mapping[str, Any] | pd.DataFrame, level: float = 0.9) -> dict[str, np.ndarray]:
        """The interval and where its width comes from: ``lo, hi`` (the interval), ``lo_bootstrap,
        hi_bootstrap`` (parameters and noise only), ``decades`` (how far beyond the fitted runs) and
        ``extrapolation_share`` (the part of the width added for extrapolation, 0 to 1, in the law's
        residual space: log for losses), ``law_choice_share`` (the part added to reach the forecasts
        of ``--law auto``'s rivals, `Rival`), ``beyond_calibration`` (farther out than any forecast the
        calibration saw, ``calibrated_reach`` decades: its growth of the error is extrapolated too,
        and a wrong law's error may grow faster)."""
        check_level("--interval", level)  # a wrong level is said first, whatever the fit holds
        if self.bootstrap is None:
            raise InputError("prediction intervals need a fit with bootstrap replicates (fit --bootstrap B)")
        arrays = self.prediction_inputs(x)
        law = self.law
        lo_b, hi_b = (law.to_space(v) for v in self.bootstrap.prediction_interval(law, arrays, level))
        decades = self._decades(arrays)
        lo, hi = lo_b, hi_b
        if self.calibration is None and np.any(decades > 0):
            raise FitError("no calibrated interval beyond the training range: this fit document has no calibration "
                           "(it was made by an older version); fit it again")
        if self.calibration is not None:
            try:
                h = self.calibration.half_width(decades, level)
            except FitError:
                if np.any(decades > 0):
                    raise
                h = None  # inside the fitted range the bootstrap interval stands alone
            if h is not None:
                with np.errstate(all="ignore"):
                    center = law.to_space(law.predict(self.params, arrays))
                lo, hi = np.minimum(lo_b, center - h), np.maximum(hi_b, center + h)
        width_calibrated = hi - lo
        for forecast in self._rival_forecasts(arrays):  # laws the runs do not rule out: the interval reaches them
            finite = np.isfinite(forecast)  # no forecast there: no reach (and an undefined bound stays undefined)
            lo, hi = np.where(finite, np.minimum(lo, forecast), lo), np.where(finite, np.maximum(hi, forecast), hi)
        width = hi - lo
        shares = [np.where(width > 0, v / np.where(width > 0, width, 1.0), 0.0)
                  for v in (width_calibrated - (hi_b - lo_b), width - width_calibrated)]
        lo, hi, lo_b, hi_b = (_finite_predictions(law.from_space(v), law) for v in (lo, hi, lo_b, hi_b))
        if law.y_range is not None:  # a bounded metric's interval ends where the metric does
            lo, hi, lo_b, hi_b = (np.clip(v, *law.y_range) for v in (lo, hi, lo_b, hi_b))
        reach = max(self.calibration.distances, default=0.0) if self.calibration is not None else 0.0
        return {"lo": lo, "hi": hi, "lo_bootstrap": lo_b, "hi_bootstrap": hi_b, "decades": decades,
                "extrapolation_share": np.clip(shares[0], 0.0, 1.0), "law_choice_share": np.clip(shares[1], 0.0, 1.0),
                "beyond_calibration": decades > reach, "calibrated_reach": reach}

    def decades_beyond(self, x: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Per point, decades (log10) beyond the fitted runs: the farthest input outside its range, or
        the product of the inputs outside the fitted products (see `decades_outside`)."""
        return self._decades(self.prediction_inputs(x))

    def _decades(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        scale = None if self.calibration is None else self.calibration.scale_range
        return decades_outside(arrays, self.x_range, scale, self.law.log_inputs)

    def extrapolation(self, x: Mapping[str, Any] | pd.DataFrame) -> tuple[list[str], dict[str, np.ndarray]]:
        """Per point: ``"interpolation"`` or ``"extrapolation"``, and per input how many decades
        (log10) it lies outside the range of the runs that were fitted (0 inside; always 0 for an
        input the law takes no logs of, which is still outside when beyond the fitted range)."""
        arrays = self.prediction_inputs(x)
        decades = {name: decades_outside({name: v}, self.x_range, None, self.law.log_inputs) for name, v in arrays.items()}
        outside = self._decades(arrays) > 0
        for name, v in arrays.items():
            if name not in self.law.log_inputs and name in self.x_range:
                lo, hi = self.x_range[name]
                outside = outside | (np.asarray(v) < lo) | (np.asarray(v) > hi)
        return ["extrapolation" if o else "interpolation" for o in np.atleast_1d(outside)], decades

    def prediction_inputs(self, x) -> dict[str, np.ndarray]:
        """The law's inputs at prediction points (a mapping or a table, by input or fitted column
        name), checked: numbers, finite, positive where the law takes powers; one error names the first
        bad point."""
        if isinstance(x, pd.DataFrame):  # a table of points: inputs it can compute (schedule areas) are computed
            from ..data.runs import Runs, with_derived_inputs

            x = with_derived_inputs(Runs(x), self.law.inputs, None, from_rates=False).table
        values = {}
        for name in self.law.inputs:
            column = self.columns.get(name, name)
            if name in x:
                values[name] = x[name]
            elif column in x:
                values[name] = x[column]
            else:
                raise InputError(f"prediction points need input `{name}` (column `{column}`) of law {self.law.name}")
        arrays = {}
        for name, v in values.items():
            where = f"prediction input `{name}` (column `{self.columns.get(name, name)}`)"
            raw = np.atleast_1d(np.asarray(v, dtype=object))
            numbers = np.array([_number(e) for e in raw.ravel()], dtype=np.float64)
            for rule, bad in (
                ("must be a number", np.array([_number(e) is None and not _missing(e) for e in raw.ravel()], dtype=bool)),
                ("must be finite", ~np.isfinite(numbers)),
                (f"must be positive (law {self.law.name} takes powers of {name})",
                 ~(numbers > 0) if name in self.law.log_inputs else np.zeros(numbers.size, dtype=bool)),
            ):
                if bad.any():
                    i = int(np.argmax(bad))
                    shown = raw.ravel()[i]
                    shown = repr(float(shown) if isinstance(shown, (float, np.floating)) else shown)
                    shown = shown if len(shown) <= 40 else shown[:37] + "..."
                    raise InputError(f"{where} {rule}; point {i + 1} has {shown}")
            arrays[name] = numbers.reshape(raw.shape)
        try:
            np.broadcast_shapes(*(a.shape for a in arrays.values()))
        except ValueError:
            raise InputError(f"prediction inputs of law {self.law.name} must have one shape (or broadcast to one); "
                             f"got {', '.join(f'{k} {a.shape}' for k, a in arrays.items())}") from None
        return arrays

    def summary(self) -> dict:
        """Plain JSON-safe data: everything but the per-start records."""
        d = self.to_dict()
        d.pop("starts")
        b = d.pop("bootstrap")
        if b is not None:
            d["se"] = self.bootstrap.se
            d["ci"] = {"level": self.bootstrap.level, **{k: list(v) for k, v in self.bootstrap.ci.items()}}
            d["bootstrap"] = b  # with the replicates, so `predict --interval` can use them
        return d

    def to_dict(self) -> dict:
        d = {
            "law": self.law.name,
            "space": self.law.space,
            "params": dict(self.params),
            "objective": self.objective,
            "status": self.status,
            "loss": self.loss,
            "delta": self.delta,
            "method": self.method,
            "n_points": self.n_points,
            "n_starts": self.n_starts,
            "n_at_best": self.n_at_best,
            "n_screened": self.n_screened,
            "status_counts": dict(self.status_counts),
            "fixed": list(self.fixed),
            "at_bound": list(self.at_bound),
            "loss_params": dict(self.loss_params),
            "columns": dict(self.columns),
            "y": self.y_column,
            "x_range": {k: list(v) for k, v in self.x_range.items()},
            "n_excluded": self.n_excluded,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "selection": None if self.selection is None else self.selection.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "starts": None if self.starts is None else {
                "params": {k: list(v) for k, v in self.starts.params.items()},
                "objective": list(self.starts.objective),
                "status": list(self.starts.status),
                "iterations": list(self.starts.iterations),
            },
        }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FitResult":
        """Inverse of `to_dict` (and of `summary`, which lacks the per-start records)."""
        try:
            law = get_law(str(d["law"]), files=False)  # a document carries its law; it never reads a file
            _check_document(law, d)
            law = law.in_space(d.get("space", law.space))
            params = law.checked_params(d["params"], "fit document")
            starts = d.get("starts")
            return cls(
                law=law,
                params=params,
                objective=float(d["objective"]),
                status=str(d["status"]),
                loss=str(d["loss"]),
                delta=float(d["delta"]),
                method=str(d["method"]),
                n_points=int(d["n_points"]),
                n_starts=int(d["n_starts"]),
                n_at_best=int(d["n_at_best"]),
                n_screened=int(d.get("n_screened", d["n_starts"])),
                status_counts={str(k): int(v) for k, v in d.get("status_counts", {}).items()},
                fixed=tuple(d.get("fixed", ())),
                at_bound=tuple(d.get("at_bound", ())),
                loss_params={k: float(v) for k, v in d.get("loss_params", {}).items()},
                columns=dict(d.get("columns", {})),
                y_column=str(d.get("y", "y")),
                x_range={k: (float(v[0]), float(v[1])) for k, v in d.get("x_range", {}).items()},
                n_excluded=int(d.get("n_excluded", 0)),
                notes=tuple(d.get("notes", ())),
                warnings=tuple(str(v) for v in d.get("warnings", ())),
                starts=None if starts is None else Starts(
                    params={k: tuple(float(x) for x in v) for k, v in starts["params"].items()},
                    objective=tuple(float(x) for x in starts["objective"]),
                    status=tuple(starts["status"]),
                    iterations=tuple(int(x) for x in starts["iterations"]),
                ),
                bootstrap=_document_bootstrap(law, d["bootstrap"]) if d.get("bootstrap") and "params" in d["bootstrap"]
                else None,
                selection=Selection.from_dict(d["selection"]) if d.get("selection") else None,
                calibration=Calibration.from_dict(d["calibration"]) if d.get("calibration") else None,
            )
        except InputError:
            raise
        except KeyError as exc:
            raise InputError(f"not a fit document: it has no field {exc.args[0]!r} where one is needed") from None
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InputError(f"not a fit document: a field has the wrong kind of value ({exc})") from None


def _document_bootstrap(law: Law, d: Mapping[str, Any]) -> Bootstrap:
    """A fit document's bootstrap record: the law's parameters, one value each per converged
    replicate (as many as the document says converged), each within its bounds."""
    values = d["params"]
    if set(values) != set(law.param_names):
        raise InputError(f"fit document bootstrap must hold replicates of {', '.join(law.param_names)}")
    residuals = [float(v) for v in d.get("residuals", ())]
    if not residuals or not all(math.isfinite(v) for v in residuals):
        raise InputError("fit document bootstrap must hold the fit's log residuals, all finite")
    replicates, failed = int(d["n_replicates"]), int(d["n_failed"])
    if not (replicates >= 1 and 0 <= failed <= replicates):
        raise InputError(f"fit document bootstrap counts {failed} failed of {replicates} replicates; impossible")
    n = {len(v) for v in values.values()}
    if n != {int(d["n_replicates"]) - int(d["n_failed"])}:
        raise InputError("fit document bootstrap holds replicate lists of other lengths than it says converged")
    converged = n.pop()
    problem = too_few_converged(converged, int(d["n_replicates"]))
    if problem:
        raise InputError(f"fit document bootstrap: {problem}")
    for k in range(converged):
        law.checked_params({name: v[k] for name, v in values.items()}, "fit document bootstrap replicate")
    return Bootstrap.from_dict(d)


def _missing(e) -> bool:
    return e is None or (isinstance(e, (float, np.floating)) and math.isnan(e)) or e is pd.NA or e is pd.NaT


def _number(e) -> float | None:
    """A prediction input as a float (NaN where it is missing), or None where it is not a number: a
    date or a true/false is not read as one."""
    if _missing(e):
        return math.nan
    if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, float, np.integer, np.floating, str)):
        return None
    try:
        return float(e)
    except OverflowError:  # an integer beyond float64
        return math.inf
    except ValueError:
        return None


def _check_document(law: Law, d: Mapping[str, Any]) -> None:
    """The fields of a fit document that a hand edit could make lie, each checked with its name."""
    from ._newton import STATUS_NAMES

    if d["status"] not in STATUS_NAMES.values():
        raise InputError(f"fit document status must be one of {', '.join(STATUS_NAMES.values())}; got {d['status']!r}")
    if d.get("space", law.space) not in SPACES:
        raise InputError(f"fit document space must be one of {', '.join(SPACES)}; got {d['space']!r}")
    missing = [n for n in law.inputs if n not in d.get("x_range", {})]
    if missing:
        raise InputError(f"fit document x_range lacks input {missing[0]} of law {law.name}")
    selection = d.get("selection")
    if selection and (not isinstance(selection, Mapping) or selection.get("law") != law.name):
        raise InputError(f"fit document selection must be a record of the law the document holds ({law.name})")


def _finite_predictions(values: np.ndarray, law: Law) -> np.ndarray:
    """``values``, or a `FitError` naming the first point where the law is not finite there."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise FitError(f"law {law.name} with these parameters is not finite at prediction point {bad[0] + 1} "
                       f"(got {float(values[bad[0]])!r})")
    return values


def _in_range(values: np.ndarray, law: Law) -> np.ndarray:
    """``values``, or a `FitError` naming the first forecast outside the law's output range (a
    formula law of a bounded metric can leave it; a registered one cannot)."""
    if law.y_range is not None:
        lo, hi = law.y_range
        out = np.flatnonzero((values < lo) | (values > hi))
        if out.size:
            raise FitError(f"law {law.name} forecasts {float(values.flat[out[0]]):.6g} at prediction point "
                           f"{out[0] + 1}, outside its output's range [{lo:g}, {hi:g}]: the law does not keep "
                           "its output in range there")
    return values
