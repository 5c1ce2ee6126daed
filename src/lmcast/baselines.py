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

from lmcast.lotka_volterra import PARAM_RANGES, LVParams, integrate


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


def _simulate(theta: np.ndarray, times: np.ndarray, max_dt: float) -> np.ndarray:
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
    lo = np.concatenate([_LO, [0.0, 0.0]])
    hi = np.concatenate([_HI, [max(50.0, 3 * y[0, 0]), max(50.0, 3 * y[0, 1])]])

    def resid_many(thetas: np.ndarray) -> np.ndarray:
        sim = _simulate(thetas, times, max_dt)
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
            rates = np.array([np.mean(PARAM_RANGES[k]) for k in ("a", "b", "d", "g", "inv_k")])
        else:
            rates = np.array([rng.uniform(*PARAM_RANGES[k]) for k in ("a", "b", "d", "g", "inv_k")])
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
    rmse = float(np.sqrt(np.mean((_simulate(best[None], times, max_dt)[0] - y) ** 2)))
    return best, rmse


def oracle(
    contexts: np.ndarray,
    times: np.ndarray,
    horizon: int,
    starts: int = 4,
    seed: int = 0,
    progress: bool = False,
) -> OracleResult:
    """Fit each ``(C, 2)`` context and forecast ``horizon`` steps.

    Args:
        contexts: ``(N, C, 2)`` prey/predator in original units.
        times: ``(C + horizon,)`` sample times of the window.
    """
    from tqdm.auto import tqdm

    n, c, v = contexts.shape
    if v != 2:
        raise ValueError("the Lotka–Volterra oracle needs exactly 2 variables (prey, predator)")
    times = np.asarray(times, dtype=np.float64)
    fc = np.empty((n, horizon, 2))
    params = np.full((n, 7), np.nan)
    rmse = np.full(n, np.inf)
    failed = np.zeros(n, dtype=bool)
    for i in tqdm(range(n), desc="ODE oracle", disable=not progress, leave=False):
        theta, err = fit_one(contexts[i], times[:c], starts=starts, seed=seed + i)
        params[i], rmse[i] = theta, err
        if not np.all(np.isfinite(theta)):
            failed[i] = True
        else:
            path = _simulate(theta[None], times, 0.5)[0, c:]
            if path.shape[0] != horizon or not np.all(np.isfinite(path)):
                failed[i] = True
            else:
                fc[i] = path
        if failed[i]:
            fc[i] = persistence(contexts[i : i + 1], horizon)[0]
    return OracleResult(fc, params, rmse, failed)
