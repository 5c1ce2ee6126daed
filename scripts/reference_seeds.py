"""Pair two training arms on the reference half, each scored with several seeds on the same
validation trajectories (``lmcast evaluate`` folders): each trajectory's MAE averaged over an
arm's seeds, then :func:`lmcast.compare.metrics.paired_comparison` of the two means (and of
each seed alone). The first arm is adopted only if it beats the second so.

    python scripts/reference_seeds.py --protocol TEXT --out OUT_JSON \\
        "LABEL_A=EVAL_SEED0,EVAL_SEED1" "LABEL_B=EVAL_SEED0,EVAL_SEED1"

An arm trained on a copy of the data with its variables in other units (``--units
LABEL=1,4``: the second variable written four times larger) is scored in the reference's
units: its forecasts and truths (``forecasts.npz``) are divided by them before each
trajectory's MAE (mean over steps and variables, as ``per_trajectory_mae``). A seed written
``EVAL_A+EVAL_B+…`` is an ensemble: the mean of those evaluations' point forecasts (the same
trajectories and truths), scored so.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lmcast.compare.metrics import paired_comparison

#: the verdicts (:func:`lmcast.compare.metrics.paired_comparison`) under which the first arm
#: is adopted, per ``--adopt`` rule
ADOPTED = {
    "beats": ("beats",),
    "not-worse": ("beats", "level", "level on the mean, better on most"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", required=True, help="what the evaluations score, in words")
    ap.add_argument("--out", required=True)
    ap.add_argument(
        "--units",
        action="append",
        default=[],
        metavar="LABEL=U1,U2",
        help="an arm's units relative to the reference (default 1 each)",
    )
    ap.add_argument(
        "--adopt",
        choices=["beats", "not-worse"],
        default="beats",
        help="the rule for the first arm: it beats the second (default), or neither measure "
        "favours the second (level, or only the win rate favours the first)",
    )
    ap.add_argument("arms", nargs=2, help="LABEL=EVAL_FOLDER,EVAL_FOLDER,… (one per seed)")
    args = ap.parse_args()
    units = dict(u.split("=", 1) for u in args.units)
    labels, seeds, indices = [], [], set()
    for spec in args.arms:
        label, folders = spec.split("=", 1)
        u = np.array([float(x) for x in units.get(label, "1,1").split(",")])
        maes = []
        for seed in folders.split(","):
            parts = [Path(f) for f in seed.split("+")]
            runs = [json.loads((f / "metrics.json").read_text()) for f in parts]
            indices |= {tuple(m["protocol"]["indices"]) for m in runs}
            if len(parts) == 1 and label not in units:
                maes.append(np.array(runs[0]["per_trajectory_mae"]["model"]))
                continue
            z = [np.load(f / "forecasts.npz") for f in parts]
            assert all(np.array_equal(f["truths"], z[0]["truths"]) for f in z), "other truths"
            point = np.mean([f["point"] for f in z], axis=0)
            maes.append(np.abs(point / u - z[0]["truths"] / u).mean(axis=(1, 2)))
        labels.append(label)
        seeds.append(maes)
    assert len(indices) == 1, "the evaluations score other trajectories"
    (a, b), (xa, xb) = labels, seeds
    assert len(xa) == len(xb), "one evaluation per seed for each arm"
    ma, mb = np.mean(xa, axis=0), np.mean(xb, axis=0)
    both = paired_comparison(ma, mb)
    rec = {
        "protocol": args.protocol,
        "units": units,
        "arms": {f"{lab}, seed {i}": float(x.mean()) for lab, xs in zip(labels, seeds, strict=True)
                 for i, x in enumerate(xs)},
        "per seed": {f"seed {i}: {a} vs {b}": paired_comparison(x, y)
                     for i, (x, y) in enumerate(zip(xa, xb, strict=True))},
        f"{len(xa)} seeds: {a} vs {b}": both,
        f"{len(xa)}-seed means": {a: float(ma.mean()), b: float(mb.mean())},
        "rule": args.adopt,
        "adopted": a if both["verdict"] in ADOPTED[args.adopt] else b,
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(rec, indent=1) + "\n")
    print(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
