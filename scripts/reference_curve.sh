#!/bin/bash
# Issue 41: does the LM alone keep improving past --profile cpu's 110 training steps on the
# reference half? The cpu recipe (lr 2e-3, LoRA r8 on every linear layer, 4 x 512-token
# windows, 10 warm-up steps, one decimal without the point) trained fresh for 330 steps,
# wsd (the last 25 % decaying), checkpoints at 110 and 220 (stable phase, not decayed) and the end;
# each scored on the first 50 validation trajectories at 80 -> 20 (readout expected, as
# --profile cpu) beside VAR, then paired with the cpu profile's own final model on the same
# trajectories (scripts/reference_curve.py).
#
#   bash scripts/reference_curve.sh WORK DATA BASELINE_EVAL   # ~40 min on a 2-core CPU
#
# BASELINE_EVAL: an `lmcast evaluate` folder of the cpu profile's final model on the same
# protocol (scripts/reference_levers.py's arm "expected").
set -euo pipefail
WORK=$1; DATA=$(readlink -f "$2"); BASE=$(readlink -f "$3")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
mkdir -p "$WORK" && cd "$WORK"
source "$ROOT/scripts/reference_recipe.sh"
# a checkpoint every 110 steps
train_recipe run330 330 --save-steps 110 --eval-steps 110 --keep-checkpoints 3
# the profile's 110 steps as one fresh wsd run (no 30-step trial grown on)
train_recipe run110 110 --save-steps 110 --eval-steps 110 --keep-checkpoints 1
for a in run110 run330/checkpoints/step_000110 run330/checkpoints/step_000220 run330; do
  score_val "$a"
done
# the model chosen on validation (330 steps) on the test split, as --profile cpu tests
$PY -m lmcast evaluate --model smollm2-135m --adapter run330 --data "$DATA" --split test \
  --trajectories 50 --context-steps 80 --horizon 20 --readout expected --references var \
  --visualize-first-n 0 --no-progress --out test_80_20 --ledger "sqlite:///$PWD/ledger.db"
$PY -m lmcast evaluate --model smollm2-135m --adapter run330 --data "$DATA" --split test \
  --trajectories 50 --context-steps 50 --horizon 50 --samples 5 --readout expected \
  --references var --visualize-first-n 0 --no-progress --out test_50_50 \
  --ledger "sqlite:///$PWD/ledger.db"
$PY "$ROOT/scripts/reference_curve.py" --baseline "$BASE" \
  --arm "110 steps, wsd, one fresh run=eval_run110" \
  --arm "110 steps, not decayed=eval_step_000110" --arm "220 steps, not decayed=eval_step_000220" \
  --arm "330 steps, wsd=eval_run330" \
  --test "80 -> 20=test_80_20" --test "50 -> 50, median of 5=test_50_50" \
  --out "$ROOT/docs/findings/reference_curve.json"
