"""Handlers for ``lmcast flops``, ``budget``, ``evaluate``, ``train``, ``forecast`` and ``export``: config → call → print."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict

from lmcast.configs import (
    BenchmarkConfig,
    BudgetConfig,
    EvalConfig,
    ExportConfig,
    FlopsConfig,
    ForecastConfig,
    TrainConfig,
)
from lmcast.errors import LmcastError


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def flops(cfg: FlopsConfig) -> dict:
    """Print the per-component FLOP table."""
    from lmcast.accounting import flops as flopsmod

    try:
        arch = flopsmod.resolve_architecture(cfg.model)
    except KeyError as exc:
        raise LmcastError(str(exc.args[0])) from None
    except (ValueError, OSError) as exc:
        raise LmcastError(f"{cfg.model}: cannot read config ({exc})") from None
    if cfg.seq_len < 1 or cfg.batch < 1:
        raise LmcastError("--seq-len and --batch must be >= 1")
    if cfg.mode == "generate" and cfg.new_tokens < 1:
        raise LmcastError("--mode generate needs --new-tokens >= 1")
    targets = cfg.lora_targets
    unknown = set(targets) - set(flopsmod.module_shapes(arch))
    if unknown:
        raise LmcastError(f"unknown LoRA target modules: {sorted(unknown)}")
    rep = flopsmod.report(
        arch, cfg.seq_len, cfg.batch, cfg.mode, cfg.new_tokens, cfg.lora_rank, targets
    )
    _out(json.dumps(rep, indent=2) if cfg.json else flopsmod.format_table(rep))
    return rep


def budget(cfg: BudgetConfig) -> dict:
    """Print (and optionally set) the ledger's budget table."""
    from lmcast.accounting.ledger import Ledger, format_budget_table

    ledger = Ledger(cfg.ledger)
    if cfg.set is not None:
        if not (cfg.set > 0 and math.isfinite(cfg.set)):
            raise LmcastError(f"--set must be a positive number of FLOPs, got {cfg.set}")
        ledger.set_budget(cfg.set)
    tab = ledger.table()
    tab["ledger"] = ledger.shown_url
    _out(json.dumps(tab, indent=2) if cfg.json else format_budget_table(tab))
    return tab


def evaluate(cfg: EvalConfig) -> dict:
    """Evaluate and print the metrics table (or JSON)."""
    from lmcast.forecasting.evaluate import evaluate as run_evaluation
    from lmcast.forecasting.evaluate import summary_table

    metrics = run_evaluation(cfg, progress=cfg.progress and not cfg.json).metrics
    _out(json.dumps(metrics, indent=2) if cfg.json else summary_table(metrics))
    return metrics


def train(cfg: TrainConfig) -> dict:
    """Train and print the summary as JSON."""
    from lmcast.lm.train import train as run_training

    res = asdict(run_training(cfg))
    _out(json.dumps(res, indent=2))
    return res


def forecast(cfg: ForecastConfig) -> dict:
    """Forecast past the end of each series; print where the CSV and figures went."""
    from lmcast.forecasting.predict import forecast_series

    res = forecast_series(cfg)
    filled = {k: v for k, v in res["filled"].items() if v}
    gaps = (
        "; missing steps filled by interpolation: "
        + ", ".join(f"{k} {v}" for k, v in list(filled.items())[:5])
        + (" …" if len(filled) > 5 else "")
        if filled
        else ""
    )
    _out(
        f"{res['series']} series × {cfg.horizon} steps → {res['out']} ({res['rows']} rows); "
        f"figures in {res['figures']}; {res['flops']:.3e} FLOPs charged{gaps}"
    )
    return res


def export(cfg: ExportConfig) -> str:
    """Export a training run as a shareable forecaster folder; print its path."""
    from lmcast.forecasting.export import export_run

    out = export_run(cfg)
    _out(f"exported {cfg.run} → {out} (load with Forecaster.load(adapter='{out}'))")
    return str(out)


def benchmark(cfg: BenchmarkConfig) -> dict:
    """Run or resume a benchmark; print the leaderboard (or its JSON)."""
    from lmcast.forecasting.benchmark import leaderboard_markdown, run_benchmark

    board = run_benchmark(cfg)
    if cfg.json:
        _out(json.dumps({k: v for k, v in board.items() if k != "results"}, indent=2))
    else:
        text = leaderboard_markdown(board, cfg)
        _out(text.split("\n## Per dataset")[0].rstrip() + f"\n\nwritten to {board['out']}")
    return board
