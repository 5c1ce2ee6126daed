#!/usr/bin/env bash
# `make demo`: run what the pipeline has end to end on the embedded defaults.
set -euo pipefail
WS="${1:-workspace/demo}"
LMCAST=".venv/bin/lmcast"
mkdir -p "$WS"
$LMCAST data simulate --out "$WS/lv.h5" --seed 0
$LMCAST data info "$WS/lv.h5"
$LMCAST data prepare --data "$WS/lv.h5" --precision 2 --alpha auto --out "$WS/prepared"
$LMCAST encode --data "$WS/lv.h5" --index 0 --precision 2 --steps 5
