"""Handlers for ``lmcast sweep``, ``context-study``, ``report`` and ``run``."""

from __future__ import annotations

import sys

from lmcast.configs import ContextStudyConfig, ReportConfig, RunConfig, SweepConfig


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def sweep_command(cfg: SweepConfig) -> dict:
    from lmcast.sweep import format_results, run_sweep

    res = run_sweep(cfg)
    _out(format_results(res))
    return res


def context_command(cfg: ContextStudyConfig) -> dict:
    from lmcast.context_study import format_context, run_context_study

    res = run_context_study(cfg)
    _out(format_context(res))
    return res


def report_command(cfg: ReportConfig) -> str:
    from lmcast.report import write_report

    path = write_report(cfg)
    _out(f"wrote {path}")
    return str(path)


def run_command(cfg: RunConfig) -> dict:
    from lmcast.pipeline import run_pipeline

    res = run_pipeline(cfg)
    if cfg.dry_run:
        _out(res["text"])
    else:
        _out(
            f"report: {res['report']}"
            + (f" (skipped: {', '.join(res['skipped'])})" if res["skipped"] else "")
        )
    return res
