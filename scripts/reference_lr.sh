#!/bin/bash
# Issue 41: a higher learning rate for --profile cpu's 110 steps on the reference half.
# Rule, fixed before these runs: the cpu recipe with lr 3e-3 instead of 2e-3 (wsd, the last
# quarter decaying, 110 steps fresh), seeds 0 and 1, each scored on the same 50 validation
# trajectories at 80 -> 20 (readout expected); each trajectory's MAE averaged over the two
# seeds per arm and paired with lr 2e-3's two seeds (scripts/reference_curve.sh's run110,
# scripts/reference_schedule.sh's wsd_s1). lr 3e-3 is a candidate for the profile only if
# it beats 2e-3 so (a test run of the profile would come next).
#
#   bash scripts/reference_lr.sh WORK DATA WSD_SEED0_EVAL WSD_SEED1_EVAL OUT_JSON
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds lr3e-3 110 "lr 3e-3" "lr 2e-3" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd, 110 steps" --lr 0.003
