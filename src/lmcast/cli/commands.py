"""The one command table: every ``lmcast`` subcommand, its config class and its handler.

To add a command: write a config dataclass in :mod:`lmcast.configs` (one line
of help per field), a handler ``def handler(cfg) -> object`` in the handler
module of its family (it calls one library function and prints), and a row
here. Nothing else registers commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lmcast.configs as c
from lmcast.cli import data, model, study


@dataclass(frozen=True)
class Command:
    """One subcommand: its name path, help, config dataclass and handler."""

    path: tuple[str, ...]
    help: str
    config: type
    handler: Callable[[Any], Any]
    epilog: str = ""


GROUP_HELP = {
    "data": "data files: simulate, synthesize, inspect, import, real series, encode splits"
}

RUN_EPILOG = """stages (each skipped when its outputs exist in the workspace):
  1. data          simulate (the profile's data.simulate) unless --data is given
  2. baseline      zero-shot evaluation on the test split          -> baseline/metrics.json
  3. sweep         grid of LoRA trials scored on validation MAE    -> sweep/results.json
  4. context-study best sweep config at several context lengths    -> context/results.json
  5. final         training with the best config, capped by the remaining budget -> final/adapter
  6. final-test    evaluation on the baseline's test trajectories  -> final/test/metrics.json
  7. other-protocols zero-shot and final model on protocol.also    -> protocols/C-H/
  8. report        markdown report with figures and the FLOP table -> report/report.md

profiles (YAML in src/lmcast/study/profiles, or a path):
  quick  SmolLM2-135M on a 2-core CPU in about 10 minutes (80 -> 20, 50 test trajectories)
  cpu    the same on 1,000 trajectories in about 15 minutes: a 225k-token final model, 80 -> 20 and 50 -> 50
  gpu    SmolLM2-135M on one GPU in at most 8 minutes (100 test trajectories, 80 -> 20, 50 -> 50)
  seed   the reference study for a GPU: Qwen2.5-0.5B, lr x rank grid, contexts 128/512/768,
         final training up to 30,000 steps, budget 1e17, 50 -> 50 protocol

examples:
  lmcast run --profile quick
  lmcast run --profile seed --dry-run      # planned experiments and projected FLOPs
"""

FORECAST_EPILOG = """output: one CSV row per series × step × variable (series, step, time continuing
the series' own spacing, variable, median, one column per quantile), one PNG per
series (context, median, quantile band), the FLOPs charged to the ledger.

examples:
  lmcast forecast --data lv.h5 --horizon 10 --samples 5 --out f.csv
  lmcast forecast --data my.csv --adapter runs/t1 --series a --series b --horizon 20
  lmcast forecast --data my.csv --adapter exported/ --context-steps 60 --quantiles 0.05,0.5,0.95
"""

BENCHMARK_EPILOG = """protocol: the last --horizon steps of every series are held out; the steps before
them (at most --context-steps) are the context. Scores per dataset and forecaster: MAE,
MASE (scale: the context's seasonal-naive MAE), sMAPE, WQL (quantiles 0.1..0.9),
per-step error. Leaderboard: geometric means over series, relative to seasonal naive.
Outputs: leaderboard.md, leaderboard.json, per_step.png, results/<dataset>/<forecaster>-<key>.json
(each written when done: run the same command again to resume).

examples:
  lmcast data classics --out classics     # real series shipped inside statsmodels/statsforecast
  lmcast benchmark --data classics/monthly.csv --data classics/quarterly.csv \\
      --forecasters zero-shot,ets,arima,theta,snaive --horizon 12 --out bench
  lmcast data simulate --out lv.h5 --n 100
  lmcast benchmark --data lv.h5 --forecasters zero-shot,var,ets,naive --horizon 20 \\
      --context-steps 80 --max-series 20 --out bench-lv
"""

SWEEP_EPILOG = """examples:
  lmcast sweep --data lv.h5 --grid "lr=1e-5,5e-5,1e-4" --grid "rank=2,4,8"
  lmcast sweep --data lv.h5 --grid "lr=1e-4" --grid "precision=2,3" --workers 2
  # several machines, one study and one budget:
  lmcast sweep ... --storage postgresql://user@host/db --ledger postgresql://user@host/db
"""

COMMANDS: tuple[Command, ...] = (
    Command(
        ("data", "simulate"),
        "simulate logistic-prey Lotka–Volterra trajectories to HDF5",
        c.SimulateConfig,
        data.simulate,
    ),
    Command(
        ("data", "synth"),
        "write a synthetic corpus (Gaussian-process kernels, trend × season × noise, mixes)",
        c.SynthConfig,
        data.synth,
    ),
    Command(
        ("data", "info"),
        "shape, time span and value percentiles of a data file",
        c.InfoConfig,
        data.info,
    ),
    Command(
        ("data", "import"),
        "convert a CSV of series (long, Nixtla or wide; dates allowed) into the HDF5 layout",
        c.ImportConfig,
        data.import_,
    ),
    Command(
        ("data", "classics"),
        "write real public series shipped inside statsmodels/statsforecast as Nixtla CSVs",
        c.ClassicsConfig,
        data.classics,
    ),
    Command(
        ("data", "prepare"),
        "encode train/val/test splits as LLMTIME text + meta.json",
        c.PrepareConfig,
        data.prepare,
    ),
    Command(
        ("encode",),
        "show a trajectory as LLMTIME text and its Qwen2.5 token ids",
        c.EncodeConfig,
        data.encode,
    ),
    Command(
        ("flops",),
        "FLOPs of a forward pass, training step or generation, by component",
        c.FlopsConfig,
        model.flops,
    ),
    Command(
        ("evaluate",),
        "forecast held-out windows; MAE/RMSE beside persistence and the ODE oracle",
        c.EvalConfig,
        model.evaluate,
    ),
    Command(
        ("forecast",),
        "forecast the next steps of your own series (HDF5 or CSV): CSV of quantiles + figures",
        c.ForecastConfig,
        model.forecast,
        FORECAST_EPILOG,
    ),
    Command(
        ("benchmark",),
        "datasets × forecasters (language model and classical) → one leaderboard",
        c.BenchmarkConfig,
        model.benchmark,
        BENCHMARK_EPILOG,
    ),
    Command(
        ("export",),
        "a training run as a self-contained forecaster folder with a model card",
        c.ExportConfig,
        model.export,
    ),
    Command(
        ("train",),
        "LoRA fine-tuning on the encoded training split, charged to the FLOP budget",
        c.TrainConfig,
        model.train,
    ),
    Command(
        ("sweep",),
        "grid search over lr × rank × precision, shareable by many workers",
        c.SweepConfig,
        study.sweep,
        SWEEP_EPILOG,
    ),
    Command(
        ("context-study",),
        "train the best sweep configuration at several context lengths",
        c.ContextStudyConfig,
        study.context,
    ),
    Command(
        ("report",),
        "markdown study report with figures and the FLOP table",
        c.ReportConfig,
        study.report,
    ),
    Command(
        ("run",),
        "the whole study (data → baseline → sweep → context → final → report), resumable",
        c.RunConfig,
        study.run,
        RUN_EPILOG,
    ),
    Command(
        ("budget",),
        "the FLOP ledger: FLOPs charged per experiment against the budget",
        c.BudgetConfig,
        model.budget,
    ),
)
