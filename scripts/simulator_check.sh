#!/bin/bash
# Usage: bash scripts/simulator_check.sh WORK   (writes into the folder WORK)
# The issue's check: a model trained on simulated data (the cpu recipe: 110 steps, wsd, the last
# quarter decaying), scored on the reference half's test split (80 -> 20, 50 trajectories,
# expected readout), once for the new simulator and once for the noise-free one.
# Measured 836 s for both on the 2-core Intel Xeon (docs/findings/simulator_check.json).
set -e
W=$(realpath -m "${1:?usage: simulator_check.sh WORK}")
mkdir -p "$W"
cd "$(dirname "$0")/.."
L=.venv/bin/lmcast
$L data simulate --n 1000 --seed 0 --out $W/sim_noise.h5
$L data simulate --n 1000 --seed 0 --noise-free --out $W/sim_clean.h5
for s in noise clean; do
  $L train --data $W/sim_$s.h5 --out $W/train_$s --lr 2e-3 --rank 8 --precision 1 --no-decimal-point \
    --context-length 512 --batch-size 4 --max-steps 110 --warmup-steps 10 --schedule wsd --decay-fraction 0.25 \
    --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --eval-steps 110 \
    --ledger sqlite:///$W/ledger.db --no-progress
  $L evaluate --adapter $W/train_$s --data ../shared/data/lv_reference_a.h5 --split test --trajectories 50 \
    --context-steps 80 --horizon 20 --readout expected --references var --visualize-first-n 0 \
    --out $W/eval_$s --ledger sqlite:///$W/ledger.db --no-progress
done
