"""Does the first forecast of a fresh process repeat? Fresh processes with and without the
warm-up pass of ``load_model`` (``lmcast.lm.models.warm_up``), against a warm reference.

Each process loads the model (and adapter), forecasts the same series with the same seed
(20 sample paths) and writes the paths; the reference is the second of two such calls in
one process. Counts the processes whose first forecast differs from the reference.

    .venv/bin/python benchmarks/bench_cold_start.py --data classics/monthly.csv --n 10 \
        --out docs/performance/cpu_cold_start.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from json_out import emit

CHILD = """
import sys, numpy as np
import lmcast.lm.models as m
if sys.argv[1] == "cold":
    m.warm_up = lambda model: None  # this arm leaves the warm-up pass out
from lmcast.configs import BenchmarkConfig
from lmcast.forecasting.benchmark import load_task
from lmcast.forecasting.forecaster import Forecaster
t = load_task(sys.argv[3], "d", BenchmarkConfig(data=[sys.argv[3]], horizon=12, out="unused"))
fc = Forecaster.load(sys.argv[4], adapter=sys.argv[5] or None)
calls = 2 if sys.argv[1] == "reference" else 1
for _ in range(calls):
    s = fc.predict(t.contexts, 12, samples=20, seed=1).samples
np.save(sys.argv[2], s)
"""


def run(arm: str, out: Path, args: argparse.Namespace) -> np.ndarray:
    cmd = [sys.executable, "-c", CHILD, arm, str(out), args.data, args.model, args.adapter]
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(out)


def main() -> dict:
    from lmcast.lm.models import machine_name

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a CSV of series (the last 12 steps held out)")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--adapter", default="general", help="'' for the base model")
    p.add_argument("--n", type=int, default=10, help="fresh processes per arm")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref = run("reference", Path(tmp) / "ref.npy", args)
        differ = {"cold": 0, "warm": 0}
        for i in range(args.n):
            for arm in ("cold", "warm"):  # alternating, so both meet the same machine state
                s = run(arm, Path(tmp) / f"{arm}{i}.npy", args)
                differ[arm] += int(not np.array_equal(s, ref, equal_nan=True))
    res = {
        "machine": machine_name(),
        "processes_per_arm": args.n,
        "first_forecast_differs_without_warm_up": differ["cold"],
        "first_forecast_differs_with_warm_up": differ["warm"],
    }
    return emit(res, args.out, "bench_cold_start.py")


if __name__ == "__main__":
    main()
