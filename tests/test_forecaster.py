"""Forecasting one's own series: the Forecaster API, `lmcast forecast`, `lmcast export`."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from lmcast.errors import LmcastError


def test_docstring_examples_run_on_the_tiny_model(tiny_dir):
    import lmcast.forecasting.forecaster as mod

    res = doctest.testmod(mod, extraglobs={"MODEL": str(tiny_dir)}, verbose=False)
    assert res.attempted >= 8 and res.failed == 0


@pytest.mark.parametrize(
    ("context", "kw", "needle"),
    [
        (np.ones((1, 2)), {}, "at least 2"),
        (np.array([[1.0, 2.0], [np.nan, 1.0], [1.0, 1.0]]), {}, "NaN or infinite"),
        (np.ones((5, 2)), {"quantiles": (0.1, 1.0)}, "strictly between 0 and 1"),
        (np.ones((5, 2)), {"horizon": 0}, "horizon must be >= 1"),
        (np.ones((5, 2)), {"horizon": 2, "samples": 0}, "samples and batch_size must be >= 1"),
        (np.ones((5, 2)), {"horizon": 10**6}, "does not fit"),
        ([np.ones((5, 2)), np.ones((5, 3))], {}, "same number of variables"),
        (np.ones(5), {}, "must be an array"),
        (np.ones((5, 2)), {"samples": 5, "scale_ensemble": 1.15}, "averages greedy forecasts"),
        (np.ones((5, 2)), {"scale_ensemble": 0.5}, "scale_ensemble must be a ratio >= 1"),
    ],
)
def test_bad_input_is_one_clear_error(tiny_dir, context, kw, needle):
    from lmcast import Forecaster

    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    with pytest.raises(LmcastError, match=needle):
        fc.predict(context, **{"horizon": 3, "samples": 1, **kw})


def test_recent_gives_an_adapter_at_most_its_max_context_steps(tiny_dir):
    from lmcast import Forecaster

    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    t = np.arange(300.0)
    long_, short = np.stack([100 + t, 50 + 0.5 * t], 1), np.ones((8, 2))
    assert fc.max_context_steps is None and fc.recent([long_])[0] is long_  # no limit
    fc.max_context_steps = 150
    cut, kept = fc.recent([long_, short])
    assert kept is short and np.array_equal(cut, long_[-150:])  # the last steps, in order
    fc.max_context_steps = 30  # the tiny model's window holds 1024 tokens
    assert np.array_equal(fc.plan([long_], 3).contexts[0], long_[-30:])  # every forecast
    assert fc.predict(long_, 3, samples=1).samples.shape == (1, 1, 3, 2)


def _ragged_csv(path, nan=False):
    lines = ["id,t,prey,predator"]
    for sid, n in (("a", 30), ("b", 22)):
        for k in range(n):
            prey = "nan" if nan and sid == "b" and k == 10 else f"{2 + np.sin(k / 3):.3f}"
            lines.append(f"{sid},{0.5 * k},{prey},{1 + np.cos(k / 3):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_forecast_cli_hdf5_and_ragged_csv(tmp_path, tiny_dir, lv_file, run_cli):
    import csv

    from lmcast.accounting.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'l.db'}"
    out = tmp_path / "f.csv"
    common = ["--model", tiny_dir, "--horizon", 4, "--samples", 5, "--ledger", url]
    code, _, err = run_cli(
        "forecast",
        "--data",
        lv_file,
        "--context-steps",
        30,
        "--series",
        0,
        "--series",
        2,
        "--out",
        out,
        *common,
    )
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 4 * 2 and {r["series"] for r in rows} == {"0", "2"}
    for r in rows:
        assert float(r["q0.1"]) <= float(r["median"]) <= float(r["q0.9"])
    assert sorted(p.name for p in (tmp_path / "f_figures").iterdir()) == [
        ".lmcast-files.json",  # the manifest that makes the folder lmcast's own
        "series_0.png",
        "series_2.png",
    ]
    # CSV input, two series of different lengths; time continues each series' spacing; --out
    # in folders that do not exist yet (they are made, the figures beside the CSV)
    out2 = tmp_path / "new" / "deeper" / "g.csv"
    code, _, err = run_cli(
        "forecast", "--data", _ragged_csv(tmp_path / "s.csv"), "--out", out2, *common
    )
    assert code == 0, err
    rows = list(csv.DictReader(out2.open()))
    assert len(rows) == 2 * 4 * 2 and (out2.parent / "g_figures" / "series_a.png").is_file()
    a_times = [float(r["time"]) for r in rows if r["series"] == "a" and r["variable"] == "prey"]
    assert a_times == [15.0, 15.5, 16.0, 16.5]
    recs = Ledger(url).records()
    assert [r.status for r in recs] == ["done", "done"] and all(r.flops > 0 for r in recs)
    assert {r.kind for r in recs} == {"forecast"}  # not "evaluate" (issue 43)
    # round 4: figures for the first N series only (2,000 series wrote 2,000 PNGs); the
    # CSV keeps every series
    out3 = tmp_path / "h.csv"
    for n, want in (("1", ["series_a.png"]), ("0", []), ("all", ["series_a.png", "series_b.png"])):
        code, _, err = run_cli("forecast", "--data", tmp_path / "s.csv", "--out", out3,
                               "--figures-for", n, "--overwrite", *common)  # fmt: skip
        assert code == 0, err
        figs = sorted(p.name for p in (tmp_path / "h_figures").iterdir() if p.suffix == ".png")
        assert figs == want and len(list(csv.DictReader(out3.open()))) == 2 * 4 * 2
    code, _, err = run_cli("forecast", "--data", tmp_path / "s.csv", "--out", out3,
                           "--figures-for", "some", *common)  # fmt: skip
    assert code == 2 and "--figures-for must be a count of series or 'all'" in err
    # --temperature reaches the sampler: near zero the paths coincide (the tiny random
    # model's logits are nearly flat, so only a very low temperature shows it)

    def width(path):
        return np.mean([float(r["q0.9"]) - float(r["q0.1"]) for r in csv.DictReader(path.open())])

    out3 = tmp_path / "h.csv"
    code, _, err = run_cli(
        "forecast", "--data", tmp_path / "s.csv", "--out", out3, "--temperature", 1e-4, *common
    )
    assert code == 0, err
    assert width(out3) < 0.1 * width(out2)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--quantiles", "0,0.5"], "strictly between 0 and 1"),
        (["--horizon", "100000"], "does not fit"),
        (["--context-steps", "1"], "--context-steps must be >= 2"),
        (["--series", "zzz"], "no series 'zzz'"),
        (["--nan", "--missing", "error"], "series 'b' has 1 empty value(s)"),
        (["--layout", "wide"], "line 2: non-numeric time or value"),
        (["--out", "."], "is a folder, not a file"),
        (["--temperature", "nan"], "--temperature must be a positive finite number"),
        (["--top-p", "0"], "--top-p must be a positive finite number"),
    ],
)
def test_forecast_bad_input_one_line_nothing_written(tmp_path, tiny_dir, run_cli, extra, needle):
    nan = "--nan" in extra
    extra = [e for e in extra if e != "--nan"]
    data = _ragged_csv(tmp_path / "s.csv", nan=nan)
    argv = ["--model", tiny_dir, "--data", data, "--horizon", 3, "--samples", 2]
    argv += ["--ledger", f"sqlite:///{tmp_path / 'l.db'}"]
    if "--out" not in extra:
        argv += ["--out", tmp_path / "f.csv"]
    code, _, err = run_cli("forecast", *argv, *extra)
    # one error line (in-process, transformers' weight-loading bar may precede it)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("lmcast: error:") and needle in last, err
    assert "Traceback" not in err
    assert not (tmp_path / "f.csv").exists() and not (tmp_path / "f_figures").exists()


def test_figures_folder_never_loses_files_lmcast_did_not_write(
    tmp_path, tiny_dir, run_cli, monkeypatch
):
    """Audit finding 1: `--figures DIR` emptied DIR (`--figures .` the working directory)."""
    data = _ragged_csv(tmp_path / "s.csv")
    argv = ["--model", tiny_dir, "--data", data, "--horizon", 2, "--samples", 2]
    argv += ["--ledger", f"sqlite:///{tmp_path / 'l.db'}", "--out", tmp_path / "f.csv"]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("keep me")
    for figs in (notes, "."):
        monkeypatch.chdir(tmp_path)
        code, _, err = run_cli("forecast", *argv, "--figures", figs)
        assert code == 2 and "holds files lmcast did not write" in err.strip().splitlines()[-1]
        assert not (tmp_path / "f.csv").exists()
    assert (notes / "mine.txt").read_text() == "keep me" and data.is_file()
    # an empty folder is filled; run again, lmcast's own folder is refreshed: the files
    # lmcast listed are replaced or removed, a file someone added there stays
    figs = tmp_path / "figs"
    figs.mkdir()
    assert run_cli("forecast", *argv, "--figures", figs)[0] == 0
    assert (figs / "series_a.png").is_file() and (figs / "series_b.png").is_file()
    (figs / "added.txt").write_text("mine")
    code, _, err = run_cli("forecast", *argv, "--figures", figs, "--series", "a")
    assert code == 0, err
    assert sorted(p.name for p in figs.iterdir()) == [
        ".lmcast-files.json",
        "added.txt",
        "series_a.png",
    ]
    # round 4: a file of the user's under the name of a figure is not replaced
    # (cp notes.png f_figures/series_b.png); the other figures are refreshed
    (figs / "series_b.png").write_text("my notes")
    code, _, err = run_cli("forecast", *argv, "--figures", figs)
    assert code == 0, err
    assert (figs / "series_b.png").read_text() == "my notes" and "series_b.png" in err
    manifest = (figs / ".lmcast-files.json").read_text()
    assert "series_a.png" in manifest and "series_b.png" not in manifest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".figures-")]


def test_figure_names_stay_distinct_after_sanitising():
    from lmcast.forecasting.predict import figure_names

    names = figure_names(["a/b", "a?b", "A?B", "x" * 400, "ok"])
    assert len(set(n.lower() for n in names)) == 5
    assert names[:2] == ["series_a_b.png", "series_a_b-2.png"]
    assert all(len(n) < 100 for n in names)


def test_forecast_never_charges_past_its_budget_with_mixed_token_densities(
    tmp_path, tiny_dir, run_cli
):
    """Audit finding 2: the projection probed the series with the most steps, not the most
    tokens (a 60-step series of small values beside a 59-step one of values near -1000), and
    the run was charged 119 % of the budget. Now the reservation bounds the charge: at a
    budget just below what the run costs, it is refused with nothing spent."""
    from lmcast.accounting.ledger import Ledger

    lines = ["id,t,x"]
    lines += [f"small,{k},{1 + 0.01 * (k % 7):.2f}" for k in range(60)]
    lines += [f"big,{k},{-1000 - 37.25 * (k % 5):.2f}" for k in range(59)]
    data = tmp_path / "mixed.csv"
    data.write_text("\n".join(lines) + "\n")
    argv = ["--model", tiny_dir, "--data", data, "--horizon", 3, "--samples", 2]
    url = f"sqlite:///{tmp_path / 'a.db'}"
    code, _, err = run_cli("forecast", *argv, "--ledger", url, "--out", tmp_path / "a.csv")
    assert code == 0, err
    (rec,) = Ledger(url).records()
    assert 0 < rec.flops <= rec.projected_flops  # the reservation bounded the charge
    tight = f"sqlite:///{tmp_path / 'b.db'}"
    Ledger(tight, budget=rec.flops - 1)
    code, _, err = run_cli("forecast", *argv, "--ledger", tight, "--out", tmp_path / "b.csv")
    assert code == 3 and "refused" in err, err
    assert Ledger(tight).used() <= Ledger(tight).budget()
    assert not (tmp_path / "b.csv").exists()


def test_export_loads_in_a_fresh_process_with_the_same_forecast(
    tmp_path, tiny_dir, lv_file, run_cli
):
    import json
    import subprocess
    import sys

    from lmcast.configs import TrainConfig
    from lmcast.lm.train import train

    run = tmp_path / "run"
    train(
        TrainConfig(
            model=str(tiny_dir),
            data=str(lv_file),
            out=str(run),
            context_length=64,
            batch_size=2,
            max_steps=4,
            lr=5e-3,
            rank=4,
            eval_steps=4,
            eval_windows=4,
            save_steps=0,
            ledger=f"sqlite:///{tmp_path / 'l.db'}",
            progress=False,
            autocast="no",
            device="cpu",
        )
    )
    code, _, err = run_cli("export", run, "--out", tmp_path / "exp")
    assert code == 0, err
    exp = tmp_path / "exp"
    names = sorted(p.name for p in exp.iterdir())
    assert names == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "encoding.json",
        "lmcast_export.json",
    ]
    assert not any(n.endswith((".pt", ".pkl", ".bin", ".py")) for n in names)
    assert "lmcast forecaster" in (exp / "README.md").read_text()
    script = (  # one fresh process loads the export and the run folder
        "import json, sys, numpy as np\n"
        "from lmcast import Forecaster\n"
        "from lmcast.core.series.data import load_dataset\n"
        "x = load_dataset(sys.argv[3]).trajectories[:2, :30].astype(float)\n"
        "for a in sys.argv[2].split(','):\n"
        "    p = Forecaster.load(model=sys.argv[1], adapter=a, device='cpu').predict(x, 4, samples=1)\n"
        "    print(json.dumps(p.samples.tolist()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tiny_dir), f"{exp},{run}", str(lv_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    from_export, from_run = proc.stdout.strip().splitlines()[-2:]
    assert json.loads(from_export) == json.loads(from_run)
    # --max-context-steps: recorded, read back, on the card, and a key of its own
    from lmcast import Forecaster
    from lmcast.forecasting.benchmark import adapter_fingerprint

    cap = tmp_path / "new" / "cap"  # a parent not made yet is made
    code, _, err = run_cli("export", run, "--out", cap, "--max-context-steps", 20)
    assert code == 0, err
    assert json.loads((cap / "lmcast_export.json").read_text())["max_context_steps"] == 20
    assert "last 20 steps" in (cap / "README.md").read_text()
    assert Forecaster.load(model=str(tiny_dir), adapter=cap).max_context_steps == 20
    assert Forecaster.load(model=str(tiny_dir), adapter=exp).max_context_steps is None
    assert adapter_fingerprint(cap) != adapter_fingerprint(exp)
    # --ship (issue 43: the logic of the former scripts/ship_adapter.py): float16
    # weights, the base model's alias, how it was made, --card files, no trainer paths
    from safetensors.torch import load_file

    from lmcast.core.series.data import load_dataset

    (tmp_path / "board.md").write_text("## Benchmark\n\n| a | b |\n")
    shipped = tmp_path / "shipped"
    code, _, err = run_cli(
        "export", run, "--out", shipped, "--ship", "--card", tmp_path / "board.md"
    )
    assert code == 0, err
    assert {str(t.dtype) for t in load_file(shipped / "adapter_model.safetensors").values()} == {
        "torch.float16"
    }
    card = (shipped / "README.md").read_text()
    assert "## How this adapter was made" in card and "Validation loss by step: 0: " in card
    assert card.rstrip().endswith("| a | b |") and str(tmp_path) not in card
    assert str(tmp_path) not in (shipped / "lmcast_export.json").read_text()
    assert Forecaster.load(model=str(tiny_dir), adapter=shipped).predict(
        load_dataset(lv_file).trajectories[:1, :30].astype(float), 2, samples=1
    ).samples.shape == (1, 1, 2, 2)
    code, _, err = run_cli("export", run, "--out", tmp_path / "c0", "--card", tmp_path / "board.md")
    assert code == 2 and "give --ship too" in err and not (tmp_path / "c0").exists()
    code, _, err = run_cli("export", run, "--out", tmp_path / "c1", "--max-context-steps", 1)
    assert code == 2 and "--max-context-steps must be >= 2" in err
    assert not (tmp_path / "c1").exists()
    (tmp_path / "afile").write_text("mine\n")
    code, _, err = run_cli("export", run, "--out", tmp_path / "afile" / "x")
    assert (
        code == 2
        and "is a file, not a folder" in err
        and (tmp_path / "afile").read_text() == "mine\n"
    )
    meta = json.loads((cap / "lmcast_export.json").read_text())
    (cap / "lmcast_export.json").write_text(json.dumps({**meta, "max_context_steps": "x"}))
    with pytest.raises(LmcastError, match="max_context_steps must be >= 2"):
        Forecaster.load(model=str(tiny_dir), adapter=cap)
    # an export missing a file, an export for another base model: one line each
    (exp / "encoding.json").unlink()
    with pytest.raises(LmcastError, match=r"missing encoding\.json"):
        Forecaster.load(model=str(tiny_dir), adapter=exp)
    with pytest.raises(LmcastError, match="was trained on"):
        Forecaster.load(model="smollm2-135m", adapter=run)
    code, _, err = run_cli("export", run, "--out", exp)
    assert code == 2 and "already exists" in err


def test_prediction_rows_and_frame_are_long_format():
    from lmcast.forecasting.forecaster import Prediction, forecast_times

    rng = np.random.default_rng(0)
    p = Prediction(rng.normal(size=(2, 7, 3, 2)), (0.1, 0.5, 0.9), ("prey", "predator"), 0)
    frame = p.to_frame(ids=["a", "b"], times=[forecast_times(np.array([0.0, 2.0]), 3)] * 2)
    assert list(frame.columns) == [
        "series",
        "step",
        "time",
        "variable",
        "median",
        "q0.1",
        "q0.5",
        "q0.9",
        "failed",
    ]
    assert len(frame) == 2 * 3 * 2 and list(frame["time"][:2]) == [4.0, 4.0]
    assert (frame["failed"] == 0).all()
    assert np.allclose(frame["median"], frame["q0.5"])
    assert (frame["q0.1"] <= frame["q0.9"]).all()


def test_sigterm_charges_what_ran_and_releases_the_reservation(
    tmp_path, tiny_dir, run_cli, monkeypatch
):
    """Audit finding 6: SIGTERM (what `timeout` and `kill` send) left the forecast's row
    'running' and its reservation held for an hour. Now it is handled like Ctrl-C: the
    batches that finished are charged, the row is 'stopped', exit 143, no CSV written."""
    import os
    import signal

    from lmcast.accounting.ledger import Ledger
    from lmcast.lm import decode as fmod

    real, calls = fmod._generate_batch, []

    def killed_in_second_batch(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **kw)

    monkeypatch.setattr(fmod, "_generate_batch", killed_in_second_batch)
    url = f"sqlite:///{tmp_path / 'l.db'}"
    argv = ["--model", tiny_dir, "--data", _ragged_csv(tmp_path / "s.csv"), "--horizon", 2]
    argv += ["--samples", 2, "--batch-size", 2, "--ledger", url, "--out", tmp_path / "f.csv"]
    code, _, err = run_cli("forecast", *argv)
    assert code == 143 and err.strip().endswith("lmcast: terminated"), err
    (row,) = Ledger(url).records()
    assert row.status == "stopped" and 0 < row.flops < row.projected_flops
    assert Ledger(url).reserved() == 0 and not (tmp_path / "f.csv").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


def _export_folder(path, tiny_dir, encoding_text=None, export_text=None):
    import json

    path.mkdir()
    (path / "adapter_config.json").write_text("{}")
    (path / "adapter_model.safetensors").write_bytes(b"")
    meta = {"base_model": str(tiny_dir), "variables": ["x"]}
    (path / "lmcast_export.json").write_text(export_text or json.dumps(meta))
    (path / "encoding.json").write_text(encoding_text or '{"alpha": 0.5, "precision": 2}')
    return path


@pytest.mark.parametrize(
    ("encoding_text", "export_text", "needle"),
    [
        ('{"alpha": NaN, "precision": 2}', None, "alpha nan is outside"),
        ('{"alpha": -1, "precision": 2}', None, "alpha -1 is outside"),
        ('{"alpha": Infinity, "precision": 2}', None, "alpha inf is outside"),
        ('{"alpha": 0, "precision": 2}', None, "alpha 0 is outside"),
        ('{"alpha": 1e-300, "precision": 2}', None, "is outside"),
        ('{"alpha": "1", "precision": 2}', None, "alpha must be a number"),
        ('{"alpha": 1, "precision": -1}', None, "precision -1 is outside"),
        ('{"alpha": 1, "precision": 2.5}', None, "precision must be an integer"),
        ("[1, 2]", None, "corrupt encoding record"),
        (None, "not json", "not a readable export record"),
        (None, "[1, 2]", "a JSON object is expected"),
        (None, '{"base_model": {"a": 1}}', "base_model must be a model name"),
        (None, '{"base_model": "m", "variables": "xy"}', "variables must be a list"),
    ],
)
def test_a_tampered_export_is_one_line_before_any_work(
    tmp_path, tiny_dir, run_cli, encoding_text, export_text, needle
):
    """Audit finding 3: tampered `encoding.json`/`lmcast_export.json` gave tracebacks, or
    silent changes (alpha 0 replaced by the automatic alpha, alpha 1e-300 accepted)."""
    if export_text and export_text.startswith('{"base_model": "m"'):
        export_text = export_text.replace('"m"', f'"{tiny_dir}"')
    folder = _export_folder(tmp_path / "exp", tiny_dir, encoding_text, export_text)
    url = f"sqlite:///{tmp_path / 'l.db'}"
    argv = ["--model", tiny_dir, "--adapter", folder, "--data", _ragged_csv(tmp_path / "s.csv")]
    code, _, err = run_cli(
        "forecast", *argv, "--horizon", 2, "--ledger", url, "--out", tmp_path / "f.csv"
    )
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("lmcast: error:") and needle in last, err
    assert "Traceback" not in err and not (tmp_path / "f.csv").exists()


def test_values_the_adapter_scale_cannot_write_are_refused(tiny_dir):
    """An adapter scale far from the series' (alpha 1e-12 on values near 1000) needs more
    integer digits than a forecast can write: one clear error, not minutes of generation."""
    from lmcast import Forecaster
    from lmcast.core.codec.scheme import Encoding

    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    fc.encoding = Encoding(alpha=1e-12)
    with pytest.raises(LmcastError, match="need 16 integer digits"):
        fc.predict(np.full((5, 1), 1000.0), horizon=2, samples=1, scale="adapter")
    # a scale ensemble writes the series at alpha / 1.15 too: checked there, before encoding
    # (one greedy forecast at alpha alone is still allowed)
    fc.encoding = Encoding(alpha=1.1e-9)  # 1000 / alpha: 12 integer digits, as many as allowed
    ens = {"horizon": 2, "samples": 1, "scale": "adapter", "scale_ensemble": 1.15}
    with pytest.raises(LmcastError, match=r"alpha 9\.6e-10 need 13 integer digits"):
        fc.predict(np.full((5, 1), 1000.0), **ens)
    assert fc.plan(np.full((5, 1), 1000.0), 2, scale="adapter").alphas == (1.1e-9,)


def test_export_from_a_malformed_run_folder_is_one_line_or_leaves_parts_out(
    tmp_path, tiny_dir, lv_file, run_cli
):
    """Audit finding 4: `run.json` a list, `flops` a string or partial test metrics gave a
    traceback and left a `.export-*` folder. Now: a broken run record is one line; broken
    optional parts are left out of the card; the card starts with the Hub's YAML header and
    run metadata cannot inject markup."""
    import json
    import shutil

    from lmcast.configs import TrainConfig
    from lmcast.lm.train import train

    run = tmp_path / "run"
    train(
        TrainConfig(
            model=str(tiny_dir), data=str(lv_file), out=str(run), context_length=64,
            batch_size=2, max_steps=1, save_steps=0, eval_steps=10, progress=False,
            autocast="no", device="cpu", ledger=f"sqlite:///{tmp_path / 'l.db'}",
        )
    )  # fmt: skip
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "command": "lmcast <script>x</script>"}))
    (run / "summary.json").write_text(json.dumps({"flops": "lots"}))
    (run / "test").mkdir()
    (run / "test" / "metrics.json").write_text(json.dumps({"protocol": {"split": "test"}}))
    code, _, err = run_cli("export", run, "--out", tmp_path / "exp")
    assert code == 0, err
    card = (tmp_path / "exp" / "README.md").read_text()
    assert (
        card.startswith("---\nlibrary_name: peft\n")
        and "pipeline_tag: time-series-forecasting" in card
    )
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "license:" not in card  # a local model folder: its license is not guessed
    from lmcast.lm.models import license_of

    assert license_of("smollm2-135m") == license_of("qwen2.5-0.5b") == "apache-2.0"
    assert "FLOPs: not recorded" in card and "Not evaluated on a test split" in card
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "run.json").write_text("[1, 2]")
    code, _, err = run_cli("export", broken, "--out", tmp_path / "exp2")
    assert code == 2 and "not a training run record" in err and "Traceback" not in err
    assert not (tmp_path / "exp2").exists() and not list(tmp_path.glob(".export-*"))
    # round 4: config.data = 5 (a number) was a TypeError; the variables are left out
    (broken / "run.json").write_text(json.dumps({**info, "config": {**info["config"], "data": 5}}))
    code, _, err = run_cli("export", broken, "--out", tmp_path / "exp3")
    assert code == 0 and "Traceback" not in err, err


def test_forecast_continues_the_dates_of_a_nixtla_csv(tmp_path, tiny_dir, run_cli):
    import csv

    lines = ["unique_id,ds,y"]
    for k in range(24):
        if k != 7:  # a missing month: filled, and reported in the result
            lines.append(f"s1,{2019 + k // 12}-{k % 12 + 1:02d}-01,{100 + 10 * np.sin(k / 2):.2f}")
    data = tmp_path / "monthly.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "f.csv"
    code, stdout, err = run_cli(
        "forecast", "--model", tiny_dir, "--data", data, "--horizon", 3, "--samples", 2,
        "--out", out, "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 0, err
    assert "missing steps filled by interpolation: s1 1" in stdout
    rows = list(csv.DictReader(out.open()))
    assert [r["time"] for r in rows] == ["2021-01-01", "2021-02-01", "2021-03-01"]
    assert {r["variable"] for r in rows} == {"y"}
    # imported into HDF5 the series keeps its dates and frequency, and forecasts continue them
    h5 = tmp_path / "monthly.h5"
    assert run_cli("data", "import", "--csv", data, "--out", h5)[0] == 0
    out2 = tmp_path / "f2.csv"
    code, _, err = run_cli(
        "forecast", "--model", tiny_dir, "--data", h5, "--horizon", 3, "--samples", 2,
        "--out", out2, "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 0, err
    assert [r["time"] for r in csv.DictReader(out2.open())] == [r["time"] for r in rows]
    # two series on other dates (same length) cannot share one time axis
    shifted = [ln.replace("s1,2019", "s2,2018").replace("s1,2020", "s2,2019") for ln in lines[1:]]
    data.write_text("\n".join([*lines, *shifted]) + "\n")
    code, _, err = run_cli("data", "import", "--csv", data, "--out", tmp_path / "two.h5")
    assert code == 2 and "covers other dates" in err and not (tmp_path / "two.h5").exists()


def test_forecast_with_classical_references_adds_their_rows(tmp_path, tiny_dir, run_cli):
    import csv

    out = tmp_path / "f.csv"
    code, _, err = run_cli(
        "forecast", "--model", tiny_dir, "--data", _ragged_csv(tmp_path / "s.csv"),
        "--horizon", 3, "--samples", 2, "--out", out, "--baselines", "var,theta",
        "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:2] == ["forecaster", "series"]
    by = {}
    for r in rows:
        by.setdefault(r["forecaster"], []).append(r)
    # 2 series × 3 steps × 2 variables each
    assert {k: len(v) for k, v in by.items()} == {"lmcast": 12, "VAR": 12, "AutoTheta": 12}
    for r in by["VAR"]:
        assert float(r["q0.1"]) <= float(r["median"]) <= float(r["q0.9"])
    assert [r["time"] for r in by["AutoTheta"][:6:2]] == ["15.0", "15.5", "16.0"]  # 30 steps of 0.5
    code, _, err = run_cli(
        "forecast", "--model", tiny_dir, "--data", _ragged_csv(tmp_path / "s.csv"),
        "--horizon", 3, "--out", tmp_path / "g.csv", "--baselines", "snaive",
        "--season-length", 12, "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 2 and "shorter than two seasons" in err and not (tmp_path / "g.csv").exists()


def test_load_model_runs_one_warm_up_pass_before_any_forecast(tiny_dir, monkeypatch):
    """A loaded model has run one forward pass of WARM_UP_TOKENS tokens without gradients
    (the first forecast of a fresh bf16 CPU process then repeats: benchmarks/bench_cold_start.py)."""
    import torch

    from lmcast.lm import models

    seen = []
    real = models.warm_up

    def spy(model):
        def record(module, args, kwargs):
            seen.append((tuple(kwargs["input_ids"].shape), torch.is_grad_enabled()))

        hook = model.register_forward_pre_hook(record, with_kwargs=True)
        try:
            real(model)
        finally:
            hook.remove()

    monkeypatch.setattr(models, "warm_up", spy)
    lm = models.load_model(str(tiny_dir), device="cpu")
    assert seen == [((1, models.WARM_UP_TOKENS), False)]
    assert not lm.model.training


def test_one_forecast_encodes_each_series_once(tiny_dir, tmp_path, monkeypatch):
    """Issue 43: a forecast encoded every series twice (the longest three times) and built
    prompts and grammar three times. Now one GenerationPlan holds them: the horizon check,
    the reservation and the run read the same prompts."""
    from lmcast import Forecaster
    from lmcast.accounting.ledger import Ledger
    from lmcast.core.codec import encoding
    from lmcast.forecasting.forecaster import charged_predict
    from lmcast.lm.decode import Sampling

    calls = []
    real = encoding.encode
    monkeypatch.setattr(encoding, "encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    series = [np.linspace(1, 3, n)[:, None] for n in (12, 30, 20)]
    fc.predict(series, horizon=2, samples=2)
    assert len(calls) == 3
    calls.clear()
    plan = fc.plan(series, 2, Sampling(samples=2))
    pred = charged_predict(
        fc, plan, Ledger(f"sqlite:///{tmp_path / 'l.db'}"), experiment="e", name="n", what="w",
        config={},
    )  # fmt: skip
    assert len(calls) == 3 and pred.samples.shape == (3, 2, 2, 1)


def test_predict_df_has_statsforecasts_shape_and_scores_with_utilsforecast(tiny_dir):
    """Issue 42: ``Forecaster.predict_df`` takes and returns the ecosystem's long DataFrame;
    its output concatenates with ``StatsForecast.forecast``'s (the same ids and dates, the
    same column names and order) and ``utilsforecast.evaluation`` scores both."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import Naive
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import mae

    from lmcast import Forecaster

    ds = pd.date_range("2020-01-01", periods=27, freq="MS")
    full = pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "y": 10 + np.sin(np.arange(27) / 2) + k})
            for k, u in enumerate(["b", "a"])
        ]
    )
    train = full.groupby("unique_id").head(24).sample(frac=1, random_state=0)  # any row order
    test = full.groupby("unique_id").tail(3)
    sf = StatsForecast(models=[Naive()], freq="MS").forecast(df=train, h=3, level=[80, 95])
    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    ours = fc.predict_df(train, h=3, level=(95, 80), samples=4)
    assert list(ours.columns) == [
        "unique_id", "ds", "lmcast", "lmcast-lo-80", "lmcast-lo-95", "lmcast-hi-80", "lmcast-hi-95"
    ]  # fmt: skip
    first, second = pd.unique(train["unique_id"])  # each series in first-seen order
    assert list(ours["unique_id"]) == [first] * 3 + [second] * 3
    both = sf.merge(ours, on=["unique_id", "ds"], validate="one_to_one")
    assert len(both) == len(sf) == 6  # the same ids and dates as statsforecast's
    lo, hi = both["lmcast-lo-95"], both["lmcast-hi-95"]
    assert (lo <= both["lmcast-lo-80"]).all() and (both["lmcast-hi-80"] <= hi).all()
    scored = evaluate(both.merge(test, on=["unique_id", "ds"]), metrics=[mae])
    assert {"Naive", "lmcast"} <= set(scored.columns) and scored["lmcast"].notna().all()
    ordered = full.groupby("unique_id").head(24)
    ints = ordered.assign(ds=ordered.groupby("unique_id").cumcount())  # integer times go on
    assert list(fc.predict_df(ints, h=2, samples=1)["ds"]) == [24, 25, 24, 25]
    with pytest.raises(LmcastError, match="no column 'y'"):
        fc.predict_df(train.rename(columns={"y": "value"}), h=2)


def test_forecast_combinations_and_calibrate(tmp_path, tiny_dir, lv_file, run_cli):
    """Issue 42: ``--references model+ets`` is the mean of the model's and AutoETS's rows;
    ``--calibrate`` forecasts the windows too (more FLOPs charged), keeps the medians and
    replaces the quantiles by conformal ones, the same as ``Forecaster.predict(calibrate=2)``;
    ``predict_df`` takes it through."""
    import csv

    import pandas as pd

    from lmcast import Forecaster
    from lmcast.accounting.ledger import Ledger
    from lmcast.core.series.data import load_dataset

    url = f"sqlite:///{tmp_path / 'l.db'}"
    common = ["--model", tiny_dir, "--horizon", 4, "--samples", 3, "--ledger", url,
              "--data", lv_file, "--context-steps", 30, "--series", 0, "--series", 1,
              "--no-progress", "--figures-for", 0]  # fmt: skip
    out = tmp_path / "f.csv"
    code, _, err = run_cli("forecast", *common, "--out", out, "--references", "ets, model + ets")
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    by = {(r["forecaster"], r["series"], r["step"], r["variable"]): r for r in rows}
    assert {r["forecaster"] for r in rows} == {"lmcast", "AutoETS", "lmcast+AutoETS"}
    for (f, *k), r in by.items():
        if f == "lmcast+AutoETS":
            for col in ("median", "q0.1", "q0.9"):
                mean = (float(by[("lmcast", *k)][col]) + float(by[("AutoETS", *k)][col])) / 2
                assert float(r[col]) == pytest.approx(mean, rel=1e-4, abs=1e-5)
    out2 = tmp_path / "g.csv"
    code, _, err = run_cli("forecast", *common, "--out", out2, "--calibrate")
    assert code == 0, err
    cal = {(r["series"], r["step"], r["variable"]): r for r in csv.DictReader(out2.open())}
    plain = {k[1:]: r for k, r in by.items() if k[0] == "lmcast"}
    assert all(cal[k]["median"] == plain[k]["median"] for k in plain)
    assert any(cal[k]["q0.9"] != plain[k]["q0.9"] for k in plain)
    first, second = Ledger(url).records()
    assert second.flops > 2 * first.flops  # the windows were forecast too
    x = [load_dataset(lv_file).trajectories[i, -30:].astype(float) for i in (0, 1)]
    fc = Forecaster.load(model=str(tiny_dir), adapter=None)
    p = fc.predict(x, 4, samples=3, calibrate=2)
    q9 = np.array([[[float(cal[(str(i), str(s + 1), v)]["q0.9"]) for v in ("prey", "predator")]
                    for s in range(4)] for i in (0, 1)])  # fmt: skip
    np.testing.assert_allclose(p.quantiles[-1], q9, rtol=1e-4, atol=1e-5)
    df = pd.DataFrame({"unique_id": ["a"] * 30, "ds": range(30), "y": x[0][:, 0]})
    assert fc.predict_df(df, 4, level=(80,), samples=3, calibrate=2).shape == (4, 5)
    with pytest.raises(LmcastError, match="calibrate must be >= 0"):
        fc.predict(x, 4, samples=1, calibrate=-1)
    for bad, needle in (("model", "the model's rows are there anyway"),
                        ("ets+ets", "twice"), ("model+prophet", "'prophet'")):  # fmt: skip
        code, _, err = run_cli(
            "forecast", *common, "--out", tmp_path / "x.csv", "--references", bad
        )
        assert code == 2 and needle in err and not (tmp_path / "x.csv").exists()
