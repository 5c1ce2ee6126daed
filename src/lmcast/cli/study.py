"""Handlers for ``lmcast sweep``, ``context-study``, ``report`` and ``run``: config → call → print."""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from typing import Any

from lmcast.configs import ContextStudyConfig, ReportConfig, RunConfig, SweepConfig, TrialSpec
from lmcast.errors import LmcastError


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def parse_grid(specs: list[str] | None) -> dict[str, list]:
    """``["lr=1e-5,1e-4", "rank=2,4"]`` → ``{"lr": [1e-5, 1e-4], "rank": [2, 4]}``."""
    from lmcast.study.sweep import AXES, check_grid

    grid: dict[str, list] = {}
    for spec in specs or []:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in AXES:
            raise LmcastError(
                f"--grid {spec!r}: expected NAME=V1,V2,… with NAME one of {', '.join(AXES)}"
            )
        try:
            grid[name] = [AXES[name](v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise LmcastError(f"--grid {spec!r}: values must be {AXES[name].__name__}s") from None
        if not grid[name]:
            raise LmcastError(f"--grid {spec!r}: no values")
    if not grid:
        raise LmcastError("give at least one --grid NAME=V1,V2,…")
    return check_grid(grid)


def _spec(cfg: Any) -> TrialSpec:
    """The trial spec inside a sweep or context-study config."""
    return TrialSpec(
        **{f.name: getattr(cfg, f.name) for f in fields(TrialSpec) if hasattr(cfg, f.name)}
    )


def sweep(cfg: SweepConfig) -> dict:
    """Run the sweep and print its results table."""
    from lmcast.study.sweep import format_results, quiet_optuna, run_sweep
    from lmcast.study.workspace import Workspace

    grid = parse_grid(cfg.grid)
    quiet_optuna()
    ws = Workspace.at(cfg.workspace, ledger=cfg.ledger, storage=cfg.storage)
    res = run_sweep(ws, grid, _spec(cfg), cfg.study, cfg.workers, config=asdict(cfg))
    _out(format_results(res))
    return res


def context(cfg: ContextStudyConfig) -> dict:
    """Run the context-length study and print its table."""
    from lmcast.study.context import format_context, run_context_study
    from lmcast.study.workspace import Workspace

    lengths = list(cfg.context_lengths)  # sorted, distinct, >= 8: checked in cfg
    ws = Workspace.at(cfg.workspace, ledger=cfg.ledger)
    base = {"lr": cfg.lr, "rank": cfg.rank, "precision": cfg.precision}
    res = run_context_study(
        ws, lengths, _spec(cfg), base, from_best=cfg.from_best, config=asdict(cfg)
    )
    _out(format_context(res))
    return res


def report(cfg: ReportConfig) -> str:
    """Write the report and print its path."""
    from lmcast.study.report import write_report

    path = write_report(cfg)
    _out(f"wrote {path}")
    return str(path)


def run(cfg: RunConfig) -> dict:
    """Run (or plan) the whole study and print where the report is."""
    from lmcast.study.pipeline import run_pipeline

    if not cfg.dry_run:
        from lmcast.study.sweep import quiet_optuna

        quiet_optuna()
    res = run_pipeline(cfg)
    if cfg.dry_run:
        _out(res["text"])
    else:
        skipped = f" (skipped: {', '.join(res['skipped'])})" if res["skipped"] else ""
        _out(f"report: {res['report']}{skipped}")
    return res
