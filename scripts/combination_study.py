"""Issue 42's combination and calibration study on both real-series suites.

The rule, fixed here before any test score of a combination existed:

1. Validation: each suite's contexts (``real_series_benchmark.py --validation``: the last
   12 steps of every series dropped, the 12 before them held out), every forecaster of
   :data:`FORECASTERS` — the general adapter, AutoETS, AutoARIMA, AutoTheta, every
   combination of the three classics, and the adapter with each of those.
2. Choice, on the 60 validation series of both suites pooled: the *best classical
   forecaster* ``C`` is the classical forecaster or combination with the lowest geometric
   mean of MASE relative to seasonal naive; the *best forecaster with the LM in it* ``L``
   is the one among those containing ``adapter:general`` with the lowest. Ties: the
   first in :data:`FORECASTERS`' order.
3. Test, run once after the choice is written to ``docs/findings/suites_combination_rule.json``:
   on each suite and pooled, ``L`` against ``C`` and against AutoARIMA, paired over series
   (geometric mean of the per-series MASE ratio, its 95 % bootstrap interval, the share of
   series better). Does adding the LM help? ``adapter:general+C`` against ``C``, the same way.
4. Intervals: the same runs with ``--calibrate`` (two conformal windows), validation and
   test; the 80 % coverage of every forecaster with and without it.

Usage::

    python scripts/combination_study.py WORK   # about 30 min on a 2-core CPU

Writes ``docs/findings/suites_combination_{classics,rdatasets}_{validation,test}[_calibrated].json``
(through ``real_series_benchmark.py``) and ``docs/findings/suites_combination_rule.json``;
``scripts/findings.py`` renders the study (``suites_combination``).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FINDINGS = ROOT / "docs" / "findings"
LM = "adapter:general"
CLASSICS = ("ets", "arima", "theta")
CLASSICAL = [
    "+".join(c) for k in (1, 2, 3) for c in itertools.combinations(CLASSICS, k)
]  # ets, arima, theta, ets+arima, …
WITH_LM = [LM, *(f"{LM}+{c}" for c in CLASSICAL)]
FORECASTERS = [*WITH_LM, *CLASSICAL, "snaive"]
SUITES = ("classics", "rdatasets")


def name(suite: str, phase: str, calibrated: bool) -> str:
    """The findings record of one run."""
    return f"suites_combination_{suite}_{phase}" + ("_calibrated" if calibrated else "")


def run(work: Path, suite: str, phase: str, calibrated: bool) -> dict:
    """One ``real_series_benchmark.py`` run (skipped when its record exists)."""
    out = FINDINGS / f"{name(suite, phase, calibrated)}.json"
    if not out.is_file():
        cmd = [
            sys.executable, str(ROOT / "scripts" / "real_series_benchmark.py"),
            "--suite", suite, "--work", str(work / name(suite, phase, calibrated)),
            "--name", name(suite, phase, calibrated), "--forecasters", ",".join(FORECASTERS),
            *(["--validation"] if phase == "validation" else []),
            *(["--calibrate"] if calibrated else []),
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def relative(records: list[dict], forecaster: str) -> float:
    """The geometric mean over the records' series of MASE relative to seasonal naive
    (:func:`lmcast.compare.metrics.geometric_mean_relative`, each series a "dataset")."""
    from lmcast.compare.metrics import geometric_mean_relative

    scores = {
        f: {
            f"{i}/{k}": v[f]
            for i, r in enumerate(records)
            for k, v in r["per_series"].items()
            if v.get(f) is not None
        }
        for f in (forecaster, "snaive")
    }
    return geometric_mean_relative(scores, "snaive")[forecaster]


def choose(validation: list[dict]) -> dict:
    """Step 2 of the rule."""
    scores = {f: relative(validation, f) for f in FORECASTERS if f != "snaive"}
    best_classical = min(CLASSICAL, key=lambda f: scores[f])
    best_lm = min(WITH_LM, key=lambda f: scores[f])
    return {
        "rule": __doc__.split(
            "The rule, fixed here before any test score of a combination existed:"
        )[1]
        .split("Usage::")[0]
        .strip(),
        "validation_relative_mase": scores,
        "best_classical": best_classical,
        "best_with_lm": best_lm,
        "lm_added_to_best_classical": f"{LM}+{best_classical}",
    }


def paired(records: list[dict], a: str, b: str) -> dict:
    """``a`` against ``b`` over the records' series: the ratio of geometric means of MASE,
    its 95 % bootstrap interval (:func:`lmcast.compare.metrics.paired_comparison` on log
    MASE) and the share of series ``a`` forecasts better."""
    from lmcast.compare.metrics import paired_comparison

    pairs = [
        (v[a], v[b])
        for r in records
        for v in r["per_series"].values()
        if (v.get(a) or 0) > 0 and (v.get(b) or 0) > 0
    ]
    x, y = (np.log(np.array(c)) for c in zip(*pairs, strict=True))
    c = paired_comparison(x, y)
    return {
        "a": a,
        "b": b,
        "n": c["n"],
        "ratio": math.exp(c["mean_difference"]),
        "ci95": [math.exp(v) for v in c["ci95"]],
        "win_rate": c["win_rate"],
        "verdict": c["verdict"],
    }


def main(work: Path) -> None:
    val = [run(work, s, "validation", False) for s in SUITES]
    rule_file = FINDINGS / "suites_combination_rule.json"
    if not rule_file.is_file():  # written once, before the first test run
        rule_file.write_text(json.dumps(choose(val), indent=1) + "\n")
    rule = json.loads(rule_file.read_text())
    test = {s: run(work, s, "test", False) for s in SUITES}
    cal = {(s, p): run(work, s, p, True) for s in SUITES for p in ("validation", "test")}
    L, C = rule["best_with_lm"], rule["best_classical"]
    added = rule["lm_added_to_best_classical"]
    comparisons = {}
    for where, recs in (*((s, [test[s]]) for s in SUITES), ("pooled", list(test.values()))):
        pairs = [(L, C), (L, "arima"), (added, C), (LM, C), (LM, "arima"),
                 # described, not chosen: the LM added to all three classics
                 (f"{LM}+ets+arima+theta", "ets+arima+theta")]  # fmt: skip
        comparisons[where] = [paired(recs, a, b) for a, b in dict.fromkeys(pairs)]
    coverage = {
        f"{s}_{p}{'_calibrated' if c else ''}": {
            r["forecaster"]: r.get("coverage_80") for r in rec["rows"]
        }
        for s in SUITES
        for p in ("validation", "test")
        for c, rec in ((False, val[SUITES.index(s)] if p == "validation" else test[s]),
                       (True, cal[(s, p)]))
    }  # fmt: skip
    rule["test"] = {
        "relative_mase": {s: {r["forecaster"]: r.get("mase_vs_snaive") for r in test[s]["rows"]}
                          for s in SUITES},
        "pooled_relative_mase": {f: relative(list(test.values()), f) for f in FORECASTERS},
        "comparisons": comparisons,
        "coverage_80": coverage,
    }  # fmt: skip
    (FINDINGS / "suites_combination.json").write_text(json.dumps(rule, indent=1) + "\n")
    print(json.dumps(comparisons, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
