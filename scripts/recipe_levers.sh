#!/usr/bin/env bash
# The equal-time lever runs behind docs/findings/recipe_levers.json (about 35 minutes on the
# 2-core CPU). REF is the format study's run of the adopted recipe (scripts/learning_curve.py
# --steps 100 --every 25 --trajectories 50 --lr 2e-3 --warmup 10 --extra "$EXTRA" on lv1000.h5,
# with lv1000.h5 = lmcast data simulate --n 1000 --seed 0); ADAPTER a final model of --profile cpu
# and DATA its data file.
#   bash scripts/recipe_levers.sh WORK REF ADAPTER DATA
set -euo pipefail
W=${1:?usage: recipe_levers.sh WORK REF ADAPTER DATA}; REF=$2; ADAPTER=$3; DATA=$4
LV=${LV:-lv1000.h5}
P=${PYTHON:-python}
mkdir -p "$W"
EXTRA="--target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --precision 0 --alpha 0.057"
base="--data $LV --batch-size 4 --lr 2e-3 --max-steps 8 --eval-steps 100 --eval-windows 1 --save-steps 0 --no-progress $EXTRA --ledger sqlite:///$W/speed.db --overwrite"
for rep in 1 2; do  # speeds, interleaved
  lmcast train $base --context-length 512 --out "$W/s_ref_$rep"
  lmcast train $base --context-length 512 --lora-layers 15 --out "$W/s_top15_$rep"
  lmcast train $base --context-length 640 --out "$W/s_w640_$rep"
done
$P benchmarks/bench_attention.py --steps 6 --context-length 512 --out "$W/attention.json"
read -r TOP W640 < <($P - "$W" <<'PY'
import json, sys
w = sys.argv[1]
def tps(n): return sum(json.load(open(f"{w}/s_{n}_{r}/summary.json"))["tokens_per_second"] for r in (1, 2)) / 2
print(round(100 * tps("top15") / tps("ref")), round(100 * 2048 / 2560 * tps("w640") / tps("ref")))
PY
)
for name in top15 w640; do mkdir -p "$W/curve_$name" && cp -r "$REF/eval_000000" "$W/curve_$name/"; done
$P scripts/learning_curve.py --data "$LV" --out "$W/curve_top15" --steps "$TOP" --every "$TOP" \
  --trajectories 50 --lr 2e-3 --warmup 10 --extra "$EXTRA --lora-layers 15"
$P scripts/learning_curve.py --data "$LV" --out "$W/curve_w640" --steps "$W640" --every "$W640" \
  --trajectories 50 --lr 2e-3 --warmup 10 --context-length 640 --extra "$EXTRA"
for k in 1 5; do
  lmcast evaluate --adapter "$ADAPTER" --data "$DATA" --split val --trajectories 50 --context-steps 80 \
    --horizon 20 --samples $k --no-oracle --visualize-first-n 0 --out "$W/sampled_k$k" \
    --ledger "sqlite:///$W/eval.db" --no-progress --overwrite
done
$P scripts/recipe_levers.py --out docs/findings/recipe_levers.json --speeds "$W" \
  --curve "reference: LoRA on every layer, 512-token windows=$REF" \
  --curve "LoRA on the top 15 of 30 layers=$W/curve_top15" \
  --curve "whole-trajectory windows (640 tokens)=$W/curve_w640" \
  --attention "$W/attention.json" --sampled "1=$W/sampled_k1" --sampled "5=$W/sampled_k5"
