"""Handler for ``lmcast evaluate``."""

from __future__ import annotations

import json
import sys

from lmcast.configs import EvalConfig


def evaluate_command(cfg: EvalConfig) -> dict:
    """Evaluate and print the metrics table (or JSON)."""
    from lmcast.evaluate import evaluate, summary_table

    result = evaluate(cfg, progress=not cfg.json)
    sys.stdout.write((json.dumps(result, indent=2) if cfg.json else summary_table(result)) + "\n")
    return result
