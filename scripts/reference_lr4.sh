#!/bin/bash
# Issue 41: the learning rate one step further. Rule, fixed before these runs: the profile's
# recipe (LoRA rank 16, alpha 32, every linear layer, batch 4, 512-token windows, 10 warm-up
# steps, wsd with the last quarter decaying, 150 steps) at lr 4e-3 instead of 3e-3 (a step
# costs the same), seeds 0 and 1, each scored on the same 50 validation trajectories at
# 80 -> 20 (readout expected); each trajectory's MAE averaged over the two seeds per arm and
# paired with the profile's two seeds (scripts/reference_rank_lr.sh's r16lr3_s0 and
# r16lr3_s1). A candidate for the profile only if it beats them so.
#
#   bash scripts/reference_lr4.sh WORK DATA LR3_SEED0_EVAL LR3_SEED1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds r16lr4 150 "lr 4e-3" "lr 3e-3" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd, 150 steps; LoRA rank 16 alpha 32; lr 4e-3 against the profile's 3e-3" \
  --rank 16 --lora-alpha 32 --lr 0.004
