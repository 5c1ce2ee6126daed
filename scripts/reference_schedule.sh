#!/bin/bash
# Issue 41: constant rate or warmup-stable-decay for --profile cpu's 110 steps, a second
# seed. Seed 0 (scripts/reference_curve.sh) favoured the constant rate on validation
# (0.132 against 0.158, -0.026 [-0.049, -0.002], better on 60 %), the test split did not
# (level on the mean at all three protocols). Rule, fixed before these runs: train both
# arms with --seed 1 (the cpu recipe, 110 steps fresh, wsd with the last quarter decaying
# or constant), score each on the same 50 validation trajectories at 80 -> 20 (readout
# expected), average each trajectory's MAE over the two seeds per arm, and pair the
# arms; the constant rate stays in the profile only if it "beats" wsd so, else the
# profile returns to wsd (its schedule before).
#
#   bash scripts/reference_schedule.sh WORK DATA SEED0_CONSTANT_EVAL SEED0_WSD_EVAL OUT_JSON
set -euo pipefail
WORK=$1; DATA=$(readlink -f "$2"); C0=$(readlink -f "$3"); W0=$(readlink -f "$4"); OUT=$(readlink -f "$5")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
mkdir -p "$WORK" && cd "$WORK"
arm() {  # NAME SCHEDULE
  [ -f "$1/summary.json" ] || $PY -m lmcast train --model smollm2-135m --data "$DATA" \
    --out "$1" --precision 1 --no-decimal-point --lr 0.002 --rank 8 --seed 1 \
    --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \
    --batch-size 4 --context-length 512 --warmup-steps 10 --max-steps 110 \
    --schedule "$2" --decay-fraction 0.25 --eval-steps 110 \
    --ledger "sqlite:///$PWD/ledger.db" --no-progress
  [ -f "eval_$1/metrics.json" ] || $PY -m lmcast evaluate --model smollm2-135m \
    --adapter "$1" --data "$DATA" --split val --trajectories 50 --context-steps 80 \
    --horizon 20 --readout expected --references var --visualize-first-n 0 --no-progress \
    --no-oracle --out "eval_$1" --ledger "sqlite:///$PWD/ledger.db"
}
arm constant_s1 constant
arm wsd_s1 wsd
$PY - "$C0" "$W0" "$PWD/eval_constant_s1" "$PWD/eval_wsd_s1" "$OUT" <<'PY'
import json, sys
from pathlib import Path
import numpy as np
from lmcast.compare.metrics import paired_comparison
c0, w0, c1, w1, out = sys.argv[1:]
m = {k: json.loads((Path(p) / "metrics.json").read_text()) for k, p in
     {"constant, seed 0": c0, "wsd, seed 0": w0, "constant, seed 1": c1, "wsd, seed 1": w1}.items()}
idx = {tuple(v["protocol"]["indices"]) for v in m.values()}
assert len(idx) == 1, "other trajectories"
x = {k: np.array(v["per_trajectory_mae"]["model"]) for k, v in m.items()}
c, w = (x["constant, seed 0"] + x["constant, seed 1"]) / 2, (x["wsd, seed 0"] + x["wsd, seed 1"]) / 2
rec = {
    "protocol": "reference half, val, 50 trajectories, 80 -> 20, readout expected",
    "arms": {k: float(v.mean()) for k, v in x.items()},
    "seed 1: constant vs wsd": paired_comparison(x["constant, seed 1"], x["wsd, seed 1"]),
    "two seeds: constant vs wsd": paired_comparison(c, w),
    "two-seed means": {"constant": float(c.mean()), "wsd": float(w.mean())},
}
rec["decision"] = "constant" if rec["two seeds: constant vs wsd"]["verdict"] == "beats" else "wsd"
Path(out).write_text(json.dumps(rec, indent=1) + "\n")
print(json.dumps(rec, indent=1))
PY
