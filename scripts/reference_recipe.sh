# Sourced by the reference_*.sh studies of issue 41 (needs DATA and PY; run in the work
# folder): the cpu profile's recipe trained fresh on the reference half, and its score on the
# 50 validation trajectories every lever of the findings page is paired on.

train_recipe() {  # OUT STEPS [lmcast train flags that replace the recipe's]
  # the cpu recipe: lr 2e-3, LoRA r8 on every linear module of every layer, 4 x 512-token
  # windows, 10 warm-up steps, one decimal without the point, wsd with the last quarter
  # decaying; later flags win (argparse keeps the last)
  local out=$1 steps=$2
  shift 2
  [ -f "$out/summary.json" ] || $PY -m lmcast train --model smollm2-135m --data "$DATA" \
    --out "$out" --precision 1 --no-decimal-point --lr 0.002 --rank 8 \
    --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \
    --batch-size 4 --context-length 512 --warmup-steps 10 --max-steps "$steps" \
    --schedule wsd --decay-fraction 0.25 --eval-steps "$steps" \
    --ledger "sqlite:///$PWD/ledger.db" --no-progress "$@"
}

score_val() {  # ADAPTER: 80 -> 20 on the first 50 validation trajectories (readout expected,
  # as --profile cpu), beside VAR, into eval_<basename of ADAPTER>
  local out="eval_$(basename "$1")"
  [ -f "$out/metrics.json" ] || $PY -m lmcast evaluate --model smollm2-135m --adapter "$1" \
    --data "$DATA" --split val --trajectories 50 --context-steps 80 --horizon 20 \
    --readout expected --references var --visualize-first-n 0 --no-progress --no-oracle \
    --out "$out" --ledger "sqlite:///$PWD/ledger.db"
}
