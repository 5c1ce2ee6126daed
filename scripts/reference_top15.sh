#!/bin/bash
# Issue 41: LoRA on the top 15 of the 30 layers at the cpu profile's training time.
# Rule, fixed before these runs: 12 steps ran at 764 tokens/s with LoRA on the top 15 layers
# against 444 on all 30 (2-core Intel Xeon; scripts/reference_layers.sh), so the profile's
# 110 steps of time buy 190 top-15 steps. The cpu recipe otherwise (lr 2e-3, r8 on every
# linear module, wsd with the last quarter decaying), seeds 0 and 1, each scored on the same
# 50 validation trajectories at 80 -> 20 (readout expected); each trajectory's MAE averaged
# over the two seeds per arm and paired with the all-layer recipe's two seeds at 110 steps
# (scripts/reference_curve.sh's run110, scripts/reference_schedule.sh's wsd_s1). Top 15 is
# a candidate for the profile only if it beats all layers so.
#
#   bash scripts/reference_top15.sh WORK DATA WSD_SEED0_EVAL WSD_SEED1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds top15_190 190 "top 15 layers, 190 steps" "all layers, 110 steps" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd; top 15 layers 190 steps against all layers 110 steps (equal training time)" --lora-layers 15
