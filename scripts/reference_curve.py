"""Collect scripts/reference_curve.sh's evaluations into ``docs/findings/reference_curve.json``:
each arm's validation MAE, its paired difference from the cpu profile's final model (110
steps) and from VAR on the same trajectories (interval, win rate, verdict)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lmcast.compare.metrics import paired_comparison


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="evaluate folder of the 110-step model")
    ap.add_argument("--arm", action="append", required=True, help="LABEL=EVALUATE_FOLDER")
    ap.add_argument(
        "--test", action="append", default=[], help="PROTOCOL=EVALUATE_FOLDER of the chosen model"
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    base = json.loads((Path(args.baseline) / "metrics.json").read_text())
    b = np.array(base["per_trajectory_mae"]["model"])
    rows = [{"arm": "cpu profile's final model (110 steps)", "mae": float(b.mean()),
             "vs_var": base["comparisons"].get("VAR")}]  # fmt: skip
    for spec in args.arm:
        label, folder = spec.split("=", 1)
        m = json.loads((Path(folder) / "metrics.json").read_text())
        assert m["protocol"]["indices"] == base["protocol"]["indices"], "other trajectories"
        x = np.array(m["per_trajectory_mae"]["model"])
        rows.append({
            "arm": label, "mae": float(x.mean()), "vs_baseline": paired_comparison(x, b),
            "vs_var": m["comparisons"]["VAR"], "var_mae": m["classical"]["var"]["original"]["mae"]
            if "var" in m.get("classical", {}) else None,
        })  # fmt: skip
    test = []
    for spec in args.test:
        label, folder = spec.split("=", 1)
        m = json.loads((Path(folder) / "metrics.json").read_text())
        test.append({
            "protocol": label, "mae": m["model"]["original"]["mae"],
            "var_mae": m["classical"]["var"]["original"]["mae"], "vs_var": m["comparisons"]["VAR"],
        })  # fmt: skip
    out = {"test": test, "protocol": "reference half, val, first 50 trajectories, 80 -> 20, readout expected",
           "command": "bash scripts/reference_curve.sh WORK ../shared/data/lv_reference_a.h5 "
                      "BASELINE_EVAL", "rows": rows}  # fmt: skip
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
