"""The one place that configures JAX: float64 everywhere, a persistent compilation cache."""

from __future__ import annotations

import os

import jax

jax.config.update("jax_enable_x64", True)

_cache = os.environ.get("SCALINGLAWS_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "scalinglaws", "jax"))
if _cache and _cache != "0":
    try:
        os.makedirs(_cache, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", _cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except OSError:  # a read-only home: compile in memory only
        pass

__all__ = ["jax"]
