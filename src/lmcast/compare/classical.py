"""Classical reference forecasters from the libraries forecasters trust.

* ``ets``, ``arima``, ``theta``, ``snaive``, ``naive``: statsforecast's ``AutoETS``,
  ``AutoARIMA``, ``AutoTheta``, ``SeasonalNaive`` and ``Naive``, each variable of each
  series on its own, with the season length given (1: no seasonality).
* ``var``: statsmodels' vector autoregression over all variables jointly (lag order by
  AIC, at most :data:`VAR_MAX_LAGS`, among the orders that are not explosive over the
  horizon), Gaussian quantiles from its forecast covariance — the classical multivariate
  reference for predator–prey data.

Every forecaster returns a point forecast (the model's mean) and the quantiles
:data:`lmcast.compare.metrics.WQL_QUANTILES` (from the model's prediction intervals), so the
same metrics score it as the language model. A fit that raises or returns non-finite
values falls back to the last value (persistence) for that series and is counted in
``failed``, never dropped.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmcast.compare.metrics import WQL_QUANTILES
from lmcast.configs import CLASSICAL_NAMES, check_reference_names
from lmcast.errors import LmcastError

# name → (label in tables, what it is)
CLASSICAL: dict[str, tuple[str, str]] = {
    "ets": ("AutoETS", "statsforecast AutoETS (exponential smoothing, chosen by AICc)"),
    "arima": ("AutoARIMA", "statsforecast AutoARIMA (chosen by AICc)"),
    "theta": ("AutoTheta", "statsforecast AutoTheta"),
    "snaive": ("SeasonalNaive", "statsforecast SeasonalNaive (the value one season back)"),
    "naive": ("Naive", "statsforecast Naive (the last value)"),
    "var": ("VAR", "statsmodels VAR over all variables jointly, lag order by AIC"),
}
assert tuple(CLASSICAL) == CLASSICAL_NAMES  # the names configs check are the ones fitted here
VAR_MAX_LAGS = 8
# a VAR fit may amplify a deviation at most this much over the horizon (see _explosive)
VAR_MAX_GROWTH = 2.0


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """Validate reference-forecaster names (:func:`lmcast.configs.check_reference_names`).

    Raises:
        LmcastError: an unknown name (the message lists the known ones), or a name twice.
    """
    return check_reference_names(names)


def label(name: str) -> str:
    """The table label of a reference forecaster (``ets`` → ``AutoETS``)."""
    return CLASSICAL[name][0]


def check_applicable(
    name: str, contexts: Sequence[np.ndarray], season_length: int, horizon: int
) -> None:
    """Refuse, in one line, what the forecaster cannot do with these contexts.

    Raises:
        LmcastError: ``season_length < 1``; a context shorter than two seasons for a
            seasonal model; ``var`` on one variable or on a context too short for one lag.
    """
    if season_length < 1:
        raise LmcastError(f"--season-length must be >= 1, got {season_length}")
    if horizon < 1:
        raise LmcastError(f"the horizon must be >= 1, got {horizon}")
    shortest = min(np.asarray(c).shape[0] for c in contexts)
    if season_length > 1 and shortest < 2 * season_length and name != "var":
        raise LmcastError(
            f"{label(name)}: a context of {shortest} steps is shorter than two seasons "
            f"of {season_length} (give more context or a shorter --season-length)"
        )
    if shortest < 3:
        raise LmcastError(f"{label(name)}: a context of {shortest} steps is too short to fit")
    if name == "var":
        v = np.asarray(contexts[0]).shape[1]
        if v < 2:
            raise LmcastError("VAR needs at least 2 variables per series (this data has 1)")
        if shortest < v + 3:
            raise LmcastError(f"VAR: a context of {shortest} steps is too short for {v} variables")


def equal_weight(
    points: Sequence[np.ndarray], quantiles: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """A combination's forecast: the equal-weight mean of its members' points (each
    ``(N, H, V)``) and of each quantile level (each ``(Q, N, H, V)``, same levels); the mean
    of monotone quantiles is monotone. The one combination rule of ``evaluate --combine``,
    ``benchmark`` and ``forecast`` specs ``A+B``."""
    return np.mean(np.asarray(points), axis=0), np.mean(np.asarray(quantiles), axis=0)


@dataclass
class ClassicalForecast:
    """Forecasts of one reference forecaster.

    Attributes:
        name: the forecaster (``ets``, ``var``, …).
        point: ``(N, H, V)`` point forecasts (the model's mean).
        quantiles: ``(Q, N, H, V)`` at :data:`lmcast.compare.metrics.WQL_QUANTILES`.
        failed: ``(N,)`` series whose fit failed and were forecast by persistence.
        seconds: wall time of all fits.
    """

    name: str
    point: np.ndarray
    quantiles: np.ndarray
    failed: np.ndarray
    seconds: float

    @property
    def label(self) -> str:
        """The table label, marked where fits failed: their series hold the last value, so
        the model's name alone would pass persistence off as the model
        (``AutoETS (2 of 20 fits failed: last value)``)."""
        k, n = int(self.failed.sum()), len(self.failed)
        return label(self.name) + (f" ({k} of {n} fits failed: last value)" if k else "")


def predict(
    name: str,
    contexts: Sequence[np.ndarray],
    horizon: int,
    season_length: int = 1,
    quantiles: Sequence[float] = WQL_QUANTILES,
) -> ClassicalForecast:
    """Forecast ``horizon`` steps after each context with the reference forecaster ``name``.

    Args:
        contexts: N arrays ``(C_i, V)`` (lengths may differ) or one ``(N, C, V)`` array.
        horizon: H ≥ 1.
        season_length: the season in steps (12 for monthly data with a yearly cycle; 1: none).
        quantiles: levels in (0, 1), symmetric around 0.5 (the intervals are central).
    """
    check_names([name])
    ctx = [np.asarray(c, dtype=np.float64) for c in contexts]
    check_applicable(name, ctx, season_length, horizon)
    qs = tuple(float(q) for q in quantiles)
    n, v = len(ctx), ctx[0].shape[1]
    point = np.empty((n, horizon, v))
    quant = np.empty((len(qs), n, horizon, v))
    failed = np.zeros(n, dtype=bool)
    t0 = time.perf_counter()
    for i, c in enumerate(ctx):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if name == "var":
                    p, q = _var(c, horizon, qs)
                else:
                    p, q = _univariate(name, c, horizon, season_length, qs)
            ok = bool(np.isfinite(p).all() and np.isfinite(q).all())
        except Exception:  # any failed fit is scored as persistence and counted
            ok = False
        if not ok:
            p = np.repeat(c[-1:], horizon, axis=0)
            q = np.repeat(p[None], len(qs), axis=0)
            failed[i] = True
        point[i], quant[:, i] = p, q
    return ClassicalForecast(name, point, quant, failed, time.perf_counter() - t0)


def _level(q: float) -> float | int:
    """The central-interval level (percent) whose lower or upper end is quantile ``q``;
    an int when whole, as statsforecast names its columns after the level it was given."""
    level = round(abs(200 * q - 100), 6)
    return int(level) if level == int(level) else level


def _columns(qs: tuple[float, ...]) -> list[str]:
    """statsforecast output columns holding the quantiles ``qs`` (the median is the mean)."""
    return [
        "mean" if abs(q - 0.5) < 1e-9 else f"{'lo' if q < 0.5 else 'hi'}-{_level(q)}" for q in qs
    ]


def _levels(qs: tuple[float, ...]) -> list[float | int]:
    return sorted({_level(q) for q in qs if abs(q - 0.5) > 1e-9})


def _univariate(
    name: str, c: np.ndarray, horizon: int, season: int, qs: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``((H, V), (Q, H, V))``: each variable of one ``(C, V)`` context fitted on its own."""
    from statsforecast import models

    def make():
        if name == "naive":
            return models.Naive()
        cls = {
            "ets": models.AutoETS,
            "arima": models.AutoARIMA,
            "theta": models.AutoTheta,
            "snaive": models.SeasonalNaive,
        }[name]
        return cls(season_length=season)

    levels, cols = _levels(qs), _columns(qs)
    point = np.empty((horizon, c.shape[1]))
    quant = np.empty((len(qs), horizon, c.shape[1]))
    for k in range(c.shape[1]):
        y = np.ascontiguousarray(c[:, k])
        if np.ptp(y) == 0:  # a constant series: every model's answer is that constant
            point[:, k] = y[-1]
            quant[:, :, k] = y[-1]
            continue
        r = make().forecast(y=y, h=horizon, level=levels)
        point[:, k] = r["mean"]
        quant[:, :, k] = np.stack([r[col] for col in cols])
    return point, quant


def _var(c: np.ndarray, horizon: int, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``((H, V), (Q, H, V))``: one VAR over all variables of a ``(C, V)`` context.

    The lag order is the one with the lowest AIC among those whose fit is not explosive
    over the horizon (:func:`_explosive`); when every order is, the fit fails (persistence).
    """
    from scipy import stats
    from statsmodels.tsa.api import VAR

    c_len, v = c.shape
    max_lags = max(1, min(VAR_MAX_LAGS, (c_len - 1) // (v + 1) - 1))
    model = VAR(c)
    aic = model.select_order(maxlags=max_lags, trend="c").ics["aic"]
    for k in sorted(range(len(aic)), key=lambda lag: aic[lag]):
        res = model.fit(k, trend="c")
        if k == 0:
            point = np.repeat(res.params[:1], horizon, axis=0)
            cov = np.repeat(res.sigma_u[None], horizon, axis=0)
            break
        if not _explosive(res.roots, horizon):
            point, cov = res.forecast(c[-k:], horizon), res.forecast_cov(horizon)
            break
    else:
        raise ValueError("every VAR lag order is explosive over the horizon")
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
    z = stats.norm.ppf(np.asarray(qs)).reshape(-1, 1, 1)
    return point, point[None] + z * sd[None]


def _explosive(roots: np.ndarray, horizon: int) -> bool:
    """Whether a VAR with characteristic ``roots`` amplifies deviations more than
    :data:`VAR_MAX_GROWTH` times over ``horizon`` steps (spectral radius ρ = 1 / min |root|,
    growth ρ^H). A cycle fitted from a noise-free oscillation sits at ρ ≈ 1 (at most
    1.0003 on the study's 50- and 80-step contexts, its forecasts nearly exact), so
    ``statsmodels``' strict ``is_stable`` would reject the best fits; orders that blow
    up (ρ 1.1 … 10, forecasts up to 1e45 at 50 → 50) are what this rejects."""
    if len(roots) == 0:
        return False
    rho = 1.0 / float(np.abs(roots).min())
    return horizon * np.log(rho) > np.log(VAR_MAX_GROWTH)
