"""Forecast evaluation: a model (optionally with a LoRA adapter) beside persistence and the ODE oracle.

Protocol: for each of the first ``num_samples`` trajectories of a split, the
first ``context_steps`` timesteps are the context and the next ``horizon`` the
target. Metrics are MAE / RMSE in original and in scaled units, per variable
and overall, with parse success; with ``samples > 1`` also CRPS, quantile loss
and 10–90 % interval coverage. Every run is charged to the FLOP ledger.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lmcast import baselines, encoding, metrics
from lmcast.configs import EvalConfig
from lmcast.data import Dataset, load_dataset, split_indices
from lmcast.errors import DataError, LmcastError
from lmcast.logs import get_logger
from lmcast.prepare import check_precision, resolve_alpha
from lmcast.runinfo import run_info, write_json

log = get_logger("evaluate")


def training_encoding(adapter: str | None) -> dict | None:
    """The ``encoding.json`` (alpha, precision, split seed) saved by the training run of an adapter."""
    if not adapter:
        return None
    for p in (Path(adapter) / "encoding.json", Path(adapter).parent / "encoding.json"):
        if p.is_file():
            return json.loads(p.read_text())
    return None


def select_windows(ds: Dataset, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices (N,), contexts (N, C, V), truths (N, H, V))`` for the protocol."""
    n, t, _ = ds.shape
    if cfg.samples < 1 or cfg.batch_size < 1:
        raise LmcastError("--samples and --batch-size must be >= 1")
    if cfg.samples > 1 and not (cfg.temperature > 0 and 0 < cfg.top_p <= 1):
        raise LmcastError("sampling needs --temperature > 0 and 0 < --top-p <= 1")
    if cfg.precision is not None:
        check_precision(cfg.precision)
    if cfg.context_steps < 1 or cfg.horizon < 1:
        raise LmcastError("--context-steps and --horizon must be >= 1")
    if cfg.context_steps + cfg.horizon > t:
        raise DataError(
            f"{ds.path}: context {cfg.context_steps} + horizon {cfg.horizon} steps exceed the "
            f"{t} timesteps per trajectory"
        )
    idx = split_indices(n, seed=cfg.split_seed)[cfg.split]
    if cfg.num_samples < 1:
        raise LmcastError("--num-samples must be >= 1")
    if len(idx) == 0:
        raise DataError(f"{ds.path}: the {cfg.split} split is empty")
    idx = idx[: cfg.num_samples]
    x = ds.trajectories[idx].astype(np.float64)
    c, h = cfg.context_steps, cfg.horizon
    return idx, x[:, :c], x[:, c : c + h]


def _score(fc: np.ndarray, truth: np.ndarray, alpha: float, variables: tuple[str, ...]) -> dict:
    return {
        "original": metrics.point_metrics(fc, truth, variables),
        "scaled": metrics.point_metrics(fc / alpha, truth / alpha, variables),
    }


def evaluate(cfg: EvalConfig, lm: Any = None, ledger: Any = None, progress: bool = True) -> dict:
    """Run the evaluation described by ``cfg``; write the outputs; return ``metrics.json``'s content.

    Args:
        cfg: the configuration.
        lm: an already loaded :class:`~lmcast.models.LoadedModel` (sweeps, tests); loaded from
            ``cfg.model`` / ``cfg.adapter`` when ``None``.
        ledger: a :class:`~lmcast.ledger.Ledger`; opened from ``cfg.ledger`` when ``None``.
    """
    from lmcast.forecast import forecast
    from lmcast.ledger import Ledger

    ds = load_dataset(cfg.data)
    idx, contexts, truths = select_windows(ds, cfg)
    trained = training_encoding(cfg.adapter)
    precision = cfg.precision if cfg.precision is not None else (trained or {}).get("precision", 2)
    if trained and cfg.alpha == "auto":
        alpha, rule = float(trained["alpha"]), "from the adapter's training run"
    else:
        alpha, rule = resolve_alpha(
            cfg.alpha, ds, split_indices(ds.shape[0], seed=cfg.split_seed)["train"]
        )
    out_dir = (
        Path(cfg.out)
        if cfg.out
        else Path("workspace") / "eval" / f"{Path(cfg.model).name}-{cfg.split}"
    )
    ledger = ledger or Ledger(cfg.ledger)

    if lm is None:
        from lmcast.models import load_model

        lm = load_model(cfg.model, adapter=cfg.adapter, device=cfg.device, dtype=cfg.dtype)

    # Budget check before any generation, on a projection from the real prompt lengths.
    from lmcast import flops as flopsmod

    prompt_tokens = max(
        len(
            lm.tokenizer(encoding.encode(c, alpha, precision) + ";", add_special_tokens=False)[
                "input_ids"
            ]
        )
        for c in contexts[:4]
    )
    per_step = max(1, round(prompt_tokens / cfg.context_steps))
    n_seq = len(idx) * cfg.samples
    projected = flopsmod.generation_flops(
        lm.arch, prompt_tokens, cfg.horizon * per_step + 1, batch=n_seq, lora=lm.lora
    )
    ledger.check(projected, what=f"evaluation of {cfg.model}")

    t0 = time.time()
    allow_neg = bool(np.any(ds.trajectories < 0))
    fc = forecast(
        lm,
        contexts,
        cfg.horizon,
        alpha,
        precision,
        samples=cfg.samples,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        allow_negative=allow_neg,
        progress=progress,
    )
    gen_seconds = time.time() - t0
    run_name = (
        f"{cfg.experiment}:{lm.name}{'+' + str(cfg.adapter) if cfg.adapter else ''}:{cfg.split}"
    )
    ledger.charge(
        cfg.experiment,
        run_name,
        "evaluate",
        fc.stats.flops,
        config={**asdict(cfg), "precision": precision, "alpha": alpha},
    )

    last = contexts[:, -1, :]
    point = metrics.fill_unparsed(fc.point, last)
    variables = tuple(ds.variables)
    persist = baselines.persistence(contexts, cfg.horizon)
    result: dict = {
        "protocol": {
            "split": cfg.split,
            "context_steps": cfg.context_steps,
            "horizon": cfg.horizon,
            "n_trajectories": len(idx),
            "indices": idx.tolist(),
        },
        "encoding": {"alpha": alpha, "alpha_rule": rule, "precision": precision},
        "model": {
            "name": cfg.model,
            "adapter": cfg.adapter,
            "samples": cfg.samples,
            "parse_success": float(fc.parse_success.mean()),
            "unparsed_filled": "missing steps carry the last parsed value (or the last context value)",
            **_score(point, truths, alpha, variables),
        },
        "persistence": _score(persist, truths, alpha, variables),
        "flops": int(fc.stats.flops),
        "tokens": {"prompt": fc.stats.prompt_tokens, "generated": fc.stats.generated_tokens},
        "seconds": {"generation": round(gen_seconds, 2)},
    }
    if cfg.samples > 1:
        result["model"]["probabilistic"] = {
            "crps": metrics.crps(fc.samples, truths),
            "quantile_loss": metrics.quantile_loss(fc.samples, truths),
            "coverage_10_90": metrics.coverage(fc.samples, truths),
        }
    errors = {
        "model": metrics.per_window_mae(point, truths),
        "persistence": metrics.per_window_mae(persist, truths),
    }
    oracle_fc = None
    if cfg.oracle and ds.shape[2] == 2:
        t1 = time.time()
        window_times = ds.time[: cfg.context_steps + cfg.horizon]
        orc = baselines.oracle(
            contexts, window_times, cfg.horizon, seed=cfg.seed, progress=progress
        )
        oracle_fc = orc.forecasts
        result["oracle"] = {
            **_score(orc.forecasts, truths, alpha, variables),
            "failures": int(orc.failed.sum()),
            "failure_policy": "a failed fit is scored as persistence",
            "median_fit_rmse": float(np.median(orc.fit_rmse[np.isfinite(orc.fit_rmse)]))
            if np.isfinite(orc.fit_rmse).any()
            else None,
        }
        result["seconds"]["oracle"] = round(time.time() - t1, 2)
        errors["ODE oracle"] = metrics.per_window_mae(orc.forecasts, truths)

    _write_outputs(
        out_dir,
        cfg,
        result,
        idx,
        contexts,
        truths,
        fc,
        point,
        persist,
        oracle_fc,
        errors,
        ds,
        variables,
    )
    result["out"] = str(out_dir)
    return result


def _write_outputs(
    out_dir: Path,
    cfg: EvalConfig,
    result: dict,
    idx: np.ndarray,
    contexts: np.ndarray,
    truths: np.ndarray,
    fc: Any,
    point: np.ndarray,
    persist: np.ndarray,
    oracle_fc: np.ndarray | None,
    errors: dict,
    ds: Dataset,
    variables: tuple[str, ...],
) -> None:
    from lmcast import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "run.json", run_info(asdict(cfg), cfg.seed, "evaluate"))
    rows = []
    for k, i in enumerate(idx):
        row: dict = {
            "trajectory": int(i),
            "parse_success": float(fc.parse_success[k]),
            "parsed_steps": int(fc.parsed_steps[k].min()),
        }
        for name, e in errors.items():
            for v, var in enumerate(variables):
                row[f"{name.replace(' ', '_')}_mae_{var}"] = float(e[k, v])
        rows.append(row)
    with open(out_dir / "per_trajectory.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    np.savez_compressed(
        out_dir / "forecasts.npz",
        indices=idx,
        contexts=contexts,
        truths=truths,
        samples=fc.samples,
        point=point,
        persistence=persist,
        oracle=oracle_fc if oracle_fc is not None else np.zeros(0),
    )
    (out_dir / "generated.txt").write_text("\n".join(s[0] for s in fc.texts) + "\n")
    fig_dir = out_dir / "figures"
    times = ds.time[: cfg.context_steps + cfg.horizon]
    band = fc.quantiles((0.1, 0.9)) if cfg.samples > 1 else None
    for k in range(min(cfg.visualize_first_n, len(idx))):
        series = {"model": point[k], "persistence": persist[k]}
        if oracle_fc is not None:
            series["ODE oracle"] = oracle_fc[k]
        plots.plot_forecast(
            fig_dir / f"trajectory_{int(idx[k]):04d}.png",
            times,
            contexts[k],
            truths[k],
            series,
            variables,
            band=(band[0][k], band[1][k]) if band is not None else None,
            title=f"{cfg.model} · trajectory {int(idx[k])} · {cfg.split}",
        )
    plots.plot_error_hist(fig_dir / "error_hist.png", errors, variables)
    write_json(out_dir / "metrics.json", result)


def summary_table(result: dict) -> str:
    """A text table of the headline metrics (original units)."""
    variables = list(result["model"]["original"]["per_variable"])
    head = (
        f"{'forecaster':<14}{'MAE':>9}{'RMSE':>9}"
        + "".join(f"{'MAE ' + v:>14}{'RMSE ' + v:>14}" for v in variables)
        + f"{'parse':>8}"
    )
    lines = [head]
    for key, label in (
        ("model", "model"),
        ("persistence", "persistence"),
        ("oracle", "ODE oracle"),
    ):
        if key not in result:
            continue
        m = result[key]["original"]
        row = f"{label:<14}{m['mae']:>9.4f}{m['rmse']:>9.4f}" + "".join(
            f"{m['per_variable'][v]['mae']:>14.4f}{m['per_variable'][v]['rmse']:>14.4f}"
            for v in variables
        )
        row += f"{result['model']['parse_success']:>8.2f}" if key == "model" else f"{'':>8}"
        lines.append(row)
    p = result["protocol"]
    lines.append(
        f"\n{p['n_trajectories']} {p['split']} trajectories, {p['context_steps']} → {p['horizon']} "
        f"steps; {result['flops']:.3e} FLOPs charged; outputs in {result.get('out')}"
    )
    if "oracle" in result:
        lines.append(f"ODE oracle failures: {result['oracle']['failures']}")
    return "\n".join(lines)
