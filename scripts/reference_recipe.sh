# Sourced by the reference_*.sh studies of issue 41 (run in the work folder; needs DATA,
# which lever_args sets; two_seeds needs ROOT too): the cpu profile's recipe trained fresh
# on the reference half, its score on the 50 validation trajectories every lever of the
# findings page is paired on, and the two-seed pairing of a lever with a baseline.

PY=${PY:-${PYTHON:-python}}

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

score_val() {  # ADAPTER [OUT [lmcast evaluate flags]]: 80 -> 20 on the first 50 validation
  # trajectories (readout expected, as --profile cpu), beside VAR, into OUT (default
  # eval_<basename of ADAPTER>); later flags win
  local adapter=$1 out=${2:-eval_$(basename "$1")}
  shift $(($# < 2 ? $# : 2))
  [ -f "$out/metrics.json" ] || $PY -m lmcast evaluate --model smollm2-135m \
    --adapter "$adapter" --data "$DATA" --split val --trajectories 50 --context-steps 80 \
    --horizon 20 --readout expected --references var --visualize-first-n 0 --no-progress \
    --no-oracle --out "$out" --ledger "sqlite:///$PWD/ledger.db" "$@"
}

lever_args() {  # WORK DATA BASE_SEED0_EVAL BASE_SEED1_EVAL OUT_JSON: the two-seed levers'
  # arguments (the baseline's two seeds and where the pairing goes); enters WORK
  WORK=$1; DATA=$(readlink -f "$2"); B0=$(readlink -f "$3"); B1=$(readlink -f "$4")
  OUT=$(readlink -f "$5")
  mkdir -p "$WORK" && cd "$WORK"
}

two_seeds() {  # NAME STEPS LABEL BASE_LABEL PROTOCOL [lmcast train flags]: the lever trained
  # with seeds 0 and 1 (NAME_s0, NAME_s1), each scored by score_val, and each trajectory's
  # MAE averaged over the seeds, paired with the baseline's two seeds
  # (scripts/reference_seeds.py; the lever is adopted only if it beats the baseline so)
  local name=$1 steps=$2 label=$3 base=$4 protocol=$5 seed
  shift 5
  for seed in 0 1; do
    train_recipe "${name}_s$seed" "$steps" "$@" --seed "$seed"
    score_val "${name}_s$seed"
  done
  $PY "$ROOT/scripts/reference_seeds.py" --out "$OUT" --protocol "$protocol" \
    "$label=$PWD/eval_${name}_s0,$PWD/eval_${name}_s1" "$base=$B0,$B1"
}
