#!/bin/bash
# Issue 41: the zero-shot model's tests on the cpu profile's further protocols (50 -> 50 and
# 20 -> 20) took 153 s of its 859-s run on the reference half (2-core Intel Xeon), the time
# of 45 training steps at its 3.41 s a step. With protocol.zero_shot_also: false that time
# trains the final model instead: 150 steps in all against 110, the profile's run time
# unchanged. Rule, fixed before these runs: the cpu recipe (wsd, the last quarter decaying)
# for 150 steps fresh, seeds 0 and 1, each scored on the same 50 validation trajectories at
# 80 -> 20 (readout expected); each trajectory's MAE averaged over the two seeds per arm and
# paired with the 110-step recipe's two seeds (scripts/reference_curve.sh's run110,
# scripts/reference_schedule.sh's wsd_s1). The profile takes the trade only if 150 steps
# beat 110 so.
#
#   bash scripts/reference_steps150.sh WORK DATA WSD_SEED0_EVAL WSD_SEED1_EVAL OUT_JSON  # ~25 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds run150 150 "150 steps" "110 steps" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd; 150 steps (the zero-shot tests' time) against 110 steps"
