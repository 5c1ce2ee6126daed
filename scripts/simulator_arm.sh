#!/bin/bash
# Usage: bash scripts/simulator_arm.sh WORK NAME
# One arm of issue 41's simulator check: the cpu recipe (110 steps, wsd, the last quarter
# decaying) trained on WORK/sim_NAME.h5, scored on the reference half's test split (80 -> 20,
# 50 trajectories, expected readout) into WORK/eval_NAME. simulator_check.sh and
# simulator_noise.sh call it once per arm.
set -e
W=$(realpath -m "${1:?usage: simulator_arm.sh WORK NAME}")
s=${2:?usage: simulator_arm.sh WORK NAME}
cd "$(dirname "$0")/.."
L=.venv/bin/lmcast
$L train --data $W/sim_$s.h5 --out $W/train_$s --lr 2e-3 --rank 8 --precision 1 --no-decimal-point \
  --context-length 512 --batch-size 4 --max-steps 110 --warmup-steps 10 --schedule wsd --decay-fraction 0.25 \
  --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --eval-steps 110 \
  --ledger sqlite:///$W/ledger.db --no-progress
$L evaluate --adapter $W/train_$s --data ../shared/data/lv_reference_a.h5 --split test --trajectories 50 \
  --context-steps 80 --horizon 20 --readout expected --references var --visualize-first-n 0 \
  --out $W/eval_$s --ledger sqlite:///$W/ledger.db --no-progress
