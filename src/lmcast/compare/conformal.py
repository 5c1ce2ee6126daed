"""Conformal intervals from each series' own recent past (split conformal, as statsforecast's
``ConformalIntervals``).

A forecaster forecasts ``W`` windows at the end of each context (each ``H`` steps; window
``w`` forecasts the ``H`` steps that end ``(w − 1)·H`` steps before the context's end, from
everything before them). Its absolute errors there, per step ahead and variable, are the
scores; the calibrated distribution of a step is the point forecast plus and minus each of
the ``W`` scores (``2W`` values), and a quantile level is read from it the way
statsforecast's ``_add_conformal_distribution_intervals`` does (``np.quantile``, linear).
The point stays the forecaster's own. Pure numpy; the callers run the forecasts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Windows:
    """The calibration windows of ``N`` series.

    Attributes:
        series: the ``N`` series' own contexts ``(C_i, V)``.
        contexts: ``M`` arrays ``(C_m, V)``: each window's context (a prefix of its series').
        truths: ``(M, H, V)`` the steps each window forecasts.
        owner: ``(M,)`` the series each window belongs to (``0 … N − 1``).
    """

    series: list[np.ndarray]
    contexts: list[np.ndarray]
    truths: np.ndarray
    owner: np.ndarray

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
        and their calibrated quantiles ``(Q, N, H, V)`` (:func:`calibrate`)."""
        n = len(self.series)
        return point[:n], calibrate(point[:n], quantiles[:, :n], levels, point[n:], self)


def windows(
    contexts: Sequence[np.ndarray], horizon: int, n_windows: int, min_context: int
) -> Windows:
    """The last ``n_windows`` windows of ``horizon`` steps of every context that keeps at
    least ``min_context`` steps before its earliest window; the other series get none.

    Args:
        contexts: ``N`` arrays ``(C_i, V)``.
        horizon: ``H`` ≥ 1; n_windows: ``W`` ≥ 1.
        min_context: the shortest context a window's forecaster is given (the forecaster's
            own minimum: two seasons for a seasonal one, …).
    """
    if horizon < 1 or n_windows < 1:
        raise ValueError("horizon and n_windows must be >= 1")
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


def min_context(name: str, season: int, variables: int) -> int:
    """The shortest context forecaster ``name`` is given in a calibration window: what
    :func:`lmcast.compare.classical.check_applicable` asks (two seasons for a seasonal fit,
    one lag per variable for VAR), and more than one season for any (MASE's scale)."""
    need = max(3, season + 1, 2 * season if season > 1 else 0)
    return max(need, variables + 3) if name == "var" else need
