#!/bin/bash
# Issue 41: sampled medians at 80 -> 20, from the profile's models. Rule, fixed before these
# runs: the profile's two seed models (scripts/reference_rank_lr.sh's r16lr3_s0 and
# r16lr3_s1) forecast the same 50 validation trajectories at 80 -> 20 as the median of 5
# sampled paths (temperature 0.7, top-p 0.9, readout expected), each trajectory's MAE
# averaged over the two seeds and paired with the same models' greedy forecasts. Not at
# equal cost (the paths cost more generation; the evaluate runs' FLOPs and seconds say how
# much): if the median does not beat greedy so, it is not adopted; if it does, it is a
# candidate only once it also beats greedy from models trained for its extra time.
#
#   bash scripts/reference_median80.sh WORK DATA SEED0_ADAPTER SEED1_ADAPTER \
#       GREEDY_SEED0_EVAL GREEDY_SEED1_EVAL OUT_JSON  # ~5 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
A0=$(readlink -f "$3"); A1=$(readlink -f "$4")
lever_args "$1" "$2" "$5" "$6" "$7"
score_val "$A0" median5_s0 --samples 5
score_val "$A1" median5_s1 --samples 5
$PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" \
  --protocol "reference half, val, 50 trajectories, 80 -> 20, readout expected; the profile's models (rank 16, lr 3e-3, 150 steps); median of 5 sampled paths against greedy" \
  "median of 5=$PWD/median5_s0,$PWD/median5_s1" "greedy=$B0,$B1"
