"""``lmcast benchmark``: several datasets × several forecasters at one protocol → one leaderboard.

Protocol: the last ``horizon`` steps of every series are held out; the (at most)
``context_steps`` steps before them are the context. Each forecaster forecasts every
series of every dataset; each (dataset, forecaster) is scored with MAE, MASE (scale: the
context's seasonal-naive MAE), sMAPE, WQL (quantiles 0.1…0.9) and per-step MAE, and
written to ``results/<dataset>/<forecaster>-<key>.json`` as soon as it is done, so an
interrupted benchmark resumes where it stopped; the key hashes what produced it (the data's
bytes, the series, the protocol, the forecaster — an adapter by its weights), and a result
of other inputs, or a tampered one, is recomputed. The leaderboard aggregates over series
the way Chronos does over datasets: the geometric mean of each forecaster's MASE (and
WQL) divided by seasonal naive's on the same series.

Forecasters: ``zero-shot`` (the model, no adapter), ``adapter:PATH`` (a training run or an
``lmcast export`` folder), and the classical references of :mod:`lmcast.compare.classical`. The
language-model forecasters scale each series on its own (LLMTIME) unless the adapter fixes
the scale, and reserve then charge their FLOPs on the ledger.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lmcast.accounting.ledger import Ledger
from lmcast.compare import classical, conformal, metrics
from lmcast.compare.plots import plot_curves
from lmcast.configs import BenchmarkConfig, ForecasterSpec
from lmcast.core.codec import scheme
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import file_sha256, write_json, write_text
from lmcast.core.series.collection import leaks, read_series
from lmcast.core.series.data import LongSeries
from lmcast.core.series.timeaxis import season_of
from lmcast.errors import LmcastError
from lmcast.forecasting.forecaster import (
    Forecaster,
    charged_predict,
    max_context_steps_of,
    sampling_of,
)
from lmcast.lm.models import adapter_path, check_adapter_folder

log = get_logger("benchmark")

MARKER = "benchmark.json"  # written first into --out: the folder is lmcast's
PROTOCOL_KEYS = ("horizon", "context_steps", "season_length", "samples", "model", "seed")
#: sampling settings and the values every result of before these flags was made with: a
#: protocol names them only where they differ, so those results (and folders) still resume.
#: Fixed on purpose, not read from the config: were a default to change, results at the new
#: one must not pass for these
SAMPLING_DEFAULTS = {"temperature": 0.7, "top_p": 0.9}


def protocol(cfg: BenchmarkConfig) -> dict[str, Any]:
    """What a benchmark folder's results share: :data:`PROTOCOL_KEYS`, and the sampling
    settings that differ from :data:`SAMPLING_DEFAULTS`."""
    out = {k: getattr(cfg, k) for k in PROTOCOL_KEYS}
    out.update({k: getattr(cfg, k) for k, v in SAMPLING_DEFAULTS.items() if getattr(cfg, k) != v})
    if cfg.calibrate:  # named only when on: folders of before the flag still resume
        out.update(calibrate=True, calibration_windows=cfg.calibration_windows)
        if cfg.calibration_method != "series":  # folders of before the option still resume
            out.update(calibration_method=cfg.calibration_method)
    return out


@dataclass(frozen=True)
class Task:
    """One dataset at the benchmark's protocol.

    Attributes:
        name: the dataset's name (its file stem, made unique).
        path: the file.
        ids: N series ids.
        contexts: N arrays ``(C_i, V)``.
        truths: ``(N, H, V)`` held-out steps.
        season: the season length used (``--season-length``, else from the dates).
        filled: N counts of filled missing steps.
        full: N whole series ``(T_i, V)`` (context before the cut, and the held-out steps).
    """

    name: str
    path: str
    ids: list[str]
    contexts: list[np.ndarray]
    truths: np.ndarray
    season: int
    filled: list[int]
    full: list[np.ndarray] = field(default_factory=list)


def check_adapters(cfg: BenchmarkConfig) -> None:
    """Refuse, before any work, an ``adapter:PATH`` whose folder does not exist (one line;
    the names themselves were checked when ``cfg`` was built)."""
    for spec in cfg.specs:
        if spec.kind == "adapter":
            check_adapter_folder(spec.adapter, "--forecasters adapter:")


def check_unseen(cfg: BenchmarkConfig, tasks: list[Task]) -> None:
    """Refuse, before any work, an adapter whose training saw a held-out step of a series
    it would be scored on (its ``encoding.json`` records what it saw:
    :func:`lmcast.core.series.collection.seen_record`). An adapter without that record (trained by
    an older lmcast) is let through with a warning."""
    for spec in cfg.specs:
        if spec.kind != "adapter":
            continue
        rec = scheme.read_record(adapter_path(spec.adapter)) or {}
        seen = rec.get("seen")
        if not isinstance(seen, dict) or not isinstance(seen.get("steps"), dict):
            log.warning(
                "adapter:%s records no training data: cannot check it saw no held-out step",
                spec.adapter,
            )
            continue
        for t in tasks:
            for sid, values in zip(t.ids, t.full, strict=True):
                if leaks(seen["steps"], values, cfg.horizon):
                    raise LmcastError(
                        f"adapter:{spec.adapter} was trained on held-out steps of series {sid!r} "
                        f"of {t.path} (its training held out the last {seen.get('holdout', 0)} "
                        f"steps, this benchmark the last {cfg.horizon}: train it with "
                        f"--holdout {cfg.horizon} or more)"
                    )


def slug(name: str) -> str:
    """A file-name-safe form of a forecaster or dataset name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:80] or "x"


def load_task(path: str, name: str, cfg: BenchmarkConfig) -> Task:
    """Read one dataset and cut it into contexts and held-out steps.

    Raises:
        DataError: unreadable data.
        LmcastError: a series too short for the horizon plus three context steps, or for
            two seasons of context with a seasonal forecaster.
    """
    ls: LongSeries = read_series(path, cfg, max_series=cfg.max_series)
    keep = range(min(len(ls.ids), cfg.max_series or len(ls.ids)))
    h = cfg.horizon
    season = cfg.season_length or season_of(ls.axes[0].freq if ls.axes else None)
    contexts, truths = [], []
    for i in keep:
        v = ls.values[i]
        if len(v) < h + 3:
            raise LmcastError(
                f"{path}: series {ls.ids[i]!r} has {len(v)} steps, too few to hold out "
                f"{h} and keep 3 for context"
            )
        ctx = v[:-h]
        if cfg.context_steps:
            ctx = ctx[-cfg.context_steps :]
        contexts.append(ctx)
        truths.append(v[-h:])
    return Task(
        name,
        str(path),
        [ls.ids[i] for i in keep],
        contexts,
        np.stack(truths),
        season,
        [ls.filled[i] for i in keep],
        [ls.values[i] for i in keep],
    )


def check_tasks(tasks: list[Task], forecasters: list[str], horizon: int) -> None:
    """Refuse, before any work, what a forecaster (alone or in a combination) cannot do on
    a dataset, and a context no longer than the season (MASE's scale, every forecaster's
    score, needs a lag-season difference), in one line."""
    singles = {str(m) for f in forecasters for m in ForecasterSpec.members(f)}
    for t in tasks:
        short = min(len(c) for c in t.contexts)
        if short <= t.season:
            raise LmcastError(
                f"{t.path}: a context of {short} steps is not longer than the season of "
                f"{t.season} (MASE's scale needs one lag-{t.season} difference; give more "
                "context or a shorter --season-length)"
            )
        for f in sorted(singles):
            if f in classical.CLASSICAL and not (f == "var" and t.contexts[0].shape[1] < 2):
                try:
                    classical.check_applicable(f, t.contexts, t.season, horizon)
                except LmcastError as exc:
                    raise LmcastError(f"{t.path}: {exc}") from None


@dataclass(frozen=True)
class Forecast:
    """One forecaster's forecasts of a task's series.

    Attributes:
        point: ``(N, H, V)``.
        quantiles: ``(Q, N, H, V)`` at :data:`~lmcast.compare.metrics.SCORED_QUANTILES`.
        flops: the FLOPs the forecasts cost (a combination: its members' sum).
        failures: series a classical fit failed on (scored on the last value).
        calibrated: series whose quantiles ``--calibrate`` replaced (0 without it).
        seconds: the wall time the forecasts took (a combination: its members' sum).
        raw: with ``--calibrate``, a single forecaster's forecasts before calibration,
            ``(point (N + M, H, V), quantiles (Q, N + M, H, V))`` of the series and then
            their ``M`` calibration windows (:attr:`~lmcast.compare.conformal.Windows.all_contexts`):
            what :func:`recalibrate` reads, so another calibration costs no forecast.
    """

    point: np.ndarray
    quantiles: np.ndarray
    flops: int = 0
    failures: int = 0
    calibrated: int = 0
    seconds: float = 0.0
    raw: tuple[np.ndarray, np.ndarray] | None = None


def _lm_forecast(
    name: str,
    task: Task,
    contexts: list[np.ndarray],
    cfg: BenchmarkConfig,
    ledger: Ledger,
    loaded: dict[str, Forecaster],
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(point (N, H, V), quantiles (Q, N, H, V) at
    :data:`~lmcast.compare.metrics.SCORED_QUANTILES`, FLOPs)`` of a language-model forecaster
    on ``contexts`` (``loaded`` keeps each forecaster's model between datasets). They are
    forecast in one call of the one forecasting path
    (:func:`~lmcast.forecasting.forecaster.charged_predict`), each on its own scale (LLMTIME)
    unless the adapter fixes it."""
    if name not in loaded:
        adapter = name[len("adapter:") :] if name.startswith("adapter:") else None
        loaded[name] = Forecaster.load(cfg.model, adapter=adapter, device=cfg.device)
    fc = loaded[name]
    pred = charged_predict(
        fc,
        fc.plan(contexts, cfg.horizon, sampling_of(cfg), fc.encoding.trained_scale),
        ledger,
        experiment=cfg.experiment,
        name=f"{cfg.experiment}:{fc.lm.name}:{name}:{task.name}",
        what=f"{name} on {task.name}",
        kind="benchmark",
        config={"forecaster": name, "dataset": task.path, **asdict(cfg)},
        progress=cfg.progress,
    )
    s = pred.samples  # (N, K, H, V)
    last = np.stack([c[-1] for c in contexts])
    point = metrics.fill_unparsed(np.nanmedian(s, axis=1), last)
    q = metrics.sample_quantiles(s, metrics.SCORED_QUANTILES)
    q = np.where(np.isfinite(q), q, point[None])  # a step no sample parsed: the point
    return point, q, int(pred.flops)


def forecast_single(
    name: str, task: Task, cfg: BenchmarkConfig, ledger: Ledger | None, loaded: dict
) -> Forecast:
    """One single forecaster on every series of ``task``; with ``--calibrate`` it also
    forecasts each context's last windows (in the same call) and its quantiles are
    calibrated on them (:mod:`lmcast.compare.conformal`)."""
    t0 = time.perf_counter()
    win = (
        calibration_windows(
            name, task, cfg.horizon, cfg.calibration_windows, cfg.calibration_method
        )
        if cfg.calibrate
        else None
    )
    contexts = win.all_contexts if win is not None else task.contexts
    n = len(task.contexts)
    flops, failures = 0, 0
    if name in classical.CLASSICAL:
        cf = classical.predict(name, contexts, cfg.horizon, task.season, metrics.SCORED_QUANTILES)
        point, quant = cf.point, cf.quantiles
        failures = int(cf.failed[:n].sum())
        if failures:
            log.warning("%s on %s: %s", name, task.name, cf.label)
    else:
        assert ledger is not None
        point, quant, flops = _lm_forecast(name, task, contexts, cfg, ledger, loaded)
    if win is None:
        return Forecast(point, quant, flops, failures, 0, time.perf_counter() - t0)
    raw = (point, quant)
    point, quant = win.apply(point, quant, metrics.SCORED_QUANTILES)
    seconds = time.perf_counter() - t0
    return Forecast(point, quant, flops, failures, len(win.calibrated), seconds, raw)


def calibration_windows(
    name: str, task: Task, horizon: int, n_windows: int, method: str
) -> conformal.Windows:
    """The calibration windows ``--calibrate`` gives the single forecaster ``name`` on
    ``task`` (its own minimum context before them)."""
    return conformal.windows(
        task.contexts,
        horizon,
        n_windows,
        conformal.min_context(name, task.season, task.contexts[0].shape[1]),
        method,
    )


def recalibrate(
    name: str, task: Task, f: Forecast, horizon: int, n_windows: int, method: str
) -> Forecast:
    """``f`` calibrated again by ``method`` from its :attr:`Forecast.raw` forecasts, no
    forecasting: the same windows (``n_windows`` must be the run's), another rule. The
    result scores as :func:`forecast_single` with ``--calibration-method method`` would.

    Raises:
        LmcastError: ``f`` keeps no raw forecasts (a run without ``--calibrate``, a
            combination, or a file written before they were kept), or they do not match
            the windows.
    """
    win = calibration_windows(name, task, horizon, n_windows, method)
    if f.raw is None or len(f.raw[0]) != len(win.all_contexts):
        raise LmcastError(
            f"{name} on {task.name}: no forecasts before calibration for "
            f"{n_windows} windows are kept; run benchmark --calibrate with them"
        )
    point, quant = win.apply(*f.raw, metrics.SCORED_QUANTILES)
    return replace(f, point=point, quantiles=quant, calibrated=len(win.calibrated))


def combine(forecasts: list[Forecast]) -> Forecast:
    """The members' :func:`~lmcast.compare.classical.equal_weight` mean; FLOPs, failures
    and seconds add."""
    point, quantiles = classical.equal_weight(
        [f.point for f in forecasts], [f.quantiles for f in forecasts]
    )
    return Forecast(
        point,
        quantiles,
        sum(f.flops for f in forecasts),
        sum(f.failures for f in forecasts),
        max(f.calibrated for f in forecasts),
        sum(f.seconds for f in forecasts),
    )


def score(
    task: Task, point: np.ndarray, quantiles: np.ndarray, ends: np.ndarray | None = None
) -> dict:
    """Every metric of one forecaster on one dataset (original units).

    ``ends``: the interval ends (``(6, N, H, V)`` at
    :data:`~lmcast.compare.metrics.INTERVAL_QUANTILES`), for coverage and MSIS.

    Returns:
        ``{"mae", "mase", "smape", "wql", "per_step_mae", "per_step_scaled",
        "coverage_50", "coverage_80", "coverage_95", "msis",
        "per_series": {id: {"mae", "mase", "wql", "coverage_50", "coverage_80",
        "coverage_95", "msis"}}}``; MASE and MSIS over series with a defined scale,
        coverage pooled over every series.
    """
    scale = metrics.seasonal_scale(task.contexts, task.season)
    field = metrics.field_scores(point, quantiles, task.truths, scale)
    intervals = metrics.interval_scores(ends, task.truths, scale) if ends is not None else {}
    per_mase = field.pop("per_trajectory_mase")
    ok = np.array([m is not None for m in per_mase])
    err = np.abs(point - task.truths)  # (N, H, V)
    with np.errstate(all="ignore"):
        ratio = err / scale[:, None, :]
    # the mean over variables with a defined scale (NaN where none: a constant series),
    # without nanmean's warning on stderr for an all-NaN row
    known = ~np.isnan(ratio)
    n_known = known.sum(axis=2)
    scaled = np.where(
        n_known > 0, np.where(known, ratio, 0).sum(axis=2) / np.maximum(n_known, 1), np.nan
    )  # (N, H)
    per_series = {}
    for i, sid in enumerate(task.ids):
        per_series[sid] = {
            "mae": float(err[i].mean()),
            "mase": per_mase[i],
            "wql": metrics.wql(quantiles[:, i : i + 1], task.truths[i : i + 1])
            if np.abs(task.truths[i]).sum() > 0
            else None,
            **{k: (float(v[i]) if np.isfinite(v[i]) else None) for k, v in intervals.items()},
        }
    return {
        "mae": float(err.mean()),
        **field,
        **metrics.interval_means(intervals),
        "per_step_scaled": [float(x) for x in np.nanmean(scaled[ok], axis=0)] if ok.any() else None,
        "per_series": per_series,
    }


def _needs_var(name: str, task: Task) -> bool:
    """``name`` (alone or a combination) has VAR in it and ``task`` has one variable."""
    return task.contexts[0].shape[1] < 2 and "var" in (str(m) for m in ForecasterSpec.members(name))


def run_one(
    name: str,
    task: Task,
    cfg: BenchmarkConfig,
    ledger: Ledger | None,
    loaded: dict[str, Forecaster],
    members: dict[str, Forecast] | None = None,
) -> dict:
    """Forecast and score one (dataset, forecaster); the result ``results/…json`` holds
    (``loaded``: language models already loaded, by forecaster name; ``members``: the
    task's single forecasts made so far, by name — a combination reuses them, so a member
    also named alone is forecast, and charged, once — and those made here are added)."""
    if _needs_var(name, task):
        return {"forecaster": name, "dataset": task.name, "skipped": "VAR needs 2+ variables"}
    members = {} if members is None else members
    parts = []
    for m in (str(x) for x in ForecasterSpec.members(name)):
        if m not in members:
            members[m] = forecast_single(m, task, cfg, ledger, loaded)
        parts.append(members[m])
    f = parts[0] if len(parts) == 1 else combine(parts)
    quant, ends = metrics.split_scored(f.quantiles)
    return {
        "forecaster": name,
        "label": label(name),
        "dataset": task.name,
        "series": len(task.ids),
        "season_length": task.season,
        "seconds": round(f.seconds, 3),  # the forecasts' own time, also when stored before
        "flops": f.flops,
        "failures": f.failures,
        **({"calibrated": f.calibrated} if cfg.calibrate else {}),
        **score(task, f.point, quant, ends),
    }


def label(name: str) -> str:
    """A forecaster's table label: a classical one's own (``ets`` → ``AutoETS``), members
    joined by ``+`` for a combination."""
    return "+".join(
        classical.label(str(m)) if str(m) in classical.CLASSICAL else str(m)
        for m in ForecasterSpec.members(name)
    )


RESULT_FIELDS = {"forecaster": str, "dataset": str, "key": str}


def adapter_fingerprint(folder: str | Path) -> str:
    """SHA-256 over an adapter's own files (weights, config, encoding record), whichever of
    a run folder's ``adapter/`` or an export folder holds them: the same path with other
    weights is another forecaster."""
    import hashlib

    root = Path(folder)
    h = hashlib.sha256()
    for base in (root / "adapter", root):
        for name in ("adapter_config.json", "adapter_model.safetensors", "encoding.json"):
            f = base / name
            if f.is_file():
                h.update(f"{f.relative_to(root)}:{file_sha256(f)}\n".encode())
    beside = root.parent / "encoding.json"  # a run's adapter/ named: its record is beside it
    if not (root / "encoding.json").is_file() and beside.is_file():
        h.update(f"../encoding.json:{file_sha256(beside)}\n".encode())
    n = max_context_steps_of(root)  # forecasts from fewer steps: another forecaster
    if n is not None:
        h.update(f"max_context_steps:{n}\n".encode())
    return h.hexdigest()


def result_key(
    task: Task, name: str, cfg: BenchmarkConfig, data_sha: str, adapter: str | None = None
) -> str:
    """What produced a (dataset, forecaster) result, hashed: the dataset's bytes, the series
    selection (``--max-series``, the series ids), the protocol and the forecaster — an
    adapter by its own fingerprint (:func:`adapter_fingerprint`), not its path. A stored
    result is reused only under this key."""
    import hashlib

    spec: dict[str, Any] = {"forecaster": name}
    if adapter is not None:
        spec["adapter"] = adapter
    what = {
        "data_sha256": data_sha,
        "series": list(task.ids),
        "max_series": cfg.max_series,
        "protocol": protocol(cfg),
        "season": task.season,
        "forecaster": spec,
        "csv": [cfg.id_column, cfg.time_column, cfg.layout, cfg.missing],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def result_path(out: Path, task: Task, name: str, key: str) -> Path:
    """``results/<dataset>/<forecaster>-<key>.json``: distinct for distinct forecasters
    (two adapter paths whose slugs collide) and for distinct inputs."""
    return out / "results" / task.name / f"{slug(name)[:60]}-{key[:16]}.json"


def forecast_path(out: Path, task: Task, name: str, key: str) -> Path:
    """``results/<dataset>/<forecaster>-<key>.npz``: a single forecaster's forecasts,
    beside its result, under the same key."""
    return result_path(out, task, name, key).with_suffix(".npz")


def write_forecast(path: Path, f: Forecast) -> None:
    """Write ``f`` to ``path`` atomically (a kill leaves the old file or none)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    raw = {} if f.raw is None else {"raw_point": f.raw[0], "raw_quantiles": f.raw[1]}
    np.savez(
        tmp,
        point=f.point,
        quantiles=f.quantiles,
        counts=np.array([f.flops, f.failures, f.calibrated], dtype=np.int64),
        seconds=np.float64(f.seconds),
        **raw,
    )
    os.replace(tmp, path)


def read_forecast(path: Path, task: Task, horizon: int) -> Forecast | None:
    """The forecasts stored at ``path`` if they fit ``task`` (shapes, finite); ``None`` —
    forecast again — for a missing, unreadable or foreign file."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            point, quant, counts = z["point"], z["quantiles"], z["counts"]
            seconds = float(z["seconds"])
            raw = (z["raw_point"], z["raw_quantiles"]) if "raw_point" in z else None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: unreadable (%s); forecast again", path, exc)
        return None
    shape = (len(task.ids), horizon, task.truths.shape[2])
    if (
        point.shape != shape
        or quant.shape != (len(metrics.SCORED_QUANTILES), *shape)
        or counts.shape != (3,)
        or not (np.isfinite(point).all() and np.isfinite(quant).all())
    ):
        log.warning("%s: not forecasts of this dataset; forecast again", path)
        return None
    if raw is not None and (
        raw[0].shape[1:] != shape[1:] or raw[1].shape != (len(quant), *raw[0].shape)
    ):
        raw = None  # kept only for recalibrate, which then says they are missing
    return Forecast(point, quant, *(int(c) for c in counts), seconds, raw)


def read_result(path: Path, key: str, name: str | None = None) -> dict | None:
    """A stored result if it is one this run would produce (its key matches and its fields
    have their types); ``None`` — recompute — for a missing, unreadable, foreign or
    tampered file (logged), never a traceback."""
    if not path.is_file():
        return None
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); recomputed", path, exc)
        return None
    ok = isinstance(res, dict) and all(isinstance(res.get(k), t) for k, t in RESULT_FIELDS.items())
    ok = ok and (name is None or res["forecaster"] == name)  # a file naming another one
    if ok and res["key"] == key and ("skipped" in res or _scores_ok(res)):
        return res
    log.warning("%s: not a result of this benchmark's inputs; recomputed", path)
    return None


def _scores_ok(res: dict) -> bool:
    """The fields the leaderboard reads, of the types it needs."""
    import math

    def num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)

    per = res.get("per_series")
    steps = res.get("per_step_mae")
    return (
        isinstance(per, dict)
        and all(isinstance(v, dict) for v in per.values())
        and isinstance(steps, list)
        and all(isinstance(v, (int, float)) for v in steps)
        and all(num(res.get(k)) for k in ("seconds", "flops"))
    )


def _check_out(out: Path, protocol: dict) -> None:
    """``--out`` must be new, empty, or a benchmark folder of the same protocol."""
    if out.exists() and not out.is_dir():
        raise LmcastError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        marker = out / MARKER
        if not marker.is_file():
            raise LmcastError(
                f"--out {out} holds files lmcast did not write (choose a new or empty folder)"
            )
        try:
            old = json.loads(marker.read_text()).get("protocol")
        except (OSError, ValueError, AttributeError):
            old = None
        if old != protocol:
            raise LmcastError(
                f"--out {out} holds a benchmark run at another protocol ({old}); "
                "choose a new folder"
            )


def run_benchmark(cfg: BenchmarkConfig) -> dict:
    """Run (or resume) the benchmark ``cfg`` describes; write and return the leaderboard."""
    if cfg.context_steps and cfg.context_steps < 3:  # other ranges: checked in cfg
        raise LmcastError(f"--context-steps must be 0 (all) or >= 3, got {cfg.context_steps}")
    if not cfg.data:
        raise LmcastError("give at least one --data file")
    check_adapters(cfg)
    names = list(cfg.forecasters)
    out = Path(cfg.out)
    proto = protocol(cfg)
    _check_out(out, proto)
    tasks, seen = [], set()
    for path in cfg.data:
        stem = slug(Path(path).stem)
        name, k = stem, 1
        while name in seen:
            k += 1
            name = f"{stem}-{k}"
        seen.add(name)
        tasks.append(load_task(path, name, cfg))
    check_tasks(tasks, names, cfg.horizon)
    check_unseen(cfg, tasks)
    shas: dict[str, str] = {}  # the same file twice, or two files of the same bytes
    for t in tasks:
        sha = file_sha256(t.path)
        if sha in shas.values():
            twin = next(p for p, s in shas.items() if s == sha)
            raise LmcastError(
                f"--data {t.path}: the same bytes as {twin} (each dataset counts once)"
            )
        shas[t.path] = sha
    fingerprints = {  # each adapter's files hashed once, not once per dataset
        str(s): adapter_fingerprint(adapter_path(s.adapter))
        for s in cfg.specs
        if s.kind == "adapter"
    }
    for n in names:  # a combination: its adapters' fingerprints, in order
        prints = [fingerprints[str(m)] for m in ForecasterSpec.members(n) if m.kind == "adapter"]
        if len(ForecasterSpec.members(n)) > 1 and prints:
            fingerprints[n] = "+".join(prints)
    ledger = Ledger(cfg.ledger) if any(s.is_lm for s in cfg.specs) else None
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MARKER, {"protocol": proto, "config": asdict(cfg)})
    results: list[dict] = []
    loaded: dict[str, Any] = {}
    from tqdm.auto import tqdm

    bar = tqdm(  # series × forecasters, each (dataset, forecaster) done at once
        total=sum(len(t.ids) for t in tasks) * len(names), desc="benchmark", unit="series",
        disable=not cfg.progress,
    )  # fmt: skip
    for t in tasks:
        members: dict[str, Forecast] = {}  # this task's single forecasts, for combinations
        for n in names:
            bar.set_postfix_str(f"{n} on {t.name}")
            key = result_key(t, n, cfg, shas[t.path], fingerprints.get(n))
            path = result_path(out, t, n, key)
            res = read_result(path, key, n)
            if res is not None:
                results.append(res)
                log.info("%s on %s: done before, skipped", n, t.name)
                bar.update(len(t.ids))
                continue
            log.info("%s on %s (%d series)", n, t.name, len(t.ids))
            stored = {  # each single forecast is kept: a combination resumes without it
                str(m): forecast_path(out, t, str(m), result_key(t, str(m), cfg, shas[t.path],
                                                                 fingerprints.get(str(m))))
                for m in ForecasterSpec.members(n)
            }  # fmt: skip
            for m, fpath in stored.items():
                if m not in members and (f := read_forecast(fpath, t, cfg.horizon)) is not None:
                    members[m] = f
            before = set(members)
            res = run_one(n, t, cfg, ledger, loaded, members)
            for m in set(members) - before:
                write_forecast(stored[m], members[m])
            res["key"] = key
            res["filled"] = dict(zip(t.ids, t.filled, strict=True))
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, res)
            results.append(res)
            bar.update(len(t.ids))
    bar.close()
    board = leaderboard(results, names)
    write_json(out / "leaderboard.json", board)
    write_text(out / "leaderboard.md", leaderboard_markdown(board, cfg))
    _figure(out / "per_step.png", results, names)
    board["out"] = str(out)
    return board


def leaderboard(results: list[dict], names: list[str]) -> dict:
    """Aggregate per-(dataset, forecaster) results into the leaderboard.

    Over every series (each counts once): the geometric mean of MASE, the geometric means
    of MASE and WQL relative to seasonal naive (when ``snaive`` ran), the series a
    forecaster forecasts better than seasonal naive (by MASE), seconds and FLOPs.
    """
    done = [r for r in results if "skipped" not in r]
    per: dict[str, dict[str, dict]] = {n: {} for n in names}
    for r in done:
        for sid, s in r["per_series"].items():
            per[r["forecaster"]][f"{r['dataset']}/{sid}"] = s

    def table(key: str) -> dict[str, dict[str, float]]:
        return {
            n: {k: (v[key] if v[key] is not None else float("nan")) for k, v in per[n].items()}
            for n in names
        }

    mase, wql = table("mase"), table("wql")
    rows = []
    for n in names:
        vals = np.array([v for v in mase[n].values() if np.isfinite(v) and v > 0])
        rows.append(
            {
                "forecaster": n,
                "label": next((r["label"] for r in done if r["forecaster"] == n), n),
                "series": len(per[n]),
                "mase_gmean": float(np.exp(np.log(vals).mean())) if vals.size else None,
                "seconds": round(sum(r["seconds"] for r in done if r["forecaster"] == n), 2),
                "flops": int(sum(r["flops"] for r in done if r["forecaster"] == n)),
                "failures": int(sum(r["failures"] for r in done if r["forecaster"] == n)),
                **_interval_summary(per[n].values()),
                **(
                    {"calibrated": sum(r["calibrated"] for r in mine)}
                    if (mine := [r for r in done if r["forecaster"] == n])
                    and all("calibrated" in r for r in mine)
                    else {}
                ),
            }
        )
        if rows[-1]["failures"]:  # never the model's name alone on persistence values
            rows[-1]["label"] += (
                f" ({rows[-1]['failures']} of {rows[-1]['series']} fits failed: last value)"
            )
    if "snaive" in names:
        rel_mase = metrics.geometric_mean_relative(mase, "snaive")
        rel_wql = metrics.geometric_mean_relative(wql, "snaive")
        for row in rows:
            n = row["forecaster"]
            row["mase_vs_snaive"] = rel_mase[n]
            row["wql_vs_snaive"] = rel_wql[n]
            ref = mase["snaive"]
            row["better_than_snaive"] = int(
                sum(1 for k, v in mase[n].items() if k in ref and v < ref[k])
            )
    per_dataset = {}
    for r in done:
        per_dataset.setdefault(r["dataset"], {})[r["forecaster"]] = {
            k: r[k] for k in ("mae", "mase", "smape", "wql", "seconds", "flops", "failures")
        }
    return {"rows": rows, "per_dataset": per_dataset, "results": done}


INTERVAL_KEYS = (*(f"coverage_{x}" for x in metrics.INTERVAL_LEVELS), "msis")


def _interval_summary(series: Iterable[dict]) -> dict:
    """Over a forecaster's series: the mean coverage of each interval and the mean MSIS
    (M4's average), over the series that report them (results written before coverage
    existed do not)."""
    rows = list(series)
    out = {}
    for k in INTERVAL_KEYS:
        vals = [s[k] for s in rows if s.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.0%}"


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def leaderboard_markdown(board: dict, cfg: BenchmarkConfig) -> str:
    """The leaderboard and the per-dataset table as markdown."""
    rows = board["rows"]
    rel = "mase_vs_snaive" in rows[0]
    total = rows[0]["series"] if rows else 0
    head = ["forecaster", "MASE (geometric mean)"]
    if rel:
        head += ["MASE vs seasonal naive", "WQL vs seasonal naive", "better than seasonal naive"]
    head += [f"{x} % interval holds" for x in metrics.INTERVAL_LEVELS] + ["MSIS"]
    head += ["failed fits", "seconds", "FLOPs"]
    L = [
        "# lmcast benchmark",
        "",
        f"{len(board['per_dataset'])} dataset(s), {total} series; the last {cfg.horizon} steps of "
        f"each held out, context at most {cfg.context_steps or 'all'} steps; language models "
        f"{cfg.samples} samples (median = point; temperature {cfg.temperature:g}, top-p "
        f"{cfg.top_p:g}). Relative scores: geometric mean over series "
        "of the score divided by seasonal naive's (below 1: better). Interval columns: the "
        "share of held-out steps inside each central interval (a calibrated forecaster's "
        "matches its level) and MSIS at 95 % (M4's scaled interval score, the mean over series; "
        "lower is better).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in sorted(rows, key=lambda r: r.get("mase_vs_snaive") or r["mase_gmean"] or 1e9):
        cells = [r["label"], _f(r["mase_gmean"])]
        if rel:
            cells += [
                _f(r["mase_vs_snaive"]),
                _f(r["wql_vs_snaive"]),
                f"{r['better_than_snaive']} of {r['series']}",
            ]
        cells += [_pct(r.get(f"coverage_{x}")) for x in metrics.INTERVAL_LEVELS]
        cells.append(_f(r.get("msis")))
        cells += [
            f"{r['failures']} of {r['series']}" if r["failures"] else "0",
            f"{r['seconds']:.1f}",
            f"{r['flops']:.3e}" if r["flops"] else "–",
        ]
        L.append("| " + " | ".join(cells) + " |")
    if cfg.calibrate:
        room = max((r.get("calibrated", 0) for r in rows), default=0)
        L += ["", f"Intervals calibrated (`--calibrate`): each forecaster also forecast the last "
              f"{cfg.calibration_windows} windows of {cfg.horizon} steps of each context, and its "
              "quantiles are its point plus and minus the quantiles of those absolute errors "
              f"(conformal, as statsforecast's `ConformalIntervals`); {room} of {total} series "
              "had room for the windows, the others keep their own intervals."]  # fmt: skip
    if any("+" in r["forecaster"] for r in rows):
        L += ["", "A+B: the equal-weight mean of the members' points and quantiles; its FLOPs "
              "are its members' (a language model named alone too ran once)."]  # fmt: skip
    failed = sum(r["failures"] for r in rows)
    if failed:
        L += ["", f"**{failed} classical fit(s) failed**: those series hold the last value "
              "(persistence), counted in the 'failed fits' column."]  # fmt: skip
    L += [
        "",
        "## Per dataset",
        "",
        "| dataset | forecaster | MAE | MASE | sMAPE % | WQL | failed |",
    ]
    L.append("|---|---|---|---|---|---|---|")
    for d, per in board["per_dataset"].items():
        for n, s in per.items():
            L.append(
                f"| {d} | {n} | {_f(s['mae'], 4)} | {_f(s['mase'])} | {_f(s['smape'], 2)} | "
                f"{_f(s['wql'])} | {s['failures']} |"
            )
    L += ["", *_per_step_lines(board, cfg.horizon)]
    L += ["", "![scaled error against steps ahead](per_step.png)", ""]
    return "\n".join(L)


def _per_step_lines(board: dict, horizon: int) -> list[str]:
    """Mean absolute scaled error at steps 1, H/4 … H per forecaster (mean over datasets)."""
    steps = metrics.headline_steps(horizon)
    curves: dict[str, list] = {}
    for r in board["results"]:
        if r.get("per_step_scaled"):
            curves.setdefault(r.get("label", r["forecaster"]), []).append(r["per_step_scaled"])
    if not curves:
        return []
    head = ["scaled error at step", *[str(s) for s in steps]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, cs in curves.items():
        mean = np.mean(np.array(cs), axis=0)
        lines.append("| " + " | ".join([name, *[_f(mean[s - 1]) for s in steps]]) + " |")
    return lines


def _figure(path: Path, results: list[dict], names: list[str]) -> None:
    """Mean absolute scaled error against steps ahead, every forecaster on one plot
    (averaged over datasets)."""
    series = {}
    for n in names:
        curves = [r.get("per_step_scaled") for r in results if r["forecaster"] == n]
        curves = [c for c in curves if c]
        if curves:
            y = np.mean(np.array(curves), axis=0)
            series[next(r.get("label", n) for r in results if r["forecaster"] == n)] = (
                list(range(1, len(y) + 1)),
                [float(v) for v in y],
            )
    if series:
        plot_curves(path, series, "steps ahead", "scaled absolute error (MASE units)")
