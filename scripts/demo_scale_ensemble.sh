#!/bin/bash
# The scale ensemble on make demo's data. Rule, fixed before these runs: make demo's final
# model (the quick profile, trained on lmcast data simulate's default data) forecasts the
# first 50 validation trajectories of that data at 80 -> 20 (readout expected, as the
# profile's test) greedily and as the scale ensemble at 1.15 (evaluate --scale-ensemble);
# paired over the trajectories (one model: the demo trains one). The quick profile adopts
# it only if it beats greedy so; its two extra generations count against make demo's time.
#
#   bash scripts/demo_scale_ensemble.sh DEMO_WORKSPACE WORK OUT_JSON  # ~3 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WS=$(readlink -f "$1"); OUT=$(readlink -f "$3")
PY=${PY:-${PYTHON:-python}}
mkdir -p "$2" && cd "$2"
for arm in greedy ensemble; do
  extra=(); [ "$arm" = ensemble ] && extra=(--scale-ensemble 1.15)
  [ -f "$arm/metrics.json" ] || $PY -m lmcast evaluate --model smollm2-135m \
    --adapter "$WS/final" --data "$WS/data/lv.h5" --split val --trajectories 50 \
    --context-steps 80 --horizon 20 --readout expected --references var \
    --visualize-first-n 0 --no-progress --no-oracle --out "$arm" \
    --ledger "sqlite:///$PWD/ledger.db" "${extra[@]}"
done
$PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" \
  --protocol "make demo's data (lmcast data simulate, default), val, 50 trajectories, 80 -> 20, readout expected; the demo's final model: scale ensemble at 1.15 against greedy" \
  "scale ensemble=$PWD/ensemble" "greedy=$PWD/greedy"
