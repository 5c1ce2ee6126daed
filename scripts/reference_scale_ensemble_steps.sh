#!/bin/bash
# Issue 41: the scale ensemble at equal cost. Rule, fixed before these runs: the ensemble
# (scripts/reference_scale_ensemble.sh: the mean of greedy forecasts at alpha / 1.15, alpha
# and alpha * 1.15) costs two more greedy generations, 31-36 s each for 50 trajectories at
# 80 -> 20 (2-core Intel Xeon), about 22 training steps at the profile's 3.19 s a step. So
# the profile's recipe (LoRA rank 16, alpha 32, lr 3e-3, every linear layer, batch 4,
# 512-token windows, 10 warm-up steps, wsd with the last quarter decaying) trains 175 steps
# instead of 150 (25 more, rounding up), seeds 0 and 1, each scored greedily on the same 50
# validation trajectories (readout expected); paired with the ensemble of the profile's
# 150-step seed models, each trajectory's MAE averaged over the two seeds. The ensemble is
# adopted only if it is not beaten so and beats greedy at 150 steps (the first script).
#
#   bash scripts/reference_scale_ensemble_steps.sh WORK DATA ENSEMBLE_WORK \
#       GREEDY_SEED0_EVAL GREEDY_SEED1_EVAL OUT_JSON  # ~25 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
E=$(readlink -f "$3")
lever_args "$1" "$2" "$4" "$5" "$6"
for seed in 0 1; do
  train_recipe "r16lr3_175_s$seed" 175 --rank 16 --lora-alpha 32 --lr 0.003 --seed "$seed"
  score_val "r16lr3_175_s$seed"
done
$PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" --adopt not-worse \
  --protocol "reference half, val, 50 trajectories, 80 -> 20, readout expected; the scale ensemble of the profile's 150-step models against greedy from 175-step models (the ensemble's extra generation time as training steps)" \
  "scale ensemble=$E/lo_s0+$B0+$E/hi_s0,$E/lo_s1+$B1+$E/hi_s1" \
  "175 steps greedy=$PWD/eval_r16lr3_175_s0,$PWD/eval_r16lr3_175_s1"
