"""The encoding record: turn a data file into LLMTIME texts per split plus ``meta.json``,
and the ``encoding.json`` a training run leaves for evaluation to read.

``meta.json`` records everything a later step needs to reproduce the encoding
and to evaluate on exactly the same trajectories: alpha (and the rule that
chose it), precision, split fractions, seed and indices, and the source file's
SHA-256. ``encoding.json`` (beside a run's adapter) is the subset a trained
model needs: alpha, its rule, precision, split seed, source SHA-256.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcast.core.codec import encoding
from lmcast.core.runs.runinfo import file_sha256
from lmcast.core.series.data import SPLITS, Dataset, load_dataset, split_indices
from lmcast.errors import DataError, LmcastError

if TYPE_CHECKING:
    from lmcast.configs import CsvInput

MAX_PRECISION = 8


def check_precision(precision: int) -> None:
    """Refuse a ``--precision`` outside ``0..MAX_PRECISION`` decimals."""
    if not 0 <= precision <= MAX_PRECISION:
        raise DataError(f"--precision must be between 0 and {MAX_PRECISION}, got {precision}")


# Largest scaled value an encoding may write: beyond it the integer part outgrows a
# float's exact digits (and at 1e-310 the division overflows to inf).
MAX_SCALED = 1e12


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


def text_format(
    alpha: float, precision: int, decimal_point: bool = True
) -> tuple[float, int, float]:
    """``(alpha, precision, scale_target)`` as the codec writes them.

    With the decimal point, ``x / alpha`` is written with ``precision`` decimals and a scale
    rule puts values in ``[0, 10]``. Without it (LLMTIME's fixed digits), the same digits
    are written as an integer: ``0.25`` at precision 2 becomes ``25``, which is the codec
    at ``alpha / 10^precision`` and precision 0, and a scale rule then targets
    ``[0, 10^(precision + 1)]`` — the encoding record holds these, so every reader decodes
    what the adapter was trained on.
    """
    if decimal_point:
        return alpha, int(precision), encoding.SCALE_TARGET
    return alpha / 10**precision, 0, encoding.SCALE_TARGET * 10**precision


def _format_record(
    rule: str, codec_precision: int, precision: int, decimal_point: bool, target: float
) -> dict:
    """The encoding record's format fields (shared by both kinds of training data)."""
    if not decimal_point:
        rule += f"; written without the decimal point: alpha / 10^{precision}, integers"
    return {
        "alpha_rule": rule,
        "precision": codec_precision,
        "decimals": int(precision),
        "decimal_point": bool(decimal_point),
        "scale_target": target,
    }


def build_meta(
    ds: Dataset,
    precision: int,
    alpha: str | float,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    decimal_point: bool = True,
) -> dict:
    """The ``meta.json`` content for ``ds`` (no file is written); ``decimal_point=False``
    writes the digits as integers (:func:`text_format`)."""
    splits = split_indices(ds.shape[0], fractions, seed)
    value, rule = resolve_alpha(alpha, ds, splits["train"])
    written, codec_precision, target = text_format(value, precision, decimal_point)
    return {
        "source": str(ds.path) if ds.path else None,
        "source_sha256": file_sha256(ds.path) if ds.path else None,
        "shape": list(ds.shape),
        "variables": list(ds.variables),
        "alpha": written,
        **_format_record(rule, codec_precision, precision, decimal_point, target),
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
    from lmcast.core.runs.runinfo import check_output_files, record_written

    check_precision(precision)
    names = (*(f"{split}_texts.txt" for split in SPLITS), "meta.json")
    check_output_files(out_dir, names, inputs=(data,), overwrite=overwrite)
    ds = load_dataset(data)
    meta = build_meta(ds, precision, alpha, seed, fractions, decimal_point)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for split in SPLITS:
        idx = np.asarray(meta["splits"][split], dtype=np.int64)
        lines = [encoding.encode(ds.trajectories[i], meta["alpha"], precision) for i in idx]
        files[f"{split}_texts.txt"] = "\n".join(lines) + ("\n" if lines else "")
    files["meta.json"] = json.dumps(meta, indent=2) + "\n"
    for name, content in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(content)
        os.replace(tmp, out / name)
        record_written(out / name)
    return meta


ENCODING_FILE = "encoding.json"


def write_encoding_record(run_dir: str | os.PathLike, meta: dict) -> Path:
    """Write ``encoding.json`` (from :func:`build_meta`'s content) into a run folder."""
    from lmcast.core.runs.runinfo import write_json

    keys = (
        "alpha", "alpha_rule", "precision", "decimals", "decimal_point", "scale_target",
        "split_seed", "source_sha256", "scaling", "seen", "init_adapter",
    )  # fmt: skip
    return write_json(Path(run_dir) / ENCODING_FILE, {k: meta[k] for k in keys if k in meta})


ALPHA_RANGE = (1e-12, 1e12)  # scales whose encoded values stay writable in a few digits


def check_encoding(alpha: object, precision: object) -> tuple[float, int]:
    """``(alpha, precision)`` of an encoding record, checked: alpha a finite number in
    :data:`ALPHA_RANGE`, precision an integer from 0 to :data:`MAX_PRECISION`.

    Raises:
        ValueError: either is out of range or of the wrong type.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise ValueError(f"alpha must be a number, got {alpha!r}")
    if not ALPHA_RANGE[0] <= float(alpha) <= ALPHA_RANGE[1]:  # NaN fails too
        raise ValueError(f"alpha {alpha!r} is outside {ALPHA_RANGE[0]:g} to {ALPHA_RANGE[1]:g}")
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise ValueError(f"precision must be an integer, got {precision!r}")
    if not 0 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision {precision} is outside 0 to {MAX_PRECISION}")
    return float(alpha), precision


def read_encoding_record(adapter: str | os.PathLike | None) -> dict | None:
    """The ``encoding.json`` saved by the training run of an adapter (folder or run folder).

    Raises:
        LmcastError: the file exists but is not JSON with ``alpha`` and ``precision`` that
            pass :func:`check_encoding`.
    """
    if not adapter:
        return None
    for p in (Path(adapter) / ENCODING_FILE, Path(adapter).parent / ENCODING_FILE):
        if p.is_file():
            try:
                rec = json.loads(p.read_text())
                check_encoding(rec["alpha"], rec["precision"])
                target = rec.get("scale_target", encoding.SCALE_TARGET)
                if isinstance(target, bool) or not isinstance(target, (int, float)):
                    raise ValueError(f"scale_target must be a number, got {target!r}")
                if not 1 <= target <= 1e9:  # NaN fails too
                    raise ValueError(f"scale_target {target!r} is outside 1 to 1e9")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LmcastError(f"{p}: corrupt encoding record ({exc})") from None
            return rec
    return None


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


def series_scaled(record: dict | None) -> bool:
    """Whether an encoding record says each series is scaled on its own."""
    return bool(record) and record.get("scaling") == "series"


def training_alpha(record: dict | None) -> float | None:
    """The one scale an adapter was trained on (the record's ``alpha``), or ``None`` when
    there is no record or each series was scaled on its own (then a forecast scales each
    series by its own context, as training did)."""
    return float(record["alpha"]) if record and not series_scaled(record) else None


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
    from lmcast.core.series.collection import holds_series, read_series, seen_record

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
        texts = {
            s: [
                encoding.encode(ds.trajectories[i], meta["alpha"], meta["precision"])
                for i in meta["splits"][s]
            ]
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
        written, codec_precision, target = text_format(1.0, precision, decimal_point)
        alphas = [
            encoding.auto_alpha(visible[i][: scale_steps(len(visible[i]), seed, i)], target=target)
            for i in keep
        ]
        rule = SERIES_RULE
    else:
        value = float(alpha) if _is_number(alpha) else -1.0
        if not value > 0 or not np.isfinite(value):
            raise DataError(f"--alpha must be a positive number, 'auto' or 'series', got {alpha!r}")
        written, codec_precision, target = text_format(value, precision, decimal_point)
        alphas = [written] * len(keep)
        rule = "given"
    splits = split_indices(len(keep), COLLECTION_FRACTIONS, seed)
    texts = {
        s: [encoding.encode(visible[keep[j]], alphas[j], codec_precision) for j in splits[s]]
        for s in ("train", "val")
    }
    meta = {
        "source": str(path),
        "source_sha256": file_sha256(path),
        "shape": [len(keep), None, len(ls.variables)],
        "variables": list(ls.variables),
        "scaling": "series" if per_series else "file",
        "alpha": 1.0 if per_series else written,
        **_format_record(rule, codec_precision, precision, decimal_point, target),
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
