"""Every command line in the README runs, in table and in JSON output, on the files it names."""

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    # "scalinglaws laws [NAME]" shows optional arguments: run it as "laws" and "laws chinchilla"
    out = []
    for line in lines:
        if not line.startswith("scalinglaws "):
            continue
        if "[" in line:
            out += [["laws"], ["laws", "chinchilla"], ["datasets"], ["datasets", "chinchilla"]]
            continue
        out.append(shlex.split(line)[1:])
    return out


COMMANDS = _commands()


def _files(folder: Path, chinchilla: pd.DataFrame) -> None:
    """The tables the README's examples read: runs.csv, curve.csv, curves.csv, evals.csv, samples.csv,
    models.csv, logprobs.csv, isoflop.csv, families.csv and scores.csv."""
    rng = np.random.default_rng(0)
    t = chinchilla[~chinchilla["excluded"].astype(bool)].reset_index(drop=True)
    step = np.tile(np.geomspace(1e3, 1e6, 60), 4)
    runs = pd.DataFrame({"N": t["N"], "D": t["D"], "loss": t["loss"], "model_id": t["N"].rank(method="dense"),
                         "run_id": np.repeat(["a", "b", "c", "d"], 60), "step": step,
                         "val_loss": (1.5 + 30 * step**-0.3) * np.exp(0.005 * rng.standard_normal(240))})
    runs.to_csv(folder / "runs.csv", index=False)
    tokens = np.geomspace(1e7, 1e11, 16)
    pd.DataFrame({"tokens": tokens, "loss": (0.3 + 50 * tokens**-0.25) * np.exp(0.01 * rng.standard_normal(16))}
                 ).to_csv(folder / "curve.csv", index=False)
    c = np.geomspace(1e17, 1e21, 30)  # an accuracy with zeros at small compute and one empty row
    acc = np.clip(0.7 / (1.0 + (3e19 / c) ** 1.2) + 0.01 * rng.standard_normal(30), 0.0, 1.0)
    acc[:6] = 0.0
    pd.DataFrame({"C": c, "acc": np.r_[acc[:-1], np.nan]}).to_csv(folder / "evals.csv", index=False)
    (folder / "mylaw.toml").write_text(re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)[0])
    pd.DataFrame({"model": np.repeat(["small", "large"], 5), "problem": np.tile(np.arange(5), 2),
                  "n": 100, "c": [0, 1, 3, 10, 40, 2, 8, 20, 50, 90]}).to_csv(folder / "samples.csv", index=False)
    n = np.geomspace(7e7, 7e10, 24)  # models of two families: benchmark scores rising with capability
    cap = np.log(n / 2e9) * np.tile([1.0, 0.8], 12)
    tasks = ("arc_challenge_acc", "arc_easy_acc", "lambada_openai_acc", "piqa_acc", "sciq_acc", "winogrande_acc")
    pd.DataFrame({"model": [f"m{i}" for i in range(24)], "N_params": n,
                  **{t: 0.25 + 0.6 / (1 + np.exp(-(0.5 + 0.1 * j) * cap)) + 0.005 * rng.standard_normal(24)
                     for j, t in enumerate(tasks)}}).to_csv(folder / "models.csv", index=False)
    pd.DataFrame([dict(model=f"m{n:.0e}", N=n, item=i, logprob=lp, correct=int(j == 0))
                  for n in (1e8, 1e9, 1e10) for i in range(5)
                  for j, lp in enumerate([np.log(0.05 * (n / 1e8) ** 0.1), -3.0, -3.5, -4.0])]
                 ).to_csv(folder / "logprobs.csv", index=False)
    law, p = sl.get_law("chinchilla"), {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    C = np.repeat(np.geomspace(1e18, 1e21, 5), 9)  # iso-FLOP runs around each budget's optimum
    N = np.repeat([sl.compute_optimal("chinchilla", c, params=p)[0]["N"] for c in np.geomspace(1e18, 1e21, 5)], 9) \
        * np.tile(np.geomspace(0.2, 5, 9), 5)
    pd.DataFrame({"flops": C, "params": N, "tokens": C / (6 * N),
                  "loss": law.predict(p, {"N": N, "D": C / (6 * N)}) * np.exp(0.002 * rng.standard_normal(45))}
                 ).to_csv(folder / "isoflop.csv", index=False)
    x = np.geomspace(1e6, 1e11, 12)
    pd.DataFrame([(f, c, (E + a * c**-0.3) * np.exp(0.003 * rng.standard_normal())) for f, (E, a) in
                  {"A": (2.0, 50.0), "B": (1.8, 200.0)}.items() for c in x], columns=["family", "C", "loss"]
                 ).to_csv(folder / "families.csv", index=False)
    pd.DataFrame([(m, t, rng.uniform()) for m in ("m1", "m2", "m3") for t in ("t1", "t2", "t3")],
                 columns=["model", "task", "score"]).to_csv(folder / "scores.csv", index=False)
    step = np.geomspace(10, 1e5, 16)
    pd.concat([pd.DataFrame({"run": r, "step": step, "loss": E + a * step**-0.4})
               for r, (E, a) in enumerate([(0.3, 5.0), (0.5, 3.0)])]).to_csv(folder / "curves.csv", index=False)


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 12 and ["laws"] in COMMANDS


def _auto(i: int):
    """The README commands with --law auto run in the worker of the other auto tests (test_select)."""
    return pytest.param(i, marks=pytest.mark.xdist_group("auto")) if "auto" in " ".join(COMMANDS[i]) else i


def _written(args) -> str | None:
    """The document a command writes with --out."""
    return args[args.index("--out") + 1] if "--out" in args else None


def _read(args) -> str | None:
    """The fit document (*.json) a command reads, if another README command writes it."""
    return next((a for i, a in enumerate(args) if a.endswith(".json") and args[i - 1] != "--out"), None)


@pytest.mark.parametrize("index", [_auto(i) for i in range(len(COMMANDS))], ids=lambda i: " ".join(COMMANDS[i])[:60])
def test_every_readme_command_runs_in_both_output_modes(tmp_path, monkeypatch, capsys, chinchilla_runs, index):
    """Each command runs on its own, in JSON and in table output; a command that reads fit.json gets
    it from the README command before it that writes it (so the commands spread over the workers)."""
    _files(tmp_path, chinchilla_runs.table)
    monkeypatch.chdir(tmp_path)
    args = COMMANDS[index]
    if _read(args) is not None:
        writer = next(c for c in reversed(COMMANDS[:index]) if _written(c) == _read(args))
        assert run(writer) == 0, capsys.readouterr().err[-2000:]
        capsys.readouterr()
    for fmt in ("json", "table"):
        line = [a for a in args]
        if "--format" in line:
            i = line.index("--format")
            del line[i:i + 2]
        line += ["--format", fmt]
        code = run(line)
        captured = capsys.readouterr()
        assert code == 0, (line, captured.err[-2000:])
        assert "Traceback" not in captured.err
        if fmt == "json":
            json.loads(captured.out)  # one valid document (no NaN)
        else:
            assert captured.out.strip(), line
