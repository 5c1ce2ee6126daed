"""Handler for ``lmcast train``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from lmcast.configs import TrainConfig


def train_command(cfg: TrainConfig) -> dict:
    """Train and print a summary."""
    from lmcast.train import train

    res = asdict(train(cfg))
    sys.stdout.write(json.dumps(res, indent=2) + "\n")
    return res
