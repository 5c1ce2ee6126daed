"""Forecast evaluation: a model (optionally with a LoRA adapter) beside persistence and the ODE oracle.

Protocol: for each of the first ``trajectories`` trajectories of a split, the
first ``context_steps`` timesteps are the context and the next ``horizon`` the
target. Metrics are MAE / RMSE in original and in scaled units, per variable
and overall, with parse success; with ``samples > 1`` also CRPS, quantile loss
and 10–90 % interval coverage. Every run is charged to the FLOP ledger.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcast.accounting.ledger import Ledger, default_workspace
from lmcast.compare import classical, metrics, plots, references
from lmcast.configs import EvalConfig
from lmcast.core.codec import scheme
from lmcast.core.codec.prepare import resolve_alpha
from lmcast.core.codec.scheme import Encoding
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import (
    METRICS_FILE,
    check_run_folder,
    csv_text,
    run_info,
    write_json,
    write_text,
)
from lmcast.core.series.data import Dataset, load_dataset, split_indices
from lmcast.errors import DataError, LmcastError
from lmcast.forecasting.forecaster import Forecaster, charged_predict, sampling_of
from lmcast.lm.models import adapter_path, check_adapter_folder

if TYPE_CHECKING:
    from lmcast.lm.decode import Forecast

log = get_logger("evaluate")


def select_windows(ds: Dataset, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices (N,), contexts (N, C, V), truths (N, H, V))`` for the protocol."""
    n, t, _ = ds.shape  # ranges were checked when cfg was built (lmcast.configs.Checked)
    if cfg.samples > 1 and not (cfg.temperature > 0 and 0 < cfg.top_p <= 1):
        raise LmcastError("sampling needs --temperature > 0 and 0 < --top-p <= 1")
    if cfg.context_steps + cfg.horizon > t:
        raise DataError(
            f"{ds.path}: context {cfg.context_steps} + horizon {cfg.horizon} steps exceed the "
            f"{t} timesteps per trajectory"
        )
    idx = split_indices(n, seed=cfg.split_seed)[cfg.split]
    if len(idx) == 0:
        raise DataError(f"{ds.path}: the {cfg.split} split is empty")
    idx = idx[: cfg.trajectories]
    x = ds.trajectories[idx].astype(np.float64)
    c, h = cfg.context_steps, cfg.horizon
    return idx, x[:, :c], x[:, c : c + h]


@dataclass
class EvalResult:
    """An evaluation: the ``metrics.json`` content and the arrays behind it.

    Attributes:
        cfg: the configuration.
        metrics: what ``metrics.json`` holds (protocol, encoding, scores, FLOPs).
        indices: ``(N,)`` trajectory indices in the data file.
        contexts: ``(N, C, V)`` context windows, original units.
        truths: ``(N, H, V)`` true continuations.
        forecast: the model's forecasts (samples, texts, token counts).
        point: ``(N, H, V)`` point forecast, unparsed steps filled.
        persistence: ``(N, H, V)`` last-value forecasts.
        oracle: ``(N, H, V)`` ODE-oracle forecasts, or ``None``.
        references: classical forecaster label → ``(N, H, V)`` point forecasts.
        errors: forecaster name → ``(N, V)`` per-window MAE.
        times: ``(C + H,)`` sample times of a window.
        variables: the V variable names.
        out: the output folder.
    """

    cfg: EvalConfig
    metrics: dict
    indices: np.ndarray
    contexts: np.ndarray
    truths: np.ndarray
    forecast: Forecast
    point: np.ndarray
    persistence: np.ndarray
    oracle: np.ndarray | None
    errors: dict[str, np.ndarray]
    references: dict[str, np.ndarray]
    times: np.ndarray
    variables: tuple[str, ...]
    out: Path


def resolve_encoding(
    cfg: EvalConfig, ds: Dataset, trained: Encoding | None
) -> tuple[Encoding, float]:
    """``(encoding, alpha)``: how the windows are written — the adapter's training encoding
    (``trained``, its ``encoding.json``) unless ``--precision`` or ``--alpha`` override it —
    and the one alpha the scaled metrics divide by (the encoding's, or this data's rule
    where each window is scaled on its own, as the adapter was trained)."""
    enc = trained if trained is not None else Encoding()
    if cfg.precision is not None:
        enc = enc.with_precision(cfg.precision)
    if trained is not None and trained.alpha is not None and cfg.alpha == "auto":
        return dataclasses.replace(enc, rule="from the adapter's training run"), trained.alpha
    alpha, rule = resolve_alpha(
        cfg.alpha, ds, split_indices(ds.shape[0], seed=cfg.split_seed)["train"]
    )
    if trained is not None and trained.alpha is None and cfg.alpha == "auto":
        own = (
            f"the model: each window on its own, as the adapter was trained; scaled metrics: {rule}"
        )
        return dataclasses.replace(enc, rule=own), alpha
    return dataclasses.replace(enc, alpha=alpha, rule=rule), alpha


def evaluate(cfg: EvalConfig, progress: bool = True) -> EvalResult:
    """Run the evaluation described by ``cfg``, write its outputs and return the result."""
    check_adapter_folder(cfg.adapter)
    out_dir = (
        Path(cfg.out)
        if cfg.out
        else default_workspace() / "eval" / f"{Path(cfg.model).name}-{cfg.split}"
    )
    check_run_folder(out_dir, "--out", overwrite=cfg.overwrite)
    ds = load_dataset(cfg.data)
    idx, contexts, truths = select_windows(ds, cfg)
    if contexts.shape[1] <= cfg.season_length:  # MASE's scale: before any charged work
        raise LmcastError(
            f"--season-length {cfg.season_length} is not shorter than the {contexts.shape[1]}-step "
            "context (MASE's scale needs one lag-season difference)"
        )
    for name in cfg.references:  # checked names (cfg); applicable: one line before the model
        classical.check_applicable(name, contexts, cfg.season_length, cfg.horizon)
    enc, alpha = resolve_encoding(cfg, ds, scheme.read(adapter_path(cfg.adapter)))
    ledger = Ledger(cfg.ledger)
    model = Forecaster.load(cfg.model, adapter=cfg.adapter, device=cfg.device, dtype=cfg.dtype)
    model.encoding, model.variables = enc, tuple(ds.variables)
    lm = model.lm
    adapter = "+" + str(cfg.adapter) if cfg.adapter else ""
    t0 = time.time()
    # one scale for every window (the adapter's, or this data's), or each window its own
    # for an adapter trained so
    pred = charged_predict(
        model,
        model.plan(
            list(contexts),
            cfg.horizon,
            sampling_of(cfg),
            enc.trained_scale,
        ),
        ledger,
        experiment=cfg.experiment,
        name=f"{cfg.experiment}:{lm.name}{adapter}:{cfg.split}",
        what=f"evaluation of {cfg.model}",
        config={**asdict(cfg), "precision": enc.digits, "alpha": alpha},
        progress=progress,
    )
    fc = pred.generated
    gen_seconds = time.time() - t0
    result = _score(cfg, ds, (idx, contexts, truths), fc, alpha, out_dir, progress)
    result.metrics["encoding"] = {**enc.summary(), "alpha": alpha}
    result.metrics["seconds"]["generation"] = round(gen_seconds, 2)
    write_outputs(result)
    result.metrics["out"] = str(out_dir)
    return result


def _scores(fc: np.ndarray, truth: np.ndarray, alpha: float, variables: tuple[str, ...]) -> dict:
    return {
        "original": metrics.point_metrics(fc, truth, variables),
        "scaled": metrics.point_metrics(fc / alpha, truth / alpha, variables),
    }


def _score(
    cfg: EvalConfig,
    ds: Dataset,
    windows: tuple[np.ndarray, np.ndarray, np.ndarray],
    fc: Forecast,
    alpha: float,
    out_dir: Path,
    progress: bool,
) -> EvalResult:
    """Score the model beside persistence (and the ODE oracle) on the same windows.

    ``windows`` is :func:`select_windows`' ``(indices, contexts, truths)``.
    """
    idx, contexts, truths = windows
    point = metrics.fill_unparsed(fc.point, contexts[:, -1, :])
    variables = tuple(ds.variables)
    persist = references.persistence(contexts, cfg.horizon)
    m: dict = {
        "protocol": {
            "split": cfg.split,
            "context_steps": cfg.context_steps,
            "horizon": cfg.horizon,
            "n_trajectories": len(idx),
            "indices": idx.tolist(),
        },
        "encoding": {},
        "model": {
            "name": cfg.model,
            "adapter": cfg.adapter,
            "samples": cfg.samples,
            "readout": cfg.readout,
            **({"scale_ensemble": cfg.scale_ensemble} if cfg.scale_ensemble > 1 else {}),
            **({"temperature": cfg.temperature, "top_p": cfg.top_p} if cfg.samples > 1 else {}),
            "parse_success": float(fc.parse_success.mean()),
            "unparsed_filled": "missing steps carry the last parsed value (or the last context value)",
            **_scores(point, truths, alpha, variables),
        },
        "persistence": _scores(persist, truths, alpha, variables),
        "flops": int(fc.stats.flops),
        "tokens": {"prompt": fc.stats.prompt_tokens, "generated": fc.stats.generated_tokens},
        "seconds": {"generation": 0.0},
    }
    scale = metrics.seasonal_scale(contexts, cfg.season_length)
    levels = metrics.SCORED_QUANTILES  # WQL's and the 50/80/95 % intervals' ends

    def fields(point_fc: np.ndarray, quantiles: np.ndarray) -> dict:
        """Field scores of a forecaster from its point and its quantiles at ``levels``."""
        wql_levels, ends = metrics.split_scored(quantiles)
        return metrics.field_scores(point_fc, wql_levels, truths, scale, ends)

    model_q = (
        metrics.sample_quantiles(fc.samples, levels)
        if cfg.samples > 1
        else metrics.point_quantiles(point, levels)
    )
    model_q = np.where(np.isfinite(model_q), model_q, point[None])  # unparsed: the point
    m["model"]["field"] = fields(point, model_q)
    m["persistence"]["field"] = fields(persist, metrics.point_quantiles(persist, levels))
    m["metrics_note"] = (
        f"MASE scale: each context's seasonal-naive MAE at season {cfg.season_length}; "
        "WQL over quantiles 0.1..0.9 (a greedy or point forecaster puts every quantile at "
        "its point); sMAPE in percent"
    )
    if cfg.samples > 1:
        m["model"]["probabilistic"] = {
            "crps": metrics.crps(fc.samples, truths),
            "quantile_loss": metrics.quantile_loss(fc.samples, truths),
            "coverage_10_90": metrics.coverage(fc.samples, truths),
        }
    errors = {
        "model": metrics.per_window_mae(point, truths),
        "persistence": metrics.per_window_mae(persist, truths),
    }
    times = ds.time[: cfg.context_steps + cfg.horizon]
    oracle_fc = None
    if cfg.oracle and ds.shape[2] == 2:
        t1 = time.time()
        orc = references.oracle(contexts, times, cfg.horizon, seed=cfg.seed, progress=progress)
        oracle_fc = orc.forecasts
        finite = np.isfinite(orc.fit_rmse)
        m["oracle"] = {
            **_scores(orc.forecasts, truths, alpha, variables),
            "failures": int(orc.failed.sum()),
            "failure_policy": "a failed fit is scored as persistence",
            "median_fit_rmse": float(np.median(orc.fit_rmse[finite])) if finite.any() else None,
        }
        m["seconds"]["oracle"] = round(time.time() - t1, 2)
        errors["ODE oracle"] = metrics.per_window_mae(orc.forecasts, truths)
    refs: dict[str, np.ndarray] = {}
    # (point, quantiles at levels) of the combined forecaster's members
    members: list[tuple[np.ndarray, np.ndarray]] = [(point, model_q)]
    for name in cfg.references:
        cf = classical.predict(name, contexts, cfg.horizon, cfg.season_length, levels)
        label = cf.label  # names the failed fits, if any
        refs[label] = cf.point
        if name in cfg.combine:
            members.append((cf.point, cf.quantiles))
        m.setdefault("classical", {})[name] = {
            "label": label,
            **_scores(cf.point, truths, alpha, variables),
            "field": fields(cf.point, cf.quantiles),
            "failures": int(cf.failed.sum()),
            "failure_policy": "a failed fit is scored as persistence",
        }
        m["seconds"][name] = round(cf.seconds, 2)
        errors[label] = metrics.per_window_mae(cf.point, truths)
    if oracle_fc is not None:
        m["oracle"]["field"] = fields(oracle_fc, metrics.point_quantiles(oracle_fc, levels))
    if cfg.combine:
        label = "+".join(["model", *(classical.label(n) for n in cfg.combine)])
        comb, comb_q = classical.equal_weight([p for p, _ in members], [q for _, q in members])
        errors[label] = metrics.per_window_mae(comb, truths)
        m["combined"] = {
            "label": label,
            "members": ["model", *cfg.combine],
            "rule": "equal-weight mean of the members' points and of each quantile level",
            **_scores(comb, truths, alpha, variables),
            "field": fields(comb, comb_q),
            "comparisons": compare_errors(errors, cfg.seed, mine=label),
        }
        refs[label] = comb
    m["per_trajectory_mae"] = {k: e.mean(axis=1).tolist() for k, e in errors.items()}
    m["comparisons"] = compare_errors(errors, cfg.seed)
    return EvalResult(
        cfg,
        m,
        idx,
        contexts,
        truths,
        fc,
        point,
        persist,
        oracle_fc,
        errors,
        refs,
        times,
        variables,
        out_dir,
    )


def compare_errors(errors: dict[str, np.ndarray], seed: int = 0, mine: str = "model") -> dict:
    """Forecaster ``mine`` against every other one in ``errors`` (``{name: (N, V) MAE}``):
    :func:`lmcast.compare.metrics.paired_comparison` of the per-trajectory MAE (mean over
    variables)."""
    own = errors[mine].mean(axis=1)
    return {
        name: metrics.paired_comparison(own, e.mean(axis=1), seed=seed)
        for name, e in errors.items()
        if name != mine
    }


def comparison_lines(comparisons: dict, label: str = "model") -> list[str]:
    """One line per comparison: verdict, mean MAE difference, its 95 % interval, win rate."""
    return [
        f"{label} vs {name}: {c['verdict']}; MAE difference {c['mean_difference']:+.4f} "
        f"(95 % CI {c['ci95'][0]:+.4f} to {c['ci95'][1]:+.4f}), "
        f"{label} better on {c['win_rate']:.0%} of {c['n']} trajectories"
        for name, c in comparisons.items()
    ]


def _per_trajectory_rows(r: EvalResult) -> list[dict]:
    rows = []
    for k, i in enumerate(r.indices):
        row: dict = {
            "trajectory": int(i),
            "parse_success": float(r.forecast.parse_success[k]),
            "parsed_steps": int(r.forecast.parsed_steps[k].min()),
        }
        for name, e in r.errors.items():
            for v, var in enumerate(r.variables):
                row[f"{name.replace(' ', '_')}_mae_{var}"] = float(e[k, v])
        rows.append(row)
    return rows


def _write_figures(r: EvalResult) -> None:
    fig_dir = r.out / "figures"
    band = r.forecast.quantiles((0.1, 0.9)) if r.cfg.samples > 1 else None
    for k in range(min(r.cfg.visualize_first_n, len(r.indices))):
        series = {"model": r.point[k], "persistence": r.persistence[k]}
        if r.oracle is not None:
            series["ODE oracle"] = r.oracle[k]
        series.update({name: fc[k] for name, fc in r.references.items()})
        plots.plot_forecast(
            fig_dir / f"trajectory_{int(r.indices[k]):04d}.png",
            r.times,
            r.contexts[k],
            r.truths[k],
            series,
            r.variables,
            band=(band[0][k], band[1][k]) if band is not None else None,
            title=f"{r.cfg.model} · trajectory {int(r.indices[k])} · {r.cfg.split}",
        )
    plots.plot_error_hist(fig_dir / "error_hist.png", r.errors, r.variables)
    steps = list(range(1, r.cfg.horizon + 1))
    plots.plot_curves(
        fig_dir / "per_step_mae.png",
        {name: (steps, _per_step(r, name)) for name in r.errors},
        "steps ahead",
        "MAE (original units)",
        title=f"error against steps ahead · {len(r.indices)} {r.cfg.split} trajectories",
    )


def _per_step(r: EvalResult, name: str) -> list[float]:
    """``(H,)`` MAE at each step ahead of the forecaster ``name`` (a key of ``r.errors``)."""
    point = {"model": r.point, "persistence": r.persistence, "ODE oracle": r.oracle}.get(name)
    if point is None:
        point = r.references[name]
    return [float(x) for x in metrics.per_step_mae(point, r.truths)]


def write_outputs(r: EvalResult) -> None:
    """Write ``run.json``, ``per_trajectory.csv``, ``forecasts.npz``, ``generated.txt``,
    the figures and, last, ``metrics.json`` (the stage's done-marker) into ``r.out``."""
    r.out.mkdir(parents=True, exist_ok=True)
    write_json(r.out / "run.json", run_info(asdict(r.cfg), r.cfg.seed, "evaluate"))
    write_text(r.out / "per_trajectory.csv", csv_text(_per_trajectory_rows(r)))
    tmp = r.out / ".forecasts.tmp.npz"
    np.savez_compressed(
        tmp,
        indices=r.indices,
        contexts=r.contexts,
        truths=r.truths,
        samples=r.forecast.samples,
        point=r.point,
        persistence=r.persistence,
        oracle=r.oracle if r.oracle is not None else np.zeros(0),
        **{f"classical_{name}": fc for name, fc in r.references.items()},
    )
    os.replace(tmp, r.out / "forecasts.npz")
    write_text(r.out / "generated.txt", "\n".join(s[0] for s in r.forecast.texts) + "\n")
    _write_figures(r)
    write_json(r.out / METRICS_FILE, r.metrics)


_FIXED = (("model", "model"), ("persistence", "persistence"), ("oracle", "ODE oracle"))


def scored_forecasters(result: dict) -> list[tuple[str, dict]]:
    """``(label, scores)`` of every forecaster in a ``metrics.json``: the model, persistence,
    the ODE oracle and the classical references, in that order."""
    out = [(label, result[k]) for k, label in _FIXED if k in result]
    out += [(c["label"], c) for c in result.get("classical", {}).values()]
    return out + (
        [(result["combined"]["label"], result["combined"])] if "combined" in result else []
    )


def _cell(x: float | None, width: int, digits: int = 4) -> str:
    return f"{'–':>{width}}" if x is None else f"{x:>{width}.{digits}f}"


def summary_table(result: dict) -> str:
    """A text table of the headline metrics (original units)."""
    variables = list(result["model"]["original"]["per_variable"])
    head = (
        f"{'forecaster':<14}{'MAE':>9}{'RMSE':>9}"
        + "".join(f"{'MAE ' + v:>14}{'RMSE ' + v:>14}" for v in variables)
        + f"{'MASE':>9}{'sMAPE':>9}{'WQL':>9}{'parse':>8}"
    )
    lines = [head]
    for label, entry in scored_forecasters(result):
        m, f = entry["original"], entry.get("field", {})
        row = f"{label:<14}{m['mae']:>9.4f}{m['rmse']:>9.4f}" + "".join(
            f"{m['per_variable'][v]['mae']:>14.4f}{m['per_variable'][v]['rmse']:>14.4f}"
            for v in variables
        )
        row += _cell(f.get("mase"), 9) + _cell(f.get("smape"), 9, 2) + _cell(f.get("wql"), 9)
        row += f"{entry['parse_success']:>8.2f}" if "parse_success" in entry else f"{'':>8}"
        lines.append(row)
    p = result["protocol"]
    lines.append(
        f"\n{p['n_trajectories']} {p['split']} trajectories, {p['context_steps']} → {p['horizon']} "
        f"steps; {result['flops']:.3e} FLOPs charged; outputs in {result.get('out')}"
    )
    if "metrics_note" in result:
        lines.append(result["metrics_note"])
    if "oracle" in result:
        lines.append(f"ODE oracle failures: {result['oracle']['failures']}")
    for c in result.get("classical", {}).values():
        if c["failures"]:
            lines.append(f"{c['label']} failures (scored as persistence): {c['failures']}")
    lines += comparison_lines(result.get("comparisons", {}))
    if "combined" in result:
        c = result["combined"]
        others = {k: v for k, v in c["comparisons"].items() if k != "model"}
        lines += comparison_lines(others, c["label"])
    return "\n".join(lines)
