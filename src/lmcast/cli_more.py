"""Subcommands beyond the data group (model, FLOP, training and study commands)."""

from __future__ import annotations

import argparse
from typing import Any

from lmcast.cli_args import add_config_args, config_from_args
from lmcast.configs import BudgetConfig, EvalConfig, FlopsConfig, TrainConfig


def cmd_flops(args: argparse.Namespace) -> int:
    from lmcast.commands.flops_cmds import flops_command

    flops_command(config_from_args(FlopsConfig, args))
    return 0


def cmd_budget(args: argparse.Namespace) -> int:
    from lmcast.commands.flops_cmds import budget_command

    budget_command(config_from_args(BudgetConfig, args))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmcast.commands.eval_cmds import evaluate_command

    evaluate_command(config_from_args(EvalConfig, args))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from lmcast.commands.train_cmds import train_command

    train_command(config_from_args(TrainConfig, args))
    return 0


def more_commands(command_cls: Any) -> list[Any]:
    """Return the extra :class:`~lmcast.cli.Command` rows."""
    return [
        command_cls(
            ("train",),
            "LoRA fine-tuning on the encoded training split, charged to the FLOP budget",
            lambda p: add_config_args(p, TrainConfig),
            cmd_train,
        ),
        command_cls(
            ("evaluate",),
            "forecast held-out windows; MAE/RMSE beside persistence and the ODE oracle",
            lambda p: add_config_args(p, EvalConfig),
            cmd_evaluate,
        ),
        command_cls(
            ("flops",),
            "FLOPs of a forward pass, training step or generation, by component",
            lambda p: add_config_args(p, FlopsConfig),
            cmd_flops,
        ),
        command_cls(
            ("budget",),
            "the FLOP ledger: FLOPs charged per experiment against the budget",
            lambda p: add_config_args(p, BudgetConfig),
            cmd_budget,
        ),
    ]
