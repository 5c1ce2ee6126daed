"""Levers on the reference half's validation split, each paired with the first arm.

An arm is a trained adapter, the data file it was trained on, the unit of each variable
in that file relative to the reference (``1,4``: the predator written four times larger,
so its forecasts are divided by 4 before scoring) and extra ``lmcast evaluate`` options
(``--readout expected``, ``--samples 5``). Every arm forecasts the same validation
trajectories; errors are in the reference's original units, per trajectory (mean over
steps and variables), and each arm is paired with the first (mean difference, 95 %
interval, win rate, verdict) and with VAR fitted to the same contexts (the first arm's
``--references var``). Generation seconds and FLOPs come from each evaluation.

An experiment, not a test; every command it ran is kept in the JSON.

Usage::

    python scripts/reference_levers.py --work levers --out docs/findings/reference_levers.json \\
        --arm today base/ws/final ../shared/data/lv_reference_a.h5 1,1 "" \\
        --arm expected base/ws/final ../shared/data/lv_reference_a.h5 1,1 "--readout expected"
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np


def _evaluate(args: argparse.Namespace, arm: list[str], first: bool, log: list) -> Path:
    name, adapter, data, _, extra = arm
    out = Path(args.work) / name
    if not (out / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "lmcast", "evaluate", "--model", args.model]
        cmd += ["--adapter", adapter, "--data", data, "--split", args.split]
        cmd += ["--trajectories", str(args.trajectories), "--context-steps", str(args.context)]
        cmd += ["--horizon", str(args.horizon), "--visualize-first-n", "0", "--no-progress"]
        cmd += ["--out", str(out), "--ledger", f"sqlite:///{Path(args.work).resolve()}/ledger.db"]
        cmd += ["--references", "var"] if first else ["--no-oracle"]
        cmd += shlex.split(extra)
        print("+", shlex.join(cmd), flush=True)
        log.append(shlex.join(cmd))
        subprocess.run(cmd, check=True)
    return out


def main(argv: list[str] | None = None) -> None:
    from lmcast.compare.metrics import paired_comparison

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arm", nargs=5, action="append", required=True,
                   metavar=("NAME", "ADAPTER", "DATA", "UNITS", "OPTIONS"))  # fmt: skip
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--split", default="val")
    p.add_argument("--trajectories", type=int, default=50)
    p.add_argument("--context", type=int, default=80)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    errors, rows, var = {}, [], None
    for k, arm in enumerate(args.arm):
        out = _evaluate(args, arm, k == 0, log)
        units = np.array([float(u) for u in arm[3].split(",")])
        z = np.load(out / "forecasts.npz")
        point, truth = z["point"] / units, z["truths"] / units
        errors[arm[0]] = np.abs(point - truth).mean(axis=(1, 2))
        m = json.loads((out / "metrics.json").read_text())
        if k == 0 and "classical" in m:
            var = np.asarray(m["per_trajectory_mae"][m["classical"]["var"]["label"]])
        rows.append(
            {
                "arm": arm[0],
                "adapter": arm[1],
                "data": arm[2],
                "units": units.tolist(),
                "options": arm[4],
                "indices": z["indices"].tolist(),
                "mae": float(errors[arm[0]].mean()),
                "generation_seconds": m["seconds"]["generation"],
                "generation_flops": m["flops"],
                "vs_first": paired_comparison(errors[arm[0]], errors[args.arm[0][0]]),
                "vs_var": paired_comparison(errors[arm[0]], var) if var is not None else None,
            }
        )
        print(f"{arm[0]}: MAE {rows[-1]['mae']:.4f}", flush=True)
    if len({tuple(r["indices"]) for r in rows}) != 1:
        raise SystemExit("the arms forecast different trajectories: no pairing")
    out = {
        "command": shlex.join(["python", "scripts/reference_levers.py", *sys.argv[1:]]),
        "commands": log,
        "protocol": f"{args.split}, {args.trajectories} trajectories, {args.context} → "
        f"{args.horizon}",
        "var_mae": float(var.mean()) if var is not None else None,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
