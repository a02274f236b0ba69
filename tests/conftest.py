import os
import shutil
import tempfile

# The suite keeps its compiled programs as the command line does, in JAX's persistent cache, in a
# folder of its own that starts empty (a cold cache, as on a fresh machine) and is shared by the
# pytest-xdist workers and the subprocesses that tests start, so each program compiles once.
_MADE_HERE = "SCALINGLAWS_TEST_JAX_CACHE" not in os.environ  # the first process of the run (workers inherit it)
if _MADE_HERE:
    os.environ["SCALINGLAWS_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="scalinglaws-test-jax-")
os.environ["SCALINGLAWS_JAX_CACHE"] = os.environ["SCALINGLAWS_TEST_JAX_CACHE"]
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)

import numpy as np  # noqa: E402
import pandas as pd
import pytest
from hypothesis import settings

import scalinglaws as sl

assert sl.enable_compilation_cache()


def pytest_sessionfinish(session):
    if _MADE_HERE and not hasattr(session.config, "workerinput"):  # the folder this run made, once the workers are done
        shutil.rmtree(os.environ["SCALINGLAWS_TEST_JAX_CACHE"], ignore_errors=True)


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
