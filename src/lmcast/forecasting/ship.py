"""``lmcast export --ship``: an exported forecaster made ready to hand out.

What shipping adds to an export (:func:`lmcast.forecasting.export.export_run`), on the
export's temporary folder before it takes its name:

* the LoRA weights stored as float16 (half the bytes; the loader casts them to the
  model's dtype);
* ``adapter_config.json`` naming the base model by its alias (``smollm2-135m``), not the
  trainer's cache folder (:func:`lmcast.lm.models.model_alias`);
* the card's "How this adapter was made": the training data (and, for a corpus from
  ``lmcast data synth``, the command that remakes it), the recipe, the FLOPs and the
  validation loss by step, read from the run's own records; then each ``--card`` file
  (a benchmark's ``leaderboard.md``, say) as written;
* the trainer's own folder (the run's parent) written ``WORKDIR`` in the card and the
  export record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from lmcast.core.codec import scheme
from lmcast.core.runs.runinfo import SUMMARY_FILE
from lmcast.core.series.collection import holds_series, read_series
from lmcast.errors import LmcastError
from lmcast.lm.models import model_alias

#: the synth options a corpus records (``lmcast data synth``'s HDF5 attributes)
SYNTH_OPTIONS = ("n", "seed", "min_length", "max_length", "arima_share", "season_share")


def halve_weights(path: Path) -> None:
    """Store the safetensors file at ``path`` as float16 (its metadata ``format: pt``)."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(path).items()}
    save_file(tensors, path, metadata={"format": "pt"})


def name_base_model(path: Path) -> None:
    """Rewrite ``adapter_config.json``'s base model as its alias."""
    conf = json.loads(path.read_text())
    if isinstance(conf.get("base_model_name_or_path"), str):
        conf["base_model_name_or_path"] = model_alias(conf["base_model_name_or_path"])
    path.write_text(json.dumps(conf, indent=2) + "\n")


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LmcastError(f"{path}: cannot ship without it ({exc})") from None
    if not isinstance(data, dict):
        raise LmcastError(f"{path}: not a JSON object")
    return data


def _data_lines(data: str) -> list[str]:
    """What the card says of the training data: its file, and for a synthetic corpus the
    ``lmcast data synth`` command that remakes it."""
    lines = [f"- Training data: `{Path(data).name}`"]
    path = Path(data)
    if path.is_file() and holds_series(path):
        try:
            ls = read_series(path)
        except LmcastError:
            return lines
        lengths = [len(v) for v in ls.values]
        lines[0] += f": {len(lengths)} series of {min(lengths)} to {max(lengths)} steps."
        attrs = _collection_attrs(path)
        if attrs.get("generator") == "lmcast data synth":
            opts = " ".join(
                f"--{k.replace('_', '-')} {attrs[k]:g}"
                if isinstance(attrs[k], float)
                else f"--{k.replace('_', '-')} {attrs[k]}"
                for k in SYNTH_OPTIONS
                if k in attrs
            )
            lines.append(
                f"- Corpus: `lmcast data synth {opts}` (KernelSynth-style Gaussian-process "
                "kernels, trend x season x noise, TSMixup mixes; no real series)."
            )
    return lines


def _collection_attrs(path: Path) -> dict:
    """The scalar attributes of a collection's HDF5 file (empty for a CSV)."""
    if path.suffix.lower() not in (".h5", ".hdf5"):
        return {}
    import h5py

    with h5py.File(path, "r") as f:
        return {
            k: (v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v)
            for k, v in f.attrs.items()
            if k in (*SYNTH_OPTIONS, "generator")
        }


def how_made(run: Path) -> list[str]:
    """The card's "How this adapter was made" section, from the run's records
    (``run.json``, ``summary.json``, ``metrics.jsonl``).

    Raises:
        LmcastError: a record is missing or not JSON (one line).
    """
    info, summary = _json(run / "run.json"), _json(run / SUMMARY_FILE)
    tcfg = info.get("config") or {}
    rows = []
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    val = [(r["step"], r["val_loss"]) for r in rows if isinstance(r, dict) and "val_loss" in r]
    enc = scheme.read(run)
    written = f"numbers written with {enc.words()}" if enc is not None else "encoding not recorded"
    scale = "" if enc is None else ", each series scaled on its own" if enc.alpha is None else ""
    lines = ["", "## How this adapter was made", ""]
    if isinstance(info.get("command"), str):
        lines += ["```", info["command"], "```", ""]
    lines += _data_lines(str(tcfg.get("data", "")))
    lines += [
        f"- Training: {summary.get('steps')} steps of {tcfg.get('batch_size')} windows x "
        f"{tcfg.get('context_length')} tokens, LoRA r{tcfg.get('rank')} on "
        f"{', '.join(tcfg.get('target_modules') or [])}, lr {tcfg.get('lr')} "
        f"({tcfg.get('schedule')}), seed {tcfg.get('seed')}, split seed "
        f"{tcfg.get('split_seed')}; {written}{scale}.",
    ]
    flops, tps = summary.get("flops"), summary.get("tokens_per_second")
    if isinstance(flops, (int, float)):
        speed = f"; {tps:.0f} tokens/s on the training machine" if isinstance(tps, float) else ""
        lines.append(f"- FLOPs charged: {flops:.3e}{speed}.")
    if val:
        lines.append("- Validation loss by step: " + ", ".join(f"{s}: {v:.4f}" for s, v in val))
    lines.append("- Weights stored as float16 (the loader casts them to the model's dtype).")
    return lines


def ship(folder: Path, run: Path, cards: Sequence[str | os.PathLike] = ()) -> None:
    """Make the export in ``folder`` (of the training run ``run``) ready to hand out: see
    the module docstring.

    Raises:
        LmcastError: a ``--card`` file or a run record that does not read (one line).
    """
    extra = []
    for card in cards:
        try:
            extra.append(Path(card).read_text().strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise LmcastError(f"--card {card}: not readable ({exc})") from None
    made = how_made(run)
    halve_weights(folder / "adapter_model.safetensors")
    name_base_model(folder / "adapter_config.json")
    with open(folder / "README.md", "a") as f:
        f.write("\n".join(made) + "\n")
        for text in extra:
            f.write("\n" + text + "\n")
    work = run.parent
    for name in ("README.md", "lmcast_export.json"):
        text = (folder / name).read_text()
        for w in sorted({str(work.resolve()), str(work)}, key=len, reverse=True):
            text = text.replace(w + os.sep, "WORKDIR/").replace(w, "WORKDIR")
        (folder / name).write_text(text)
