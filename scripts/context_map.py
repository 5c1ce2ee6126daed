"""The context map: where a model trained on many trajectories beats fits to one context.

VAR and the ODE oracle see only one series' context; the fine-tuned model has seen
hundreds of trajectories. This runs ``lmcast evaluate`` on the same test trajectories at
several context lengths (horizon fixed) for a fine-tuned adapter (with VAR, persistence
and the ODE oracle beside it) and for the zero-shot model, and writes one JSON with each
forecaster's MAE and the fine-tuned model's paired verdicts against VAR and the others.
An experiment, not a test; every command it ran is kept in the JSON.

Usage (the adapter and data of a ``lmcast run --profile cpu`` workspace)::

    python scripts/context_map.py --data cpuprof/data/lv.h5 --adapter cpuprof/final \\
        --lengths 10 20 40 50 80 --horizon 20 --work ctxmap \\
        --out docs/findings/context_map.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path


def _evaluate(
    args: argparse.Namespace, length: int, adapter: str | None, out: Path, log: list
) -> dict:
    if not (out / "metrics.json").is_file():
        cmd = [sys.executable, "-m", "lmcast", "evaluate", "--model", args.model]
        cmd += ["--data", args.data, "--trajectories", str(args.trajectories)]
        cmd += ["--context-steps", str(length), "--horizon", str(args.horizon)]
        cmd += ["--visualize-first-n", "0", "--no-progress", "--out", str(out)]
        cmd += ["--ledger", f"sqlite:///{Path(args.work).resolve() / 'ledger.db'}"]
        cmd += ["--adapter", adapter, "--references", "var"] if adapter else ["--no-oracle"]
        cmd += ["--readout", args.readout] if adapter else []
        print("+", shlex.join(cmd), flush=True)
        log.append(shlex.join(cmd))
        subprocess.run(cmd, check=True)
    return json.loads((out / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 20, 40, 50, 80])
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--trajectories", type=int, default=50)
    p.add_argument("--readout", default="argmax", choices=["argmax", "expected"])
    p.add_argument(
        "--zero-shot", action=argparse.BooleanOptionalAction, default=True,
        help="also evaluate the base model without the adapter at every length",
    )  # fmt: skip
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    rows = []
    for c in args.lengths:
        ft = _evaluate(args, c, args.adapter, work / f"finetuned_{c}", log)
        zs = _evaluate(args, c, None, work / f"zero-shot_{c}", log) if args.zero_shot else None
        var = ft["classical"]["var"]
        rows.append(
            {
                "context_steps": c,
                "horizon": args.horizon,
                "trajectories": ft["protocol"]["n_trajectories"],
                "mae": {
                    "fine-tuned": ft["model"]["original"]["mae"],
                    **({"zero-shot": zs["model"]["original"]["mae"]} if zs else {}),
                    "VAR": var["original"]["mae"],
                    "ODE oracle": ft["oracle"]["original"]["mae"],
                    "persistence": ft["persistence"]["original"]["mae"],
                },
                "oracle_failures": ft["oracle"].get("failures"),
                "var_failures": var.get("failures"),
                "fine_tuned_vs": ft["comparisons"],
            }
        )
        mae = rows[-1]["mae"]
        vs = ft["comparisons"].get(var["label"]) or {}
        print(
            f"{c:>3} steps: "
            + "  ".join(f"{k} {v:.3f}" for k, v in mae.items())
            + f"  | fine-tuned vs VAR {vs.get('mean_difference', float('nan')):+.3f} "
            f"{vs.get('ci95')} {vs.get('verdict')}",
            flush=True,
        )
    out = {
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "commands": log,
        "data": args.data,
        "adapter": args.adapter,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
