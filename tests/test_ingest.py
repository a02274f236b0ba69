"""Runs from the tools that record them: lm-evaluation-harness result files (built from Pythia's
real published evaluations), TensorBoard event folders (written by the tensorboard package's own
writer), W&B chart exports, and standard input; each read, then fitted."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run
from scalinglaws.errors import InputError

PYTHIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pythia_evals" / "pythia_opt_bloom_evals_long.csv"


def _pythia_lambada(size="410m"):
    if not PYTHIA.exists():
        pytest.skip("../shared/data/pythia_evals is not here")
    t = pd.read_csv(PYTHIA)
    return t[(t["family"] == "pythia") & (t["variant"] == "standard") & (t["size"] == size)
             & (t["num_fewshot"] == 0) & (t["task"] == "lambada_openai")].sort_values("step")


def _write_lm_eval(folder: Path, rows: pd.DataFrame, model: str) -> None:
    """One result file per checkpoint, as the harness writes them: 0.3's layout for even ones, 0.4's
    (``metric,filter`` keys, ``n-shot``) for odd ones."""
    for i, r in enumerate(rows.itertuples()):
        step = int(r.step)
        args = f"pretrained={model},revision=step{step}"
        if i % 2 == 0:
            doc = {"results": {"lambada_openai": {"ppl": r.ppl, "ppl_stderr": r.ppl_stderr, "acc": r.acc,
                                                  "acc_stderr": r.acc_stderr}},
                   "versions": {"lambada_openai": 0}, "config": {"model": "gpt2", "model_args": args, "num_fewshot": 0}}
        else:
            doc = {"results": {"lambada_openai": {"alias": "lambada_openai", "perplexity,none": r.ppl,
                                                  "perplexity_stderr,none": r.ppl_stderr, "acc,none": r.acc,
                                                  "acc_stderr,none": r.acc_stderr}},
                   "n-shot": {"lambada_openai": 0}, "config": {"model": "hf", "model_args": args},
                   "model_name": model}
        (folder / f"{model.split('/')[-1]}_step{step}.json").write_text(json.dumps(doc))


def test_lm_eval_result_files_become_rows_that_fit(tmp_path):
    rows = _pythia_lambada()
    _write_lm_eval(tmp_path, rows, "EleutherAI/pythia-410m")
    runs = sl.read_runs(tmp_path)
    t = runs.table
    assert runs.y == "value" and set(t["metric"]) == {"ppl", "perplexity", "acc"}
    assert set(t["filter"].dropna()) == {"none"} and t["stderr"].notna().all()
    acc = t[t["metric"] == "acc"].sort_values("step")
    assert acc["step"].tolist() == rows["step"].astype(int).tolist()
    assert np.allclose(acc["value"], rows["acc"]) and set(t["model"]) == {"EleutherAI/pythia-410m"}
    # LAMBADA accuracy over training after the warm-up checkpoints: a saturating power law in steps
    fit = sl.fit("saturating_power", runs, x={"x": "step"}, where="metric == 'acc' and step >= 1000")
    assert fit.converged and fit.n_points == int((rows["step"] >= 1000).sum())
    one = sl.read_runs(next(tmp_path.glob("*_step143000.json")))
    assert len(one.table) == 2 and one.table["step"].unique().tolist() == [143000]


def test_a_json_that_is_not_lm_eval_and_an_empty_folder_are_refused(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(InputError, match="neither TensorBoard event files nor lm-evaluation-harness results"):
        sl.read_runs(tmp_path / "other.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither TensorBoard"):
        sl.load_runs(tmp_path / "empty")


def _write_tensorboard(folder: Path, runs: dict) -> None:
    """Event files written by the tensorboard package's writer: scalars ``loss`` and ``lr`` per
    step, and the run's hyper-parameters through the hparams plugin's session-start record."""
    from google.protobuf import struct_pb2
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for name, (hparams, steps, loss) in runs.items():
        writer = EventFileWriter(str(folder / name))
        start = plugin_data_pb2.SessionStartInfo(hparams={k: struct_pb2.Value(number_value=v) if isinstance(v, float)
                                                  else struct_pb2.Value(string_value=v) for k, v in hparams.items()})
        meta = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_start_info=start))
        writer.add_event(event_pb2.Event(step=0, summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=metadata.SESSION_START_INFO_TAG, metadata=meta)])))
        for s, v in zip(steps, loss):
            writer.add_event(event_pb2.Event(step=int(s), summary=summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag="loss", simple_value=float(v)),
                summary_pb2.Summary.Value(tag="lr", simple_value=3e-4)])))
        writer.close()


def test_tensorboard_runs_with_their_hyperparameters_fit_one_curve_each(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    steps = np.geomspace(100, 1e5, 20).round()
    truth = {"small": (1e8, 0.35), "large": (1e9, 0.45)}
    _write_tensorboard(tmp_path, {f"sweep/{k}": ({"N": n, "optimizer": "adam"}, steps, 2.0 + 40.0 * steps ** -b)
                                  for k, (n, b) in truth.items()})
    runs = sl.load_runs(tmp_path)
    t = runs.table
    assert set(t["run"]) == {"sweep/small", "sweep/large"} and {"step", "loss", "lr", "N", "optimizer"} <= set(t.columns)
    assert t.groupby("run")["N"].first().to_dict() == {"sweep/large": 1e9, "sweep/small": 1e8}
    fits, skipped = sl.fit_groups("power_law_offset", runs, "run", x={"x": "step"}, y="loss")
    assert skipped == []
    for name, (_, b) in truth.items():
        assert fits[f"sweep/{name}"].params["b"] == pytest.approx(b, rel=1e-3)  # written as float32
    assert run(["fit", str(tmp_path), "--law", "power_law_offset", "--x", "x=step", "--y", "loss", "--by", "run",
                "--format", "json"]) == 0
    assert [f["group"] for f in json.loads(capsys.readouterr().out)["fits"]] == ["sweep/large", "sweep/small"]


def test_a_wandb_chart_export_becomes_rows_per_run_and_step(tmp_path):
    steps = np.arange(100, 2100, 100)
    wide = pd.DataFrame({"Step": steps})
    for name, b in (("run-a", 0.3), ("run-b", 0.5)):
        loss = 1.5 + 30.0 * steps ** -b
        wide[f"{name} - train/loss"] = loss
        wide[f"{name} - train/loss__MIN"] = loss * 0.99
        wide[f"{name} - train/loss__MAX"] = loss * 1.01
    wide.loc[3, "run-b - train/loss"] = np.nan  # a step run-b did not log
    wide.to_csv(tmp_path / "export.csv", index=False)
    runs = sl.read_runs(tmp_path / "export.csv")
    assert "W&B chart export: 2 runs" in runs.source
    assert list(runs.table.columns) == ["run", "step", "train/loss", "excluded_warmup"] and len(runs.table) == 39
    # the checkpoints before a tenth of each run's last step (2000): steps 100 of each run
    assert runs.table.loc[runs.table["excluded_warmup"], "step"].tolist() == [100, 100]
    assert "2 warm-up checkpoints flagged" in runs.source
    fits, _ = sl.fit_groups("power_law_offset", runs, "run", x={"x": "step"}, y="train/loss")
    assert fits["run-b"].params["b"] == pytest.approx(0.5, rel=1e-6)
    assert fits["run-b"].n_points == 18 and "1 rows marked excluded were left out" in fits["run-b"].notes
    kept, _ = sl.fit_groups("power_law_offset", runs, "run", x={"x": "step"}, y="train/loss", include_excluded=True)
    assert kept["run-b"].n_points == 19
    plain = pd.DataFrame({"Step": [1, 2], "loss": [3.0, 2.0]})  # no "<run> - <metric>" columns: kept as it is
    plain.to_csv(tmp_path / "plain.csv", index=False)
    assert list(sl.read_runs(tmp_path / "plain.csv").table.columns) == ["Step", "loss"]


def test_standard_input_is_data_dash(monkeypatch, capsys, chinchilla_runs):
    text = chinchilla_runs.table.to_csv(index=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert run(["fit", "-", "--law", "chinchilla", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == pytest.approx(sl.fit("chinchilla", chinchilla_runs).params, rel=1e-9)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(["fit", "-", "--law", "chinchilla"]) == 1
    assert "standard input) is empty" in capsys.readouterr().err


class _RecordedRun:
    """A run as W&B's public API returns it (`wandb.apis.public.Run`): name, id, config (values as
    W&B's config files hold them, ``{"value": ...}``), summary (with ``_json_dict``) and
    ``scan_history()`` rows (``_step``, ``_runtime``, ``_timestamp`` and the logged metrics)."""

    def __init__(self, name, n_params, tokens, b):
        self.name, self.id = name, f"id-{name}"
        self.config = {"model": {"value": {"n_params": n_params}}, "tokens": {"value": tokens},
                       "lr": {"value": 3e-4, "desc": None}, "tags": {"value": ["a", "b"]}}
        self.steps = np.arange(0, 2001, 100)
        self.loss = 1.5 + 30.0 * np.maximum(self.steps, 50) ** -b

        class Summary(dict):
            pass

        self.summary = Summary()
        self.summary._json_dict = {"train/loss": float(self.loss[-1]), "_step": 2000, "_wandb": {"runtime": 5}}

    def scan_history(self):
        for s, v in zip(self.steps, self.loss):
            yield {"_step": int(s), "_runtime": 1.0, "_timestamp": 1.7e9, "train/loss": float(v)}


class _RecordedApi:
    def __init__(self, runs):
        self.asked = []
        self._runs = runs

    def runs(self, path):
        self.asked.append(path)
        return iter(self._runs)


def test_a_wandb_project_through_its_api_gives_run_summaries_and_histories():
    from scalinglaws.data.wandb_api import read_wandb

    api = _RecordedApi([_RecordedRun("small", 1e8, 2e9, 0.3), _RecordedRun("large", 1e9, 2e10, 0.5)])
    runs = read_wandb("wandb:team/sweep", api=api)
    assert api.asked == ["team/sweep"] and len(runs.table) == 2
    row = runs.table.set_index("run").loc["large"]
    assert row["model.n_params"] == 1e9 and row["tokens"] == 2e10 and row["lr"] == 3e-4 and row["_step"] == 2000
    assert "tags" not in runs.table.columns  # a list is not a column
    history = read_wandb("wandb:team/sweep/history", api=api)
    assert list(history.table.columns[:4]) == ["run", "run_id", "model.n_params", "tokens"]
    assert len(history.table) == 42 and "_runtime" not in history.table.columns
    assert history.excluded == ("excluded_warmup",)
    assert history.table.loc[history.table["excluded_warmup"], "step"].tolist() == [0, 100, 0, 100]
    fits, _ = sl.fit_groups("power_law_offset", history, "run", x={"x": "step"}, y="train/loss")
    assert fits["large"].params["b"] == pytest.approx(0.5, rel=1e-6) and fits["large"].n_points == 19
    with pytest.raises(InputError, match="must be wandb:ENTITY/PROJECT"):
        read_wandb("wandb:just-a-name", api=api)


def test_the_wandb_api_without_the_package_or_credentials_is_one_clear_error(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    assert run(["fit", "wandb:team/sweep", "--law", "chinchilla"]) == 1
    assert "needs the wandb package: pip install 'scalinglaws[wandb]'" in capsys.readouterr().err


def test_a_reader_without_its_extra_is_one_line_naming_the_extra(monkeypatch, capsys, tmp_path):
    import sys

    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "events.out.tfevents.1").write_bytes(b"")
    for name in ("tensorboard", "tensorboard.backend", "tensorboard.backend.event_processing",
                 "tensorboard.backend.event_processing.event_accumulator"):
        monkeypatch.setitem(sys.modules, name, None)
    assert run(["fit", str(tmp_path), "--law", "power_law"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("error: reading TensorBoard event files needs the tensorboard package: "
                           "pip install 'scalinglaws[tensorboard]'")


def test_wandb_runs_of_one_name_keep_their_own_checkpoints_and_a_config_run_key_keeps_the_name():
    from scalinglaws.data.wandb_api import read_wandb

    short, long = _RecordedRun("70M", 7e7, 1e9, 0.3), _RecordedRun("70M", 7e7, 1e11, 0.3)
    short.id, long.id = "id-short", "id-long"
    long.steps = np.arange(0, 100_001, 5000)
    long.loss = 1.5 + 30.0 * np.maximum(long.steps, 50) ** -0.3
    short.config["run"] = {"value": "sweep-7"}
    history = read_wandb("wandb:team/sweep/history", api=_RecordedApi([short, long])).table
    flagged = history[history["excluded_warmup"]].groupby("run_id")["step"].apply(list).to_dict()
    assert flagged == {"id-long": [0, 5000], "id-short": [0, 100]}  # each run's own tenth, not the name's
    assert set(history["run"]) == {"70M"} and set(history["config.run"].dropna()) == {"sweep-7"}
