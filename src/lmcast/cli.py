"""The ``lmcast`` command line: a thin table of subcommands over library functions.

Heavy imports (numpy, h5py, torch, transformers) happen inside the handlers so
``lmcast --help`` stays fast. Every :class:`~lmcast.errors.LmcastError` becomes
one line on stderr and a non-zero exit code (2 for bad input), no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmcast import __version__
from lmcast.cli_args import add_config_args, config_from_args
from lmcast.configs import EncodeConfig, PrepareConfig, SimulateConfig
from lmcast.errors import LmcastError


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=float) + "\n")


# ---------------------------------------------------------------- handlers


def cmd_data_simulate(args: argparse.Namespace) -> int:
    from lmcast.commands.data_cmds import simulate_command

    simulate_command(config_from_args(SimulateConfig, args))
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from lmcast.commands.data_cmds import info_command

    info_command(args.path, as_json=args.json)
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    from lmcast.commands.data_cmds import import_command

    import_command(args.csv, args.out, args.id_column, args.time_column)
    return 0


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from lmcast.commands.data_cmds import prepare_command

    prepare_command(config_from_args(PrepareConfig, args))
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from lmcast.commands.data_cmds import encode_command

    encode_command(config_from_args(EncodeConfig, args))
    return 0


# ---------------------------------------------------------------- table


@dataclass(frozen=True)
class Command:
    """One subcommand: its name path, help, option builder and handler."""

    path: tuple[str, ...]
    help: str
    build: Callable[[argparse.ArgumentParser], Any]
    handler: Callable[[argparse.Namespace], int]
    epilog: str = ""


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="HDF5 file in the lmcast layout")
    p.add_argument("--json", action="store_true", help="print JSON")


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, help="long-format CSV: one row per series and time")
    p.add_argument("--out", required=True, help="output HDF5 path")
    p.add_argument("--id-column", default="id", help="column naming the series (default: id)")
    p.add_argument("--time-column", default="t", help="column holding the time (default: t)")


def _commands() -> list[Command]:
    cmds = [
        Command(
            ("data", "simulate"),
            "simulate logistic-prey Lotka–Volterra trajectories to HDF5",
            lambda p: add_config_args(p, SimulateConfig),
            cmd_data_simulate,
        ),
        Command(
            ("data", "info"),
            "shape, time span and value percentiles of a data file",
            _info_args,
            cmd_data_info,
        ),
        Command(
            ("data", "import"),
            "convert a long-format CSV of series into the HDF5 layout",
            _import_args,
            cmd_data_import,
        ),
        Command(
            ("data", "prepare"),
            "encode train/val/test splits as LLMTIME text + meta.json",
            lambda p: add_config_args(p, PrepareConfig),
            cmd_data_prepare,
        ),
        Command(
            ("encode",),
            "show a trajectory as LLMTIME text and its Qwen2.5 token ids",
            lambda p: add_config_args(p, EncodeConfig),
            cmd_encode,
        ),
    ]
    from lmcast.cli_more import more_commands

    cmds.extend(more_commands(Command))
    return cmds


GROUP_HELP = {"data": "data files: simulate, inspect, import, encode splits"}


def build_parser() -> argparse.ArgumentParser:
    """The full ``lmcast`` parser."""
    parser = argparse.ArgumentParser(
        prog="lmcast",
        description="Fine-tune and evaluate small language models as time-series forecasters "
        "(LLMTIME text encoding, LoRA, explicit FLOP budgets).",
    )
    parser.add_argument("--version", action="version", version=f"lmcast {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in _commands():
        if len(cmd.path) == 2:
            group, name = cmd.path
            if group not in groups:
                gp = top.add_parser(
                    group, help=GROUP_HELP.get(group, ""), description=GROUP_HELP.get(group)
                )
                groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
                gp.set_defaults(_group_parser=gp)
            sub = groups[group].add_parser(name, help=cmd.help, description=cmd.help)
        else:
            sub = top.add_parser(
                cmd.path[0],
                help=cmd.help,
                description=cmd.help,
                epilog=cmd.epilog,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        cmd.build(sub)
        sub.set_defaults(_handler=cmd.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "_handler", None)
    if handler is None:
        (getattr(args, "_group_parser", None) or parser).print_help()
        return 2
    import warnings

    from lmcast.logs import configure

    configure(-1 if args.quiet else args.verbose)
    # Deprecation chatter from transformers/peft internals is not the user's concern.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        return int(handler(args) or 0)
    except LmcastError as exc:
        sys.stderr.write(f"lmcast: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("lmcast: interrupted\n")
        return 130
