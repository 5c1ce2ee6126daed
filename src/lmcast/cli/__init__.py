"""The ``lmcast`` command line: one table of subcommands over library functions.

Layout: :mod:`lmcast.cli.commands` is the table (name, help, config class,
handler); :mod:`lmcast.cli.args` turns a config dataclass into options;
:mod:`lmcast.cli.data`, :mod:`lmcast.cli.model` and :mod:`lmcast.cli.study`
hold the handlers, each of which turns a config into one library call and
prints the result. Heavy imports (numpy, h5py, torch, transformers) happen
inside the handlers so ``lmcast --help`` stays fast. Every
:class:`~lmcast.errors.LmcastError` becomes one line on stderr and a non-zero
exit code (2 for bad input, 3 for a refused budget), no traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from lmcast.cli.args import add_config_args, config_from_args
from lmcast.cli.commands import COMMANDS, GROUP_HELP
from lmcast.core.version import package_version
from lmcast.errors import LmcastError


class ShortUsageParser(argparse.ArgumentParser):
    """An argument parser whose errors show a one-line usage (the required arguments, then
    ``[options]``) instead of argparse's full option list, which runs to twenty lines."""

    def short_usage(self) -> str:
        parts = [self.prog]
        for a in self._actions:
            if not a.option_strings and a.dest != argparse.SUPPRESS:
                parts.append(a.metavar or a.dest.upper())
            elif a.required:
                parts.append(f"{a.option_strings[-1]} {a.metavar or a.dest.upper()}")
        return "usage: " + " ".join([*parts, "[options]"]) + f"   (all: {self.prog} --help)"

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.short_usage()}\n{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``lmcast`` parser."""
    parser = ShortUsageParser(
        prog="lmcast",
        description="Fine-tune and evaluate small language models as time-series forecasters "
        "(LLMTIME text encoding, LoRA, explicit FLOP budgets).",
    )
    parser.add_argument("--version", action="version", version=f"lmcast {package_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in COMMANDS:
        if len(cmd.path) == 2:
            group, name = cmd.path
            if group not in groups:
                gp = top.add_parser(group, help=GROUP_HELP[group], description=GROUP_HELP[group])
                groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
                gp.set_defaults(_group_parser=gp)
            parent = groups[group]
        else:
            name, parent = cmd.path[0], top
        sub = parent.add_parser(
            name,
            help=cmd.help,
            description=cmd.help,
            epilog=cmd.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_config_args(sub, cmd.config)
        sub.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd = getattr(args, "_command", None)
    if cmd is None:
        (getattr(args, "_group_parser", None) or parser).print_help()
        return 2
    from lmcast.core.logs import configure, quiet_third_party

    configure(-1 if args.quiet else args.verbose)
    quiet_third_party()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        cmd.handler(config_from_args(cmd.config, args))
        return 0
    except Terminated:  # charged what was done and released its reservation, as for Ctrl-C
        sys.stderr.write("lmcast: terminated\n")
        return 143
    except LmcastError as exc:
        sys.stderr.write(f"lmcast: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("lmcast: interrupted\n")
        return 130
    except OSError as exc:  # a file system refusal the checks did not foresee: one line
        sys.stderr.write(f"lmcast: error: {exc}\n")
        return 2
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        # a database refusal (read-only, disk full, locked, gone): one line, no traceback
        from lmcast.core.runs.runinfo import mask_secrets

        first = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        sys.stderr.write(f"lmcast: error: database: {mask_secrets(first[0])}\n")
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``kill`` and ``timeout`` send), raised where the process is, so the
    same clean-up as Ctrl-C runs: work done is charged, reservations are released."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum}")
