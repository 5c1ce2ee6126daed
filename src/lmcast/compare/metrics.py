"""Forecast metrics (pure numpy).

Shapes: forecasts and truths are ``(N, H, V)``: N windows, H horizon steps, V
variables, in whatever units the caller passes (original or scaled).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np


def fill_unparsed(forecast: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Replace NaN steps (unparsed output) so every window is scored.

    A missing step takes the last parsed step's value; a window with no parsed
    step takes ``fallback`` (``(N, V)``, e.g. the last context value). Failures
    are thus counted (with persistence-like values), never dropped.
    """
    out = np.array(forecast, dtype=np.float64, copy=True)
    n, h, _ = out.shape
    for i in range(n):
        for t in range(h):
            bad = np.isnan(out[i, t])
            if bad.any():
                prev = out[i, t - 1] if t > 0 else np.asarray(fallback[i], dtype=np.float64)
                out[i, t, bad] = prev[bad]
    return out


def point_metrics(forecast: np.ndarray, truth: np.ndarray, variables: Sequence[str]) -> dict:
    """MAE and RMSE overall and per variable.

    Args:
        forecast, truth: ``(N, H, V)`` finite arrays.
        variables: V names.

    Returns:
        ``{"mae", "rmse", "per_variable": {name: {"mae", "rmse"}}}``.
    """
    f = np.asarray(forecast, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    if f.shape != y.shape:
        raise ValueError(f"forecast {f.shape} and truth {y.shape} differ")
    err = f - y
    out: dict = {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "per_variable": {},
    }
    for i, name in enumerate(variables):
        e = err[..., i]
        out["per_variable"][name] = {
            "mae": float(np.mean(np.abs(e))),
            "rmse": float(np.sqrt(np.mean(e**2))),
        }
    return out


def per_window_mae(forecast: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(N, V)`` MAE of each window and variable."""
    return np.mean(np.abs(np.asarray(forecast) - np.asarray(truth)), axis=1)


def quantile_loss(
    samples: np.ndarray, truth: np.ndarray, qs: Sequence[float] = (0.1, 0.5, 0.9)
) -> float:
    """Mean pinball loss of the sample quantiles.

    Args:
        samples: ``(N, S, H, V)``.
        truth: ``(N, H, V)``.
    """
    y = np.asarray(truth, dtype=np.float64)
    losses = []
    for q in qs:
        pred = np.nanquantile(samples, q, axis=1)
        d = y - pred
        losses.append(np.mean(np.maximum(q * d, (q - 1) * d)))
    return float(np.mean(losses))


def crps(samples: np.ndarray, truth: np.ndarray) -> float:
    """Sample CRPS estimate ``E|X − y| − ½·E|X − X'|``, averaged over windows, steps, variables.

    Args:
        samples: ``(N, S, H, V)`` with S ≥ 1.
        truth: ``(N, H, V)``.
    """
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)[:, None]
    term1 = np.nanmean(np.abs(x - y), axis=1)
    term2 = np.nanmean(np.abs(x[:, :, None] - x[:, None, :]), axis=(1, 2))
    return float(np.mean(term1 - 0.5 * term2))


# The quantile levels of the weighted quantile loss (GluonTS / Chronos: 0.1, …, 0.9).
WQL_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def seasonal_scale(contexts: Sequence[np.ndarray], season: int = 1) -> np.ndarray:
    """MASE's scale: each context's in-sample seasonal-naive MAE, ``mean |y_t − y_{t−m}|``.

    Args:
        contexts: N arrays ``(C_i, V)`` (or one ``(N, C, V)`` array).
        season: m ≥ 1; a context must have more than m steps.

    Returns:
        ``(N, V)``; NaN where a context is constant at lag m (MASE is undefined there).
    """
    out = []
    for c in contexts:
        c = np.asarray(c, dtype=np.float64)
        if c.shape[0] <= season:
            raise ValueError(f"a context of {c.shape[0]} steps has no lag-{season} difference")
        d = np.mean(np.abs(c[season:] - c[:-season]), axis=0)
        out.append(np.where(d > 0, d, np.nan))
    return np.array(out).reshape(len(out), -1)


def mase(forecast: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(N,)`` mean absolute scaled error of each window (mean over steps and variables).

    Args:
        forecast, truth: ``(N, H, V)``.
        scale: ``(N, V)`` from :func:`seasonal_scale` (NaN scales are left out of the mean;
            a window whose every scale is NaN scores NaN).
    """
    err = np.mean(np.abs(np.asarray(forecast) - np.asarray(truth)), axis=1) / scale
    with np.errstate(all="ignore"), _quiet():
        return np.nanmean(err, axis=1)


def smape(forecast: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(N,)`` symmetric MAPE in percent, ``200·|f − y| / (|f| + |y|)`` (0 where both are 0)."""
    f, y = np.asarray(forecast, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    den = np.abs(f) + np.abs(y)
    with np.errstate(all="ignore"):
        r = np.where(den > 0, 200.0 * np.abs(f - y) / den, 0.0)
    return r.mean(axis=(1, 2))


def per_step_mae(forecast: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(H,)`` MAE at each step ahead (mean over windows and variables)."""
    return np.mean(np.abs(np.asarray(forecast) - np.asarray(truth)), axis=(0, 2))


def sample_quantiles(samples: np.ndarray, qs: Sequence[float] = WQL_QUANTILES) -> np.ndarray:
    """``(Q, N, H, V)`` quantiles of ``(N, S, H, V)`` samples (unparsed NaN samples ignored)."""
    with _quiet():
        return np.nanquantile(np.asarray(samples, dtype=np.float64), list(qs), axis=1)


def wql(quantiles: np.ndarray, truth: np.ndarray, qs: Sequence[float] = WQL_QUANTILES) -> float:
    """Weighted quantile loss (GluonTS ``mean_weighted_sum_quantile_loss``, as Chronos reports).

    ``mean over q of 2 · Σ pinball_q(ŷ_q, y) / Σ |y|``, the sums over every window, step
    and variable.

    Args:
        quantiles: ``(Q, N, H, V)`` forecast quantiles at the levels ``qs``.
        truth: ``(N, H, V)``.
    """
    y = np.asarray(truth, dtype=np.float64)
    q = np.asarray(quantiles, dtype=np.float64)
    if q.shape != (len(qs), *y.shape):
        raise ValueError(f"quantiles {q.shape} do not match {len(qs)} levels × truth {y.shape}")
    level = np.asarray(qs, dtype=np.float64).reshape(-1, *([1] * y.ndim))
    d = y[None] - q
    pinball = np.maximum(level * d, (level - 1) * d)
    total = np.abs(y).sum()
    return float(np.mean(2 * pinball.reshape(len(qs), -1).sum(axis=1) / total))


#: the central intervals whose coverage is reported (percent), and MSIS's level (M4: 95 %)
INTERVAL_LEVELS = (50, 80, 95)
#: the quantile levels their ends sit at, ascending: 2.5, 10, 25, 75, 90 and 97.5 %
INTERVAL_QUANTILES = tuple(
    sorted(round(q, 4) for x in INTERVAL_LEVELS for q in (0.5 - x / 200, 0.5 + x / 200))
)
#: every level a forecaster is scored at: WQL's and the intervals' ends, ascending
SCORED_QUANTILES = tuple(sorted({*WQL_QUANTILES, *INTERVAL_QUANTILES}))


def split_scored(quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Q, …)`` quantiles at :data:`SCORED_QUANTILES` → ``(at WQL_QUANTILES, at
    INTERVAL_QUANTILES)``."""
    q = np.asarray(quantiles)
    at = SCORED_QUANTILES.index
    return q[[at(x) for x in WQL_QUANTILES]], q[[at(x) for x in INTERVAL_QUANTILES]]


def interval_scores(quantiles: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> dict:
    """Per-series coverage of the 50/80/95 % central intervals and MSIS (as in M4).

    Coverage is the share of steps and variables whose truth lies inside the interval
    (ends included). MSIS at 95 % (``a = 0.05``) is, per variable, the mean over steps of
    ``(U − L) + 2/a·(L − y)⁺ + 2/a·(y − U)⁺`` divided by the variable's seasonal-naive
    in-sample MAE (``scale``, as MASE), then the mean over the variables with a scale.

    Args:
        quantiles: ``(6, N, H, V)`` at :data:`INTERVAL_QUANTILES`.
        truth: ``(N, H, V)``.
        scale: ``(N, V)`` (:func:`seasonal_scale`; NaN or 0: undefined).

    Returns:
        ``{"coverage_50", "coverage_80", "coverage_95", "msis"}``, each ``(N,)`` (``msis``
        NaN where no variable has a scale).
    """
    q = np.asarray(quantiles, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    if q.shape != (len(INTERVAL_QUANTILES), *y.shape):
        raise ValueError(f"interval quantiles {q.shape} do not match truth {y.shape}")
    k = len(INTERVAL_LEVELS)
    out = {}
    for j, level in enumerate(INTERVAL_LEVELS):
        lo, hi = q[k - 1 - j], q[k + j]  # the level's two ends, symmetric around 0.5
        out[f"coverage_{level}"] = ((lo <= y) & (y <= hi)).mean(axis=(1, 2))
    lo, hi, a = q[0], q[-1], 0.05
    width = (hi - lo) + 2 / a * np.maximum(lo - y, 0) + 2 / a * np.maximum(y - hi, 0)
    s = np.asarray(scale, dtype=np.float64)
    ok = np.isfinite(s) & (s > 0)
    with np.errstate(all="ignore"):
        per_var = np.where(ok, width.mean(axis=1) / np.where(ok, s, 1.0), 0.0)  # (N, V)
        out["msis"] = np.where(ok.any(axis=1), per_var.sum(axis=1) / ok.sum(axis=1), np.nan)
    return out


def interval_means(scores: dict) -> dict:
    """:func:`interval_scores`' per-series arrays summarised: each the mean over the series
    that have it (``None`` where none has)."""
    return {k: (float(np.nanmean(v)) if np.isfinite(v).any() else None) for k, v in scores.items()}


def geometric_mean_relative(scores: dict[str, dict[str, float]], reference: str) -> dict:
    """The relative-score aggregate: per forecaster, the geometric mean over datasets of its
    score divided by ``reference``'s on the same dataset (below 1: better than the reference).

    Args:
        scores: forecaster → dataset → score (MASE, WQL, …).
        reference: the forecaster every score is divided by (seasonal naive in Chronos).

    Returns:
        forecaster → geometric mean, over the datasets both have finite, positive scores
        for (NaN when there are none).
    """
    ref = scores[reference]
    out = {}
    for name, per in scores.items():
        ratios = [
            per[d] / ref[d]
            for d in per
            if d in ref
            and np.isfinite(per[d])
            and np.isfinite(ref[d])
            and per[d] > 0
            and ref[d] > 0
        ]
        out[name] = float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")
    return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's all-NaN-slice warnings (a NaN result is the answer there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def field_scores(
    point: np.ndarray,
    quantiles: np.ndarray,
    truth: np.ndarray,
    scale: np.ndarray,
    ends: np.ndarray | None = None,
) -> dict:
    """The field's metrics of one forecaster (original units).

    Args:
        point: ``(N, H, V)`` point forecasts.
        quantiles: ``(Q, N, H, V)`` at :data:`WQL_QUANTILES` (a point
            forecaster repeats its point Q times).
        truth: ``(N, H, V)``.
        scale: ``(N, V)`` MASE scale (:func:`seasonal_scale` of the contexts).
        ends: ``(6, N, H, V)`` at :data:`INTERVAL_QUANTILES`, when the intervals are scored.

    Returns:
        ``{"mase", "smape", "wql", "per_step_mae", "per_trajectory_mase"}``: MASE the mean
        over windows with a defined scale, sMAPE in percent, WQL over the whole set; with
        ``ends``, also ``coverage_50``, ``coverage_80``, ``coverage_95`` and ``msis``
        (:func:`interval_means`).
    """
    per = mase(point, truth, scale)
    finite = np.isfinite(per)
    out = {
        "mase": float(per[finite].mean()) if finite.any() else None,
        "smape": float(smape(point, truth).mean()),
        "wql": wql(quantiles, truth),
        "per_step_mae": [float(x) for x in per_step_mae(point, truth)],
        "per_trajectory_mase": [float(x) if np.isfinite(x) else None for x in per],
    }
    if ends is not None:
        out.update(interval_means(interval_scores(ends, truth, scale)))
    return out


def point_quantiles(point: np.ndarray, qs: Sequence[float] = WQL_QUANTILES) -> np.ndarray:
    """``(Q, N, H, V)``: a point forecaster's ``(N, H, V)`` forecast at every level of ``qs``."""
    return np.repeat(np.asarray(point, dtype=np.float64)[None], len(qs), axis=0)


def headline_steps(horizon: int) -> list[int]:
    """The steps ahead tables show: 1, then every quarter of the horizon (1-based)."""
    return sorted({1, *(max(1, round(horizon * k / 4)) for k in range(1, 5))})


def coverage(samples: np.ndarray, truth: np.ndarray, lo: float = 0.1, hi: float = 0.9) -> float:
    """Share of true values inside the ``[lo, hi]`` sample-quantile interval."""
    q = np.nanquantile(samples, [lo, hi], axis=1)
    y = np.asarray(truth)
    return float(np.mean((y >= q[0]) & (y <= q[1])))


def paired_comparison(
    errors: np.ndarray, reference: np.ndarray, seed: int = 0, resamples: int = 9999
) -> dict:
    """Paired bootstrap comparison of two forecasters on the same trajectories.

    Args:
        errors: ``(N,)`` per-trajectory MAE of the forecaster.
        reference: ``(N,)`` per-trajectory MAE of the reference, same trajectories.
        seed: bootstrap seed.
        resamples: bootstrap resamples.

    Returns:
        ``{"n", "mean_difference", "ci95", "win_rate", "sign_p", "verdict"}``: the mean
        of ``errors − reference`` (negative: the forecaster is better), its 95 %
        BCa interval (``scipy.stats.bootstrap``, trajectories resampled in pairs;
        the percentile interval where BCa is undefined, e.g. all differences
        equal), the share of trajectories where the forecaster's error is lower
        (ties count half), the two-sided sign test's p-value of that share against
        one half (``scipy.stats.binomtest`` over the untied pairs), and the verdict
        (:func:`verdict`) from both measures.
    """
    import warnings

    from scipy import stats

    a = np.asarray(errors, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired errors must be two (N,) arrays, got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    mean = float(d.mean()) if n else float("nan")

    def interval(method: str) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap(
                (d,),
                np.mean,
                n_resamples=resamples,
                method=method,
                random_state=np.random.default_rng(seed),
            )
        return float(res.confidence_interval.low), float(res.confidence_interval.high)

    if n < 2 or np.ptp(d) == 0:
        lo = hi = mean
    else:
        lo, hi = interval("BCa")
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = interval("percentile")
    wins = float(np.mean((d < 0) + 0.5 * (d == 0))) if n else float("nan")
    better, worse = int((d < 0).sum()), int((d > 0).sum())
    sign_p = float(stats.binomtest(better, better + worse).pvalue) if better + worse else 1.0
    return {
        "n": n,
        "mean_difference": mean,
        "ci95": [lo, hi],
        "win_rate": wins,
        "sign_p": sign_p,
        "verdict": verdict((lo, hi), wins, sign_p),
    }


#: the verdicts :func:`verdict` gives
VERDICTS = ("beats", "loses to", "level", "level on the mean, better on most",
            "level on the mean, worse on most", "mixed")  # fmt: skip


def verdict(ci95: tuple[float, float], win_rate: float, sign_p: float, alpha: float = 0.05) -> str:
    """One word for a paired comparison, from both of its measures.

    The mean favours a side when the 95 % interval of the difference excludes zero; the
    share of trajectories won favours a side when the sign test rejects one half at
    ``alpha``. ``"beats"`` / ``"loses to"``: the mean favours a side and the share does not
    favour the other; ``"level"`` only when neither measure favours either side;
    ``"level on the mean, better/worse on most"``: only the share favours a side;
    ``"mixed"``: the two favour opposite sides.
    """
    lo, hi = ci95
    mean = "better" if hi < 0 else "worse" if lo > 0 else None
    share = None
    if sign_p < alpha and win_rate != 0.5:
        share = "better" if win_rate > 0.5 else "worse"
    if share is None or share == mean:
        return {"better": "beats", "worse": "loses to", None: "level"}[mean]
    if mean is None:
        return f"level on the mean, {share} on most"
    return "mixed"
