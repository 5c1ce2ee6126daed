"""How the reference predator–prey data differ from ``lmcast data simulate``'s.

For each data set (the reference half, the default simulator, the simulator without
noise) on its first ``--n`` trajectories:

* sampling: steps, spacing, evenness of the time grid;
* the best logistic-prey Lotka–Volterra fit of each whole trajectory (7 unknowns: five
  rates and two initial values; :func:`lmcast.compare.references.fit_batch`, 8 starts,
  RK4 at 0.1 time units): its RMSE in original units, and the rates the good fits
  (RMSE < 0.05) imply;
* what the fits miss: the residual of each variable's per-capita growth rate
  (``d log x / dt`` by central differences, regressed per trajectory on ``[1, x, y]``
  for the prey and ``[1, x]`` for the predator, the model class's exact form): its
  standard deviation per trajectory (a noise-free trajectory leaves only the
  finite-difference floor) and its lag-1 autocorrelation (white observation noise
  gives negative values; coloured noise in the dynamics, values near 1);
* the dynamics statistics of :func:`lmcast.core.series.data.dynamics_stats`;
* the rates fitted to the first and to the last 35 steps: their median relative
  difference (drifting rates would move them apart);
* the ODE oracle's MAE at 80 → 20 (fit to the first 80 steps, forecast 20).

An experiment, not a test: ``make docs`` renders the JSON it writes.

Usage::

    python scripts/reference_study.py --reference ../shared/data/lv_reference_a.h5 \\
        --n 100 --out docs/findings/reference_study.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np


def growth_rate_residuals(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(N, T - 2, 2)`` residuals of the per-capita growth rates from their exact LV form."""
    h = float(t[1] - t[0])
    logs = np.log(np.maximum(x, 1e-6))
    rate = (logs[:, 2:] - logs[:, :-2]) / (2 * h)
    prey, pred = x[:, 1:-1, 0], x[:, 1:-1, 1]
    out = np.empty_like(rate)
    for i in range(len(x)):
        one = np.ones_like(prey[i])
        for v, cols in enumerate(([one, prey[i], pred[i]], [one, prey[i]])):
            a = np.stack(cols, 1)
            coef = np.linalg.lstsq(a, rate[i, :, v], rcond=None)[0]
            out[i, :, v] = rate[i, :, v] - a @ coef
    return out


def _pct(v: np.ndarray, qs=(10, 50, 90)) -> list[float]:
    return [round(float(p), 5) for p in np.percentile(v, qs)]


def study(x: np.ndarray, t: np.ndarray) -> dict:
    """Every statistic of the module docstring for trajectories ``x`` ``(N, T, 2)``."""
    from lmcast.compare.references import fit_batch, oracle
    from lmcast.core.series.data import dynamics_stats

    params, rmse = fit_batch(x, t, starts=8, seed=0, iterations=200, max_dt=0.1)
    good = rmse < 0.05
    names = ["a", "b", "d", "g", "inv_k"]
    res = growth_rate_residuals(x, t)
    sd = res.std(axis=1)
    lag1 = np.array([[np.corrcoef(r[:-1, v], r[1:, v])[0, 1] for v in range(2)] for r in res])
    # rates fitted to the first and to the last 35 steps: do they drift?
    first = fit_batch(x[:, :35], t[:35], starts=8, seed=0, iterations=200, max_dt=0.1)[0]
    last = fit_batch(x[:, -35:], t[-35:], starts=8, seed=0, iterations=200, max_dt=0.1)[0]
    drift = np.abs(first[:, :4] - last[:, :4]) / ((first[:, :4] + last[:, :4]) / 2)
    orc = oracle(x[:, :80], t[:100], 20)
    dt = np.diff(t)
    return {
        "n": len(x),
        "sampling": {"steps": int(t.size), "dt": float(dt.mean()), "dt_spread": float(np.ptp(dt))},
        "fit_rmse_percentiles_10_25_50_75_90": _pct(rmse, (10, 25, 50, 75, 90)),
        "good_fit_share": float(good.mean()),
        "fitted_rates_10_50_90": {k: _pct(params[good, i]) for i, k in enumerate(names)},
        "inv_k_zero_share": float(np.mean(params[good, 4] < 0.005)),
        "growth_residual_sd_10_50_90": {"prey": _pct(sd[:, 0]), "predator": _pct(sd[:, 1])},
        "growth_residual_lag1": [round(float(v), 3) for v in np.median(lag1, axis=0)],
        "rate_drift_first_last_35_median": dict(
            zip(names[:4], [round(float(v), 4) for v in np.median(drift, axis=0)], strict=True)
        ),
        "dynamics": dynamics_stats(x),
        "oracle_mae_80_20": float(np.abs(orc.forecasts - x[:, 80:100]).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    from lmcast.core.series import lotka_volterra as lv
    from lmcast.core.series.data import load_dataset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", required=True, help="the reference half (HDF5)")
    p.add_argument("--n", type=int, default=100, help="trajectories per data set")
    p.add_argument("--seed", type=int, default=1, help="the simulator's seed")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    ref = load_dataset(args.reference)
    sets = {
        "reference": (ref.trajectories[: args.n].astype(np.float64), ref.time),
        "simulator": lv.simulate(args.n, seed=args.seed)[:2],
        "simulator, noise-free": lv.simulate(args.n, seed=args.seed, noise=None)[:2],
    }
    rows = {}
    for name, (x, t) in sets.items():
        t0 = time.time()
        rows[name] = study(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
        print(f"{name}: {time.time() - t0:.0f} s", json.dumps(rows[name])[:300], flush=True)
    out = {
        "command": shlex.join(["python", "scripts/reference_study.py", *sys.argv[1:]]),
        "simulator": {
            "param_ranges": lv.PARAM_RANGES,
            "undamped_fraction": lv.UNDAMPED_FRACTION,
            "noise_range": lv.NOISE_RANGE,
            "noise_tau": lv.NOISE_TAU,
        },
        "sets": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
