#!/bin/bash
# Issue 41: LoRA on the top layers only, at the cpu profile's training time. The backward
# pass stops below the lowest LoRA layer, so a step costs less (2-core Intel Xeon, 12
# steps: 444 tokens/s with LoRA on all 30 layers, 764 on the top 15, 1,132 on the top 8),
# and the same wall time buys more steps: 110 steps on all layers ~ 280 on the top 8. The
# arm: the cpu recipe (lr 2e-3, r8 on every linear module, 4 x 512-token
# windows, 10 warm-up steps, wsd with the last 25 % decaying, one decimal without the
# point), trained fresh on the reference half and scored on the 50 validation trajectories
# of scripts/reference_levers.py at 80 -> 20 (readout expected, as --profile cpu), with
# VAR; scripts/reference_curve.py pairs each with the cpu profile's final model.
#
#   bash scripts/reference_layers.sh WORK DATA BASELINE_EVAL OUT_JSON   # ~12 min, 2-core CPU
set -euo pipefail
WORK=$1; DATA=$(readlink -f "$2"); BASE=$(readlink -f "$3"); OUT=$(readlink -f "$4")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
mkdir -p "$WORK" && cd "$WORK"
source "$ROOT/scripts/reference_recipe.sh"
train_recipe top8_280 280 --lora-layers 8
score_val top8_280
$PY "$ROOT/scripts/reference_curve.py" --baseline "$BASE" \
  --arm "top 8 layers, 280 steps=eval_top8_280" --out "$OUT"
