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


def more_commands(command_cls: Any) -> list[Any]:
    """Return the extra :class:`~lmcast.cli.Command` rows."""
    return [
        command_cls(
            (name,), help_, (lambda c: lambda p: add_config_args(p, c))(cls), _handler(mod, fn, cls)
        )
        for name, help_, cls, mod, fn in ROWS
    ]
