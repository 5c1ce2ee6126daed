#!/bin/bash
# Issue 41: the scale ensemble at 50 -> 50. Rule, fixed before these runs: the profile's
# two seed models (scripts/reference_rank_lr.sh's r16lr3_s0 and r16lr3_s1) forecast the
# first 50 validation trajectories at 50 -> 50 (readout expected) as the profile's test
# there does, the median of 5 sampled paths, and as the scale ensemble at 1.15 (the mean
# of three greedy forecasts); each trajectory's MAE averaged over the two seeds and
# paired. The ensemble replaces the median of 5 in the profile's 50 -> 50 test only if it
# beats it so (its generation time, in the runs' metrics.json, is reported beside).
#
#   bash scripts/reference_scale_ensemble_5050.sh WORK DATA SEED0_ADAPTER SEED1_ADAPTER \
#       OUT_JSON  # ~12 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
A0=$(readlink -f "$3"); A1=$(readlink -f "$4")
lever_args "$1" "$2" /dev/null /dev/null "$5"
for s in 0 1; do
  a=$([ "$s" = 0 ] && echo "$A0" || echo "$A1")
  score_val "$a" median5_s$s --context-steps 50 --horizon 50 --samples 5
  score_val "$a" ensemble_s$s --context-steps 50 --horizon 50 --scale-ensemble 1.15
done
$PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" \
  --protocol "reference half, val, 50 trajectories, 50 -> 50, readout expected; the profile's models (rank 16, lr 3e-3, 150 steps); scale ensemble at 1.15 (three greedy) against the median of 5 sampled paths" \
  "scale ensemble=$PWD/ensemble_s0,$PWD/ensemble_s1" "median of 5=$PWD/median5_s0,$PWD/median5_s1"
