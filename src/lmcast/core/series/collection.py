"""Collections of series of different lengths: the ragged HDF5 layout, one reader for every
input format, and fingerprints of what a training run saw.

The ragged layout (``lmcast data synth`` writes it)::

    /values     float32 (sum T_i, V)   every series' steps, one after another
    /offsets    int64   (N + 1,)       series i is values[offsets[i]:offsets[i+1]]
    attrs["layout"] = "collection"; attrs["variables"] (V names); attrs["series_ids"] (N)

:func:`read_series` reads it, an HDF5 file in the lmcast layout
(:func:`lmcast.core.series.data.load_dataset`) or a CSV (any layout
:func:`lmcast.core.series.data.read_long_csv` reads) as :class:`~lmcast.core.series.data.LongSeries`.

:func:`seen_record` and :func:`leaks` keep an adapter honest: the record holds, for every
series a run trained on, how many leading steps it saw and a SHA-256 of those values; a
benchmark asks whether any of its held-out steps is among them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcast.configs import CsvInput
from lmcast.core.series.data import (
    LongSeries,
    check_stored_here,
    load_dataset,
    read_long_csv,
    written_hdf5,
)
from lmcast.core.series.timeaxis import Axis, regular_axis
from lmcast.errors import DataError, LmcastError

if TYPE_CHECKING:
    from lmcast.configs import CsvInput
    from lmcast.core.series.data import LongSeries
    from lmcast.core.series.timeaxis import Axis

LAYOUT = "collection"


def _fail(path: Path | str, problem: str) -> DataError:
    return DataError(f"{path}: {problem}".replace("\n", "\\n"))


def is_collection(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file in the ragged layout (``False`` for anything else)."""
    import h5py

    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size == 0 or not h5py.is_hdf5(p):
            return False
        with h5py.File(p, "r") as f:
            return f.attrs.get("layout") == LAYOUT or "offsets" in f
    except OSError:
        return False


def holds_series(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file of series, each of its own scale — a CSV or a ragged
    collection — rather than one system's trajectories (an HDF5 file in the lmcast layout)."""
    return Path(path).suffix.lower() == ".csv" or is_collection(path)


def save_collection(
    series: Sequence[np.ndarray],
    path: str | os.PathLike,
    ids: Sequence[str] | None = None,
    variables: Sequence[str] = ("y",),
    attrs: dict | None = None,
) -> Path:
    """Write ``series`` (N arrays ``(T_i, V)`` or ``(T_i,)``) atomically in the ragged layout
    and note the file as lmcast's. Callers refuse a user's file first
    (:func:`~lmcast.core.runs.runinfo.check_output_file`)."""
    arrays = [np.asarray(s, dtype=np.float32).reshape(len(s), -1) for s in series]
    if not arrays:
        raise DataError("a collection needs at least one series")
    v = len(variables)
    if any(a.shape[1] != v for a in arrays):
        raise DataError(f"every series needs {v} variables")
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    ids = [str(i) for i in (ids if ids is not None else range(len(arrays)))]
    with written_hdf5(path) as f:
        f.create_dataset("values", data=np.concatenate(arrays), compression="gzip")
        f.create_dataset("offsets", data=offsets)
        f.attrs["layout"] = LAYOUT
        f.attrs["variables"] = list(variables)
        f.attrs["series_ids"] = ids
        for k, val in (attrs or {}).items():
            f.attrs[k] = val
    return Path(path).absolute()


def load_collection(path: str | os.PathLike) -> LongSeries:
    """Read and validate a ragged HDF5 file (series ``i`` on the time axis ``0 … T_i - 1``).

    Raises:
        DataError: not such a file, offsets that do not cut ``/values``, an empty series,
            non-finite values, or ids that do not name each series once.
    """
    import h5py

    p = Path(path)
    try:
        with h5py.File(p, "r") as f:
            if "values" not in f or "offsets" not in f:
                raise _fail(p, "a collection needs /values and /offsets")
            for name in ("values", "offsets"):  # links, other files, declared sizes
                check_stored_here(f, name, p)
            values = np.asarray(f["values"][()], dtype=np.float64)
            offsets = np.asarray(f["offsets"][()])
            names = [
                str(x.decode() if isinstance(x, bytes) else x) for x in f.attrs.get("variables", [])
            ]
            ids = [
                str(x.decode() if isinstance(x, bytes) else x)
                for x in f.attrs.get("series_ids", [])
            ]
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise _fail(p, f"cannot read HDF5 file ({exc})") from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or offsets.ndim != 1 or offsets.size < 2:
        raise _fail(p, f"/values {values.shape} and /offsets {offsets.shape} are not a collection")
    if (
        not np.issubdtype(offsets.dtype, np.integer)
        or offsets[0] != 0
        or offsets[-1] != len(values)
    ):
        raise _fail(p, "/offsets must run from 0 to the length of /values")
    if np.any(np.diff(offsets) < 1):
        raise _fail(p, "/offsets holds an empty series or runs backwards")
    if not np.all(np.isfinite(values)):
        raise _fail(
            p, f"/values holds {int(np.count_nonzero(~np.isfinite(values)))} NaN or infinite values"
        )
    n, v = offsets.size - 1, values.shape[1]
    if len(names) != v:
        names = ["y"] if v == 1 else [f"var{i}" for i in range(v)]
    if not ids:
        ids = [str(i) for i in range(n)]
    if len(ids) != n or len(set(ids)) != n:
        raise _fail(p, f"attribute 'series_ids' must name each of the {n} series once")
    parts = [values[offsets[i] : offsets[i + 1]] for i in range(n)]
    times = [np.arange(len(x), dtype=np.float64) for x in parts]
    return LongSeries(ids, times, parts, names, [Axis(t) for t in times], [0] * n, "hdf5")


def read_series(
    path: str | os.PathLike, csv: CsvInput | None = None, max_series: int | None = None
) -> LongSeries:
    """Every series of a CSV (any layout :func:`lmcast.core.series.data.read_long_csv` reads, as
    ``csv`` says), a ragged collection or an HDF5 file in the lmcast layout, as
    :class:`~lmcast.core.series.data.LongSeries`.

    Raises:
        DataError: unreadable data.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        c = csv or CsvInput()
        return read_long_csv(
            path,
            c.id_column,
            c.time_column,
            layout=c.layout,
            missing=c.missing,
            max_series=max_series,
        )
    if is_collection(path):
        return load_collection(path)
    ds = load_dataset(path)
    n = ds.shape[0]
    time = np.asarray(ds.time, dtype=np.float64)
    axis = Axis(time)
    if "time_stamps" in ds.attrs:  # imported from a dated CSV: its dates and frequency
        axis = _stamped_axis(path, time, ds.attrs)
    return LongSeries(
        [str(x) for x in ds.attrs.get("series_ids", range(n))],
        [time] * n,
        [np.asarray(x, dtype=np.float64) for x in ds.trajectories],
        list(ds.variables),
        [axis] * n,
        [0] * n,
        "hdf5",
    )


def _stamped_axis(path: Path, time: np.ndarray, attrs: dict) -> Axis:
    """The dated axis of an HDF5 file's ``time_stamps`` (and ``time_freq``; inferred from
    the dates when absent), checked: one date per step, each parseable, regular.

    Raises:
        DataError: one line naming the file and what is wrong.
    """
    raw = [str(x) for x in np.atleast_1d(attrs["time_stamps"])]
    try:
        stamps = np.array(raw, dtype="datetime64[ns]")
    except ValueError as exc:
        raise DataError(f"{path}: time_stamps holds a value that is not a date ({exc})") from None
    if stamps.shape != time.shape:
        raise DataError(f"{path}: {stamps.size} time_stamps for {time.size} steps")
    freq = attrs.get("time_freq")
    if freq is None:  # inferred as a dated CSV's would be
        try:
            axis = regular_axis(time, stamps, np.zeros((time.size, 1)), "error", str(path))[0]
        except LmcastError as exc:
            raise DataError(f"{path}: no time_freq, and {exc}") from None
        return Axis(time, stamps, axis.freq)
    return Axis(time, stamps, str(freq))


def steps_digest(values: np.ndarray) -> str:
    """SHA-256 (first 16 hex digits) of ``(T, V)`` values as float32: the same steps of the
    same series give the same digest whatever file they came from."""
    a = np.ascontiguousarray(np.asarray(values, dtype=np.float32).reshape(len(values), -1))
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


def seen_record(values: Sequence[np.ndarray], seen: Sequence[int]) -> dict[str, list[str]]:
    """``{str(n_seen): [digest of the first n_seen steps, …]}`` over the series a run trained
    on (``values[i]`` is ``(T_i, V)``; the run saw its first ``seen[i]`` steps)."""
    out: dict[str, list[str]] = {}
    for v, n in zip(values, seen, strict=True):
        out.setdefault(str(int(n)), []).append(steps_digest(v[: int(n)]))
    return {k: sorted(set(d)) for k, d in sorted(out.items(), key=lambda kv: int(kv[0]))}


def leaks(record: dict[str, list[str]], values: np.ndarray, horizon: int) -> bool:
    """Whether a run with ``record`` (:func:`seen_record`) saw any of the last ``horizon``
    steps of the series ``values`` ``(T, V)``: some ``n`` with ``T - horizon < n <= T`` whose
    first ``n`` steps it trained on."""
    t = len(values)
    for key, digests in record.items():
        n = int(key)
        if t - horizon < n <= t and steps_digest(values[:n]) in set(digests):
            return True
    return False
