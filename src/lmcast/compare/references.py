"""Reference forecasters: persistence and an ODE-fit oracle (numpy + scipy).

* persistence repeats the last context value.
* the oracle fits the logistic-prey Lotka–Volterra model (the class the
  reference data come from) to the context window — five rates and the two
  initial populations — by least squares, then integrates it over the horizon.
  A fit that fails (solver error, non-finite forecast) is reported as a failure
  and replaced by persistence for scoring, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcast.core.series.lotka_volterra import PARAM_NAMES, PARAM_RANGES, LVParams, integrate


def persistence(contexts: np.ndarray, horizon: int) -> np.ndarray:
    """``(N, C, V)`` contexts → ``(N, horizon, V)`` repeats of the last value."""
    return np.repeat(np.asarray(contexts, dtype=np.float64)[:, -1:, :], horizon, axis=1)


@dataclass
class OracleResult:
    """Oracle forecasts ``(N, H, 2)`` (persistence where ``failed``), fitted params, fit RMSE."""

    forecasts: np.ndarray
    params: np.ndarray
    fit_rmse: np.ndarray
    failed: np.ndarray


_LO = np.array([1e-3, 1e-3, 1e-4, 1e-3, 0.0])
_HI = np.array([2.0, 3.0, 2.0, 2.0, 2.0])


def simulate_params(theta: np.ndarray, times: np.ndarray, max_dt: float) -> np.ndarray:
    """``theta`` ``(M, 7)`` (5 rates, x0, y0) → states ``(M, T, 2)``."""
    p = LVParams.from_array(theta[:, :5])
    with np.errstate(all="ignore"):
        return integrate(theta[:, 5:7], times, p, max_dt=max_dt)


def fit_one(
    context: np.ndarray,
    times: np.ndarray,
    starts: int = 4,
    seed: int = 0,
    max_dt: float = 0.5,
    good_fit: float = 0.01,
) -> tuple[np.ndarray, float]:
    """Least-squares fit of the 7 unknowns to one ``(C, 2)`` context on ``times`` ``(C,)``.

    Up to ``starts`` starting points (the range centres, then random draws);
    stops early once the RMSE relative to the mean level is below ``good_fit``.

    The Jacobian is a forward difference computed in one vectorised
    integration of the 7 perturbed parameter sets.
    """
    from scipy.optimize import least_squares

    y = np.asarray(context, dtype=np.float64)
    scale = np.maximum(np.abs(y).mean(axis=0), 1e-3)
    lo, hi = _bounds(y[None])
    hi = hi[0]

    def resid_many(thetas: np.ndarray) -> np.ndarray:
        sim = simulate_params(thetas, times, max_dt)
        r = (sim - y[None]) / scale
        return np.nan_to_num(r, nan=1e3, posinf=1e3, neginf=-1e3).reshape(len(thetas), -1)

    def fun(theta: np.ndarray) -> np.ndarray:
        return resid_many(theta[None])[0]

    def jac(theta: np.ndarray) -> np.ndarray:
        h = 1e-6 * np.maximum(np.abs(theta), 1e-3)
        pert = theta[None] + np.diag(h)
        pert = np.minimum(pert, hi)  # stay inside bounds
        h = pert.diagonal() - theta
        h[h == 0] = -1e-6
        pert = theta[None] + np.diag(h)
        base = fun(theta)
        return ((resid_many(pert) - base[None]) / h[:, None]).T

    rng = np.random.default_rng(seed)
    best, best_cost = None, np.inf
    for s in range(starts):
        if s == 0:
            rates = np.array([np.mean(PARAM_RANGES[k]) for k in PARAM_NAMES])
        else:
            rates = np.array([rng.uniform(*PARAM_RANGES[k]) for k in PARAM_NAMES])
        x0 = np.clip(np.concatenate([rates, y[0]]), lo, hi)
        try:
            res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), max_nfev=60, x_scale="jac")
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if res.cost < best_cost:
            best, best_cost = res.x, res.cost
        if 2 * best_cost / y.size < good_fit**2:  # relative RMSE below good_fit: done
            break
    if best is None:
        return np.full(7, np.nan), np.inf
    rmse = float(np.sqrt(np.mean((simulate_params(best[None], times, max_dt)[0] - y) ** 2)))
    return best, rmse


def _bounds(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box bounds of the 7 unknowns for contexts ``y`` ``(N, C, 2)``: ``(7,)`` and ``(N, 7)``."""
    lo = np.concatenate([_LO, [0.0, 0.0]])
    init_hi = np.maximum(50.0, 3 * y[:, 0, :])  # (N, 2)
    hi = np.concatenate([np.broadcast_to(_HI, (len(y), 5)), init_hi], axis=1)
    return lo, hi


def _starts(y: np.ndarray, starts: int, seed: int) -> np.ndarray:
    """``(N, S, 7)`` starting points: the range centres, then random rates; the context's
    first values as initial populations."""
    rng = np.random.default_rng(seed)
    rates = np.empty((len(y), starts, 5))
    rates[:, 0] = [np.mean(PARAM_RANGES[k]) for k in PARAM_NAMES]
    for j, k in enumerate(PARAM_NAMES):
        rates[:, 1:, j] = rng.uniform(*PARAM_RANGES[k], size=(len(y), starts - 1))
    init = np.broadcast_to(y[:, None, 0, :], (len(y), starts, 2))
    return np.concatenate([rates, init], axis=2)


def fit_batch(
    contexts: np.ndarray,
    times: np.ndarray,
    starts: int = 4,
    seed: int = 0,
    iterations: int = 100,
    max_dt: float = 0.5,
    tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fits of the 7 unknowns to all ``(N, C, 2)`` contexts at once.

    The same problem as :func:`fit_one` (residuals scaled by each variable's mean level,
    box bounds), solved by a Levenberg–Marquardt iteration written over arrays so that the
    ``N × starts`` problems share every ODE integration: each iteration integrates the
    current points and their 7 forward-difference perturbations in one vectorised call,
    solves the ``N × starts`` damped 7 × 7 normal equations with one batched
    ``np.linalg.solve``, and keeps each step only where it lowers that problem's cost
    (clipped to the bounds; Marquardt's diagonal scaling). A problem stops once its RMSE
    relative to the level is below ``tol``, or it stalls; a context whose start fitted stops
    its other starts. scipy's ``least_squares`` has no
    batched mode: fitting one trajectory at a time measured 1.7 s each on the 2-core CPU.

    Returns:
        ``(params, rmse)``: ``(N, 7)`` the best start's parameters per context and ``(N,)``
        its fit RMSE in original units.
    """
    y = np.asarray(contexts, dtype=np.float64)
    n = len(y)
    lo, hi_n = _bounds(y)
    theta = np.clip(_starts(y, starts, seed), lo, hi_n[:, None]).reshape(n * starts, 7)
    hi = np.repeat(hi_n, starts, axis=0)
    target = np.repeat(y, starts, axis=0)  # (M, C, 2)
    scale = np.maximum(np.abs(target).mean(axis=1), 1e-3)[:, None, :]  # (M, 1, 2)

    def resid(th: np.ndarray, tgt: np.ndarray, sc: np.ndarray) -> np.ndarray:
        r = (simulate_params(th, times, max_dt) - tgt) / sc
        return np.nan_to_num(r, nan=1e3, posinf=1e3, neginf=-1e3).reshape(len(th), -1)

    r = resid(theta, target, scale)
    cost = (r**2).sum(axis=1)
    lam = np.full(len(theta), 1e-2)
    live = np.ones(len(theta), dtype=bool)
    eye = np.eye(7)
    for _ in range(iterations):
        idx = np.flatnonzero(live)
        if idx.size == 0:
            break
        th, tg, sc = theta[idx], target[idx], scale[idx]
        h = 1e-6 * np.maximum(np.abs(th), 1e-3)
        h = np.where(th + h > hi[idx], -h, h)  # stay inside the bounds
        pert = (th[:, None, :] + h[:, :, None] * eye).reshape(-1, 7)
        rp = resid(pert, np.repeat(tg, 7, axis=0), np.repeat(sc, 7, axis=0))
        jac = (rp.reshape(idx.size, 7, -1) - r[idx, None, :]) / h[:, :, None]  # (m, 7, R)
        a = jac @ jac.transpose(0, 2, 1)
        g = jac @ r[idx, :, None]
        diag = np.maximum(np.einsum("mii->mi", a), 1e-12)
        lhs = a + lam[idx, None, None] * diag[:, :, None] * eye
        step = np.linalg.solve(lhs, -g)[..., 0]
        cand = np.clip(th + step, lo, hi[idx])
        rc = resid(cand, tg, sc)
        cost_c = (rc**2).sum(axis=1)
        better = cost_c < cost[idx]
        gain = np.where(better, cost[idx] - cost_c, 0.0)
        theta[idx] = np.where(better[:, None], cand, th)
        r[idx] = np.where(better[:, None], rc, r[idx])
        cost[idx] = np.where(better, cost_c, cost[idx])
        lam[idx] = np.clip(np.where(better, lam[idx] / 3, lam[idx] * 4), 1e-9, 1e9)
        # a problem stops when it fits to ``tol`` relative RMSE, stalls, or is done
        # (any start of its context fits: the other starts stop too)
        fits = cost[idx] / r.shape[1] < tol**2
        stalled = (better & (gain <= 1e-12 * cost[idx])) | (lam[idx] >= 1e9)
        live[idx[fits | stalled]] = False
        solved = (cost / r.shape[1] < tol**2).reshape(n, starts).any(axis=1)
        live &= ~np.repeat(solved, starts)
    best = cost.reshape(n, starts).argmin(axis=1)
    params = theta.reshape(n, starts, 7)[np.arange(n), best]
    rmse = np.sqrt(
        np.mean((simulate_params(params, times, max_dt) - y).reshape(n, -1) ** 2, axis=1)
    )
    return params, rmse


def oracle(
    contexts: np.ndarray,
    times: np.ndarray,
    horizon: int,
    starts: int = 4,
    seed: int = 0,
    progress: bool = False,
) -> OracleResult:
    """Fit every ``(C, 2)`` context at once (:func:`fit_batch`) and forecast ``horizon`` steps.

    Args:
        contexts: ``(N, C, 2)`` prey/predator in original units.
        times: ``(C + horizon,)`` sample times of the window.
        progress: unused (one batched fit; kept for the callers' signature).
    """
    c, v = contexts.shape[1:]
    if v != 2:
        raise ValueError("the Lotka–Volterra oracle needs exactly 2 variables (prey, predator)")
    times = np.asarray(times, dtype=np.float64)
    params, rmse = fit_batch(contexts, times[:c], starts=starts, seed=seed)
    with np.errstate(all="ignore"):
        paths = simulate_params(params, times, 0.5)[:, c:]
    failed = ~(np.isfinite(params).all(axis=1) & np.isfinite(paths).all(axis=(1, 2)))
    failed |= paths.shape[1] != horizon
    fc = np.where(failed[:, None, None], persistence(contexts, horizon), paths)
    return OracleResult(fc, params, rmse, failed)
