#!/bin/bash
# Issue 41: training windows as long as the test's sequence. An 80 -> 20 forecast reads a
# 480-token prompt and writes 120 tokens more (6 a step), so its last steps sit at positions
# 480-600, beyond every 512-token training window; the profile's error grows fastest there
# (its test MAE by step: 0.055 at 5, 0.079 at 10, 0.125 at 15, 0.157 at 20). Windows of
# 640 tokens cover them. Equal time: 3 x 640 tokens a step ran at the tokens/s of 4 x 512
# (504 and 570 against 510 and 549 in 8-step runs back to back, 2-core Intel Xeon), so the
# profile's 150 steps of 2,048 tokens are 160 of 1,920 (the same 307k tokens). Rule, fixed
# before these runs: the profile's recipe (LoRA rank 16, alpha 32, lr 3e-3, every linear
# layer, 10 warm-up steps, wsd with the last quarter decaying) with 640-token windows, batch
# 3, 160 steps, seeds 0 and 1, each scored on the same 50 validation trajectories at 80 -> 20
# (readout expected); each trajectory's MAE averaged over the two seeds per arm and paired
# with the profile's two seeds (scripts/reference_rank_lr.sh's r16lr3_s0 and r16lr3_s1). A
# candidate for the profile only if it beats them so.
#
#   bash scripts/reference_window640.sh WORK DATA B0_EVAL B1_EVAL OUT_JSON  # ~20 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
two_seeds w640 160 "640-token windows, batch 3, 160 steps" "512-token windows, batch 4, 150 steps" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd; LoRA rank 16 alpha 32, lr 3e-3; 640-token windows, batch 3, 160 steps against the profile's 512, batch 4, 150 (the same tokens and time)" \
  --rank 16 --lora-alpha 32 --lr 0.003 --batch-size 3 --context-length 640
