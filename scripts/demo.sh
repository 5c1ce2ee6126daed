#!/usr/bin/env bash
# `make demo`: the whole study (`lmcast run --profile quick`) on simulated
# predator–prey data with the bundled SmolLM2-135M, on the CPU.
set -euo pipefail
WS="${1:-workspace/demo}"
LMCAST=".venv/bin/lmcast"
$LMCAST run --profile quick --workspace "$WS"
$LMCAST budget --ledger "sqlite:///$WS/ledger.db"
