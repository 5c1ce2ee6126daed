"""Conformal intervals from each series' own recent past.

Two methods, both from the same calibration windows (:data:`METHODS`):

``series`` (split conformal, as statsforecast's ``ConformalIntervals``): a forecaster forecasts ``W`` windows at the end of each context (each ``H`` steps; window
``w`` forecasts the ``H`` steps that end ``(w − 1)·H`` steps before the context's end, from
everything before them). Its absolute errors there, per step ahead and variable, are the
scores; the calibrated distribution of a step is the point forecast plus and minus each of
the ``W`` scores (``2W`` values), and a quantile level is read from it the way
statsforecast's ``_add_conformal_distribution_intervals`` does (``np.quantile``, linear).
With ``W`` windows a series has ``2W`` values, too few for a 95 % interval, and the 80 %
one holds a new error about as often as the windows' errors fall inside it.

``pooled`` keeps the forecaster's own spread and rescales it: for each quantile level a
factor ``k`` on its distance from the point (``point − k·(point − q)``), one factor per
level for all the series of one call, chosen so that the windows' truths fall below the
rescaled quantile at the level's own rate (split conformal on the normalised scores of
every window, step and variable of every series pooled, with the ``(n + 1)`` correction).
It needs a spread: a quantile equal to its point stays there (a point forecaster's intervals
are left as they are; use ``series`` for those). The quantiles are sorted after (monotone
rearrangement). The point stays the forecaster's own. Pure numpy; the callers run the
forecasts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmcast.configs import CALIBRATION_METHODS as METHODS


@dataclass(frozen=True)
class Windows:
    """The calibration windows of ``N`` series.

    Attributes:
        series: the ``N`` series' own contexts ``(C_i, V)``.
        contexts: ``M`` arrays ``(C_m, V)``: each window's context (a prefix of its series').
        truths: ``(M, H, V)`` the steps each window forecasts.
        owner: ``(M,)`` the series each window belongs to (``0 … N − 1``).
        method: how :meth:`apply` calibrates, one of :data:`METHODS`.
    """

    series: list[np.ndarray]
    contexts: list[np.ndarray]
    truths: np.ndarray
    owner: np.ndarray
    method: str = "series"

    @property
    def calibrated(self) -> np.ndarray:
        """``(N,)``-indexable set: the series that have windows (sorted, unique)."""
        return np.unique(self.owner)

    @property
    def all_contexts(self) -> list[np.ndarray]:
        """The series' contexts, then the windows': what one forecasting call is given."""
        return [*self.series, *self.contexts]

    def apply(
        self, point: np.ndarray, quantiles: np.ndarray, levels: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A forecaster's forecasts of :attr:`all_contexts` (points ``(N + M, H, V)``,
        quantiles ``(Q, N + M, H, V)`` at ``levels``) → the series' points ``(N, H, V)``
        and their calibrated quantiles ``(Q, N, H, V)`` (:func:`calibrate` or
        :func:`rescale`, by :attr:`method`)."""
        n = len(self.series)
        if self.method == "pooled":
            return point[:n], rescale(point, quantiles, levels, self)
        return point[:n], calibrate(point[:n], quantiles[:, :n], levels, point[n:], self)


def windows(
    contexts: Sequence[np.ndarray],
    horizon: int,
    n_windows: int,
    min_context: int,
    method: str = "series",
) -> Windows:
    """The last ``n_windows`` windows of ``horizon`` steps of every context that keeps at
    least ``min_context`` steps before its earliest window; the other series get none.

    Args:
        contexts: ``N`` arrays ``(C_i, V)``.
        horizon: ``H`` ≥ 1; n_windows: ``W`` ≥ 1.
        min_context: the shortest context a window's forecaster is given (the forecaster's
            own minimum: two seasons for a seasonal one, …).
        method: one of :data:`METHODS`.
    """
    if horizon < 1 or n_windows < 1:
        raise ValueError("horizon and n_windows must be >= 1")
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r}: one of {', '.join(METHODS)}")
    ctx, truths, owner = [], [], []
    for i, c in enumerate(contexts):
        c = np.asarray(c, dtype=np.float64)
        if len(c) - n_windows * horizon < max(min_context, 1):
            continue
        for w in range(1, n_windows + 1):
            end = len(c) - (w - 1) * horizon
            ctx.append(c[: end - horizon])
            truths.append(c[end - horizon : end])
            owner.append(i)
    v = np.asarray(contexts[0]).shape[1] if len(contexts) else 1
    return Windows(
        list(contexts),
        ctx,
        np.stack(truths) if truths else np.zeros((0, horizon, v)),
        np.asarray(owner, dtype=int),
        method,
    )


def calibrate(
    point: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    window_points: np.ndarray,
    win: Windows,
) -> np.ndarray:
    """Quantiles whose spread comes from each series' window errors.

    Args:
        point: ``(N, H, V)`` the forecasts of the series' futures.
        quantiles: ``(Q, N, H, V)`` the forecaster's own quantiles at ``levels``; kept for a
            series without windows.
        levels: ``Q`` levels in (0, 1).
        window_points: ``(M, H, V)`` the forecaster's points on the windows of ``win``.

    Returns:
        ``(Q, N, H, V)`` quantiles: for a series with windows, level ``q`` of
        ``{point − s_w, point + s_w}`` over its windows ``w`` (``s_w``: absolute error per
        step and variable); a window whose error is not finite is left out, and a step with
        none keeps the forecaster's own quantiles.
    """
    out = np.array(quantiles, dtype=np.float64, copy=True)
    if not len(win.owner):
        return out
    scores = np.abs(np.asarray(window_points, dtype=np.float64) - win.truths)  # (M, H, V)
    qs = list(levels)
    for i in win.calibrated:
        s = scores[win.owner == i]  # (W, H, V)
        p = point[i][None]
        dist = np.concatenate([p - s, p + s])  # (2W, H, V)
        with warnings.catch_warnings():  # a step no window scored: NaN, kept below
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(dist, qs, axis=0)
        out[:, i] = np.where(np.isfinite(q), q, out[:, i])
    return out


def rescale(
    point: np.ndarray, quantiles: np.ndarray, levels: Sequence[float], win: Windows
) -> np.ndarray:
    """The ``pooled`` method: each level's distance from the point times one factor.

    Args:
        point: ``(N + M, H, V)`` points of :attr:`Windows.all_contexts` (the series', then
            the windows').
        quantiles: ``(Q, N + M, H, V)`` the forecaster's quantiles at ``levels``, the same
            contexts.
        levels: ``Q`` levels in (0, 1).

    Returns:
        ``(Q, N, H, V)``: for level ``τ`` below one half, ``point − k_τ·(point − q_τ)`` with
        ``k_τ`` the ``⌈(n + 1)(1 − τ)⌉``-th smallest of the ``n`` window scores
        ``(point − y)/(point − q_τ)`` (above one half the mirror image; at one half ``k``
        scores the signed error the same way); a score whose distance is 0 or not finite
        is left out, and a level whose factor cannot be read (too few scores for it) keeps
        the forecaster's own. Sorted along the levels.
    """
    n = len(win.series)
    point = np.asarray(point, dtype=np.float64)
    q = np.asarray(quantiles, dtype=np.float64)
    out = q[:, :n].copy()
    if not len(win.owner):
        return out
    c_w, y = point[n:], win.truths  # (M, H, V)
    for j, tau in enumerate(levels):
        below = tau <= 0.5
        d_w = (c_w - q[j, n:]) if below else (q[j, n:] - c_w)
        e_w = (c_w - y) if below else (y - c_w)
        ok = np.isfinite(d_w) & np.isfinite(e_w) & (d_w > 0)
        scores = np.sort((e_w[ok] / d_w[ok]).ravel())
        rank = int(np.ceil((len(scores) + 1) * (1 - tau if below else tau)))
        if not 1 <= rank <= len(scores):
            continue
        k = max(scores[rank - 1], 0.0)
        d = (point[:n] - q[j, :n]) if below else (q[j, :n] - point[:n])
        moved = point[:n] - k * d if below else point[:n] + k * d
        out[j] = np.where(np.isfinite(moved) & (d > 0), moved, out[j])
    return np.sort(out, axis=0)


def min_context(name: str, season: int, variables: int) -> int:
    """The shortest context forecaster ``name`` is given in a calibration window: what
    :func:`lmcast.compare.classical.check_applicable` asks (two seasons for a seasonal fit,
    one lag per variable for VAR), and more than one season for any (MASE's scale)."""
    need = max(3, season + 1, 2 * season if season > 1 else 0)
    return max(need, variables + 3) if name == "var" else need
