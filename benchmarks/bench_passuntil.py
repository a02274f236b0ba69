"""PassUntil on real adaptive-sampling counts: the task law fitted on small Pythia models.

Schaeffer et al.'s Pythia checkpoints (``../shared/data/monkeys_repeated_sampling``) were sampled
adaptively per problem, in the spirit of PassUntil (Hu et al. 2023): many more samples where
successes are rare. Their stopping rule is not recorded with the counts, so PU of a model is taken
as the mean over problems of c / n (``scalinglaws passk --k 1``; were sampling stopped at the R-th
success, ``--stopped-at R`` would remove the bias of that rule). At the final
checkpoints (300B tokens), ``passuntil_task`` PU(N) = exp(-c N^-alpha) is fitted on the models up
to 1.4B parameters and forecasts 2.8B, 6.9B and 12B; ``sigmoid_log`` in N is the comparison. Also
printed: how many problems had no success (their c / n is 0 however rare success is) and the fewest
samples per problem, which bound the resolution.
Run: ``.venv/bin/python benchmarks/bench_passuntil.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.passk import coverage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "monkeys_repeated_sampling"


def main() -> None:
    for task in ("gsm8k", "math"):
        t = pd.read_csv(DATA / f"schaeffer2025_pythia_ckpts_{task}_per_problem_counts.csv")
        final = t[t.train_tokens == t.train_tokens.max()]
        rows = []
        for n_params, g in final.groupby("N_params_nominal"):
            pu = coverage(g.rename(columns={"n_samples": "n", "n_correct": "c"}), [1])["pass_at_k"][0]
            rows.append(dict(N=n_params, PU=pu, problems=len(g), unsolved=int((g.n_correct == 0).sum()),
                             fewest_samples=int(g.n_samples.min())))
        table = pd.DataFrame(rows)
        fitted = table[(table.N <= 1.4e9) & (table.PU > 0)]
        held = table[table.N > 1.4e9]
        print(f"\n## {task}: PU at 300B tokens; fitted on {len(fitted)} sizes up to 1.4B (PU > 0)")
        for law, name in (("passuntil_task", "N"), ("sigmoid_log", "x")):
            try:
                r = sl.fit(law, fitted, x={name: "N"}, y="PU")
            except sl.ScalingLawsError as exc:
                print(f"{law}: not fitted: {exc}")
                continue
            table[law] = r.predict({name: table.N.to_numpy()})
            e = np.abs(np.log(table.loc[held.index, law] / held.PU))
            print(f"{law}: {r.status}, {', '.join(f'{k} = {v:.4g}' for k, v in r.params.items())}; held-out |log "
                  f"error| mean {e.mean():.2f} (x{np.exp(e.mean()):.2f})")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
