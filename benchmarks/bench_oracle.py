"""The ODE oracle: all contexts fitted at once vs scipy's least_squares one at a time.

Both fit the same problem (:mod:`lmcast.compare.references`) to the same contexts in one
process; the JSON has both times, their ratio and the forecast MAE of each (so a
faster fit that fits worse shows). Noise (multiplicative, ``--noise``) makes the
fits inexact, as on real data.

    .venv/bin/python benchmarks/bench_oracle.py --n 20 --out docs/performance/cpu_oracle.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from json_out import emit


def main(argv: list[str] | None = None) -> dict:
    from lmcast.compare import references
    from lmcast.core.series.lotka_volterra import simulate
    from lmcast.lm.models import machine_name

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20, help="trajectories")
    p.add_argument("--context", type=int, default=80)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--noise", type=float, default=0.05, help="log-normal noise sigma")
    p.add_argument("--out", default=None, help="write the JSON here")
    args = p.parse_args(argv)

    x, t, _ = simulate(n=args.n, seed=0)
    x = x.astype(np.float64)
    noisy = x * np.exp(np.random.default_rng(0).normal(0, args.noise, x.shape))
    c, h = args.context, args.horizon
    truth = x[:, c : c + h]
    t0 = time.perf_counter()
    res = references.oracle(noisy[:, :c], t[: c + h], h)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    fits = [references.fit_one(noisy[i, :c], t[:c], seed=i) for i in range(args.n)]
    one = time.perf_counter() - t0
    ref = np.stack([references.simulate_params(th[None], t[: c + h], 0.5)[0, c:] for th, _ in fits])
    out = {
        "machine": machine_name(),
        "trajectories": args.n,
        "protocol": f"{c} -> {h}",
        "noise_sigma": args.noise,
        "batched_s": round(batched, 2),
        "one_at_a_time_s": round(one, 2),
        "speedup": round(one / batched, 1),
        "batched_mae": float(np.abs(res.forecasts - truth).mean()),
        "one_at_a_time_mae": float(np.abs(ref - truth).mean()),
    }
    return emit(out, args.out, "bench_oracle.py", argv)


if __name__ == "__main__":
    main()
