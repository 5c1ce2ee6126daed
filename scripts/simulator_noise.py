"""Summarise the simulator arms of issue 41's check (``scripts/simulator_check.sh`` and
``scripts/simulator_noise.sh``): each arm's MAE on the reference half's test split, paired
with the noise-free arm and with VAR over the same 50 trajectories.

    python scripts/simulator_noise.py WORK --out docs/findings/simulator_noise.json
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from lmcast.compare.metrics import paired_comparison

ARMS = (
    ("clean", "noise-free (the model class exactly)", "none"),
    ("low", "low noise", "log-uniform 0.0005-0.005"),
    ("mix", "half noisy, half noise-free", "500 + 500 interleaved"),
    ("noise", "noisy (today's default)", "log-uniform 0.0005-0.025"),
)


def _per_trajectory(folder: Path) -> dict[str, np.ndarray]:
    """Per-trajectory MAE (mean over both variables) of the model and of VAR."""
    with open(folder / "per_trajectory.csv") as f:
        rows = list(csv.DictReader(f))
    mae = {
        who: np.array(
            [(float(r[f"{who}_mae_prey"]) + float(r[f"{who}_mae_predator"])) / 2 for r in rows]
        )
        for who in ("model", "VAR")
    }
    mae["trajectory"] = np.array([int(r["trajectory"]) for r in rows])
    return mae


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    arms = {a: _per_trajectory(args.work / f"eval_{a}") for a, _, _ in ARMS}
    base = arms["clean"]
    for a in arms.values():
        assert np.array_equal(a["trajectory"], base["trajectory"]), "not the same trajectories"
    rows = []
    for a, label, noise in ARMS:
        m = arms[a]
        rows.append({
            "arm": a, "trained_on": label, "noise": noise, "mae": float(m["model"].mean()),
            "vs_noise_free": None if a == "clean" else paired_comparison(m["model"], base["model"]),
            "vs_var": paired_comparison(m["model"], m["VAR"]),
        })  # fmt: skip
    out = {
        "command": "bash scripts/simulator_check.sh WORK && bash scripts/simulator_noise.sh WORK",
        "protocol": "1,000 simulated trajectories, the cpu recipe (110 steps); reference half, "
        "test split, 50 trajectories, 80 -> 20, expected readout; one training seed per arm",
        "rows": rows,
        "var_mae": float(base["VAR"].mean()),
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        v = r["vs_noise_free"]
        print(f"{r['arm']:>6} {r['mae']:.4f}", "" if v is None else
              f"{v['mean_difference']:+.4f} [{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}] "
              f"{v['win_rate']:.0%} {v['verdict']}")  # fmt: skip


if __name__ == "__main__":
    main()
