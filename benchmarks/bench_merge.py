"""Forecasting with a LoRA adapter merged into the base weights vs kept as branches.

Same adapter, windows and process; greedy forecasts, timed twice each in
alternating order. Also reports how many forecast values differ (merging rounds
the weights in their dtype).

    .venv/bin/python benchmarks/bench_merge.py --adapter RUN --data lv.h5 --n 10 \
        --out docs/performance/cpu_merge.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from json_out import emit


def main() -> dict:
    from lmcast.core.codec import scheme
    from lmcast.core.series.data import load_dataset
    from lmcast.lm.decode import sample_paths
    from lmcast.lm.models import load_model, machine_name

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--adapter", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--context-steps", type=int, default=80)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    traj = load_dataset(args.data).trajectories[: args.n].astype(np.float64)
    x = traj[:, : args.context_steps]
    truth = traj[:, args.context_steps : args.context_steps + args.horizon]
    enc = scheme.read(args.adapter)
    assert enc is not None and enc.alpha is not None, "an adapter trained on one scale"
    models = {
        "branches": load_model(args.model, adapter=args.adapter, merge=False),
        "merged": load_model(args.model, adapter=args.adapter, merge=True),
    }
    times: dict[str, list[float]] = {k: [] for k in models}
    outs = {}
    for order in (("branches", "merged"), ("merged", "branches")):
        for name in order:
            t0 = time.perf_counter()
            fc = sample_paths(models[name], x, args.horizon, enc.alpha, enc.digits, progress=False)
            times[name].append(time.perf_counter() - t0)
            outs[name] = fc.samples
    a, b = outs["branches"], outs["merged"]
    res = {
        "machine": machine_name(),
        "lora": str(models["branches"].lora),
        "windows": args.n,
        "protocol": f"{args.context_steps} -> {args.horizon}",
        "branches_s": [round(t, 2) for t in times["branches"]],
        "merged_s": [round(t, 2) for t in times["merged"]],
        "speedup": round(min(times["branches"]) / min(times["merged"]), 2),
        "values_differing": float(np.mean(~np.isclose(a, b, equal_nan=True))),
        "branches_mae": float(np.nanmean(np.abs(a[:, 0] - truth))),
        "merged_mae": float(np.nanmean(np.abs(b[:, 0] - truth))),
        "mae_between": float(np.nanmean(np.abs(a - b))),
    }
    return emit(res, args.out, "bench_merge.py")


if __name__ == "__main__":
    main()
