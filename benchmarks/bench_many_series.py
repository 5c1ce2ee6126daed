"""Many short series at once: series per second batched against one series per call.

``N`` random-walk series of ``--steps`` steps (seeded), the shipped general adapter,
greedy (one path), ``--horizon`` steps: one :meth:`Forecaster.predict` call over all of
them (batched as ``lmcast forecast`` batches them), then ``--single`` of them one call
each, in the same process with the model loaded once. A benchmark, not a test.

    .venv/bin/python benchmarks/bench_many_series.py --n 2000 --single 40 \
        --out docs/performance/cpu_many_series.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from json_out import emit


def main() -> dict:
    from lmcast.forecasting.forecaster import Forecaster
    from lmcast.lm.models import machine_name

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--adapter", default="general")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--horizon", type=int, default=2)
    p.add_argument("--single", type=int, default=40, help="series forecast one per call")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    rng = np.random.default_rng(0)
    series = [(np.cumsum(rng.normal(size=args.steps)) + 10 + i % 7)[:, None] for i in range(args.n)]
    fc = Forecaster.load(adapter=args.adapter)
    fc.predict(series[:2], args.horizon, samples=1)  # warm-up: grammar tables, kernels
    t0 = time.perf_counter()
    batched = fc.predict(series, args.horizon, samples=1, batch_size=args.batch_size)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    singles = [fc.predict([s], args.horizon, samples=1).median[0] for s in series[: args.single]]
    t_single = time.perf_counter() - t0
    # bfloat16 logits differ in their last bits between batch shapes (lmcast.lm.decode):
    # a greedy choice near a tie may flip; the share of equal forecasts says how often
    same = float(np.mean(np.all(np.isclose(np.stack(singles), batched.median[: args.single],
                                           atol=1e-9), axis=(1, 2))))  # fmt: skip
    return emit(
        {
            "machine": machine_name("cpu"),
            "series": args.n,
            "steps": args.steps,
            "horizon": args.horizon,
            "batched_seconds": round(t_batched, 2),
            "batched_series_per_s": round(args.n / t_batched, 1),
            "single_series": args.single,
            "single_seconds": round(t_single, 2),
            "single_series_per_s": round(args.single / t_single, 2),
            "speedup": round((args.n / t_batched) / (args.single / t_single), 1),
            "share_same_as_single": round(same, 3),
            "flops": batched.flops,
        },
        args.out,
        "bench_many_series.py",
    )


if __name__ == "__main__":
    main()
