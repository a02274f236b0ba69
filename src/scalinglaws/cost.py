"""Compute in the units people budget in: accelerator-hours, days on a cluster and money.

``hours = FLOPs / (peak FLOP/s x utilisation) / 3600``. Peak figures are dense (no sparsity) BF16
tensor throughput from each vendor's datasheet; utilisation (model FLOPs utilisation, MFU) is the
share of peak a training run achieves, 0.4 by default (large dense runs report 0.35-0.55: e.g.
PaLM 0.462 on TPU v4, Chowdhery et al. 2022, Table 3). Prices move too fast for a default: give
yours (per accelerator-hour), or none for hours only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError

DEFAULT_UTILIZATION = 0.4


@dataclass(frozen=True)
class Accelerator:
    name: str
    peak_flops: float  # dense BF16, FLOP/s
    source: str


ACCELERATORS = {a.name: a for a in (
    Accelerator("a100", 312e12, "NVIDIA A100 Tensor Core GPU datasheet: BF16 312 TFLOPS (624 with sparsity)"),
    Accelerator("h100", 989e12, "NVIDIA H100 datasheet, SXM: BF16 1,979 TFLOPS with sparsity, 989 dense"),
    Accelerator("h200", 989e12, "NVIDIA H200 datasheet, SXM: BF16 1,979 TFLOPS with sparsity, 989 dense"),
    Accelerator("b200", 2.25e15, "NVIDIA HGX B200 datasheet: BF16 4.5 PFLOPS with sparsity per GPU, 2.25 dense"),
    Accelerator("mi300x", 1307e12, "AMD Instinct MI300X datasheet: BF16 1,307.4 TFLOPS dense"),
    Accelerator("tpu-v5p", 459e12, "Google Cloud TPU v5p documentation: 459 TFLOPS BF16 per chip"),
    Accelerator("tpu-v5e", 197e12, "Google Cloud TPU v5e documentation: 197 TFLOPS BF16 per chip"),
)}


def accelerator(name: str | None = None, *, peak_flops: float | None = None) -> Accelerator:
    """A named accelerator of `ACCELERATORS`, or one of your own from its peak FLOP/s."""
    if peak_flops is not None:
        if not (math.isfinite(peak_flops) and peak_flops > 0):
            raise InputError(f"--peak-flops must be a positive number of FLOP/s; got {peak_flops!r}")
        return Accelerator("yours" if name is None else f"{name} (given peak)", float(peak_flops), "given (--peak-flops)")
    if name is None or name.lower() not in ACCELERATORS:
        raise InputError(f"--gpu must be one of {', '.join(ACCELERATORS)} (or give --peak-flops); got {name!r}")
    return ACCELERATORS[name.lower()]


def training_cost(flops, chip: Accelerator, *, utilization: float = DEFAULT_UTILIZATION,
                  price_per_hour: float | None = None, count: int = 1) -> dict:
    """Accelerator-hours, days on ``count`` accelerators and (with a price) money for ``flops``."""
    flops = float(flops)
    if not (math.isfinite(flops) and flops >= 0):
        raise InputError(f"--flops must be a finite number of FLOPs >= 0; got {flops!r}")
    if not (0 < utilization <= 1):
        raise InputError(f"--utilization must lie in (0, 1]; got {utilization!r}")
    if price_per_hour is not None and not (math.isfinite(price_per_hour) and price_per_hour >= 0):
        raise InputError(f"--price must be a finite amount >= 0 per accelerator-hour; got {price_per_hour!r}")
    if not (isinstance(count, int) and count >= 1):
        raise InputError(f"--gpus must be a whole number >= 1; got {count!r}")
    hours = flops / (chip.peak_flops * utilization) / 3600.0
    out = {"flops": flops, "accelerator": chip.name, "peak_flops": chip.peak_flops, "source": chip.source,
           "utilization": utilization,
           "accelerator_hours": hours, "gpus": count, "days": hours / count / 24.0}
    if price_per_hour is not None:
        out["cost"] = hours * price_per_hour
    return out
