#!/bin/bash
# Issue 41: the two levers that came out level one by one, together, at the cpu profile's
# training time. Rule, fixed before these runs: the cpu recipe at its 150 steps (wsd, the
# last quarter decaying) with LoRA rank 16, alpha 32 (scale 2, as rank 8 and alpha 16) and
# lr 3e-3 (a step costs the same as the profile's to within the adapter's own few FLOPs),
# seeds 0 and 1, each scored on the same 50 validation trajectories at 80 -> 20 (readout
# expected); each trajectory's MAE averaged over the two seeds per arm and paired with the
# profile's two seeds at 150 steps (rank 8, lr 2e-3: scripts/reference_steps150.sh's
# run150_s0 and run150_s1). It is a candidate for the profile only if it beats them so.
# (Alone each was level: rank 16 -0.009 [-0.021, +0.001] at 150 steps, lr 3e-3 -0.012
# [-0.040, +0.012] at 110; docs/findings/reference_rank.json, reference_lr.json.)
#
#   bash scripts/reference_rank_lr.sh WORK DATA R8_SEED0_EVAL R8_SEED1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds r16lr3 150 "rank 16, lr 3e-3" "rank 8, lr 2e-3" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd, 150 steps; LoRA rank 16 alpha 32 and lr 3e-3 against the profile's rank 8 alpha 16 and lr 2e-3" \
  --rank 16 --lora-alpha 32 --lr 0.003
