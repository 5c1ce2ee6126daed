"""``lmcast forecast``: forecasts of one's own series (``lmcast export`` is :mod:`lmcast.forecasting.export`).

:func:`forecast_series` reads an HDF5 file or a CSV (long, Nixtla or wide layout,
numeric or date times, series of any lengths), forecasts past the end of each series with a
:class:`~lmcast.forecasting.forecaster.Forecaster`, charges the ledger, and writes a
long-format CSV plus one figure per series (with ``--references``, the classical
references' rows and lines beside the model's).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcast.accounting.ledger import Ledger
from lmcast.compare import classical, conformal
from lmcast.compare.plots import plot_forecast
from lmcast.configs import ForecastConfig
from lmcast.core.codec import scheme
from lmcast.core.codec.scheme import Encoding
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import (
    check_output_file,
    check_owned_folder,
    csv_text,
    fill_owned_folder,
    record_written,
    write_text,
)
from lmcast.core.series.collection import read_series
from lmcast.core.series.timeaxis import Axis, season_of
from lmcast.errors import DataError
from lmcast.forecasting.forecaster import (
    Forecaster,
    as_contexts,
    charged_predict,
    forecast_times,
    sampling_of,
    short_number,
    time_cell,
)
from lmcast.lm.models import adapter_path, check_adapter_folder

if TYPE_CHECKING:
    from lmcast.core.series.data import LongSeries

log = get_logger("predict")


def load_series(cfg: ForecastConfig) -> LongSeries:
    """The series to forecast, ``--series`` and ``--context-steps`` applied.

    ``times[i]`` is ``(T_i,)``, ``values[i]`` is ``(T_i, V)``; the context is the last
    ``--context-steps`` of each (its axis cut alike, so forecasts continue its dates).

    Raises:
        DataError: unreadable data, an unknown ``--series``.
    """
    ls = read_series(cfg.data, cfg)
    keep = list(range(len(ls.ids)))
    if cfg.series:
        index = {sid: i for i, sid in enumerate(ls.ids)}
        unknown = [s for s in cfg.series if s not in index]
        if unknown:
            raise DataError(f"{cfg.data}: no series {unknown[0]!r} (ids: {', '.join(ls.ids[:8])}…)")
        keep = [index[s] for s in cfg.series]
    cut = slice(-cfg.context_steps, None) if cfg.context_steps is not None else slice(None)
    axes = [ls.axes[i] for i in keep]
    axes = [
        Axis(a.times[cut], a.stamps[cut] if a.stamps is not None else None, a.freq) for a in axes
    ]
    return replace(
        ls,
        ids=[ls.ids[i] for i in keep],
        times=[a.times for a in axes],
        values=[ls.values[i][cut] for i in keep],
        axes=axes,
        filled=[ls.filled[i] for i in keep],
    )


def _check_outputs(cfg: ForecastConfig) -> tuple[Path, Path]:
    """The CSV path and the figure folder, refused before any work if they cannot be written,
    would replace an input, or would replace a file lmcast did not write (without
    ``--overwrite``)."""
    out = check_output_file(cfg.out, inputs=(cfg.data,), overwrite=cfg.overwrite)
    figs = Path(cfg.figures) if cfg.figures else out.with_name(out.stem + "_figures")
    return out, check_owned_folder(figs, "--figures")


def _figures(figs: Path, ids, times, values, horizons, pred, variables, refs) -> None:
    """One PNG per series, drawn into a temporary folder whose files then go into ``figs``
    (:func:`~lmcast.core.runs.runinfo.fill_owned_folder`: nothing lmcast did not write is touched)."""
    figs.parent.mkdir(parents=True, exist_ok=True)  # --out in a folder yet to be made
    tmp = Path(tempfile.mkdtemp(prefix=".figures-", dir=figs.parent))
    band = f"{pred.quantile_levels[0]:g}–{pred.quantile_levels[-1]:g} quantile band"
    try:
        if ids:  # none asked for: the folder keeps no figure of an earlier run
            lo, hi = pred.quantiles[0], pred.quantiles[-1]
            _draw(tmp, ids, times, values, horizons, pred, variables, (lo, hi), band, refs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fill_owned_folder(tmp, figs)


def figure_names(ids: list[str]) -> list[str]:
    """One distinct PNG file name per series id: ``series_<id>.png`` with characters other
    than letters, digits and ``-_.`` replaced, at most 80 of them, and ``-2``, ``-3``… added
    where two ids would share a name (``a/b`` and ``a?b``)."""
    names: list[str] = []
    seen: set[str] = set()
    for sid in ids:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sid)[:80]
        name, k = f"series_{safe}.png", 1
        while name.lower() in seen:
            k += 1
            name = f"series_{safe}-{k}.png"
        seen.add(name.lower())
        names.append(name)
    return names


def _draw(tmp, ids, times, values, horizons, pred, variables, bands, band, refs) -> None:
    lo, hi = bands
    for i, (sid, name) in enumerate(zip(ids, figure_names(ids), strict=True)):
        plot_forecast(
            tmp / name,
            np.concatenate([times[i], horizons[i]]),
            values[i],
            None,
            {"median": pred.median[i], **{label: fc[i] for label, fc in refs.items()}},
            variables,
            band=(lo[i], hi[i]) if pred.samples.shape[1] > 1 else None,
            title=f"series {sid}: {len(times[i])} context steps, {len(horizons[i])} forecast",
            band_label=band,
        )


def forecast_series(cfg: ForecastConfig) -> dict:
    """Run ``lmcast forecast``: forecast, charge the ledger, write the CSV and the figures.

    Returns:
        ``{"out", "figures", "series", "filled", "rows", "flops", "alphas" (per series id),
        "precision"}``.
    """
    levels = cfg.quantiles  # sorted, in (0, 1): checked when cfg was built
    check_adapter_folder(cfg.adapter)
    if cfg.scale == "adapter":  # before any work: an adapter with one training scale
        (scheme.read(adapter_path(cfg.adapter)) or Encoding()).fixed_alpha()
    out, figs = _check_outputs(cfg)
    ls = load_series(cfg)
    ids, times, values, variables = ls.ids, ls.times, ls.values, ls.variables
    for sid, n in zip(ids, ls.filled, strict=True):
        if n:
            log.info("series %s: %d missing step(s) filled by linear interpolation", sid, n)
    contexts = as_contexts(values)  # short or non-finite series: one line, before the model
    season = cfg.season_length or season_of(ls.axes[0].freq if ls.axes else None)
    references = cfg.references  # names checked when cfg was built
    singles = sorted({m for r in references for m in r.split("+") if m != "model"})
    for name in singles:
        classical.check_applicable(name, contexts, season, cfg.horizon)
    ledger = Ledger(cfg.ledger)
    fc = Forecaster.load(cfg.model, adapter=cfg.adapter, device=cfg.device)
    fc.variables = tuple(variables)
    if cfg.scale == "series" and fc.encoding.alpha is not None:
        log.info(
            "each series scaled on its own (LLMTIME); --scale adapter keeps the adapter's "
            "training scale %g",
            fc.encoding.alpha,
        )
    n = len(contexts)
    win = (
        conformal.windows(contexts, cfg.horizon, cfg.calibration_windows, 3, cfg.calibration_method)
        if cfg.calibrate
        else None
    )
    pred = charged_predict(
        fc,
        fc.plan(win.all_contexts if win else contexts, cfg.horizon, sampling_of(cfg), cfg.scale),
        ledger,
        experiment=cfg.experiment,
        name=f"{cfg.experiment}:{fc.lm.name}:{Path(cfg.data).name}",
        what=f"forecast of {len(contexts)} series",
        kind="forecast",
        config=asdict(cfg),
        quantiles=levels,
        progress=cfg.progress,
    )
    if win is not None:
        pred = pred.calibrated(win)
        log.info(
            "intervals calibrated on %d window(s) of %d steps: %d of %d series had room",
            cfg.calibration_windows, cfg.horizon, len(win.calibrated), n,
        )  # fmt: skip
    horizons = [forecast_times(t, cfg.horizon) for t in times]  # numeric, for the figures
    stamps = [a.after(cfg.horizon) for a in ls.axes]
    rows = pred.rows(ids, stamps)
    refs: dict[str, np.ndarray] = {}
    if references:
        rows = [{"forecaster": "lmcast", **r} for r in rows]
        single = {
            name: _reference(name, contexts, cfg, season, levels, len(variables))
            for name in singles
        }
        single["model"] = classical.ClassicalForecast(
            "lmcast", pred.median, pred.quantiles, np.zeros(n, dtype=bool), 0.0
        )
        for name in references:
            cf = _combined([single[m] for m in name.split("+")])
            label = "+".join(
                "lmcast" if m == "model" else classical.label(m) for m in name.split("+")
            )
            refs[label] = cf.point
            rows += _reference_rows(label, cf, ids, stamps, variables, levels)
    k = len(ids) if cfg.figure_count is None else min(cfg.figure_count, len(ids))
    _figures(figs, ids[:k], times[:k], values[:k], horizons[:k], pred.first(k), variables,
             {label: fc[:k] for label, fc in refs.items()})  # fmt: skip
    record_written(write_text(out, csv_text(rows)))
    more = (
        f" (the first {k} of {len(ids)} series: --figures-for all draws each)"
        if k < len(ids)
        else ""
    )
    log.info("wrote %s (%d rows) and %d figures in %s%s", out, len(rows), k, figs, more)
    return {
        "out": str(out),
        "figures": str(figs),
        "series": len(ids),
        "filled": dict(zip(ids, ls.filled, strict=True)),
        "rows": len(rows),
        "flops": pred.flops,
        "alphas": dict(zip(ids, pred.alphas, strict=True)),
        "precision": fc.encoding.digits,
    }


def _reference(
    name: str, contexts: list[np.ndarray], cfg: ForecastConfig, season: int, levels, v: int
) -> classical.ClassicalForecast:
    """One classical reference's forecasts; with ``--calibrate`` it also forecasts each
    context's last windows and its quantiles are conformal
    (:mod:`lmcast.compare.conformal`)."""
    win = None
    if cfg.calibrate:
        need = conformal.min_context(name, season, v)
        win = conformal.windows(
            contexts, cfg.horizon, cfg.calibration_windows, need, cfg.calibration_method
        )
    n = len(contexts)
    cf = classical.predict(name, win.all_contexts if win else contexts, cfg.horizon, season, levels)
    if cf.failed[:n].any():
        log.warning("%s", cf.label)
    if win is None:
        return cf
    point, q = win.apply(cf.point, cf.quantiles, levels)
    return classical.ClassicalForecast(cf.name, point, q, cf.failed[:n], cf.seconds)


def _combined(members: list[classical.ClassicalForecast]) -> classical.ClassicalForecast:
    """The equal-weight mean of the members' points and quantiles (one member: itself); a
    series counts as failed where any member's fit failed."""
    if len(members) == 1:
        return members[0]
    point, quantiles = classical.equal_weight(
        [m.point for m in members], [m.quantiles for m in members]
    )
    return classical.ClassicalForecast(
        "+".join(m.name for m in members),
        point,
        quantiles,
        np.any([m.failed for m in members], axis=0),
        sum(m.seconds for m in members),
    )


def _reference_rows(label, cf, ids, stamps, variables, levels) -> list[dict]:
    """The CSV rows of one classical reference: its point forecast as the median column and
    its interval ends as the quantile columns (same layout as the model's rows)."""
    rows = []
    for i, sid in enumerate(ids):
        for s in range(cf.point.shape[1]):
            for k, var in enumerate(variables):
                row = {  # a failed fit's series holds the last value: not the model's name
                    "forecaster": f"persistence ({label} failed)" if cf.failed[i] else label,
                    "series": sid,
                    "step": s + 1,
                    "time": time_cell(stamps[i][s]),
                    "variable": var,
                    "median": short_number(cf.point[i, s, k]),
                }
                for q, level in enumerate(levels):
                    row[f"q{level:g}"] = short_number(cf.quantiles[q, i, s, k])
                row["failed"] = int(cf.failed[i])
                row["alpha"] = ""  # no text encoding: the model's rows carry their scale
                rows.append(row)
    return rows
