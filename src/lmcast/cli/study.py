"""Handlers for ``lmcast sweep``, ``context-study``, ``report`` and ``run``: config → call → print."""

from __future__ import annotations

import sys

from lmcast.configs import ContextStudyConfig, ReportConfig, RunConfig, SweepConfig


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def sweep(cfg: SweepConfig) -> dict:
    """Run the sweep and print its results table."""
    from lmcast.logs import quiet_optuna
    from lmcast.study.sweep import format_results, run_sweep

    quiet_optuna()
    res = run_sweep(cfg)
    _out(format_results(res))
    return res


def context(cfg: ContextStudyConfig) -> dict:
    """Run the context-length study and print its table."""
    from lmcast.study.context import format_context, run_context_study

    res = run_context_study(cfg)
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
        from lmcast.logs import quiet_optuna

        quiet_optuna()
    res = run_pipeline(cfg)
    if cfg.dry_run:
        _out(res["text"])
    else:
        skipped = f" (skipped: {', '.join(res['skipped'])})" if res["skipped"] else ""
        _out(f"report: {res['report']}{skipped}")
    return res
