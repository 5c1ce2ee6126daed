"""The field's metrics (MASE, WQL, sMAPE, relative scores) and the classical references."""

from __future__ import annotations

import numpy as np
import pytest

from lmcast.compare import classical, metrics
from lmcast.errors import LmcastError


def test_crps_and_wql_agree_with_independent_implementations():
    """CRPS against properscoring, WQL's pinball sums against scoringrules (dev-only libraries)."""
    import properscoring
    import scoringrules

    rng = np.random.default_rng(0)
    truth = rng.gamma(2.0, 1.0, size=(6, 5, 2))
    samples = truth[:, None] + rng.normal(0, 0.7, size=(6, 40, 5, 2))
    # properscoring's ensemble CRPS is the same E|X−y| − ½E|X−X'| estimator
    ref = properscoring.crps_ensemble(truth, np.moveaxis(samples, 1, -1)).mean()
    assert metrics.crps(samples, truth) == pytest.approx(ref, rel=1e-10)

    qs = metrics.WQL_QUANTILES
    quant = metrics.sample_quantiles(samples, qs)
    pinball = [scoringrules.quantile_score(truth, quant[k], q).sum() for k, q in enumerate(qs)]
    expected = np.mean([2 * p / np.abs(truth).sum() for p in pinball])
    assert metrics.wql(quant, truth, qs) == pytest.approx(expected, rel=1e-10)
    # a perfect forecast scores 0; the median alone at every level is 2·MAE/mean|y| / ... > 0
    assert metrics.wql(np.repeat(truth[None], len(qs), 0), truth, qs) == 0.0


def test_mase_smape_and_per_step_by_hand():
    ctx = np.array([[1.0], [3.0], [2.0], [4.0]])[None]  # lag-1 diffs 2, 1, 2 → scale 5/3
    truth = np.array([[5.0], [6.0]])[None]
    fc = np.array([[4.0], [8.0]])[None]  # errors 1, 2 → MAE 1.5
    scale = metrics.seasonal_scale(ctx, 1)
    assert scale[0, 0] == pytest.approx(5 / 3)
    assert metrics.mase(fc, truth, scale)[0] == pytest.approx(1.5 / (5 / 3))
    # season 2: |2−1|, |4−3| → scale 1
    assert metrics.seasonal_scale(ctx, 2)[0, 0] == pytest.approx(1.0)
    assert metrics.smape(fc, truth)[0] == pytest.approx(np.mean([200 / 9, 400 / 14]))
    assert metrics.smape(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)))[0] == 0.0
    np.testing.assert_allclose(metrics.per_step_mae(fc, truth), [1.0, 2.0])
    # a constant context has no scale: its MASE is NaN, not infinite
    flat = metrics.seasonal_scale(np.ones((1, 4, 1)), 1)
    assert np.isnan(metrics.mase(fc, truth, flat)[0])


def test_geometric_mean_relative_scores():
    scores = {
        "snaive": {"a": 2.0, "b": 1.0, "c": 4.0},
        "ets": {"a": 1.0, "b": 2.0, "c": 1.0},
        "lm": {"a": 4.0, "b": float("nan")},
    }
    rel = metrics.geometric_mean_relative(scores, "snaive")
    assert rel["snaive"] == pytest.approx(1.0)
    assert rel["ets"] == pytest.approx((0.5 * 2.0 * 0.25) ** (1 / 3))
    assert rel["lm"] == pytest.approx(2.0)  # only the dataset both scored


def test_seasonal_naive_repeats_the_last_season_and_quantiles_are_ordered():
    season = np.array([1.0, 3.0, 2.0, 5.0])
    y = np.tile(season, 6)[:, None] + 10
    f = classical.predict("snaive", [y], 6, season_length=4)
    np.testing.assert_allclose(f.point[0, :, 0], np.tile(season, 2)[:6] + 10)
    for name in ("ets", "arima", "theta", "naive"):
        g = classical.predict(name, [y + np.linspace(0, 1, len(y))[:, None]], 6, 4)
        assert not g.failed.any() and g.point.shape == (1, 6, 1)
        assert np.all(np.diff(g.quantiles, axis=0) >= -1e-9), name  # 0.1 ≤ … ≤ 0.9


def test_var_recovers_a_linear_system_and_is_jointly_fitted():
    rng = np.random.default_rng(1)
    a = 0.97 * np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    x = np.zeros((80, 2))
    x[0] = [3.0, 0.0]  # a damped rotation: each variable needs the other to be forecast
    for t in range(1, 80):
        x[t] = a @ x[t - 1] + rng.normal(0, 0.01, 2)
    x += 5
    f = classical.predict("var", [x[:60]], 20)
    err = np.abs(f.point[0] - x[60:]).mean()
    persist = np.abs(x[59] - x[60:]).mean()
    assert not f.failed.any() and err < 0.1 * persist
    q = f.quantiles[:, 0]
    assert np.all(q[0] < q[-1]) and np.all(np.diff(q, axis=0) >= 0)


def test_var_never_takes_an_explosive_lag_order_on_predator_prey_contexts():
    """On 50-step Lotka–Volterra contexts AIC alone picks orders that blow up over 50 steps
    (forecasts to 1e45 in the cpu profile's report); the guard takes the best-AIC order
    that is not explosive, so every forecast stays in the data's range."""
    import warnings

    from statsmodels.tsa.api import VAR

    from lmcast.core.series import lotka_volterra

    x = lotka_volterra.simulate(n=40, steps=100, seed=3, noise=None)[0].astype(float)
    contexts, truth = x[:, :50], x[:, 50:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aic_only = [VAR(c).fit(maxlags=8, ic="aic", trend="c").roots for c in contexts]
    assert sum(classical._explosive(r, 50) for r in aic_only) >= 5  # the guard has work to do
    f = classical.predict("var", list(contexts), 50)
    assert not f.failed.any()
    assert np.abs(f.point).max() <= 1.5 * contexts.max()
    persistence = np.abs(contexts[:, -1:] - truth).mean()
    assert np.abs(f.point - truth).mean() < 0.5 * persistence


def test_explosive_is_growth_over_the_horizon():
    assert not classical._explosive(np.array([1 / 1.0003, 2.0]), 50)  # a neutral cycle
    assert classical._explosive(np.array([1 / 1.1, 2.0]), 50)  # 1.1^50 ≈ 117
    assert not classical._explosive(np.array([1 / 1.1, 2.0]), 5)  # 1.1^5 ≈ 1.6
    assert not classical._explosive(np.array([]), 50)


def test_arima_beats_seasonal_naive_on_air_passengers():
    """The library's own monthly series (statsforecast ships it): the classics work as known."""
    from statsforecast.utils import AirPassengers

    y = AirPassengers.astype(float)[:, None]
    ctx, truth = y[:-12], y[None, -12:]
    scale = metrics.seasonal_scale([ctx], 12)
    mase = {
        n: metrics.mase(classical.predict(n, [ctx], 12, 12).point, truth, scale)[0]
        for n in ("snaive", "arima")
    }
    assert mase["arima"] < mase["snaive"]


def test_a_failed_fit_is_persistence_and_counted():
    y = np.linspace(1, 2, 30)[:, None]
    y[10] = np.nan  # statsforecast refuses missing values
    f = classical.predict("ets", [y, np.linspace(1, 2, 30)[:, None]], 3)
    assert f.failed.tolist() == [True, False]
    np.testing.assert_allclose(f.point[0], np.full((3, 1), 2.0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: classical.check_names(["ets", "lstm"]), "unknown reference forecaster 'lstm'"),
        (lambda: classical.predict("var", [np.ones((20, 1))], 3), "at least 2 variables"),
        (lambda: classical.predict("snaive", [np.ones((10, 1))], 3, 12), "two seasons"),
        (lambda: classical.predict("ets", [np.ones((2, 1))], 3), "too short"),
    ],
)
def test_what_a_forecaster_cannot_do_is_one_line(call, message):
    with pytest.raises(LmcastError, match=message):
        call()
