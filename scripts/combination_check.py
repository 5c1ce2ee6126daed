"""The model averaged with VAR (``evaluate --combine var``), measured from saved forecasts:
for each ``LABEL=forecasts.npz`` (an evaluate folder's file, with ``--references var``),
the model's, VAR's and their equal-weight mean's MAE, and the mean paired with each.

    python scripts/combination_check.py --out docs/findings/reference_combination.json \\
        "validation 80->20=VAL/forecasts.npz" "test 80->20=WS/final/test/forecasts.npz" ...

The rule was written before any test score was read: report the combination beside the
model when, on the validation split, it beats the model alone; call it better than VAR
only where its verdict against VAR is "beats".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lmcast.compare import classical
from lmcast.compare.metrics import paired_comparison


def check(path: Path) -> dict:
    d = np.load(path)
    truth, model = d["truths"], d["point"]
    var = (
        d["classical_VAR"]
        if "classical_VAR" in d.files
        else classical.predict("var", list(d["contexts"]), truth.shape[1], 1).point
    )
    mean = (model + var) / 2

    def mae(p: np.ndarray) -> np.ndarray:
        return np.abs(p - truth).mean(axis=(1, 2))

    return {
        "n": len(truth),
        "model": float(mae(model).mean()),
        "var": float(mae(var).mean()),
        "model_var": float(mae(mean).mean()),
        "model_var_vs_model": paired_comparison(mae(mean), mae(model)),
        "model_var_vs_var": paired_comparison(mae(mean), mae(var)),
        "model_vs_var": paired_comparison(mae(model), mae(var)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="LABEL=path/to/forecasts.npz")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = []
    for item in args.runs:
        label, path = item.split("=", 1)
        rows.append({"set": label, **check(Path(path))})
        r = rows[-1]
        c = r["model_var_vs_var"]
        print(f"{label}: model {r['model']:.4f} VAR {r['var']:.4f} model+VAR {r['model_var']:.4f}"
              f" vs VAR {c['mean_difference']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]"
              f" {c['win_rate']:.0%} {c['verdict']}")  # fmt: skip
    args.out.write_text(
        json.dumps({"command": "python scripts/combination_check.py", "rows": rows}, indent=1)
        + "\n"
    )


if __name__ == "__main__":
    main()
