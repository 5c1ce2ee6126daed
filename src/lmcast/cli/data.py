"""Handlers for ``lmcast data …`` and ``lmcast encode``: config → library call → print."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from lmcast.configs import (
    ClassicsConfig,
    EncodeConfig,
    ImportConfig,
    InfoConfig,
    PrepareConfig,
    SimulateConfig,
    SynthConfig,
)
from lmcast.core.logs import get_logger
from lmcast.errors import DataError

log = get_logger("data")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def simulate(cfg: SimulateConfig) -> Path:
    """Simulate and write the file; logs a one-line summary."""
    from lmcast.core.series.lotka_volterra import NOISE_RANGE, simulate_file

    noise = None if cfg.noise_free else NOISE_RANGE
    path = simulate_file(cfg.out, cfg.n, cfg.steps, cfg.t_max, cfg.seed, cfg.overwrite, noise)
    log.info(
        "wrote %s: %d trajectories × %d steps, time [0, %g]", path, cfg.n, cfg.steps, cfg.t_max
    )
    return path


# What one step of a synthetic series takes in the file, at most: a float64 value and its
# share of the ids, kinds and recipes (measured: 2,000 series of 48-320 steps, 4.1 MB).
SYNTH_BYTES_PER_STEP = 16


def check_disk_room(out: str, need: int) -> None:
    """Refuse, in one line before any work, an output the disk under ``out`` cannot hold
    (HDF5 ended in a crash, exit 139, on a full disk).

    Raises:
        LmcastError: ``need`` bytes exceed the free space of the folder ``out`` goes in.
    """
    import shutil

    from lmcast.errors import LmcastError

    parent = Path(out).resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if need > free:
        raise LmcastError(
            f"--out {out}: about {need / 2**20:,.0f} MiB to write and {free / 2**20:,.0f} MiB "
            f"free on its disk: free space or write elsewhere"
        )


def synth(cfg: SynthConfig) -> Path:
    """Write the synthetic corpus (and optionally a figure); prints its statistics."""
    from lmcast.core.runs.runinfo import check_output_file
    from lmcast.core.series.collection import save_collection
    from lmcast.core.series.synth import corpus_stats, synth_corpus

    check_output_file(cfg.out, overwrite=cfg.overwrite)
    if cfg.figure:
        check_output_file(cfg.figure, inputs=(cfg.out,), overwrite=cfg.overwrite)
    check_disk_room(cfg.out, cfg.n * cfg.max_length * SYNTH_BYTES_PER_STEP + 2**20)
    corpus = synth_corpus(
        cfg.n, cfg.seed, cfg.min_length, cfg.max_length, cfg.arima_share, cfg.season_share
    )
    stats = corpus_stats(corpus)
    recipe = {"generator": "lmcast data synth", "seed": cfg.seed, "n": cfg.n,
              "min_length": cfg.min_length, "max_length": cfg.max_length,
              "arima_share": cfg.arima_share, "season_share": cfg.season_share}  # fmt: skip
    path = save_collection(
        [s.values for s in corpus],
        cfg.out,
        ids=[f"synth_{cfg.seed}_{i}" for i in range(cfg.n)],
        attrs={**recipe, "kinds": [s.kind for s in corpus], "recipes": [s.recipe for s in corpus]},
    )
    if cfg.figure:
        from lmcast.compare.plots import plot_samples

        plot_samples(
            cfg.figure, [(f"{i} {s.kind}: {s.recipe}", s.values) for i, s in enumerate(corpus[:12])]
        )
    _out(json.dumps({"out": str(path), **stats}, indent=2))
    return path


def _format_info(info: dict) -> str:
    n, t, v = info["shape"]
    lines = [
        f"file       {info['path']}",
        f"shape      N={n} trajectories, T={t} steps, V={v} variables",
        f"time       {info['time']['start']:g} .. {info['time']['end']:g} ({t} steps)",
    ]
    first = next(iter(info["variables"].values()))
    keys = list(first["percentiles"])
    head = ["min", "max", "mean", *keys]
    cells = {
        name: [f"{x:.6g}" for x in (s["min"], s["max"], s["mean"])]
        + [f"{s['percentiles'][k]:.6g}" for k in keys]
        for name, s in info["variables"].items()
    }
    # columns as wide as their longest number (-1009.79, 4.79898e+07) plus a space
    w = max(9, *(len(c) + 1 for row in cells.values() for c in row))
    first_w = max(10, *(len(name) + 1 for name in cells))
    lines.append("")
    lines.append(f"{'variable':<{first_w}}" + "".join(f"{k:>{w}}" for k in head))
    for name, row in cells.items():
        lines.append(f"{name:<{first_w}}" + "".join(f"{c:>{w}}" for c in row))
    if "dynamics" in info:
        lines += _format_dynamics(info["dynamics"])
    return "\n".join(lines)


def info(cfg: InfoConfig) -> dict:
    """Print the summary of a data file."""
    from lmcast.core.series.collection import holds_series
    from lmcast.core.series.data import (
        REFERENCE_STATS,
        compare_with_reference,
        describe,
        dynamics_stats,
        load_dataset,
    )

    if holds_series(cfg.path):
        return _collection_info(cfg)
    ds = load_dataset(cfg.path)
    summary = describe(ds)
    if cfg.stats:
        stats = dynamics_stats(ds.trajectories)
        summary["dynamics"] = {
            "stats": stats,
            "reference": REFERENCE_STATS,
            "within_tolerance": compare_with_reference(stats),
        }
    _out(json.dumps(summary, indent=2) if cfg.json else _format_info(summary))
    return summary


def _collection_info(cfg: InfoConfig) -> dict:
    """A collection or a CSV (series of many lengths): counts, lengths, value percentiles
    and how far the series' scales lie apart (each one's 99th percentile of ``|x|``)."""
    import numpy as np

    from lmcast.core.series.collection import is_collection, load_collection, read_series

    csv = not is_collection(cfg.path)  # a file of series that is no collection: a CSV
    kind = "CSV" if csv else "collection"
    if cfg.stats:
        raise DataError(
            f"{cfg.path}: --stats compares one system's trajectories; this is a {kind} of series"
        )
    ls = read_series(cfg.path) if csv else load_collection(cfg.path)
    lengths = np.array([len(v) for v in ls.values])
    allv = np.concatenate([v.ravel() for v in ls.values])
    scales = np.array([np.percentile(np.abs(v), 99) for v in ls.values])
    q = (1, 50, 99)
    summary = {
        "path": str(cfg.path),
        "layout": kind.lower(),
        "series": len(ls.ids),
        "variables": list(ls.variables),
        "steps": int(lengths.sum()),
        "length": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "max": int(lengths.max()),
        },
        "values": {f"p{k}": float(np.percentile(allv, k)) for k in q},
        "series_scale": {"min": float(scales.min()), "max": float(scales.max())},
    }
    if cfg.json:
        _out(json.dumps(summary, indent=2))
    else:
        ln, v, sc = summary["length"], summary["values"], summary["series_scale"]
        _out(
            "\n".join(
                [
                    f"file       {cfg.path}",
                    f"layout     {kind}: {summary['series']} series, {summary['steps']} steps, "
                    f"variables {', '.join(ls.variables)}",
                    f"length     {ln['min']} .. {ln['max']} steps (median {ln['median']:g})",
                    f"values     1 % {v['p1']:.4g}, median {v['p50']:.4g}, 99 % {v['p99']:.4g}",
                    f"scales     each series' 99 % of |x| from {sc['min']:.4g} to {sc['max']:.4g}"
                    " (lmcast scales each series on its own)",
                ]
            )
        )
    return summary


def _format_dynamics(dyn: dict) -> list[str]:
    def fmt(v: float | list[float]) -> str:
        return " / ".join(f"{x:.3f}" for x in v) if isinstance(v, list) else f"{v:.3f}"

    rows = [
        (key, fmt(dyn["stats"][key]), fmt(ref), "yes" if dyn["within_tolerance"][key] else "NO")
        for key, ref in dyn["reference"].items()
    ]
    # each column as wide as its longest entry plus two spaces (a list of five percentiles
    # at large values overran a fixed width into the next column)
    w = max(11, *(len(c) + 2 for r in rows for c in r[1:3]))
    lines = ["", f"{'dynamics statistic':<24}{'this file':>{w}}{'reference':>{w}}  within 15 %"]
    lines += [f"{k:<24}{got:>{w}}{ref:>{w}}  {ok}" for k, got, ref, ok in rows]
    return lines


def import_(cfg: ImportConfig) -> Path:
    """Convert a CSV (long, Nixtla or wide; gaps filled as ``--missing`` says) to HDF5."""
    from lmcast.core.runs.runinfo import check_output_file
    from lmcast.core.series.data import import_csv, save_dataset

    check_output_file(cfg.out, inputs=(cfg.csv,), overwrite=cfg.overwrite)
    ds = import_csv(cfg.csv, cfg.id_column, cfg.time_column, layout=cfg.layout, missing=cfg.missing)
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "series_ids"} | {
        "series_ids": [str(s) for s in ds.attrs.get("series_ids", [])]
    }
    path = save_dataset(ds, cfg.out)
    log.info(
        "wrote %s: %d series × %d steps × %d variables %s", path, *ds.shape, list(ds.variables)
    )
    return path


def classics(cfg: ClassicsConfig) -> list[str]:
    """Write the real-series suite (:mod:`lmcast.core.series.real_series`); print the files."""
    from lmcast.core.series.data import read_long_csv
    from lmcast.core.series.real_series import write_classics

    paths = write_classics(cfg.out, cfg.overwrite)
    for p in paths:
        ls = read_long_csv(p)
        _out(
            f"{p}: {len(ls.ids)} series, {sum(len(v) for v in ls.values)} steps, "
            f"{ls.axes[0].freq} ({sum(ls.filled)} missing steps)"
        )
    return [str(p) for p in paths]


def prepare(cfg: PrepareConfig) -> dict:
    """Write the split texts and meta.json."""
    from lmcast.core.codec.prepare import prepare as prepare_splits

    meta = prepare_splits(
        cfg.data,
        cfg.out,
        cfg.precision,
        cfg.alpha,
        cfg.split_seed,
        cfg.split,
        overwrite=cfg.overwrite,
        decimal_point=cfg.decimal_point,
    )
    sizes = {k: len(v) for k, v in meta["splits"].items()}
    log.info(
        "wrote %s: alpha=%g (%s), precision=%d, splits %s",
        cfg.out,
        meta["alpha"],
        meta["alpha_rule"],
        meta["precision"],
        sizes,
    )
    return meta


def _one_series(cfg: EncodeConfig, mode: str) -> tuple:
    """``(values (T, V), alpha, encoding)`` of series ``--index`` of a CSV or a collection
    (each series its own scale by default), or of any file with ``--alpha series``: the scale
    ``lmcast forecast`` and training on a collection use."""
    import numpy as np

    from lmcast.core.codec.prepare import given_alpha
    from lmcast.core.codec.scheme import Encoding
    from lmcast.core.series.collection import read_series

    ls = read_series(cfg.data)
    n = len(ls.values)
    if not 0 <= cfg.index < n:
        raise DataError(f"--index {cfg.index} is out of range: {cfg.data} holds {n} series")
    x = np.asarray(ls.values[cfg.index], dtype=float)
    enc = Encoding(cfg.precision, cfg.decimal_point)
    if mode in ("auto", "series"):
        rule = (f"this series on its own, as lmcast forecast writes it: 99th percentile of |x| "
                f"/ {enc.target / enc.unit:g}, rounded up to 2 significant figures (LLMTIME)")  # fmt: skip
        written = enc.auto_alpha(x)
        return x, written * enc.unit, dataclasses.replace(enc, alpha=written, rule=rule)
    value = given_alpha(cfg.alpha, x, words="a positive number, 'auto' or 'series'")
    return x, value, dataclasses.replace(enc.written(value), rule="given")


def encode(cfg: EncodeConfig) -> dict:
    """Print one trajectory's text and token ids."""
    import numpy as np

    from lmcast.core.codec.prepare import check_precision, resolve_alpha
    from lmcast.core.codec.scheme import Encoding
    from lmcast.core.series.collection import holds_series
    from lmcast.core.series.data import load_dataset, split_indices
    from lmcast.lm.qwen_tokens import qwen_token_ids

    if cfg.steps < 0:
        raise DataError(f"--steps must be >= 0, got {cfg.steps}")
    check_precision(cfg.precision)
    path, mode = Path(cfg.data), str(cfg.alpha).strip().lower()
    if holds_series(path) or mode == "series":
        x, alpha, enc = _one_series(cfg, mode)
    else:
        ds = load_dataset(cfg.data)
        n = ds.shape[0]
        if not 0 <= cfg.index < n:
            raise DataError(
                f"--index {cfg.index} is out of range: {cfg.data} holds {n} trajectories"
            )
        alpha, rule = resolve_alpha(cfg.alpha, ds, split_indices(n)["train"])
        x = ds.trajectories[cfg.index]
        enc = Encoding(cfg.precision, cfg.decimal_point, rule=rule).written(alpha)
    if cfg.steps:
        x = x[: cfg.steps]
    text = enc.encode(x, enc.alpha)
    result: dict = {
        "index": cfg.index,
        "steps": int(x.shape[0]),
        **enc.summary(),
        "alpha": alpha,
        "precision": cfg.precision,
        "values": np.asarray(x, dtype=float).round(6).tolist(),
        "text": text,
        "qwen_token_ids": qwen_token_ids(text),
    }
    if cfg.model:
        from lmcast.lm.models import load_tokenizer

        tok = load_tokenizer(cfg.model)
        result["model"] = cfg.model
        result["model_token_ids"] = tok(text, add_special_tokens=False)["input_ids"]
    if cfg.json:
        _out(json.dumps(result, indent=2))
    else:
        point = "" if cfg.decimal_point else ", no decimal point"
        _out(
            f"alpha {alpha:g} ({enc.rule}), precision {cfg.precision}{point}, {result['steps']} steps"
        )
        _out(f"text            {text}")
        _out(
            f"qwen2.5 ids     {result['qwen_token_ids']}  ({len(result['qwen_token_ids'])} tokens)"
        )
        if cfg.model:
            _out(f"{cfg.model} ids  {result['model_token_ids']}")
    return result
