"""``lmcast benchmark`` and ``lmcast data classics``: datasets × forecasters → one leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pytest


def _monthly(path, n=40, series=("a", "b", "c")):
    lines = ["unique_id,ds,y"]
    for j, sid in enumerate(series):
        for k in range(n):
            y = 50 + 10 * j + 5 * np.sin(2 * np.pi * k / 12) + 0.3 * k
            lines.append(f"{sid},{2015 + k // 12}-{k % 12 + 1:02d}-01,{y:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _result(out, dataset, forecaster):
    """The one stored result of a (dataset, forecaster): results/<d>/<f>-<key>.json."""
    (path,) = (out / "results" / dataset).glob(f"{forecaster}-*.json")
    return path


def test_benchmark_leaderboard_ledger_and_resume(tmp_path, tiny_dir, lv_file, run_cli):
    from lmcast.accounting.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'l.db'}"
    out = tmp_path / "bench"
    argv = [
        "benchmark", "--data", _monthly(tmp_path / "m.csv"), "--data", lv_file,
        "--forecasters", "zero-shot,var,snaive,theta", "--horizon", 4, "--max-series", 3,
        "--context-steps", 24, "--samples", 2, "--model", tiny_dir, "--out", out,
        "--ledger", url, "--json",
    ]  # fmt: skip
    code, stdout, err = run_cli(*argv)
    assert code == 0, err
    board = json.loads(stdout)
    rows = {r["forecaster"]: r for r in board["rows"]}
    assert set(rows) == {"zero-shot", "var", "snaive", "theta"}
    assert rows["snaive"]["mase_vs_snaive"] == pytest.approx(1.0)
    assert rows["snaive"]["series"] == 6 and rows["var"]["series"] == 3  # VAR: lv only
    assert set(board["per_dataset"]) == {"m", "lv"}
    m_snaive = json.loads(_result(out, "m", "snaive").read_text())
    assert m_snaive["season_length"] == 12  # inferred from the monthly dates
    assert json.loads(_result(out, "lv", "snaive").read_text())["season_length"] == 1
    assert json.loads(_result(out, "m", "var").read_text())["skipped"]
    # issue 42: each series carries its intervals' coverage and MSIS; the board summarises
    for name in ("zero-shot", "theta", "snaive"):
        res = json.loads(_result(out, "m", name).read_text())
        for entry in (res, *res["per_series"].values()):
            c = [entry[f"coverage_{x}"] for x in (50, 80, 95)]
            assert all(0 <= v <= 1 for v in c) and c == sorted(c)  # nested intervals
            assert entry["msis"] is None or entry["msis"] >= 0
        assert rows[name]["coverage_95"] is not None and rows[name]["msis"] > 0
    assert "| 95 % interval holds | MSIS |" in (out / "leaderboard.md").read_text()
    # every LM FLOP is on the ledger, charged once per (dataset, forecaster)
    ledger = Ledger(url)
    recs = ledger.records()
    assert len(recs) == 2 and all(r.status == "done" and r.kind == "benchmark" for r in recs)
    assert sum(r.flops for r in recs) == rows["zero-shot"]["flops"] > 0
    for f in ("leaderboard.md", "leaderboard.json", "per_step.png", "benchmark.json"):
        assert (out / f).is_file(), f
    md = (out / "leaderboard.md").read_text()
    assert "| AutoTheta |" in md and "better than seasonal naive" in md
    # MASE by hand for one series: the scale is the context's lag-12 MAE
    from lmcast.core.series.data import read_long_csv

    ls = read_long_csv(tmp_path / "m.csv")
    y = ls.values[0][:, 0]
    ctx, truth = y[:-4][-24:], y[-4:]
    scale = np.mean(np.abs(ctx[12:] - ctx[:-12]))
    snaive = ctx[-12:][:4]
    assert m_snaive["per_series"]["a"]["mase"] == pytest.approx(
        np.mean(np.abs(snaive - truth)) / scale
    )
    # resumed: nothing runs again; a deleted result is scored again from its stored
    # forecasts (no FLOPs), and with its forecasts deleted too it is the only one redone
    assert run_cli(*argv)[0] == 0 and len(ledger.records()) == 2
    _result(out, "lv", "zero-shot").unlink()
    assert run_cli(*argv)[0] == 0 and len(ledger.records()) == 2
    done = _result(out, "lv", "zero-shot")
    done.unlink()
    done.with_suffix(".npz").unlink()
    code, stdout2, _ = run_cli(*argv)
    assert code == 0 and len(ledger.records()) == 3
    assert json.loads(stdout2)["per_dataset"] == board["per_dataset"] | {
        "lv": json.loads(stdout2)["per_dataset"]["lv"]
    }
    # another protocol in the same folder: refused
    code, _, err = run_cli(*[a if a != 4 else 5 for a in argv])
    assert code == 2 and "another protocol" in err


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("unknown", "unknown forecaster 'prophet'"),
        ("irregular", "not at a regular frequency"),
        ("duplicate", "twice"),
        ("short-season", "shorter than two seasons"),
        ("foreign-out", "holds files lmcast did not write"),
        ("no-adapter", "no such adapter folder"),
        ("cold", "--temperature must be a positive finite number"),
        ("top-p", "--top-p must be <= 1"),
    ],
)
def test_benchmark_bad_input_is_one_line_nothing_written(tmp_path, run_cli, case, needle):
    data = _monthly(tmp_path / "m.csv", n=40)
    forecasters = "snaive,ets"
    out = tmp_path / "bench"
    extra = []
    if case == "unknown":
        forecasters = "ets,prophet"
    elif case == "irregular":
        data.write_text("unique_id,ds,y\na,2021-01-01,1\na,2021-01-02,2\na,2021-01-09,3\n")
    elif case == "duplicate":
        text = data.read_text().splitlines()
        data.write_text("\n".join([*text, text[5]]) + "\n")
    elif case == "short-season":
        data = _monthly(tmp_path / "short.csv", n=20)
    elif case == "foreign-out":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif case == "no-adapter":
        forecasters = f"adapter:{tmp_path / 'nothing'}"
    elif case == "cold":
        extra = ["--temperature", 0]
    elif case == "top-p":
        extra = ["--top-p", 1.5]
    code, _, err = run_cli(
        "benchmark", "--data", data, "--forecasters", forecasters, "--horizon", 4,
        "--out", out, "--ledger", f"sqlite:///{tmp_path / 'l.db'}", *extra,
    )  # fmt: skip
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    if case == "foreign-out":
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    else:
        assert not out.exists()
    assert not (tmp_path / "l.db").exists()


def test_data_classics_writes_real_series_that_read_back(tmp_path, run_cli):
    from lmcast.core.series.data import read_long_csv

    code, stdout, err = run_cli("data", "classics", "--out", tmp_path / "c")
    assert code == 0, err
    freqs = {}
    for name in ("monthly", "weekly", "quarterly", "yearly"):
        ls = read_long_csv(tmp_path / "c" / f"{name}.csv")
        assert ls.layout == "nixtla"
        freqs[name] = ls.axes[0].freq
    assert freqs == {"monthly": "MS", "weekly": "W-SAT", "quarterly": "QS-OCT", "yearly": "YS-JAN"}
    ls = read_long_csv(tmp_path / "c" / "monthly.csv")
    air = ls.values[ls.ids.index("air_passengers")][:, 0]
    assert air[:3].tolist() == [112.0, 118.0, 132.0] and len(air) == 144
    assert "weekly.csv: 1 series, 2284 steps, W-SAT (59 missing steps)" in stdout
    code, _, err = run_cli("data", "classics", "--out", tmp_path / "c")  # only its own files
    assert code == 0
    (tmp_path / "c" / "x.txt").write_text("mine")
    code, _, err = run_cli("data", "classics", "--out", tmp_path / "c")
    assert code == 2 and "new or empty folder" in err


def _adapter(folder, tiny_dir, seed):
    """A real PEFT LoRA adapter of the tiny model (random B, so it changes forecasts)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    cfg = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, cfg).save_pretrained(folder)
    return folder


def test_benchmark_resume_reuses_only_results_of_the_same_inputs(tmp_path, tiny_dir, run_cli):
    """Audit HIGH 3: results were reused after the data's content, --max-series or the
    adapter behind a path changed; two adapter paths shared one file name; a tampered
    result was trusted. Each result is now keyed by what produced it."""
    data = _monthly(tmp_path / "m.csv")
    out = tmp_path / "bench"
    base = ["benchmark", "--data", data, "--horizon", 4, "--context-steps", 24, "--out", out]
    base += ["--samples", 1, "--model", tiny_dir, "--ledger", f"sqlite:///{tmp_path / 'l.db'}"]

    def run(*extra):
        code, stdout, err = run_cli(*base, *extra, "--json")
        assert code == 0 and "Traceback" not in err, err
        board = json.loads(stdout)
        maes = {f: r["mae"] for f, r in board["per_dataset"]["m"].items()}
        return maes, {r["forecaster"]: r["series"] for r in board["rows"]}

    first, _ = run("--forecasters", "snaive,naive")
    assert run("--forecasters", "snaive,naive")[0] == first  # same inputs: reused
    assert run("--forecasters", "snaive,naive", "--max-series", 1)[1]["naive"] == 1
    lines = data.read_text().splitlines()
    data.write_text("\n".join([*lines[:-1], lines[-1].rsplit(",", 1)[0] + ",999"]) + "\n")
    changed, _ = run("--forecasters", "snaive,naive")  # the data's bytes changed: recomputed
    assert changed["naive"] != first["naive"]
    # a tampered result, a foreign JSON, an unreadable file: recomputed, never trusted
    for bad in ('{"forecaster": "naive", "dataset": "m", "key": "x", "mae": 0}', "[1]", "{"):
        for p in (out / "results/m").glob("naive-*.json"):
            p.write_text(bad)
        assert run("--forecasters", "snaive,naive")[0]["naive"] == changed["naive"]
    # two adapter paths whose names slug alike, and new weights behind one path
    a = _adapter(tmp_path / "ad" / "x_y", tiny_dir, seed=1)
    b = _adapter(tmp_path / "ad" / "x y", tiny_dir, seed=2)
    rows, _ = run("--forecasters", f"adapter:{a},adapter:{b}")
    assert rows[f"adapter:{a}"] != rows[f"adapter:{b}"]
    assert len(list((out / "results/m").glob("adapter_*.json"))) == 2
    _adapter(a, tiny_dir, seed=3)
    again, _ = run("--forecasters", f"adapter:{a},adapter:{b}")
    assert again[f"adapter:{a}"] != rows[f"adapter:{a}"]
    assert again[f"adapter:{b}"] == rows[f"adapter:{b}"]


def test_benchmark_temperature_is_part_of_the_protocol(tmp_path, tiny_dir, run_cli):
    """``--temperature`` reaches the sampler and keys the results; at its default (0.7) the
    protocol is the one of before the flag, so older benchmark folders still resume."""
    data = _monthly(tmp_path / "m.csv")
    base = ["benchmark", "--data", data, "--horizon", 4, "--context-steps", 24, "--samples", 8]
    base += ["--forecasters", "zero-shot", "--model", tiny_dir, "--json"]
    base += ["--ledger", f"sqlite:///{tmp_path / 'l.db'}"]

    def run(out, *extra):
        code, stdout, err = run_cli(*base, "--out", tmp_path / out, *extra)
        return code, (json.loads(stdout)["per_dataset"]["m"]["zero-shot"] if code == 0 else err)

    code, warm = run("warm")
    assert code == 0, warm
    marker = json.loads((tmp_path / "warm" / "benchmark.json").read_text())
    assert "temperature" not in marker["protocol"] and "top_p" not in marker["protocol"]
    code, cold = run("cold", "--temperature", 0.05)
    assert code == 0, cold
    assert json.loads((tmp_path / "cold" / "benchmark.json").read_text())["protocol"][
        "temperature"
    ] == pytest.approx(0.05)
    assert "temperature 0.05" in (tmp_path / "cold" / "leaderboard.md").read_text()
    assert cold["wql"] != warm["wql"]  # other paths were drawn
    assert run("warm", "--temperature", 0.7)[1] == warm  # the default, named: resumed
    code, err = run("warm", "--temperature", 0.05)  # a folder of another temperature
    assert code == 2 and "another protocol" in err


def test_benchmark_refuses_a_dataset_given_twice(tmp_path, run_cli):
    data = _monthly(tmp_path / "m.csv")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(data.read_bytes())
    for second in (data, copy):
        code, _, err = run_cli(
            "benchmark", "--data", data, "--data", second, "--forecasters", "naive",
            "--horizon", 4, "--out", tmp_path / f"b-{second.stem}",
        )  # fmt: skip
        assert code == 2 and "counts once" in err and "Traceback" not in err, err
        assert not (tmp_path / f"b-{second.stem}").exists()  # refused before writing


def test_combinations_reuse_their_members_and_charge_the_lm_once(tmp_path, tiny_dir, run_cli):
    """Issue 42: ``A+B`` is the equal-weight mean of its members' points and quantiles; a
    member named alone too is forecast (and charged) once, and a combination added to a
    finished folder reuses the stored forecasts: no FLOPs, the members' scores unchanged."""
    from lmcast.accounting.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'l.db'}"
    out = tmp_path / "bench"
    base = [
        "benchmark", "--data", _monthly(tmp_path / "m.csv"), "--horizon", 4,
        "--context-steps", 24, "--samples", 2, "--model", tiny_dir, "--out", out,
        "--ledger", url, "--json", "--no-progress",
    ]  # fmt: skip
    code, stdout, err = run_cli(*base, "--forecasters", "zero-shot,snaive, zero-shot + theta")
    assert code == 0, err
    rows = {r["forecaster"]: r for r in json.loads(stdout)["rows"]}
    assert set(rows) == {"zero-shot", "snaive", "zero-shot+theta"}
    assert rows["zero-shot+theta"]["label"] == "zero-shot+AutoTheta"
    (rec,) = Ledger(url).records()  # the language model ran once, for both
    assert rows["zero-shot+theta"]["flops"] == rows["zero-shot"]["flops"] == rec.flops > 0
    # each single forecast is stored, also theta's, which has no result of its own
    z, t = (
        np.load(next((out / "results" / "m").glob(f"{n}-*.npz"))) for n in ("zero-shot", "theta")
    )
    k = np.arange(36, 40)
    truth = np.stack([50 + 10 * j + 5 * np.sin(2 * np.pi * k / 12) + 0.3 * k for j in range(3)])
    truth = truth[..., None]  # (N, H, V)
    mean = (z["point"] + t["point"]) / 2
    combo = json.loads(_result(out, "m", "zero-shot_theta").read_text())
    for j, sid in enumerate("abc"):
        assert combo["per_series"][sid]["mae"] == pytest.approx(
            np.abs(mean[j] - truth[j]).mean(), abs=1e-3
        )
    # a new combination in the same folder: from the stored forecasts, nothing charged
    code, stdout, err = run_cli(*base, "--forecasters", "zero-shot,snaive,zero-shot+snaive")
    assert code == 0 and len(Ledger(url).records()) == 1, err
    rows2 = {r["forecaster"]: r for r in json.loads(stdout)["rows"]}
    assert rows2["zero-shot"]["mase_gmean"] == rows["zero-shot"]["mase_gmean"]
    assert rows2["zero-shot+snaive"]["flops"] == rec.flops
    # its seconds are its members' forecasting time, stored with their forecasts
    assert rows2["zero-shot+snaive"]["seconds"] >= rows2["zero-shot"]["seconds"] > 0
    for bad, needle in (("ets+ets", "names a member twice"), ("ets+prophet", "'prophet'")):
        code, _, err = run_cli(*base, "--forecasters", bad)
        assert code == 2 and needle in err


def test_calibrate_gives_statsforecasts_conformal_intervals(tmp_path, run_cli):
    """``--calibrate`` on a classical forecaster: the same 80 % and 95 % intervals as
    statsforecast's ``ConformalIntervals(h, n_windows=2)`` on the same model (Naive); a
    series too short for the windows keeps its own; the protocol (so the folder) differs."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import Naive
    from statsforecast.utils import ConformalIntervals

    from lmcast.compare import metrics

    data = _monthly(tmp_path / "m.csv", n=40)
    out = tmp_path / "bench"
    argv = [
        "benchmark", "--data", data, "--forecasters", "naive", "--horizon", 4,
        "--context-steps", 0, "--season-length", 1, "--out", out, "--calibrate", "--json",
        "--no-progress",
    ]  # fmt: skip
    code, _, err = run_cli(*argv)
    assert code == 0, err
    res = json.loads(_result(out, "m", "naive").read_text())
    assert res["calibrated"] == 3
    q = np.load(_result(out, "m", "naive").with_suffix(".npz"))["quantiles"][..., 0]  # (Q, N, H)
    df = pd.read_csv(data, parse_dates=["ds"])
    train = df.groupby("unique_id").head(36)
    sf = StatsForecast(models=[Naive()], freq="MS")
    ref = sf.forecast(
        h=4, df=train, level=[80, 95], prediction_intervals=ConformalIntervals(h=4, n_windows=2)
    ).sort_values(["unique_id", "ds"])
    at = metrics.SCORED_QUANTILES.index
    for col, level in (("Naive-lo-80", 0.1), ("Naive-hi-80", 0.9), ("Naive-hi-95", 0.975)):
        np.testing.assert_allclose(q[at(level)].ravel(), ref[col].to_numpy(), rtol=1e-9)
    # against the uncalibrated run: another protocol, another folder; different intervals
    code, _, err = run_cli(*argv[:-3], "--json")
    assert code == 2 and "another protocol" in err
    code, _, err = run_cli(*[a if a != out else tmp_path / "b2" for a in argv[:-3]])
    assert code == 0, err
    q0 = np.load(_result(tmp_path / "b2", "m", "naive").with_suffix(".npz"))["quantiles"]
    assert not np.allclose(q0[..., 0], q)
    # --calibration-method pooled: the protocol names it; Naive's own spread, rescaled
    b3 = tmp_path / "b3"
    code, _, err = run_cli(*[a if a != out else b3 for a in argv], "--calibration-method", "pooled")
    assert code == 0, err
    qp = np.load(_result(b3, "m", "naive").with_suffix(".npz"))["quantiles"][..., 0]
    assert json.loads((b3 / "benchmark.json").read_text())["protocol"]["calibration_method"]
    assert not np.allclose(qp, q) and not np.allclose(qp, q0[..., 0])
    # the calibrated run keeps its forecasts before calibration: the other method, read
    # from them, is the pooled run's, to the last digit; the run without keeps none
    from lmcast.configs import BenchmarkConfig
    from lmcast.errors import LmcastError
    from lmcast.forecasting import benchmark as bm

    cfg = BenchmarkConfig(
        data=[str(data)],
        forecasters=("naive",),
        horizon=4,
        context_steps=0,
        season_length=1,
        out=str(out),
    )
    task = bm.load_task(str(data), "m", cfg)
    f = bm.read_forecast(_result(out, "m", "naive").with_suffix(".npz"), task, 4)
    assert f is not None and f.raw is not None and len(f.raw[0]) == 3 + 3 * 2
    again = bm.recalibrate("naive", task, f, 4, 2, "pooled")
    np.testing.assert_array_equal(again.quantiles[..., 0], qp)
    np.testing.assert_array_equal(
        bm.recalibrate("naive", task, f, 4, 2, "series").quantiles, f.quantiles
    )
    f0 = bm.read_forecast(_result(tmp_path / "b2", "m", "naive").with_suffix(".npz"), task, 4)
    assert f0 is not None and f0.raw is None
    with pytest.raises(LmcastError, match="no forecasts before calibration"):
        bm.recalibrate("naive", task, f0, 4, 2, "pooled")
    # windows only where the context holds them and the forecaster's minimum before them
    from lmcast.compare import conformal

    w = conformal.windows([np.zeros((10, 1)), np.zeros((6, 1))], 3, 2, min_context=3)
    assert list(w.owner) == [0, 0] and [len(c) for c in w.contexts] == [7, 4]
