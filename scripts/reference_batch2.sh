#!/bin/bash
# Issue 41: more optimizer steps in the same time. A step of 2 windows takes 0.60 of a step
# of 4 (1.86 s against 3.10 s, 8-step runs of the profile's recipe back to back, 2-core
# Intel Xeon with AMX; per-step tokens/s 551 against 660), so the profile's 150 steps of
# batch 4 take the time of 250 of batch 2 (0.83 times the tokens). Rule, fixed before
# these runs: the profile's recipe (LoRA rank 16, alpha 32, lr 3e-3, every linear layer,
# 512-token windows, 10 warm-up steps, wsd with the last quarter decaying) at batch 2 for
# 250 steps, seeds 0 and 1, each scored on the same 50 validation trajectories at
# 80 -> 20 (readout expected); each trajectory's MAE averaged over the two seeds per arm
# and paired with the profile's two seeds (batch 4, 150 steps: scripts/reference_rank_lr.sh's
# r16lr3_s0 and r16lr3_s1). A candidate for the profile only if it beats them so.
#
#   bash scripts/reference_batch2.sh WORK DATA B4_SEED0_EVAL B4_SEED1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds b2 250 "batch 2, 250 steps" "batch 4, 150 steps" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd; LoRA rank 16 alpha 32, lr 3e-3; batch 2 for 250 steps against the profile's batch 4 for 150 (the same training time)" \
  --rank 16 --lora-alpha 32 --lr 0.003 --batch-size 2
