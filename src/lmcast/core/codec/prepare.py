"""The encoded training texts: turn a data file into LLMTIME texts per split plus
``meta.json`` (``lmcast data prepare``), and the texts and record of a training run.

``meta.json`` records everything a later step needs to reproduce the encoding
and to evaluate on exactly the same trajectories: the encoding's fields
(:meth:`lmcast.core.codec.scheme.Encoding.to_record`: alpha and the rule that chose it,
precision), split fractions, seed and indices, and the source file's SHA-256. The
``encoding.json`` a run leaves beside its adapter is the subset a trained model needs
(:func:`lmcast.core.codec.scheme.write_record`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcast.core.codec import encoding
from lmcast.core.codec.scheme import MAX_SCALED, Encoding, check_precision
from lmcast.core.runs.runinfo import check_output_files, file_sha256, record_written
from lmcast.core.series.collection import holds_series, read_series, seen_record
from lmcast.core.series.data import SPLITS, Dataset, load_dataset, split_indices
from lmcast.errors import DataError

if TYPE_CHECKING:
    from lmcast.configs import CsvInput

__all__ = ["check_precision"]  # re-exported: the CLI checks --precision before any work


def resolve_alpha(alpha: str | float, ds: Dataset, train_idx: np.ndarray) -> tuple[float, str]:
    """Return ``(alpha, rule)``: a number as given, or the auto rule on the train split."""
    if isinstance(alpha, str) and alpha.strip().lower() == "auto":
        return encoding.auto_alpha(ds.trajectories[train_idx]), encoding.ALPHA_RULE
    return given_alpha(alpha, ds.trajectories), "given"


def given_alpha(
    alpha: str | float, values: np.ndarray, words: str = "a positive number or 'auto'"
) -> float:
    """A ``--alpha`` given as a number, checked: positive, finite, and not so small that the
    largest of ``values`` (any shape) takes more digits than a number in the text may hold.

    Raises:
        DataError: one line; ``words`` names the values ``--alpha`` takes.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0 or not np.isfinite(value):
        raise DataError(f"--alpha must be {words}, got {alpha!r}")
    biggest = float(np.abs(values).max(initial=0))
    if biggest / value > MAX_SCALED:
        raise DataError(
            f"--alpha {alpha} scales the largest value {biggest:.3g} to {biggest / value:.3g}: "
            f"more digits than a number in the text may hold (at most {MAX_SCALED:.0e}); "
            "use a larger --alpha or 'auto'"
        )
    return value


def training_encoding(
    precision: int, decimal_point: bool, rule: str, alpha: float | None = None
) -> Encoding:
    """The :class:`Encoding` of a training run: ``alpha`` as the user gives it (``None``:
    each series its own), the ``rule`` that chose it (which says so when the digits are
    written without the point)."""
    if not decimal_point:
        rule += f"; written without the decimal point: alpha / 10^{precision}, integers"
    enc = Encoding(int(precision), bool(decimal_point), rule=rule)
    return enc if alpha is None else enc.written(alpha)


def build_meta(
    ds: Dataset,
    precision: int,
    alpha: str | float,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    decimal_point: bool = True,
) -> dict:
    """The ``meta.json`` content for ``ds`` (no file is written); ``decimal_point=False``
    writes the digits as integers (:class:`~lmcast.core.codec.scheme.Encoding`)."""
    splits = split_indices(ds.shape[0], fractions, seed)
    value, rule = resolve_alpha(alpha, ds, splits["train"])
    enc = training_encoding(precision, decimal_point, rule, value)
    return {
        "source": str(ds.path) if ds.path else None,
        "source_sha256": file_sha256(ds.path) if ds.path else None,
        "shape": list(ds.shape),
        "variables": list(ds.variables),
        **enc.to_record(),
        "split_seed": int(seed),
        "split_fractions": list(fractions),
        "splits": {k: v.tolist() for k, v in splits.items()},
    }


def prepare(
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    precision: int = 2,
    alpha: str | float = "auto",
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    overwrite: bool = False,
    decimal_point: bool = True,
) -> dict:
    """Write ``{train,val,test}_texts.txt`` (one trajectory per line) and ``meta.json``.

    None of them may be ``data``, nor a file lmcast did not write (unless ``overwrite``).

    Validation happens before anything is written; files are written to
    temporary names and renamed, so a failure leaves no partial output.
    """
    check_precision(precision)
    names = (*(f"{split}_texts.txt" for split in SPLITS), "meta.json")
    check_output_files(out_dir, names, inputs=(data,), overwrite=overwrite)
    ds = load_dataset(data)
    meta = build_meta(ds, precision, alpha, seed, fractions, decimal_point)
    enc = Encoding.from_record(meta)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for split in SPLITS:
        idx = np.asarray(meta["splits"][split], dtype=np.int64)
        lines = [enc.encode(ds.trajectories[i], enc.fixed_alpha()) for i in idx]
        files[f"{split}_texts.txt"] = "\n".join(lines) + ("\n" if lines else "")
    files["meta.json"] = json.dumps(meta, indent=2) + "\n"
    for name, content in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(content)
        os.replace(tmp, out / name)
        record_written(out / name)
    return meta


COLLECTION_FRACTIONS = (0.9, 0.1, 0.0)  # train and validation series of a collection
SERIES_RULE = (
    "each series on its own: 99th percentile of |x| over a leading part of the steps the "
    "run may see (a seeded share from 1/2 to all) / the scale target, rounded up to 2 "
    "significant figures (LLMTIME)"
)


def scale_steps(length: int, seed: int, i: int) -> int:
    """How many leading steps of training series ``i`` (of ``length``) set its scale: a
    seeded share from 1/2 to all of them.

    A forecast is scaled by its context alone, so a trending series goes past the range
    its scale put the context in (e.g. from ``997`` to ``1004``, one digit more). Scaled by
    all of its steps, a training series never does, and a model trained so stops at the
    edge of the range (the first general adapter did, on trending quarterly series of the
    classics' contexts, the validation split); scaled by a leading part, it learns to go on.
    """
    share = np.random.default_rng([seed, i, 7]).uniform(0.5, 1.0)
    return max(2, int(np.ceil(share * length)))


def training_texts(
    data: str | os.PathLike,
    precision: int,
    alpha: str | float = "auto",
    seed: int = 0,
    decimal_point: bool = True,
    holdout: int = 0,
    csv: CsvInput | None = None,
) -> tuple[dict, dict[str, list[str]]]:
    """``(meta, {"train": texts, "val": texts})`` for a training run.

    An HDF5 file in the lmcast layout without ``holdout`` (one system, the study's data):
    one scale from the training split, trajectories split 80/10/10 (:func:`build_meta`).
    Anything else — a CSV, a collection (``lmcast data synth``), or any file with
    ``holdout`` — is a collection of series: ``alpha`` ``"auto"`` (or ``"series"``) scales
    each series on its own, a number scales all alike; series are split 90/10 into training
    and validation; and of every series only the steps before its last ``holdout`` are
    written. ``meta["seen"]`` records what the run sees
    (:func:`lmcast.core.series.collection.seen_record`).

    Raises:
        DataError: unreadable data, a bad ``alpha``, or no series longer than ``holdout``
            by at least two steps.
    """
    path = Path(data)
    layout_file = not holds_series(path)
    if layout_file and not holdout and str(alpha).strip().lower() != "series":
        ds = load_dataset(path)
        meta = build_meta(ds, precision, alpha, seed, decimal_point=decimal_point)
        seen = [i for s in ("train", "val") for i in meta["splits"][s]]
        meta["seen"] = {
            "holdout": 0,
            "series": len(seen),
            "steps": seen_record([ds.trajectories[i] for i in seen], [ds.shape[1]] * len(seen)),
        }
        enc = Encoding.from_record(meta)
        texts = {
            s: [enc.encode(ds.trajectories[i], enc.fixed_alpha()) for i in meta["splits"][s]]
            for s in ("train", "val")
        }
        return meta, texts
    ls = read_series(path, csv)
    visible = [v[: max(len(v) - holdout, 0)] for v in ls.values]  # shorter: nothing seen
    keep = [i for i, v in enumerate(visible) if len(v) >= 2]
    if not keep:
        raise DataError(
            f"{path}: no series has two steps before its last {holdout} (--holdout): "
            "nothing to train on"
        )
    per_series = str(alpha).strip().lower() in ("auto", "series")
    if per_series:
        enc = training_encoding(precision, decimal_point, SERIES_RULE)
        alphas = [enc.auto_alpha(visible[i][: scale_steps(len(visible[i]), seed, i)]) for i in keep]
    else:
        value = float(alpha) if _is_number(alpha) else -1.0
        if not value > 0 or not np.isfinite(value):
            raise DataError(f"--alpha must be a positive number, 'auto' or 'series', got {alpha!r}")
        enc = training_encoding(precision, decimal_point, "given", value)
        alphas = [enc.fixed_alpha()] * len(keep)
    splits = split_indices(len(keep), COLLECTION_FRACTIONS, seed)
    texts = {
        s: [enc.encode(visible[keep[j]], alphas[j]) for j in splits[s]] for s in ("train", "val")
    }
    meta = {
        "source": str(path),
        "source_sha256": file_sha256(path),
        "shape": [len(keep), None, len(ls.variables)],
        "variables": list(ls.variables),
        **enc.to_record(),
        "split_seed": int(seed),
        "split_fractions": list(COLLECTION_FRACTIONS),
        "splits": {k: [keep[j] for j in v] for k, v in splits.items()},
        "seen": {
            "holdout": int(holdout),
            "series": len(keep),
            "steps": seen_record([visible[i] for i in keep], [len(visible[i]) for i in keep]),
        },
    }
    return meta, texts


def _is_number(x: object) -> bool:
    try:
        float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
