"""Handlers for ``lmcast data …`` and ``lmcast encode``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lmcast.configs import EncodeConfig, PrepareConfig, SimulateConfig
from lmcast.data import Dataset, describe, import_csv, load_dataset, save_dataset, split_indices
from lmcast.errors import DataError
from lmcast.logs import get_logger

log = get_logger("data")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def simulate_command(cfg: SimulateConfig) -> Path:
    """Simulate and write the file; logs a one-line summary."""
    from lmcast.lotka_volterra import PARAM_NAMES, simulate

    if cfg.n < 1 or cfg.steps < 2 or not cfg.t_max > 0:
        raise DataError(
            f"need --n >= 1, --steps >= 2 and --t-max > 0 (got {cfg.n}, {cfg.steps}, {cfg.t_max})"
        )
    traj, time, params = simulate(cfg.n, cfg.steps, cfg.t_max, cfg.seed)
    ds = Dataset(
        traj,
        time,
        params=params.stack(),
        attrs={
            "generator": "lmcast.lotka_volterra",
            "seed": cfg.seed,
            "param_names": list(PARAM_NAMES),
        },
    )
    path = save_dataset(ds, cfg.out)
    log.info("wrote %s: trajectories %s, time [%g, %g]", path, traj.shape, time[0], time[-1])
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
    lines.append("")
    lines.append(
        f"{'variable':<10}{'min':>9}{'max':>9}{'mean':>9}" + "".join(f"{k:>9}" for k in keys)
    )
    for name, s in info["variables"].items():
        row = f"{name:<10}{s['min']:>9.3f}{s['max']:>9.3f}{s['mean']:>9.3f}"
        row += "".join(f"{s['percentiles'][k]:>9.3f}" for k in keys)
        lines.append(row)
    return "\n".join(lines)


def info_command(path: str, as_json: bool = False) -> dict:
    """Print the summary of a data file."""
    info = describe(load_dataset(path))
    _out(json.dumps(info, indent=2) if as_json else _format_info(info))
    return info


def import_command(csv_path: str, out: str, id_column: str, time_column: str) -> Path:
    """Convert a long-format CSV to the HDF5 layout."""
    ds = import_csv(csv_path, id_column=id_column, time_column=time_column)
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "series_ids"} | {
        "series_ids": [str(s) for s in ds.attrs.get("series_ids", [])]
    }
    path = save_dataset(ds, out)
    log.info(
        "wrote %s: %d series × %d steps × %d variables %s", path, *ds.shape, list(ds.variables)
    )
    return path


def _parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise DataError(f"--split must be three comma-separated fractions, got {text!r}") from None
    if len(parts) != 3:
        raise DataError(f"--split must be three comma-separated fractions, got {text!r}")
    return parts  # type: ignore[return-value]


def prepare_command(cfg: PrepareConfig) -> dict:
    """Write the split texts and meta.json."""
    from lmcast.prepare import prepare

    meta = prepare(
        cfg.data, cfg.out, cfg.precision, cfg.alpha, cfg.split_seed, _parse_fractions(cfg.split)
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


def encode_command(cfg: EncodeConfig) -> dict:
    """Print one trajectory's text and token ids."""
    from lmcast import encoding
    from lmcast.prepare import resolve_alpha
    from lmcast.qwen_tokens import qwen_token_ids

    ds = load_dataset(cfg.data)
    n = ds.shape[0]
    if not 0 <= cfg.index < n:
        raise DataError(f"--index {cfg.index} is out of range: {cfg.data} holds {n} trajectories")
    if cfg.steps < 0:
        raise DataError(f"--steps must be >= 0, got {cfg.steps}")
    alpha, rule = resolve_alpha(cfg.alpha, ds, split_indices(n)["train"])
    x = ds.trajectories[cfg.index]
    if cfg.steps:
        x = x[: cfg.steps]
    text = encoding.encode(x, alpha, cfg.precision)
    result: dict = {
        "index": cfg.index,
        "steps": int(x.shape[0]),
        "alpha": alpha,
        "alpha_rule": rule,
        "precision": cfg.precision,
        "values": np.asarray(x, dtype=float).round(6).tolist(),
        "text": text,
        "qwen_token_ids": qwen_token_ids(text),
    }
    if cfg.model:
        from lmcast.models import load_tokenizer

        tok = load_tokenizer(cfg.model)
        result["model"] = cfg.model
        result["model_token_ids"] = tok(text, add_special_tokens=False)["input_ids"]
    if cfg.json:
        _out(json.dumps(result, indent=2))
    else:
        _out(f"alpha {alpha:g} ({rule}), precision {cfg.precision}, {result['steps']} steps")
        _out(f"text            {text}")
        _out(
            f"qwen2.5 ids     {result['qwen_token_ids']}  ({len(result['qwen_token_ids'])} tokens)"
        )
        if cfg.model:
            _out(f"{cfg.model} ids  {result['model_token_ids']}")
    return result
