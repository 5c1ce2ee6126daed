#!/bin/bash
# Issue 41: a scale per variable, again, at today's recipe. Rule, fixed before these runs:
# the profile's recipe (LoRA rank 16, alpha 32, lr 3e-3, every linear layer, batch 4,
# 512-token windows, 10 warm-up steps, wsd with the last quarter decaying, 150 steps: the
# same steps and windows, so the same training compute) trained on a copy of DATA whose
# predator is written four times larger (its own grid, a quarter of the prey's), seeds 0
# and 1, each scored on the same 50 validation trajectories at 80 -> 20 (readout expected)
# in the reference's units (forecasts divided by 1,4); each trajectory's MAE averaged over
# the two seeds per arm and paired with the profile's two seeds (scripts/reference_rank_lr.sh's
# r16lr3_s0 and r16lr3_s1). A candidate for the codec (a scale per variable) only if it
# beats them so. The copy lives in WORK, never in the package.
#
#   bash scripts/reference_pred4.sh WORK DATA BASE_SEED0_EVAL BASE_SEED1_EVAL OUT_JSON  # ~25 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
[ -f ref_pred4.h5 ] || $PY - "$DATA" ref_pred4.h5 <<'PY'
import sys

import h5py

with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2] + ".part", "w") as dst:
    x = src["trajectories"][:]
    x[..., 1] *= 4.0
    dst["time"] = src["time"][:]
    dst["trajectories"] = x
PY
[ -f ref_pred4.h5 ] || mv ref_pred4.h5.part ref_pred4.h5
DATA=$PWD/ref_pred4.h5
for seed in 0 1; do
  train_recipe "pred4_s$seed" 150 --rank 16 --lora-alpha 32 --lr 0.003 --seed "$seed"
  score_val "pred4_s$seed"
done
$PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" --units "predator x4=1,4" \
  --protocol "reference half, val, 50 trajectories, 80 -> 20, readout expected, reference units; wsd, 150 steps; LoRA rank 16 alpha 32 lr 3e-3; predator written x4 against the profile's one scale" \
  "predator x4=$PWD/eval_pred4_s0,$PWD/eval_pred4_s1" "one scale=$B0,$B1"
