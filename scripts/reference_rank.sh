#!/bin/bash
# Issue 41: LoRA capacity at the cpu profile's training time. Rule, fixed before these runs:
# the cpu recipe at its 150 steps (wsd, the last quarter decaying) with LoRA rank 16 and
# alpha 32 (the same alpha / rank scale, 2, as rank 8 and alpha 16; a step costs the same
# to within the adapter's own few FLOPs), seeds 0 and 1, each scored on the same 50
# validation trajectories at 80 -> 20 (readout expected); each trajectory's MAE averaged
# over the two seeds per arm and paired with rank 8's two seeds at 150 steps
# (scripts/reference_steps150.sh's run150_s0 and run150_s1). Rank 16 is a candidate for
# the profile only if it beats rank 8 so.
#
#   bash scripts/reference_rank.sh WORK DATA R8_SEED0_EVAL R8_SEED1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds r16 150 "rank 16" "rank 8" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd, 150 steps; LoRA rank 16 alpha 32 against rank 8 alpha 16" --rank 16 --lora-alpha 32
