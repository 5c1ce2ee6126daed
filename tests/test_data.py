"""Simulator, data file validation, CSV import, splits and the data CLI."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmcast.core.series.data import import_csv, load_dataset, split_indices
from lmcast.core.series.lotka_volterra import LVParams, integrate, ou_forcing, simulate
from lmcast.errors import DataError


def test_simulate_reference_layout_and_ranges():
    traj, time, params = simulate(n=300, seed=0)
    assert traj.dtype == np.float32 and traj.shape == (300, 100, 2)
    assert time.shape == (100,) and time[0] == 0 and time[-1] == 200
    assert np.all(np.isfinite(traj))
    assert traj[:, 0].min() >= 0.8 and traj[:, 0].max() <= 1.2
    assert traj.max() <= 15.0 and traj.min() >= 0.0
    assert 0.5 < np.median(traj) < 1.2
    p = params.stack()
    assert p.shape == (300, 5)
    assert np.all((p[:, 0] >= 0.07) & (p[:, 0] <= 0.275))
    assert 0.12 < np.mean(p[:, 4] == 0) < 0.28  # about a fifth undamped (inv_k = 0)


def test_simulate_noise_free_is_the_model_class_and_noise_is_what_the_fit_misses():
    """noise=None integrates the ODE exactly; the default environmental noise moves each
    trajectory off its noise-free twin by a per-trajectory amount spread over decades."""
    clean, time, params = simulate(n=200, seed=5, noise=None)
    y0 = clean[:, 0].astype(np.float64)
    again = integrate(y0, time, params)
    np.testing.assert_allclose(clean, again.astype(np.float32), rtol=1e-6, atol=1e-6)
    noisy, _, p2 = simulate(n=200, seed=5)
    same = (params.stack() == p2.stack()).all(axis=1)  # the same draws (but redraws)
    assert same.mean() > 0.95
    clean, noisy = clean[same], noisy[same]
    gap = np.abs(noisy - clean).mean(axis=(1, 2))
    assert np.all(gap > 0)
    assert np.percentile(gap, 90) > 10 * np.percentile(gap, 10)
    assert 0.01 < np.median(gap) < 0.5


def test_ou_forcing_has_the_asked_spread_and_correlation():
    sigma = np.full(400, 0.02)
    f = ou_forcing(sigma, tau=5.0, n_steps=2000, dt=0.05, rng=np.random.default_rng(0))
    assert f.shape == (400, 2000, 2)
    assert abs(f.std() / 0.02 - 1) < 0.05
    lag = int(5.0 / 0.05)  # one correlation time: exp(-1)
    r = np.mean(f[:, :-lag] * f[:, lag:]) / f.var()
    assert abs(r - np.exp(-1)) < 0.05


def test_simulate_is_seeded():
    a, _, _ = simulate(n=20, seed=3)
    b, _, _ = simulate(n=20, seed=3)
    c, _, _ = simulate(n=20, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_integrator_matches_scipy():
    from scipy.integrate import solve_ivp

    p = LVParams.from_array([[0.2, 0.3, 0.1, 0.15, 0.05]])
    t = np.linspace(0, 50, 26)
    ours = integrate(np.array([[1.0, 1.0]]), t, p)[0]

    def f(_t, s):
        return [0.2 * s[0] * (1 - s[0] * 0.05) - 0.3 * s[0] * s[1], 0.1 * s[0] * s[1] - 0.15 * s[1]]

    ref = solve_ivp(f, (0, 50), [1.0, 1.0], t_eval=t, rtol=1e-10, atol=1e-12).y.T
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_split_deterministic_disjoint_covering():
    s1, s2 = split_indices(1000, seed=0), split_indices(1000, seed=0)
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])
    assert [len(s1[k]) for k in ("train", "val", "test")] == [800, 100, 100]
    allidx = np.concatenate(list(s1.values()))
    assert sorted(allidx.tolist()) == list(range(1000))
    assert not np.array_equal(split_indices(1000, seed=1)["test"], s1["test"])


def _write(path, traj=None, time=None, skip=()):
    with h5py.File(path, "w") as f:
        if "trajectories" not in skip:
            f["trajectories"] = traj if traj is not None else np.ones((3, 5, 2), np.float32)
        if "time" not in skip:
            f["time"] = time if time is not None else np.arange(5.0)
    return path


@pytest.mark.parametrize(
    ("maker", "needle"),
    [
        (lambda p: _write(p, skip=("trajectories",)), "missing dataset /trajectories"),
        (lambda p: _write(p, skip=("time",)), "missing dataset /time"),
        (lambda p: _write(p, traj=np.ones((3, 5), np.float32)), "rank 3"),
        (lambda p: _write(p, time=np.arange(4.0)), "length 4"),
        (lambda p: _write(p, traj=np.full((3, 5, 2), np.nan, np.float32)), "NaN"),
        (lambda p: _write(p, traj=np.full((3, 5, 2), np.inf, np.float32)), "infinite"),
        (lambda p: p.write_text("not hdf5 at all"), "not an HDF5 file"),
        (lambda p: p.write_bytes(b""), "empty"),
    ],
)
def test_bad_inputs_one_line_exit_2(tmp_path, run_cli, maker, needle):
    bad = tmp_path / "bad.h5"
    maker(bad)
    with pytest.raises(DataError, match=needle):
        load_dataset(bad)
    out_dir = tmp_path / "prep"
    code, _out, err = run_cli("data", "prepare", "--data", bad, "--out", out_dir)
    assert code == 2
    assert err.count("\n") == 1 and needle in err and str(bad) in err
    assert "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_missing_file_exit_2(tmp_path, run_cli):
    code, _, err = run_cli("data", "info", tmp_path / "nope.h5")
    assert code == 2 and "no such file" in err


def test_cli_simulate_info_prepare_encode(tmp_path, run_cli):
    path = tmp_path / "lv.h5"
    assert run_cli("data", "simulate", "--out", path, "--n", 50, "--seed", 0)[0] == 0
    code, out, _ = run_cli("data", "info", path, "--json")
    info = json.loads(out)
    assert code == 0 and info["shape"] == [50, 100, 2] and "prey" in info["variables"]
    prep = tmp_path / "prep"
    assert run_cli("data", "prepare", "--data", path, "--out", prep, "--precision", 2)[0] == 0
    meta = json.loads((prep / "meta.json").read_text())
    assert meta["precision"] == 2 and meta["alpha"] > 0 and len(meta["source_sha256"]) == 64
    lines = (prep / "test_texts.txt").read_text().splitlines()
    assert len(lines) == len(meta["splits"]["test"]) == 5
    first = load_dataset(path).trajectories[meta["splits"]["test"][0]]
    from lmcast.core.codec import encoding

    assert lines[0] == encoding.encode(first, meta["alpha"], 2)
    code, out, _ = run_cli("encode", "--data", path, "--index", 0, "--steps", 3, "--json")
    enc = json.loads(out)
    assert code == 0 and len(enc["text"].split(";")) == 3
    assert all(len(p.split(",")) == 2 for p in enc["text"].split(";"))
    from lmcast.lm.qwen_tokens import qwen_token_ids

    assert enc["qwen_token_ids"] == qwen_token_ids(enc["text"])


def test_qwen_token_ids_reference():
    from lmcast.lm.qwen_tokens import qwen_token_ids

    assert qwen_token_ids("1.23") == [16, 13, 17, 18]
    assert qwen_token_ids("1 . 2 3") == [16, 659, 220, 17, 220, 18]


def test_encode_index_out_of_range(lv_file, run_cli):
    code, _, err = run_cli("encode", "--data", lv_file, "--index", 999)
    assert code == 2 and "out of range" in err
    # audit finding 9 (a regression): --precision -1 was a traceback
    code, _, err = run_cli("encode", "--data", lv_file, "--precision", -1)
    assert code == 2 and "--precision must be between 0 and 8" in err and "Traceback" not in err


def test_encode_shows_a_csv_series_as_a_forecast_writes_it(tmp_path, lv_file, run_cli):
    """``lmcast encode`` read only HDF5 files and scaled every series by the file's one
    alpha, so a series near 1e-9 beside one near -1000 was written 0.00;0.00. A CSV or a
    collection now shows each series on its own scale (as ``forecast`` and training on a
    collection write it); ``--alpha series`` does so for any file."""
    from lmcast.core.codec import encoding

    lines = ["id,t,y"] + [f"big,{t},{-1000 - t}" for t in range(20)]
    lines += [f"tiny,{t},{1e-9 * (1 + t / 10)!r}" for t in range(20)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli("encode", "--data", tmp_path / "m.csv", "--index", 1, "--json")
    assert code == 0, err
    enc = json.loads(out)
    tiny = 1e-9 * (1 + np.arange(20) / 10)
    alpha = encoding.auto_alpha(tiny[:, None], target=10.0)
    assert enc["alpha"] == pytest.approx(alpha) and enc["text"].split(";")[0] != "0.00"
    assert enc["text"] == encoding.encode(tiny[:5, None], alpha, 2)
    code, out, _ = run_cli("encode", "--data", tmp_path / "m.csv", "--no-decimal-point", "--json")
    assert code == 0 and json.loads(out)["text"].startswith("-")
    code, out, _ = run_cli("encode", "--data", lv_file, "--alpha", "series", "--json")
    first = load_dataset(lv_file).trajectories[0]
    assert json.loads(out)["alpha"] == pytest.approx(encoding.auto_alpha(first, target=10.0))
    for extra, needle in ((["--index", 2], "holds 2 series"), (["--alpha", "x"], "'series'")):
        code, _, err = run_cli("encode", "--data", tmp_path / "m.csv", *extra)
        assert code == 2 and needle in err, err


def test_import_csv_roundtrip(tmp_path, run_cli):
    csv_path = tmp_path / "s.csv"
    rows = ["id,t,prey,predator"]
    for sid in ("a", "b"):
        for t in range(4):
            rows.append(f"{sid},{t},{t + 1},{t * 2}")
    csv_path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "s.h5"
    assert run_cli("data", "import", "--csv", csv_path, "--out", out)[0] == 0
    ds = load_dataset(out)
    assert ds.shape == (2, 4, 2) and ds.variables == ("prey", "predator")
    np.testing.assert_array_equal(ds.trajectories[0, :, 0], [1, 2, 3, 4])


def test_import_csv_unequal_and_misaligned(tmp_path, run_cli):
    p = tmp_path / "u.csv"
    p.write_text("id,t,x\na,0,1\na,1,2\nb,0,1\n")
    with pytest.raises(DataError, match="equal length"):
        import_csv(p)
    p.write_text("id,t,x\na,0,1\na,1,2\nb,0,1\nb,2,2\n")
    code, _, err = run_cli("data", "import", "--csv", p, "--out", tmp_path / "o.h5")
    assert code == 2 and "different times" in err and not (tmp_path / "o.h5").exists()


def test_import_csv_bom_duplicate_header_and_directory(tmp_path, run_cli):
    p = tmp_path / "bom.csv"
    p.write_bytes("id,t,x\na,0,1\na,1,2\n".encode("utf-8-sig"))  # spreadsheet export
    ds = import_csv(p)
    assert ds.shape == (1, 2, 1) and ds.variables == ("x",)
    p.write_text("id,t,x,x\na,0,1,5\na,1,2,6\n")
    code, _, err = run_cli("data", "import", "--csv", p, "--out", tmp_path / "o.h5")
    assert code == 2 and "duplicate column name(s) 'x'" in err and err.count("\n") == 1
    code, _, err = run_cli("data", "import", "--csv", tmp_path, "--out", tmp_path / "o.h5")
    assert code == 2 and "not a file" in err and not (tmp_path / "o.h5").exists()


def test_every_subcommand_has_working_help(capsys):
    from lmcast.cli import main
    from lmcast.cli.commands import COMMANDS

    for cmd in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([*cmd.path, "--help"])
        assert exc.value.code == 0, cmd.path
        out = capsys.readouterr().out
        assert "usage: lmcast" in out and "--" in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "evaluate" in capsys.readouterr().out


def test_dynamics_stats_by_hand():
    from lmcast.core.series.data import dynamics_stats

    t = np.arange(100, dtype=float)
    x = np.stack([np.where(t % 2 == 0, 1.0, 3.0), np.full(100, 0.5)], axis=1)[None]  # (1, 100, 2)
    s = dynamics_stats(x)
    # prey alternates 1, 3 and step 79 is 3: |1-3| on half of 20 steps, predator constant
    assert s["persistence_mae_80_20"] == pytest.approx((10 * 2 + 0) / 40)
    assert s["late_std"] == pytest.approx((1.0 + 0.0) / 2)
    assert s["prey_mean_crossings"] == 99
    with pytest.raises(DataError, match="need"):
        dynamics_stats(x[:, :50])


def test_default_simulator_matches_reference_statistics(tmp_path, run_cli):
    """`lmcast data simulate --seed 0` against the reference file's figures (data.REFERENCE_STATS)."""
    import json

    import h5py

    out = tmp_path / "lv.h5"
    code, _, err = run_cli("data", "simulate", "--out", out, "--seed", 0)
    assert code == 0, err
    code, text, err = run_cli("data", "info", out, "--stats", "--json")
    assert code == 0, err
    dyn = json.loads(text)["dynamics"]
    assert dyn["within_tolerance"] == {k: True for k in dyn["reference"]}, dyn["stats"]
    with h5py.File(out) as f:
        dist = json.loads(f.attrs["param_distribution"])
    assert dist["rate_noise"] == {"log_uniform": [0.0005, 0.025], "ou_tau": 5.0}
    assert dist["inv_k_zero_fraction"] == 0.2 and set(dist["uniform"]) == {
        "a",
        "b",
        "d",
        "g",
        "inv_k",
    }
    code, text, _ = run_cli("data", "info", out, "--stats")
    assert "persistence_mae_80_20" in text and " NO" not in text
    import re

    rows = [ln for ln in text.splitlines() if "_percentiles" in ln]
    assert rows and all(len(re.split(r"\s{2,}", ln.strip())) == 4 for ln in rows)  # apart


def test_float64_values_beyond_float32_are_refused(tmp_path, run_cli):
    import h5py

    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        x = np.ones((2, 5, 2))
        x[1, 3, 0] = 1e300
        f["trajectories"] = x
        f["time"] = np.arange(5.0)
    code, out, err = run_cli("data", "info", path)
    assert code == 2 and "beyond float32's range" in err and "inf" not in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--t-max", "inf"], "--t-max must be finite"),
        (["--t-max", "1e9", "--n", "2"], "integration steps"),
        (["--steps", "1000000000", "--n", "1"], "integration steps"),
        (["--n", "1000000000"], "GiB of memory"),
    ],
)
def test_simulations_too_long_or_too_big_refused_at_once(tmp_path, run_cli, args, needle):
    """Sizes that would run for hours or exhaust memory: one line, exit 2, no file, quickly."""
    import time

    out = tmp_path / "x.h5"
    t0 = time.perf_counter()
    code, _, err = run_cli("data", "simulate", "--out", out, *args)
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert not out.exists() and time.perf_counter() - t0 < 30


def test_bad_prepare_values_and_malformed_files_one_line(tmp_path, lv_file, run_cli):
    """--alpha too small to encode, NaN split fractions, negative seeds, a string /time,
    a scalar 'variables' attribute: one line, exit 2, nothing written."""
    import h5py

    out = tmp_path / "p"
    for args, needle in (
        (["--alpha", "1e-310"], "more digits than a number in the text may hold"),
        (["--split", "nan,0,1"], "--split must be three fractions in [0, 1] summing to 1"),
        (["--split-seed", "-1"], "--split-seed must be >= 0"),
    ):
        code, _, err = run_cli("data", "prepare", "--data", lv_file, "--out", out, *args)
        assert code == 2 and err.count("\n") == 1 and needle in err, err
        assert not out.exists()
    code, _, err = run_cli("data", "simulate", "--out", tmp_path / "s.h5", "--seed", "-1")
    assert code == 2 and "--seed must be >= 0" in err and not (tmp_path / "s.h5").exists()
    with h5py.File(lv_file) as f:
        traj, time = f["trajectories"][()], f["time"][()]
    for name, time_data, variables, needle in (
        ("strtime.h5", np.array([b"a"] * len(time)), None, "/time has non-numeric dtype"),
        ("scalar_vars.h5", time, 5, "attribute 'variables' must be a list of names"),
    ):
        with h5py.File(tmp_path / name, "w") as g:
            g["trajectories"], g["time"] = traj, time_data
            if variables is not None:
                g.attrs["variables"] = variables
        code, _, err = run_cli("data", "info", tmp_path / name)
        assert code == 2 and err.count("\n") == 1 and needle in err, err


def test_argparse_errors_are_a_short_usage_and_one_error_line(capsys):
    """argparse's own errors: a one-line usage (required arguments, then [options]) and the
    error, not the twenty-line option list."""
    from lmcast.cli import main

    for argv, needle in (
        (["train", "--batch-size", "x"], "usage: lmcast train --data DATA --out OUT [options]"),
        (["flops", "--seq-len", "1e200"], "usage: lmcast flops [options]"),
        (["data", "simulate", "--n", "x"], "usage: lmcast data simulate --out OUT [options]"),
        (["bogus"], "usage: lmcast COMMAND [options]"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 2 and err.startswith(needle), err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id,t,x\na,0,1\na,0,2\n", "has time 0 twice"),
        ("id,t,x\na,nan,1\na,1,2\n", "is not finite"),
        ("id,t,x\na,0,1,9\na,1,2\n", "more fields than the header"),
    ],
)
def test_csv_reader_refuses_what_data_import_refused(tmp_path, text, needle):
    """Audit finding 8: `forecast` accepted duplicate (id, t) rows, NaN times and extra
    fields that `data import` refused; both read through one reader now."""
    from lmcast.core.series.data import read_long_csv
    from lmcast.errors import DataError

    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=needle):
        read_long_csv(path)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["", "id,t,x\n", "id,t,x,y\n", "\ufeffid,t,x\n"]).flatmap(
        lambda head: st.text(alphabet='ab,01234.-e\nainf"; \r', max_size=120).map(
            lambda body: head + body
        )
    )
)
def test_any_csv_text_reads_or_is_one_data_error(tmp_path, text):
    """Fuzz: any text as a CSV gives series or a DataError (one line), never a traceback."""
    from lmcast.core.series.data import read_long_csv
    from lmcast.errors import DataError

    path = tmp_path / "fuzz.csv"
    path.write_text(text)
    try:
        ls = read_long_csv(path)
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(ls.ids) == len(ls.times) == len(ls.values) >= 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        _json,
        st.fixed_dictionaries({"alpha": _json, "precision": _json}),
        st.fixed_dictionaries({"base_model": _json, "variables": _json}),
    )
)
def test_any_encoding_or_export_record_is_trusted_or_one_clear_error(tmp_path, record):
    """Fuzz: any JSON as `encoding.json` or `lmcast_export.json` is accepted only with a
    finite alpha in range and an integer precision 0-8 (a model name and a list of names),
    else it is one LmcastError, never a traceback."""
    import math

    from lmcast.core.codec.scheme import read_record
    from lmcast.errors import LmcastError
    from lmcast.forecasting.forecaster import read_export_meta

    (tmp_path / "encoding.json").write_text(json.dumps(record))
    (tmp_path / "lmcast_export.json").write_text(json.dumps(record))
    try:
        rec = read_record(tmp_path)
    except LmcastError as exc:
        assert "\n" not in str(exc)
    else:
        assert math.isfinite(rec["alpha"]) and 1e-12 <= rec["alpha"] <= 1e12
        assert rec["precision"] in range(9)
    try:
        meta = read_export_meta(tmp_path)
    except LmcastError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(meta["base_model"], str) and meta["base_model"]


@pytest.mark.parametrize(
    ("ids", "needle"), [(["a"], "must name each of the 2"), (["a", "a"], "names a series twice")]
)
def test_series_ids_are_checked_when_the_file_is_read(tmp_path, ids, needle):
    """Audit finding 9: an HDF5 whose `series_ids` was shorter than its series failed with
    a traceback after generation (FLOPs charged); now the file is refused when read."""
    path = tmp_path / "ids.h5"
    with h5py.File(path, "w") as f:
        f["trajectories"] = np.ones((2, 5, 1), dtype=np.float32)
        f["time"] = np.arange(5, dtype=np.float64)
        f.attrs["series_ids"] = ids
    with pytest.raises(DataError, match=needle):
        load_dataset(path)


def _text_file(path, text):
    path.write_text(text)
    return path


def test_nixtla_long_csv_with_monthly_dates(tmp_path):
    from lmcast.core.series.data import read_long_csv
    from lmcast.core.series.timeaxis import season_of

    lines = ["unique_id,ds,y,extra"]
    for sid, n in (("air", 14), ("gas", 9)):
        for k in range(n):
            lines.append(f"{sid},{2020 + k // 12}-{k % 12 + 1:02d}-01,{10 + k},x")
    ls = read_long_csv(_text_file(tmp_path / "n.csv", "\n".join(lines) + "\n"))
    assert ls.layout == "nixtla" and ls.ids == ["air", "gas"] and ls.variables == ["y"]
    assert [a.freq for a in ls.axes] == ["MS", "MS"] and ls.filled == [0, 0]
    assert ls.values[0][:, 0].tolist() == list(range(10, 24))
    assert ls.axes[0].after(3) == ["2021-03-01", "2021-04-01", "2021-05-01"]
    assert season_of(ls.axes[0].freq) == 12


def test_wide_csv_gaps_and_empty_cells_are_filled_and_counted(tmp_path):
    from lmcast.core.series.data import read_long_csv
    from lmcast.errors import DataError

    # 2021-04 is missing (a gap for both series); b has an empty cell in 2021-02
    text = (
        "date,a,b\n2021-01-31,1,10\n2021-02-28,2,\n2021-03-31,3,30\n"
        "2021-05-31,5,50\n2021-06-30,6,60\n"
    )
    path = _text_file(tmp_path / "w.csv", text)
    ls = read_long_csv(path)
    assert ls.layout == "wide" and ls.ids == ["a", "b"] and ls.axes[0].freq == "ME"
    assert ls.filled == [1, 2]
    np.testing.assert_allclose(ls.values[0][:, 0], [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(ls.values[1][:, 0], [10, 20, 30, 40, 50, 60])
    assert ls.axes[1].after(1) == ["2021-07-31"]
    with pytest.raises(DataError, match="series 'a' has 1 missing time step") as e:
        read_long_csv(path, missing="error")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("unique_id,ds,y\na,2021-01-01,1\na,2021-01-02,2\na,2021-01-09,3\na,2021-01-11,4\n",
         "not at a regular frequency"),
        ("unique_id,ds,y\na,2021-01-01,1\na,2021-01-01,2\na,2021-01-02,3\n", "twice"),
        ("unique_id,ds,y\na,2021-01-01,1\na,yesterday,2\na,2021-01-03,3\n", "not numbers and not ISO dates"),
        ("id,t,x\na,0,1\na,1,2\na,2.5,3\n", "not regularly spaced"),
        ("unique_id,ds,y\na,2021-01-01,1\na,3,2\na,2021-01-03,3\n", "mixes numbers"),
    ],
)  # fmt: skip
def test_bad_time_axes_are_one_line(tmp_path, text, needle):
    from lmcast.core.series.data import read_long_csv
    from lmcast.errors import DataError

    with pytest.raises(DataError, match=needle) as e:
        read_long_csv(_text_file(tmp_path / "bad.csv", text))
    assert "\n" not in str(e.value)


def test_numeric_gap_is_filled_and_daily_hourly_dates_continue(tmp_path):
    from lmcast.core.series.data import read_long_csv

    ls = read_long_csv(_text_file(tmp_path / "g.csv", "id,t,x\na,0,1\na,1,2\na,3,4\na,4,5\n"))
    assert ls.filled == [1] and ls.times[0].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(ls.values[0][:, 0], [1, 2, 3, 4, 5])
    hourly = "ds,y\n2021-01-01 22:00,1\n2021-01-01 23:00,2\n2021-01-02 00:00,3\n"
    ls = read_long_csv(_text_file(tmp_path / "h.csv", hourly))
    assert ls.axes[0].freq == "h" and ls.axes[0].after(2) == [
        "2021-01-02 01:00:00",
        "2021-01-02 02:00:00",
    ]


def test_info_table_keeps_wide_numbers_in_their_columns(tmp_path, run_cli):
    """``data info`` wrote numbers of nine or more characters (-1009.794) into one another's
    columns: every row now splits into as many fields as the header."""
    lines = ["unique_id,ds,y"]
    lines += [f"s,{2000 + t // 12}-{t % 12 + 1:02d}-01,{-1000 - 10 * np.sin(t) + 5e7 * (t == 3)}"
              for t in range(48)]  # fmt: skip
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(
        "data", "import", "--csv", tmp_path / "w.csv", "--out", tmp_path / "w.h5"
    )
    assert code == 0, err
    code, out, err = run_cli("data", "info", tmp_path / "w.h5")
    assert code == 0, err
    table = out.split("\n\n", 1)[1].strip().splitlines()
    head, row = table[0].split(), table[1].split()
    assert head[:4] == ["variable", "min", "max", "mean"] and len(row) == len(head)
    assert float(row[2]) == pytest.approx(5e7 - 1000 - 10 * np.sin(3), rel=1e-5)


def test_info_reads_a_csv_of_series_and_shows_how_far_their_scales_lie_apart(tmp_path, run_cli):
    """``data info my.csv`` said 'not an HDF5 file'; it now summarises the series as for a
    collection, with the range of the series' own scales (a mixed-scale file shows it)."""
    lines = ["id,t,y"] + [f"big,{t},{-1000 - t}" for t in range(30)]
    lines += [f"small,{t},{0.5 + t / 100}" for t in range(20)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli("data", "info", tmp_path / "m.csv", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["layout"] == "csv" and info["series"] == 2 and info["steps"] == 50
    assert info["length"] == {"min": 20, "median": 25.0, "max": 30}
    small = np.percentile(0.5 + np.arange(20) / 100, 99)
    assert info["series_scale"]["min"] == pytest.approx(small)
    assert info["series_scale"]["max"] == pytest.approx(np.percentile(1000 + np.arange(30), 99))
    code, out, _ = run_cli("data", "info", tmp_path / "m.csv")
    assert code == 0 and "CSV: 2 series, 50 steps" in out
    code, _, err = run_cli("data", "info", tmp_path / "m.csv", "--stats")
    assert code == 2 and "this is a CSV of series" in err


@pytest.mark.parametrize(
    "kind", ["huge", "external_link", "virtual", "external_storage", "huge_fill"]
)
def test_hostile_hdf5_is_refused_from_its_declaration(tmp_path, kind):
    """Round 4: a file declaring 10^6 × 10^6 values and storing none allocated 3.6 TiB;
    external links and virtual datasets were followed into other files (a FIFO hung).
    Each is now one line before any value is read."""
    import h5py

    from lmcast.core.series.data import load_dataset

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["trajectories"] = np.ones((2, 5, 2), dtype=np.float32)
    p = tmp_path / f"{kind}.h5"
    with h5py.File(p, "w") as f:
        f["time"] = np.arange(5, dtype=np.float64)
        if kind == "huge":
            f.create_dataset("trajectories", shape=(10**6, 10**6, 2), dtype="f4", chunks=True)
            needle = "declares shape"
        elif kind == "external_link":
            f["trajectories"] = h5py.ExternalLink(str(other), "trajectories")
            needle = "link into another file"
        elif kind == "virtual":
            layout = h5py.VirtualLayout(shape=(2, 5, 2), dtype="f4")
            layout[:] = h5py.VirtualSource(str(other), "trajectories", shape=(2, 5, 2))
            f.create_virtual_dataset("trajectories", layout)
            needle = "virtual or external"
        elif kind == "huge_fill":  # 1 GB per element, stored as its fill value
            f.create_dataset("trajectories", shape=(1, 1, 1), dtype="S1000000000")
            needle = "non-numeric dtype"
        else:
            raw = tmp_path / "raw.bin"
            raw.write_bytes(np.ones(20, dtype="<f4").tobytes())
            f.create_dataset(
                "trajectories", shape=(2, 5, 2), dtype="<f4", external=[(str(raw), 0, 80)]
            )
            needle = "virtual or external"
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(DataError, match=needle) as err:
        load_dataset(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "\n" not in str(err.value)
    assert peak < 50 * 2**20  # refused from the declaration, nothing read
