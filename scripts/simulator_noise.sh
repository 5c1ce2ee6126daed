#!/bin/bash
# Usage: bash scripts/simulator_noise.sh WORK   (WORK: the folder scripts/simulator_check.sh wrote)
# Issue 41's check, two more arms: does less noise in the training data transfer better?
#   low: noise level log-uniform on 0.0005-0.005 (the default's range cut at a fifth)
#   mix: 500 noisy + 500 noise-free trajectories of the check's two files, interleaved
# Same recipe and scoring as simulator_check.sh; then scripts/simulator_noise.py writes
# docs/findings/simulator_noise.json. Measured about 7 min an arm on the 2-core Intel Xeon.
set -e
W=$(realpath -m "${1:?usage: simulator_noise.sh WORK}")
cd "$(dirname "$0")/.."
.venv/bin/python - "$W" <<'PY'
import sys
import h5py
import numpy as np
from lmcast.core.series.lotka_volterra import simulate_file
w = sys.argv[1]
simulate_file(f"{w}/sim_low.h5", n=1000, seed=0, noise=(0.0005, 0.005), overwrite=True)
with h5py.File(f"{w}/sim_noise.h5") as a, h5py.File(f"{w}/sim_clean.h5") as b:
    t, x, y = a["time"][:], a["trajectories"][:500], b["trajectories"][500:1000]
mix = np.empty((1000,) + x.shape[1:], x.dtype)
mix[0::2], mix[1::2] = x, y
with h5py.File(f"{w}/sim_mix.h5", "w") as h:
    h["time"], h["trajectories"] = t, mix
PY
for s in low mix; do
  bash scripts/simulator_arm.sh "$W" $s
done
.venv/bin/python scripts/simulator_noise.py "$W" --out docs/findings/simulator_noise.json
