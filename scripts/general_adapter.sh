#!/usr/bin/env bash
# The shipped `general` adapter: corpus, training and packaging, in one command.
#   bash scripts/general_adapter.sh WORKDIR        (about 30 minutes on the 2-core CPU)
# A quarter of the corpus is integrated ARMA series with drift (`--arima-share 0.25`) and
# 40 % strongly seasonal series of any shape (`--season-share 0.4`): the findings page's
# "v7". Other recipes of the findings page:
#   SEASON=0.25 bash scripts/general_adapter.sh WORKDIR ("v6", shipped before v7)
#   SEASON=0 bash scripts/general_adapter.sh WORKDIR    ("v4", shipped before v6)
#   ARIMA=0 SEASON=0 bash scripts/general_adapter.sh WORKDIR     ("v2", shipped before v4)
#   ARIMA=0.5 SEASON=0 bash scripts/general_adapter.sh WORKDIR   ("v5"; not shipped)
#   SEASON=0.5 bash scripts/general_adapter.sh WORKDIR             ("v8"; not shipped)
#   ARIMA=0 SEASON=0 N=6000 STEPS=640 bash scripts/general_adapter.sh WORKDIR   (a bigger
#     corpus, longer: "v3", 51 minutes; not shipped)
# Writes WORKDIR/corpus.h5, WORKDIR/run (the training run) and, with SHIP=1, copies the
# adapter and its card into src/lmcast/lm/adapters/general/ (lmcast export --ship), taking
# at most MAX_CONTEXT context steps (150: chosen for v7 on the classics' validation contexts,
# findings page; check it again on validation for another recipe).
set -euo pipefail
W=${1:?usage: general_adapter.sh WORKDIR}
LM=${LMCAST:-lmcast}
mkdir -p "$W"
N=${N:-3000}
STEPS=${STEPS:-400}
ARIMA=${ARIMA:-0.25}
SEASON=${SEASON:-0.4}
"$LM" data synth --out "$W/corpus.h5" --n "$N" --seed 0 --min-length 48 --max-length 320 \
  --arima-share "$ARIMA" --season-share "$SEASON" --figure "$W/corpus.png" --overwrite > "$W/corpus.json"
start=$(date +%s)
"$LM" train --data "$W/corpus.h5" --out "$W/run" --overwrite \
  --precision 2 --no-decimal-point --alpha series \
  --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --rank 8 --lora-alpha 16 \
  --lr 2e-3 --schedule cosine --batch-size 4 --context-length 768 --max-steps "$STEPS" \
  --eval-steps 100 --eval-windows 32 --save-steps 100 --seed 0 --split-seed 0 \
  --ledger "sqlite:///$W/ledger.db" --experiment general --no-progress
echo $(( $(date +%s) - start )) > "$W/train_seconds"
if [ "${SHIP:-0}" = 1 ]; then
  # the shipped folder is replaced (lmcast export never overwrites); add a benchmark's
  # leaderboard to its card with --card BENCH/leaderboard.md
  rm -rf src/lmcast/lm/adapters/general
  "$LM" export "$W/run" --out src/lmcast/lm/adapters/general --ship \
    --max-context-steps "${MAX_CONTEXT:-150}"
fi
