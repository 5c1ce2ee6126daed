"""Handlers for ``lmcast flops`` and ``lmcast budget``."""

from __future__ import annotations

import json
import sys

from lmcast.configs import BudgetConfig, FlopsConfig
from lmcast.errors import LmcastError


def flops_command(cfg: FlopsConfig) -> dict:
    """Print the per-component FLOP table."""
    from lmcast import flops

    try:
        arch = flops.resolve_architecture(cfg.model)
    except KeyError as exc:
        raise LmcastError(str(exc.args[0])) from None
    except (ValueError, OSError) as exc:
        raise LmcastError(f"{cfg.model}: cannot read config ({exc})") from None
    if cfg.seq_len < 1 or cfg.batch < 1:
        raise LmcastError("--seq-len and --batch must be >= 1")
    if cfg.mode == "generate" and cfg.new_tokens < 1:
        raise LmcastError("--mode generate needs --new-tokens >= 1")
    targets = tuple(t.strip() for t in cfg.lora_targets.split(",") if t.strip())
    unknown = set(targets) - set(flops.module_shapes(arch))
    if unknown:
        raise LmcastError(f"unknown LoRA target modules: {sorted(unknown)}")
    rep = flops.report(
        arch, cfg.seq_len, cfg.batch, cfg.mode, cfg.new_tokens, cfg.lora_rank, targets
    )
    sys.stdout.write((json.dumps(rep, indent=2) if cfg.json else flops.format_table(rep)) + "\n")
    return rep


def budget_command(cfg: BudgetConfig) -> dict:
    """Print (and optionally set) the ledger's budget table."""
    from lmcast.ledger import Ledger, format_budget_table

    ledger = Ledger(cfg.ledger)
    if cfg.set is not None:
        if not cfg.set > 0:
            raise LmcastError(f"--set must be a positive number of FLOPs, got {cfg.set}")
        ledger.set_budget(cfg.set)
    tab = ledger.table()
    tab["ledger"] = ledger.url
    sys.stdout.write((json.dumps(tab, indent=2) if cfg.json else format_budget_table(tab)) + "\n")
    return tab
