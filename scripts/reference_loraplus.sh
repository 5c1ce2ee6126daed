#!/bin/bash
# Issue 41: LoRA+ (peft's create_loraplus_optimizer: each LoRA B matrix learns at a ratio
# times the A matrices' rate; a step costs the same). Rule, fixed before these runs:
# 1. Pilot, seed 0, 30 steps each of the profile's recipe (LoRA rank 16, alpha 32, every
#    linear layer, batch 4, 512-token windows, 10 warm-up steps, wsd with the last quarter
#    decaying): ratio 1 at lr 3e-3 (today), ratio 4 at lr 3e-3, ratio 16 at lr 1.5e-3 (the
#    paper's ratio, at half the rate as its authors advise). Of the two LoRA+ arms the one
#    with the lower final validation loss goes on, if that loss is below today's; else stop.
# 2. That arm at the profile's 150 steps, seeds 0 and 1, each scored on the same 50
#    validation trajectories at 80 -> 20 (readout expected); each trajectory's MAE averaged
#    over the two seeds per arm and paired with the profile's two seeds
#    (scripts/reference_rank_lr.sh's r16lr3_s0 and r16lr3_s1). A candidate for the profile
#    only if it beats them so.
#
#   bash scripts/reference_loraplus.sh WORK DATA LR3_SEED0_EVAL LR3_SEED1_EVAL OUT_JSON  # ~30 min
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/reference_recipe.sh"
lever_args "$@"
R16=(--rank 16 --lora-alpha 32)
train_recipe pilot_r1 30 "${R16[@]}" --lr 0.003 --seed 0
train_recipe pilot_r4 30 "${R16[@]}" --lr 0.003 --loraplus-ratio 4 --seed 0
train_recipe pilot_r16 30 "${R16[@]}" --lr 0.0015 --loraplus-ratio 16 --seed 0
read -r arm lr ratio < <($PY - "${OUT%.json}_pilot.json" <<'PY'
import json
import sys

arms = {"r1": ("lr 3e-3, ratio 1", 0.003, 1), "r4": ("lr 3e-3, ratio 4", 0.003, 4),
        "r16": ("lr 1.5e-3, ratio 16", 0.0015, 16)}  # fmt: skip
loss = {a: json.load(open(f"pilot_{a}/summary.json"))["val_loss_final"] for a in arms}
best = min(("r4", "r16"), key=loss.get)
go = loss[best] < loss["r1"]
rec = {"pilot": "seed 0, 30 steps of the profile's recipe, final validation loss (nats/token)",
       "arms": {arms[a][0]: loss[a] for a in arms}, "goes on": arms[best][0] if go else None}
open(sys.argv[1], "w").write(json.dumps(rec, indent=1) + "\n")
print("pilot validation losses:", loss, flush=True, file=sys.stderr)
print(*((best, *arms[best][1:]) if go else ("none", 0, 0)))
PY
)
if [ "$arm" = none ]; then echo "no LoRA+ arm is below today's validation loss: stop"; exit 0; fi
echo "pilot chose $arm (lr $lr, ratio $ratio)"
two_seeds "loraplus_$arm" 150 "LoRA+ $arm" "plain LoRA" \
  "reference half, val, 50 trajectories, 80 -> 20, readout expected; wsd, 150 steps; LoRA rank 16 alpha 32; LoRA+ ratio $ratio at lr $lr against the profile's plain LoRA at lr 3e-3" \
  "${R16[@]}" --lr "$lr" --loraplus-ratio "$ratio"
