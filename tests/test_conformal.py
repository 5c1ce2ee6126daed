"""The ``pooled`` calibration (:func:`lmcast.compare.conformal.rescale`): its factors are
split conformal on normalised scores, so fresh draws from the windows' distribution land
inside the rescaled interval at the nominal rate; it leaves what it cannot rescale alone."""

from __future__ import annotations

import numpy as np
import pytest

from lmcast.compare import conformal

LEVELS = (0.1, 0.5, 0.9)


def _windows(truths: np.ndarray, n_series: int) -> conformal.Windows:
    """``len(truths)`` windows spread over ``n_series`` series (contexts unused here)."""
    m = len(truths)
    return conformal.Windows(
        [np.zeros((5, 1))] * n_series,
        [np.zeros((4, 1))] * m,
        truths,
        np.arange(m) % n_series,
        "pooled",
    )


def _forecasts(n: int, h: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Points at 0 and quantiles at ±spread (levels 0.1, 0.9) for ``n`` contexts."""
    point = np.zeros((n, h, 1))
    q = np.stack([point - spread, point, point + spread])
    return point, q


def test_pooled_intervals_hold_at_the_nominal_rate():
    """Window truths ~ N(0, 2²) against an interval of ±1 that holds 38 %: the rescaled
    80 % interval holds 80 % ± 3 points of 20,000 fresh draws, and it is wider than the
    forecaster's own by about the factor the normal quantile gives (1.28 · 2)."""
    rng = np.random.default_rng(0)
    n_series, m, h = 20, 40, 6
    win = _windows(rng.normal(0, 2, (m, h, 1)), n_series)
    point, q = _forecasts(n_series + m, h, 1.0)
    _, out = win.apply(point, q, LEVELS)
    assert out.shape == (3, n_series, h, 1)
    lo, hi = out[0].ravel()[0], out[2].ravel()[0]
    assert lo == pytest.approx(-2.563, abs=0.35) and hi == pytest.approx(2.563, abs=0.35)
    fresh = rng.normal(0, 2, 20_000)
    assert 0.77 <= np.mean((fresh >= lo) & (fresh <= hi)) <= 0.83
    np.testing.assert_array_equal(out[1], 0.0)  # the median stays the point


def test_pooled_keeps_what_it_cannot_rescale():
    """A point forecaster (no spread) keeps its quantiles; a level whose conformal rank
    exceeds the scores (10 scores cannot give a 97.5 % quantile) keeps its own; the output
    is sorted along the levels."""
    rng = np.random.default_rng(1)
    win = _windows(rng.normal(0, 1, (10, 1, 1)), 4)
    point, q = _forecasts(14, 1, 0.0)
    np.testing.assert_array_equal(win.apply(point, q, LEVELS)[1], q[:, :4])
    levels = (0.025, 0.5, 0.975)
    point, q = _forecasts(14, 1, 0.5)
    np.testing.assert_array_equal(win.apply(point, q, levels)[1], q[:, :4])
    levels = (0.1, 0.5, 0.9)
    _, out = win.apply(point, q, levels)
    assert not np.allclose(out, q[:, :4])
    assert np.all(np.diff(out, axis=0) >= 0)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="series, pooled"):
        conformal.windows([np.zeros((10, 1))], 2, 1, min_context=3, method="global")
