"""Training histories as runs: every checkpoint a row, the earliest flagged.

A run's history (TensorBoard scalars, a W&B history, a chart export) becomes rows of ``run,
step, <metrics>``; fits may use the intermediate checkpoints of every run (the loss against
``step``, or against tokens, per run or pooled). The earliest checkpoints are still dominated by
warm-up and the initial fall of the loss, which no scaling law describes: Choshen et al. 2024 (A
Hitchhiker's Guide to Scaling Law Estimation, arXiv:2410.11840) advise leaving them out.
`flag_warmup` marks them in an ``excluded_warmup`` column, which every fit leaves out by default
(``--include-excluded`` keeps them; each fit's notes say how many rows were left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

#: the share of a run's last step before which its checkpoints are flagged
WARMUP_FRACTION = 0.1
WARMUP_COLUMN = "excluded_warmup"


def flag_warmup(table: pd.DataFrame, *, run: str = "run", step: str = "step",
                fraction: float = WARMUP_FRACTION) -> pd.DataFrame:
    """``table`` with a column `WARMUP_COLUMN`: true on the rows whose ``step`` lies below
    ``fraction`` of the last step of their ``run`` (the step-0 row always). Rows without a step
    are not flagged. The table given is not changed."""
    if not (isinstance(fraction, (int, float)) and 0.0 <= fraction < 1.0):
        raise InputError(f"the warm-up fraction must lie in [0, 1); got {fraction!r}")
    for column in (run, step):
        if column not in table.columns:
            raise InputError(f"column `{column}` not found; columns are {', '.join(map(str, table.columns))}")
    steps = pd.to_numeric(table[step], errors="coerce")
    last = steps.groupby(table[run]).transform("max")
    early = (steps < fraction * last) | (steps <= 0)
    return table.assign(**{WARMUP_COLUMN: early.fillna(False).to_numpy(dtype=bool)})


def warmup_note(table: pd.DataFrame) -> str:
    """How many checkpoints `flag_warmup` marked (for a reader's source line)."""
    n = int(np.sum(table[WARMUP_COLUMN])) if WARMUP_COLUMN in table.columns else 0
    return f"{n} warm-up checkpoints flagged in `{WARMUP_COLUMN}` (left out of fits unless --include-excluded)"


__all__ = ["WARMUP_COLUMN", "WARMUP_FRACTION", "flag_warmup", "warmup_note"]
