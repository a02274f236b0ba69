import os

# The suite compiles in memory only: JAX's persistent cache aborted the process once (XLA's executable
# serialisation, in a cold run of the whole suite; see the closing note of issue 10). test_cache.py
# tests the cache in subprocesses that name their own folder.
os.environ["SCALINGLAWS_JAX_CACHE"] = "0"

import numpy as np  # noqa: E402
import pandas as pd
import pytest
from hypothesis import settings

import scalinglaws as sl

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def chinchilla_runs():
    return sl.load_dataset("chinchilla")


@pytest.fixture(scope="session")
def hoffmann_fit(chinchilla_runs):
    return sl.fit("chinchilla", chinchilla_runs, method="hoffmann2022")


@pytest.fixture(scope="session")
def default_fit(chinchilla_runs):
    return sl.fit("chinchilla", chinchilla_runs)


def simulate(law, params, n=60, noise=0.0, seed=0, ranges=None):
    """Runs drawn log-uniformly over ``ranges`` with multiplicative log-normal noise."""
    rng = np.random.default_rng(seed)
    ranges = ranges or {}
    x = {}
    for name in law.inputs:
        lo, hi = ranges.get(name, (1e7, 1e11))
        x[name] = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    y = law.predict(params, x) * np.exp(noise * rng.standard_normal(n))
    return pd.DataFrame({**x, "loss": y})
