"""Subcommands beyond the data group (model, FLOP, training and study commands)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lmcast.cli_args import add_config_args, config_from_args
from lmcast.configs import (
    BudgetConfig,
    ContextStudyConfig,
    EvalConfig,
    FlopsConfig,
    ReportConfig,
    RunConfig,
    SweepConfig,
    TrainConfig,
)


def _handler(module: str, func: str, cls: type) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``lmcast.commands.<module>.<func>`` only when run."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        getattr(importlib.import_module(f"lmcast.commands.{module}"), func)(
            config_from_args(cls, args)
        )
        return 0

    return run


ROWS: list[tuple[str, str, type, str, str]] = [
    (
        "flops",
        "FLOPs of a forward pass, training step or generation, by component",
        FlopsConfig,
        "flops_cmds",
        "flops_command",
    ),
    (
        "evaluate",
        "forecast held-out windows; MAE/RMSE beside persistence and the ODE oracle",
        EvalConfig,
        "eval_cmds",
        "evaluate_command",
    ),
    (
        "train",
        "LoRA fine-tuning on the encoded training split, charged to the FLOP budget",
        TrainConfig,
        "train_cmds",
        "train_command",
    ),
    (
        "sweep",
        "grid search (Optuna) over lr × rank × precision, shareable by many workers",
        SweepConfig,
        "study_cmds",
        "sweep_command",
    ),
    (
        "context-study",
        "train the best sweep configuration at several context lengths",
        ContextStudyConfig,
        "study_cmds",
        "context_command",
    ),
    (
        "report",
        "markdown study report with figures and the FLOP table",
        ReportConfig,
        "study_cmds",
        "report_command",
    ),
    (
        "run",
        "the whole study (data → baseline → sweep → context → final → report), resumable",
        RunConfig,
        "study_cmds",
        "run_command",
    ),
    (
        "budget",
        "the FLOP ledger: FLOPs charged per experiment against the budget",
        BudgetConfig,
        "flops_cmds",
        "budget_command",
    ),
]


EPILOGS = {
    "run": """stages (each skipped when its outputs exist in the workspace):
  1. data          simulate (the profile's data.simulate) unless --data is given
  2. baseline      zero-shot evaluation on the test split          -> baseline/metrics.json
  3. sweep         grid of LoRA trials scored on validation MAE    -> sweep/results.json
  4. context-study best sweep config at several context lengths    -> context/results.json
  5. final         training with the best config, capped by the remaining budget -> final/adapter
  6. final test    evaluation on the baseline's test trajectories  -> final/test/metrics.json
  7. report        markdown report with figures and the FLOP table -> report/report.md

profiles (YAML in src/lmcast/profiles, or a path):
  quick  SmolLM2-135M on a 2-core CPU in about 10 minutes (80 -> 20 protocol, small grid)
  seed   the reference study for a GPU: Qwen2.5-0.5B, lr x rank grid, contexts 128/512/768,
         final training up to 30,000 steps, budget 1e17, 50 -> 50 protocol

examples:
  lmcast run --profile quick
  lmcast run --profile seed --dry-run      # planned experiments and projected FLOPs
""",
    "sweep": """examples:
  lmcast sweep --data lv.h5 --grid "lr=1e-5,5e-5,1e-4" --grid "rank=2,4,8"
  lmcast sweep --data lv.h5 --grid "lr=1e-4" --grid "precision=2,3" --workers 2
  # several machines, one study and one budget:
  lmcast sweep ... --storage postgresql://user@host/db --ledger postgresql://user@host/db
""",
}


def more_commands(command_cls: Any) -> list[Any]:
    """Return the extra :class:`~lmcast.cli.Command` rows."""
    return [
        command_cls(
            (name,),
            help_,
            (lambda c: lambda p: add_config_args(p, c))(cls),
            _handler(mod, fn, cls),
            EPILOGS.get(name, ""),
        )
        for name, help_, cls, mod, fn in ROWS
    ]
