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
  bash scripts/simulator_arm.sh "$W" $s
done
