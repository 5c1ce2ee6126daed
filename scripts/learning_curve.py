"""Learning curve: validation forecast MAE against training tokens, from one run.

An experiment, not a test. It trains once with ``lmcast train`` keeping every
checkpoint (each holds its adapter), then scores the zero-shot model and each
checkpoint with ``lmcast evaluate --split val`` on the same trajectories, and
writes ``curve.json`` and ``curve.csv`` (one row per point) into ``--out``.
Every command it runs is printed and stored in ``curve.json``.

Checkpoints are points of one cosine schedule (the learning rate at step 120
of a 500-step run is not that of a 120-step run); the page that shows the
curve says so.

Usage::

    python scripts/learning_curve.py --data lv1000.h5 --out experiments/curve \\
        --steps 500 --every 100 --trajectories 20
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path


def _run(cmd: list[str], log: list[str]) -> None:
    line = shlex.join(cmd)
    print("+", line, flush=True)
    log.append(line)
    subprocess.run(cmd, check=True)


def _score(args: argparse.Namespace, adapter: str | None, out: Path, log: list[str]) -> dict:
    if not (out / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "lmcast", "evaluate", "--model", args.model]
        cmd += ["--data", args.data, "--split", "val", "--trajectories", str(args.trajectories)]
        cmd += ["--context-steps", str(args.context_steps), "--horizon", str(args.horizon)]
        cmd += ["--no-oracle", "--visualize-first-n", "0", "--out", str(out)]
        if adapter:
            cmd += ["--adapter", adapter]
        _run(cmd, log)
    return json.loads((out / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--context-length", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--trajectories", type=int, default=20)
    p.add_argument("--context-steps", type=int, default=80)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--extra", default="", help="more `lmcast train` options, one string")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["LMCAST_WORKSPACE"] = str(out)  # its own ledger: out/ledger.db
    run = out / "run"
    log: list[str] = []
    if not (run / "adapter").is_dir():
        cmd = [sys.executable, "-m", "lmcast", "train", "--model", args.model, "--data", args.data]
        cmd += ["--out", str(run), "--max-steps", str(args.steps), "--save-steps", str(args.every)]
        cmd += ["--eval-steps", str(args.every), "--keep-checkpoints", "0"]
        cmd += ["--batch-size", str(args.batch_size), "--context-length", str(args.context_length)]
        cmd += ["--lr", str(args.lr), "--warmup-steps", str(args.warmup), "--no-progress"]
        cmd += shlex.split(args.extra)
        if (run / "checkpoints").is_dir():
            cmd.append("--resume")
        _run(cmd, log)

    history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]
    by_step = {r["step"]: r for r in history}
    points = [(0, None)]
    points += [
        (int(d.name.split("_")[1]), str(d)) for d in sorted((run / "checkpoints").glob("step_*"))
    ]
    if points[-1][0] != args.steps:  # the final checkpoint is the finished run
        points.append((args.steps, str(run)))
    rows = []
    for step, adapter in points:
        m = _score(args, adapter, out / f"eval_{step:06d}", log)
        h = by_step.get(step, {})
        rows.append(
            {
                "step": step,
                "tokens": step * args.batch_size * args.context_length,
                "train_flops": h.get("flops", 0),
                "val_loss": h.get("val_loss"),
                "mae": m["model"]["original"]["mae"],
                "persistence_mae": m["persistence"]["original"]["mae"],
                "parse_success": m["model"]["parse_success"],
                "vs_persistence": m["comparisons"]["persistence"],
                # per validation trajectory, so curves on the same trajectories pair up
                "indices": m["protocol"]["indices"],
                "per_trajectory_mae": m["per_trajectory_mae"]["model"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    last = history[-1] if history else {}
    previous = (
        json.loads((out / "curve.json").read_text()) if (out / "curve.json").is_file() else {}
    )
    result = {
        "args": vars(args),
        # a rerun that only collects keeps the commands that made the numbers
        "commands": [*previous.get("commands", []), *log],
        "train_tokens_per_s": last.get("tokens_per_s"),
        "points": rows,
    }
    (out / "curve.json").write_text(json.dumps(result, indent=1) + "\n")
    with open(out / "curve.csv", "w", newline="") as f:
        flat = [{k: v for k, v in r.items() if not isinstance(v, list)} for r in rows]
        w = csv.DictWriter(f, fieldnames=list(flat[0]))
        w.writeheader()
        w.writerows(flat)


if __name__ == "__main__":
    main()
