"""Observational scaling (Ruan et al. 2024): forecast a benchmark from a model's other benchmarks.

Public models come from many families, each with its own compute efficiency, so compute alone
forecasts their scores poorly. Ruan et al. observe that a few principal components of the models'
standardized benchmark scores (capability measures) explain most of the variation across
families, and that a benchmark is a sigmoid of a linear combination of them:

    S = (X - mean) / sd @ W          (W: the first K principal directions, K <= 3)
    y = y0 + (y_inf - y0) sigmoid(b + w . S)       (the law `capability_sigmoid`)

The basis (mean, sd, W) is computed on the fitted models only, each direction signed so that its
loadings sum to a positive number (higher is more capable); a new model's measures come from its
own scores on the same benchmarks. The sigmoid is fitted by the engine like any law (status,
bootstrap, calibrated intervals), with the weights of unused components held at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .data import Runs
from .data.runs import select_rows
from .errors import InputError, shown
from .fit import FitResult

LAW = "capability_sigmoid"
MAX_COMPONENTS = 3
PCS = ("pc1", "pc2", "pc3")


@dataclass(frozen=True)
class CapabilityBasis:
    """Principal capability measures of standardized benchmark scores."""

    benchmarks: tuple[str, ...]
    mean: tuple[float, ...]
    sd: tuple[float, ...]
    loadings: tuple[tuple[float, ...], ...]  # per component, one weight per benchmark
    explained: tuple[float, ...]  # share of the variance each component explains

    @classmethod
    def of(cls, scores: np.ndarray, benchmarks: Sequence[str], components: int) -> "CapabilityBasis":
        mean, sd = scores.mean(axis=0), scores.std(axis=0, ddof=1)
        flat = [b for b, s in zip(benchmarks, sd) if not s > 0]
        if flat:
            raise InputError(f"benchmark column `{flat[0]}` has one value on every fitted model; it measures nothing "
                             "here (leave it out of --from)")
        _, singular, vt = np.linalg.svd((scores - mean) / sd, full_matrices=False)
        signs = np.where(vt[:components].sum(axis=1) < 0, -1.0, 1.0)
        explained = singular**2 / np.sum(singular**2)
        return cls(tuple(benchmarks), tuple(map(float, mean)), tuple(map(float, sd)),
                   tuple(tuple(map(float, row * s)) for row, s in zip(vt[:components], signs)),
                   tuple(map(float, explained[:components])))

    @property
    def components(self) -> int:
        return len(self.loadings)

    def measures(self, table: pd.DataFrame, what: str = "points") -> dict[str, np.ndarray]:
        """``pc1..pc3`` of each row (0 beyond the basis's components); every benchmark is needed."""
        scores = _scores(table, self.benchmarks, what)
        s = (scores - np.array(self.mean)) / np.array(self.sd) @ np.array(self.loadings).T
        return {name: s[:, j] if j < self.components else np.zeros(len(scores)) for j, name in enumerate(PCS)}

    def to_dict(self) -> dict:
        return {"benchmarks": list(self.benchmarks), "mean": list(self.mean), "sd": list(self.sd),
                "loadings": [list(r) for r in self.loadings], "explained": list(self.explained)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CapabilityBasis":
        basis = cls(tuple(map(str, d["benchmarks"])), tuple(map(float, d["mean"])), tuple(map(float, d["sd"])),
                    tuple(tuple(map(float, r)) for r in d["loadings"]), tuple(map(float, d["explained"])))
        n = len(basis.benchmarks)
        if not (len(basis.mean) == len(basis.sd) == n and all(len(r) == n for r in basis.loadings)
                and 1 <= basis.components <= MAX_COMPONENTS and all(s > 0 for s in basis.sd)):
            raise InputError("not an observational fit document: its basis does not match its benchmarks")
        return basis


@dataclass(frozen=True)
class ObservationalFit:
    """A benchmark (``fit.y_column``) as a sigmoid of capability measures (``basis``)."""

    basis: CapabilityBasis
    fit: FitResult

    @property
    def status(self) -> str:
        return self.fit.status

    def scored(self, table: pd.DataFrame) -> np.ndarray:
        """Per row: whether it has a finite score in every benchmark of the basis (can be forecast)."""
        missing = [b for b in self.basis.benchmarks if b not in table.columns]
        if missing:
            raise InputError(f"points need a score in every benchmark of the fit; column `{missing[0]}` is missing")
        values = table[list(self.basis.benchmarks)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        return np.isfinite(values).all(axis=1)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """The forecast for models given by their scores on the basis's benchmarks."""
        return self.fit.predict(self.basis.measures(table))

    def predict_interval(self, table: pd.DataFrame, level: float = 0.9):
        return self.fit.predict_interval(self.basis.measures(table), level=level)

    def to_dict(self) -> dict:
        return {"observational": self.basis.to_dict(), "fit": self.fit.to_dict()}

    def summary(self) -> dict:
        return {"observational": self.basis.to_dict(), "fit": self.fit.summary()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ObservationalFit":
        try:
            basis = CapabilityBasis.from_dict(d["observational"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not an observational fit document ({exc!r})") from None
        fit = FitResult.from_dict(d["fit"])
        if fit.law.name != LAW:
            raise InputError(f"not an observational fit document: its fit is of {fit.law.name}, not {LAW}")
        return cls(basis, fit)


def fit_observational(runs, y: str, benchmarks: Sequence[str], *, components: int = 2, where: str | None = None,
                      fix: Mapping[str, float] | None = None, bootstrap: int = 0, **options) -> ObservationalFit:
    """Fit benchmark ``y`` as a sigmoid of the first ``components`` principal capability measures
    of the ``benchmarks`` columns, on the rows ``where`` selects (models with an empty score in
    ``y`` or a benchmark are left out and counted in the fit's notes). ``fix`` holds the law's
    parameters (``y0`` at the chance score, say); other options go to `scalinglaws.fit`.

    Example:
        >>> obs = sl.fit_observational(models, "arc_challenge", ["arc_easy", "piqa", "sciq"])  # doctest: +SKIP
        >>> obs.predict(new_models)  # doctest: +SKIP
    """
    from .api import fit

    table = Runs.coerce(runs).table
    benchmarks = list(benchmarks)
    for name in benchmarks + [y]:
        if name not in table.columns:
            raise InputError(f"column `{name}` not found; columns are {', '.join(map(str, table.columns))}")
    if y in benchmarks:
        raise InputError(f"--y `{y}` is also among the benchmarks (--from) it would be forecast from")
    if len(set(benchmarks)) != len(benchmarks):
        twice = next(b for b in benchmarks if benchmarks.count(b) > 1)
        raise InputError(f"--from names benchmark `{twice}` twice")
    if not (isinstance(components, int) and 1 <= components <= min(MAX_COMPONENTS, len(benchmarks))):
        raise InputError(f"--components must be a whole number from 1 to {min(MAX_COMPONENTS, len(benchmarks))} "
                         f"(at most the number of benchmarks, and {MAX_COMPONENTS}); got {components!r}")
    rows = select_rows(Runs(table), where, True, option="--where")[0]
    chosen = table.iloc[rows]
    numbers = chosen[benchmarks + [y]].apply(pd.to_numeric, errors="coerce")
    empty = next((col for col in numbers.columns if numbers[col].isna().all() and chosen[col].notna().any()), None)
    if empty is not None:
        raise InputError(f"column `{empty}` holds no numbers on the fitted models (e.g. {shown(chosen[empty].dropna().iloc[0])}); "
                         "a benchmark is a score")
    complete = numbers.notna().all(axis=1).to_numpy()
    if complete.sum() < components + 4:
        raise InputError(f"{int(complete.sum())} models have a score in `{y}` and every benchmark of --from; "
                         f"a sigmoid of {components} capability measure(s) needs at least {components + 4}")
    fitted = chosen[complete]
    basis = CapabilityBasis.of(_scores(fitted, benchmarks, "fitted models"), benchmarks, components)
    measures = pd.DataFrame({**basis.measures(fitted), y: fitted[y].to_numpy()})
    held = {f"w{j + 1}": 0.0 for j in range(components, MAX_COMPONENTS)}
    clash = next((name for name in (fix or {}) if name in held), None)
    if clash is not None:
        raise InputError(f"--fix {clash}: with --components {components} the weight {clash} is held at 0 (its "
                         "measure is not used); ask for more components to fix it")
    result = fit(LAW, measures, y=y, fix={**(fix or {}), **held} or None, bootstrap=bootstrap, **options)
    left_out = int((~complete).sum())
    notes = ([f"{left_out} model(s) without a score in `{y}` or in a benchmark left out"] if left_out else []) + [
        f"capability measures: the first {components} principal components of {len(benchmarks)} standardized "
        f"benchmarks, explaining {sum(basis.explained):.1%} of their variance over {len(fitted)} models"]
    unused = tuple(f"input {pc} " for pc in PCS[components:])  # constant 0, its weight held: nothing to warn of
    warnings = tuple(w for w in result.warnings if not w.startswith(unused))
    return ObservationalFit(basis, replace(result, notes=result.notes + tuple(notes), warnings=warnings))


def forecast_from_compute(obs: ObservationalFit, fitted: pd.DataFrame, points: pd.DataFrame, *, family: str,
                          compute: str) -> np.ndarray:
    """A family's trend from its compute, for models not trained yet (Ruan et al.: within a family,
    each capability measure is close to linear in log compute): per family, each measure of the
    ``fitted`` models (those the fit used) is regressed on log10 of ``compute``, and the sigmoid is
    taken at the measures this gives for each of ``points`` (their family and compute only). NaN
    for a point whose family has fewer than two fitted models of distinct compute."""
    for col in (family, compute):
        for what, t in (("fitted models", fitted), ("points", points)):
            if col not in t.columns:
                raise InputError(f"column `{col}` not found among the {what}; columns are {', '.join(map(str, t.columns))}")
    measures = obs.basis.measures(fitted, "fitted models")
    with np.errstate(invalid="ignore", divide="ignore"):  # a compute <= 0 is refused (points) or unused (fits)
        log_c = np.log10(pd.to_numeric(fitted[compute], errors="coerce").to_numpy(dtype=np.float64))
        at = np.log10(pd.to_numeric(points[compute], errors="coerce").to_numpy(dtype=np.float64))
    bad = np.flatnonzero(~np.isfinite(at))
    if bad.size:
        raise InputError(f"column `{compute}` must hold a positive compute for each point; row {bad[0] + 1} has "
                         f"{shown(points[compute].iloc[bad[0]])}")
    out = np.full(len(points), np.nan)
    for name in pd.unique(points[family]):
        mine = (fitted[family] == name).to_numpy() & np.isfinite(log_c)
        here = (points[family] == name).to_numpy()
        if np.unique(log_c[mine]).size < 2:
            continue
        design = np.column_stack([np.ones(mine.sum()), log_c[mine]])
        pcs = {}
        for pc, values in measures.items():
            coef = np.linalg.lstsq(design, values[mine], rcond=None)[0]
            pcs[pc] = coef[0] + coef[1] * at[here]
        out[here] = obs.fit.predict(pcs)
    return out


def _scores(table: pd.DataFrame, benchmarks: Sequence[str], what: str) -> np.ndarray:
    missing = [b for b in benchmarks if b not in table.columns]
    if missing:
        raise InputError(f"{what} need a score in every benchmark of the fit; column `{missing[0]}` is missing")
    out = np.empty((len(table), len(benchmarks)))
    for j, b in enumerate(benchmarks):
        values = pd.to_numeric(table[b], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(f"column `{b}` must hold a finite score for each of the {what}; row {bad[0] + 1} has "
                             f"{shown(table[b].iloc[bad[0]])}")
        out[:, j] = values
    return out


__all__ = ["CapabilityBasis", "ObservationalFit", "fit_observational", "forecast_from_compute"]
