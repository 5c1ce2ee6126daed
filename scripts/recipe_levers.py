"""Recipe levers at equal wall-clock time on this CPU: collect what the runs wrote into one
JSON for the findings page. An experiment, not a test.

Inputs (each written by a command this script records):

* ``--speeds DIR``: short ``lmcast train`` runs of every lever and of the reference recipe,
  interleaved twice (``s_<name>_<rep>/summary.json``): training tokens/s;
* ``--curve NAME=DIR``: one ``scripts/learning_curve.py`` run per lever, trained for as
  many steps as the reference's 100 take on this machine at the measured speeds (the first
  is the reference); its last point is scored on the validation trajectories the reference
  used, so the two pair up;
* ``--attention FILE``: ``benchmarks/bench_attention.py``'s JSON;
* ``--sampled K=DIR``: ``lmcast evaluate`` runs of one final model, greedy (K = 1) and the
  median of K sampled paths, on the same validation trajectories.

    python scripts/recipe_levers.py --out docs/findings/recipe_levers.json --speeds S \\
        --curve "reference=R" --curve "top 15 layers=T" --attention A --sampled 1=G --sampled 5=K
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _speed(folder: Path, key: str) -> float:
    runs = sorted(folder.glob(f"s_{key}_*/summary.json"))
    values = [json.loads(p.read_text())["tokens_per_second"] for p in runs]
    return sum(values) / len(values)


def main(argv: list[str]) -> None:
    from lmcast.compare.metrics import paired_comparison

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--speeds", type=Path, required=True)
    ap.add_argument("--speed-keys", default="ref,top15,w640", help="s_<key>_* per curve, in order")
    ap.add_argument("--curve", action="append", default=[])
    ap.add_argument("--attention", type=Path)
    ap.add_argument("--sampled", action="append", default=[])
    args = ap.parse_args(argv)
    keys = args.speed_keys.split(",")
    curves = [c.split("=", 1) for c in args.curve]
    ref_speed = _speed(args.speeds, keys[0])
    ref_end = None
    rows = []
    for (name, folder), key in zip(curves, keys, strict=True):
        curve = json.loads((Path(folder) / "curve.json").read_text())
        end = curve["points"][-1]
        cmd = next(c for c in curve["commands"] if " train " in c)
        speed = _speed(args.speeds, key)
        row = {
            "name": name,
            "train_command": cmd,
            "tokens_per_s": speed,
            "speed_ratio": speed / ref_speed,
            "steps": end["step"],
            "tokens": end["tokens"],
            "train_flops": end["train_flops"],
            "mae": end["mae"],
            "persistence_mae": end["persistence_mae"],
        }
        if ref_end is None:
            ref_end = end
        else:
            assert end["indices"] == ref_end["indices"], "curves must share trajectories"
            row["vs_reference"] = paired_comparison(
                end["per_trajectory_mae"], ref_end["per_trajectory_mae"]
            )
        rows.append(row)
    out: dict = {"command": shlex.join(["scripts/recipe_levers.py", *argv]), "levers": rows}
    if args.attention:
        out["attention"] = json.loads(args.attention.read_text())
    sampled = {}
    for item in args.sampled:
        k, folder = item.split("=", 1)
        m = json.loads((Path(folder) / "metrics.json").read_text())
        sampled[k] = {
            "mae": m["model"]["original"]["mae"],
            "per_trajectory_mae": m["per_trajectory_mae"]["model"],
            "indices": m["protocol"]["indices"],
            "generation_seconds": m["seconds"]["generation"],
        }
    if len(sampled) == 2:
        (k1, a), (k2, b) = sampled.items()
        assert a["indices"] == b["indices"]
        sampled["comparison"] = {
            "of": f"{k2} paths against {k1}",
            **paired_comparison(b["per_trajectory_mae"], a["per_trajectory_mae"]),
            "time_ratio": b["generation_seconds"] / a["generation_seconds"],
        }
    if sampled:
        out["sampled"] = sampled
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "attention"}, indent=1)[:3000])


if __name__ == "__main__":
    main(sys.argv[1:])
