"""Time-series data files: the HDF5 layout, validation, CSV import and splits.

The layout (the predator–prey reference files use it)::

    /trajectories   float32 (N, T, V)   N series, T timesteps, V variables
    /time           float   (T,)        shared, increasing sample times
    /params         float64 (N, P)      optional: simulator parameters
    attrs["variables"]                  optional: variable names, length V

Every reader goes through :func:`load_dataset`, which validates and raises
:class:`~lmcast.errors.DataError` with a one-line message naming the file.
Writers write to a temporary file and rename, so a failure leaves nothing.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmcast.core.runs import resources
from lmcast.core.runs.runinfo import check_output, record_written
from lmcast.core.series.timeaxis import Axis, format_stamps, parse_times, regular_axis
from lmcast.errors import DataError, LmcastError

DEFAULT_VARIABLES = ("prey", "predator")
SPLITS = ("train", "val", "test")


@dataclass
class Dataset:
    """A validated set of equally sampled multivariate series.

    Attributes:
        trajectories: ``(N, T, V)`` float32 values in original units.
        time: ``(T,)`` sample times.
        variables: V variable names.
        params: optional ``(N, P)`` simulator parameters.
        path: the file it came from, if any.
    """

    trajectories: np.ndarray
    time: np.ndarray
    variables: tuple[str, ...] = DEFAULT_VARIABLES
    params: np.ndarray | None = None
    path: Path | None = None
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(N, T, V)``."""
        n, t, v = self.trajectories.shape
        return n, t, v


def _fail(path: Path | str, problem: str) -> DataError:
    """One line about ``path`` (a newline from the file's own text is shown escaped)."""
    text = f"{path}: {problem}"
    return DataError(text.replace("\r", "\\r").replace("\n", "\\n"))


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read and validate an HDF5 file in the lmcast layout.

    Raises:
        DataError: the file is missing, empty, not HDF5, lacks ``/trajectories``
            or ``/time``, has the wrong rank, mismatched lengths, or non-finite values.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a directory, expected an HDF5 file")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty")
    if not h5py.is_hdf5(path):
        raise _fail(path, "not an HDF5 file")
    try:
        with h5py.File(path, "r") as f:
            for name in ("trajectories", "time"):
                if name not in f or not isinstance(f[name], h5py.Dataset):
                    raise _fail(path, f"missing dataset /{name}")
            for name in ("trajectories", "time", "params"):
                if name in f:
                    check_stored_here(f, name, path)
            traj = np.asarray(f["trajectories"][()])
            time = np.asarray(f["time"][()])
            params = np.asarray(f["params"][()]) if "params" in f else None
            attrs = {k: f.attrs[k] for k in f.attrs}
    except DataError:
        raise
    except (OSError, KeyError, ValueError) as exc:  # corrupt or truncated file
        raise _fail(path, f"cannot read HDF5 file ({exc})") from None
    return validate(traj, time, path=path, params=params, attrs=attrs)


# A dataset this small is read whatever the free memory says (a low LMCAST_MEMORY_LIMIT
# is for batches, not for reading a data file).
ALWAYS_READ_BYTES = 256 * 2**20


def check_stored_here(f: Any, name: str, path: Path | str) -> None:
    """Refuse, before reading, a dataset lmcast should not follow or cannot hold: a link
    into another file, external or virtual storage (another file, a FIFO that never
    answers), or a declared size over the memory lmcast may use (a file that declares
    10^6 × 10^6 values and stores none).

    Raises:
        DataError: one line naming the dataset.
    """
    import h5py

    link = f.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise _fail(path, f"/{name} is a link into another file ({link.filename}): not followed")
    ds = f[name]
    if ds.is_virtual or ds.external:
        raise _fail(path, f"/{name} is stored in other files (virtual or external): not read")
    if ds.dtype.kind not in "biuf":  # strings of a gigabyte each (a fill value) included
        raise _fail(path, f"/{name} has non-numeric dtype {ds.dtype}")
    need = int(np.prod(ds.shape, dtype=np.float64)) * ds.dtype.itemsize
    room = max(int(resources.free_bytes("cpu") * resources.MEMORY_SHARE), ALWAYS_READ_BYTES)
    if need > room:
        raise _fail(
            path,
            f"/{name} declares shape {ds.shape} of {ds.dtype} ({need / 2**30:,.1f} GiB), more "
            f"than the {room / 2**30:,.1f} GiB lmcast may use",
        )


def validate(
    traj: np.ndarray,
    time: np.ndarray,
    path: Path | str = "<array>",
    params: np.ndarray | None = None,
    attrs: dict | None = None,
) -> Dataset:
    """Check shapes and values and wrap them in a :class:`Dataset`."""
    attrs = dict(attrs or {})
    if not np.issubdtype(traj.dtype, np.number):
        raise _fail(path, f"/trajectories has non-numeric dtype {traj.dtype}")
    if traj.ndim != 3:
        raise _fail(path, f"/trajectories must have rank 3 (N, T, V), got shape {traj.shape}")
    if time.ndim != 1:
        raise _fail(path, f"/time must have rank 1 (T,), got shape {time.shape}")
    if not np.issubdtype(time.dtype, np.number):
        raise _fail(path, f"/time has non-numeric dtype {time.dtype}")
    n, t, v = traj.shape
    if n == 0 or t == 0 or v == 0:
        raise _fail(path, f"/trajectories is empty, shape {traj.shape}")
    if time.shape[0] != t:
        raise _fail(path, f"/time has length {time.shape[0]} but /trajectories has T={t} steps")
    if not np.all(np.isfinite(traj)):
        bad = int(np.count_nonzero(~np.isfinite(traj)))
        raise _fail(path, f"/trajectories holds {bad} NaN or infinite values")
    big = float(np.abs(traj).max())
    if big > np.finfo(np.float32).max:  # values are kept as float32: this would become inf
        raise _fail(path, f"/trajectories holds values up to {big:.3g}, beyond float32's range")
    if not np.all(np.isfinite(time)):
        raise _fail(path, "/time holds NaN or infinite values")
    if t > 1 and not np.all(np.diff(time) > 0):
        raise _fail(path, "/time is not strictly increasing")
    names = attrs.get("variables")
    if names is not None and (isinstance(names, (str, bytes)) or np.ndim(names) != 1):
        raise _fail(path, f"attribute 'variables' must be a list of names, got {names!r}")
    if names is not None:
        names = tuple(str(x.decode() if isinstance(x, bytes) else x) for x in names)
        if len(names) != v:
            names = None
    if names is None:
        names = DEFAULT_VARIABLES if v == 2 else tuple(f"var{i}" for i in range(v))
    ids = attrs.get("series_ids")
    if ids is not None:
        if isinstance(ids, (str, bytes)) or np.ndim(ids) != 1 or len(ids) != n:
            raise _fail(path, f"attribute 'series_ids' must name each of the {n} series")
        ids = [str(x.decode() if isinstance(x, bytes) else x) for x in ids]
        if len(set(ids)) != n:
            raise _fail(path, "attribute 'series_ids' names a series twice")
        attrs["series_ids"] = ids
    return Dataset(
        trajectories=traj.astype(np.float32, copy=False),
        time=time.astype(np.float64, copy=False),
        variables=names,
        params=params,
        path=Path(path) if path != "<array>" else None,
        attrs=attrs,
    )


@contextmanager
def written_hdf5(path: str | os.PathLike) -> Iterator[Any]:
    """An ``h5py.File`` to fill that becomes ``path`` only when the block ends without an
    error (a temporary file beside it, then a rename), noted as lmcast's
    (:func:`~lmcast.core.runs.runinfo.record_written`). Callers refuse outputs that would
    replace an input or a user's file first (:func:`~lmcast.core.runs.runinfo.check_output_file`)."""
    import h5py

    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=path.parent)
    os.close(fd)
    try:
        # the 1.8 format keeps attributes over 64 KiB (ids of thousands of series) densely
        with h5py.File(tmp, "w", libver=("v108", "latest")) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    record_written(path)


def save_dataset(ds: Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically (:func:`written_hdf5`) and return the path."""
    with written_hdf5(path) as f:
        f.create_dataset("trajectories", data=ds.trajectories.astype(np.float32))
        f.create_dataset("time", data=ds.time)
        if ds.params is not None:
            f.create_dataset("params", data=ds.params)
        f.attrs["variables"] = list(ds.variables)
        for k, val in ds.attrs.items():
            if k != "variables":
                f.attrs[k] = val
    return Path(path).absolute()


def split_indices(
    n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, np.ndarray]:
    """Deterministic trajectory-level split.

    Args:
        n: number of trajectories.
        fractions: train, val, test shares; they must sum to 1.
        seed: permutation seed.

    Returns:
        ``{"train": idx, "val": idx, "test": idx}``, each sorted int64 array of
        trajectory indices; disjoint and covering ``range(n)``.
    """
    if (
        len(fractions) != 3
        or not all(math.isfinite(f) and f >= 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-9
    ):
        raise DataError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    if seed < 0:
        raise DataError(f"the split seed must be >= 0, got {seed}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions[0] * n)
    n_val = round(fractions[1] * n)
    parts = (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
    return {name: np.sort(p).astype(np.int64) for name, p in zip(SPLITS, parts, strict=True)}


def describe(ds: Dataset, percentiles: Sequence[float] = (1, 5, 25, 50, 75, 95, 99)) -> dict:
    """Summary statistics: shape, time span and per-variable value ranges and percentiles."""
    n, t, v = ds.shape
    out: dict = {
        "path": str(ds.path) if ds.path else None,
        "shape": [n, t, v],
        "time": {"start": float(ds.time[0]), "end": float(ds.time[-1]), "steps": t},
        "variables": {},
    }
    for i, name in enumerate(ds.variables):
        x = ds.trajectories[:, :, i]
        pct = np.percentile(x, percentiles)
        out["variables"][name] = {
            "min": float(x.min()),
            "max": float(x.max()),
            "mean": float(x.mean()),
            "percentiles": {f"p{p:g}": float(q) for p, q in zip(percentiles, pct, strict=True)},
        }
    return out


@dataclass(frozen=True)
class LongSeries:
    """Series read from a CSV, each of its own length, on a regular time axis.

    Attributes:
        ids: N series ids, in order of first appearance.
        times: N arrays ``(T_i,)`` of sample times, increasing (dates: step numbers).
        values: N arrays ``(T_i, V)``, gaps and empty cells filled.
        variables: V variable (column) names.
        axes: N :class:`~lmcast.core.series.timeaxis.Axis` (dates and their frequency, if any).
        filled: N counts of time steps that were missing or had an empty cell, filled by
            linear interpolation.
        layout: ``"long"`` (``id,t,vars…``), ``"nixtla"`` (``unique_id,ds,y``) or
            ``"wide"`` (a time column and one column per series).
    """

    ids: list[str]
    times: list[np.ndarray]
    values: list[np.ndarray]
    variables: list[str]
    axes: list = field(default_factory=list)
    filled: list[int] = field(default_factory=list)
    layout: str = "long"


CSV_LAYOUTS = ("auto", "long", "nixtla", "wide")
NIXTLA_COLUMNS = ("unique_id", "ds", "y")
WIDE_TIME_COLUMNS = ("ds", "date", "time", "timestamp", "t")
MISSING_CELLS = ("", "na", "nan", "null", "none")


def _layout(header: list[str], layout: str, id_column: str, time_column: str) -> tuple:
    """``(layout, id column or None, time column)`` of a CSV header."""
    if layout not in CSV_LAYOUTS:
        raise DataError(f"--layout must be one of {', '.join(CSV_LAYOUTS)}, got {layout!r}")
    if layout == "nixtla" or (
        layout == "auto" and set(NIXTLA_COLUMNS) <= set(header) and id_column not in header
    ):
        return "nixtla", "unique_id", "ds"
    if layout == "long" or (layout == "auto" and id_column in header):
        return "long", id_column, time_column
    names = [time_column, *WIDE_TIME_COLUMNS] if layout == "wide" or layout == "auto" else []
    time_col = next((c for c in names if c in header), None)
    if time_col is None:
        raise DataError(
            f"columns {', '.join(header)} fit no layout: long ({id_column},{time_column},"
            f"variables…), Nixtla (unique_id,ds,y) or wide (a time column such as ds, then "
            f"one column per series)"
        )
    return "wide", None, time_col


def _cell(text: str | None) -> float:
    """A value cell: a number, or NaN when empty/NA (filled or refused later)."""
    t = (text or "").strip()
    if t.lower() in MISSING_CELLS:
        return math.nan
    v = float(t)
    if not math.isfinite(v):
        raise ValueError(t)
    return v


def _variable_columns(
    path: Path, header: list[str], kind: str, id_col: str | None, time_col: str,
    variables: Sequence[str] | None,
) -> list[str]:  # fmt: skip
    """The value columns of a CSV of this layout (refused in one line when missing)."""
    if kind == "nixtla":
        var_cols = ["y"]
    elif kind == "wide":
        var_cols = [c for c in header if c != time_col]
    else:
        for col in (id_col, time_col):
            if col not in header:
                raise _fail(path, f"missing column {col!r} (columns: {', '.join(header)})")
        var_cols = (
            list(variables) if variables else [c for c in header if c not in (id_col, time_col)]
        )
    missing_cols = [c for c in var_cols if c not in header]
    if missing_cols or not var_cols:
        raise _fail(path, f"no variable columns found (missing: {missing_cols})")
    return var_cols


@dataclass
class _Records:
    """A CSV's rows as compact columns: series ids (interned strings), times (floats while
    every time is a number, else the texts) and values (one float64 buffer, ``width`` per
    row)."""

    width: int
    ids: list[str] = field(default_factory=list)
    nums: array = field(default_factory=lambda: array("d"))
    texts: list[str] | None = None  # set once a time is not a number
    values: array = field(default_factory=lambda: array("d"))

    def add(self, sid: str, t: str, vals: Sequence[float]) -> None:
        self.ids.append(sys.intern(sid))
        if self.texts is None:
            try:
                self.nums.append(float(t))
            except ValueError:  # a date: keep every time's text from here on
                self.texts = [repr(v) for v in self.nums]
                self.texts.append(t)
        else:
            self.texts.append(t)
        self.values.extend(vals)

    def times(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(numbers, dates)`` as :func:`lmcast.core.series.timeaxis.parse_times` gives them."""
        if self.texts is None:
            nums = np.frombuffer(self.nums, dtype=np.float64)
            bad = ~np.isfinite(nums)
            if bad.any():
                raise DataError(f"time '{float(nums[int(np.argmax(bad))]):g}' is not finite")
            return nums.copy(), None
        return parse_times(self.texts)

    def time_text(self, i: int) -> str:
        return self.texts[i] if self.texts is not None else f"{self.nums[i]:g}"


def _read_records(
    path: Path, reader: Any, header: list[str], kind: str, id_col: str | None,
    time_col: str, var_cols: list[str], max_series: int | None,
) -> _Records:  # fmt: skip
    """Stream the rows after the header into :class:`_Records` (each checked, its line named)."""
    where = {c: i for i, c in enumerate(header)}
    vi, ti = [where[c] for c in var_cols], where[time_col]
    ii = where[id_col] if id_col is not None else None
    rec = _Records(1 if kind == "wide" else len(var_cols))
    keep: set[str] = set()
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) > len(header):
            raise _fail(path, f"line {lineno}: more fields than the header's {len(header)}")
        row = row + [""] * (len(header) - len(row))
        sid = row[ii] if ii is not None else None
        if sid is not None and max_series is not None and sid not in keep:
            if len(keep) >= max_series:
                continue  # a series past the first N: not parsed, not stored
            keep.add(sid)
        try:
            vals = [_cell(row[i]) for i in vi]
        except (TypeError, ValueError):
            raise _fail(path, f"line {lineno}: non-numeric time or value") from None
        t = row[ti].strip()
        if not t:
            raise _fail(path, f"line {lineno}: empty time")
        if kind == "wide":
            cols = var_cols[:max_series] if max_series is not None else var_cols
            for c, v in zip(cols, vals, strict=False):
                rec.add(c, t, (v,))
        else:
            assert sid is not None  # the long layout has an id column (_layout)
            rec.add(sid, t, vals)
    return rec


def read_long_csv(
    csv_path: str | os.PathLike,
    id_column: str = "id",
    time_column: str = "t",
    variables: Sequence[str] | None = None,
    layout: str = "auto",
    missing: str = "interpolate",
    max_series: int | None = None,
) -> LongSeries:
    """Read series from a CSV in any of three layouts; series may differ in length.

    The file is streamed into compact arrays (peak memory a few times its size, not a
    Python object per cell); ``max_series`` keeps the first N series (in order of first
    appearance) and neither parses nor stores the other rows.

    Layouts (``layout="auto"`` recognises them by their columns):

    * ``long``: ``id_column``, ``time_column`` and one column per variable (or only
      ``variables``); one row per series and time.
    * ``nixtla``: ``unique_id, ds, y`` (the statsforecast/Nixtla long format; other
      columns are ignored); one variable ``y``.
    * ``wide``: a time column (``time_column`` or ``ds``/``date``/``time``/``timestamp``)
      and one column per series; one variable ``y``.

    Times are numbers or ISO dates/datetimes (:mod:`lmcast.core.series.timeaxis`): each series must lie
    on a regular grid (a frequency is inferred for dates); missing grid points and empty
    or ``NA`` cells are filled by linear interpolation and counted in ``filled``, or refused
    with ``missing="error"``. A UTF-8 byte-order mark is accepted.

    Raises:
        DataError: not a file, unreadable, duplicate or missing columns, no rows,
            non-numeric values, a non-finite or unparsable time, a (series, time) pair
            twice, a row with more fields than the header, irregular times, or a gap under
            ``missing="error"``. ``lmcast forecast``, ``lmcast benchmark`` and ``lmcast
            data import`` all read CSV through here.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise _fail(csv_path, "no such file" if not csv_path.exists() else "not a file")
    try:
        # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first name
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            dup = sorted({h for h in header if header.count(h) > 1})
            if dup:
                said = ", ".join(map(repr, dup))
                raise _fail(csv_path, f"duplicate column name(s) {said} in the header")
            try:
                kind, id_col, time_col = _layout(header, layout, id_column, time_column)
            except DataError as exc:
                raise _fail(csv_path, str(exc)) from None
            var_cols = _variable_columns(csv_path, header, kind, id_col, time_col, variables)
            rec = _read_records(
                csv_path, reader, header, kind, id_col, time_col, var_cols, max_series
            )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(csv_path, f"cannot read CSV ({exc})") from None
    if not rec.ids:
        raise _fail(csv_path, "CSV has no data rows")
    try:
        nums, stamps = rec.times()
    except LmcastError as exc:
        raise _fail(csv_path, str(exc)) from None
    key = stamps.astype(np.int64).astype(np.float64) if stamps is not None else nums
    series: dict[str, list[int]] = {}
    for i, sid in enumerate(rec.ids):
        series.setdefault(sid, []).append(i)
    del rec.ids  # what remains per row: the arrays of times and values
    all_values = np.frombuffer(rec.values, dtype=np.float64).reshape(-1, rec.width)
    ids, axes, values, filled = list(series), [], [], []
    names = ["y"] if kind != "long" else var_cols
    for sid in ids:
        rows_i = np.array(series[sid])
        order = rows_i[np.argsort(key[rows_i], kind="stable")]
        k = key[order]
        same = np.flatnonzero(np.diff(k) == 0)
        if same.size:
            raise _fail(csv_path, f"series {sid!r} has time {rec.time_text(order[same[0]])} twice")
        vals = all_values[order].copy()
        try:
            if len(order) < 2:
                axis: Axis = Axis(nums[order], stamps[order] if stamps is not None else None)
                fills = 0
                if np.isnan(vals).any():
                    raise LmcastError(f"series {sid!r} has one row and no value")
            else:
                axis, vals, fills = regular_axis(
                    nums[order], stamps[order] if stamps is not None else None, vals, missing, sid
                )
        except LmcastError as exc:
            raise _fail(csv_path, str(exc)) from None
        axes.append(axis)
        values.append(vals)
        filled.append(fills)
    return LongSeries(ids, [a.times for a in axes], values, names, axes, filled, kind)


def import_csv(
    csv_path: str | os.PathLike,
    id_column: str = "id",
    time_column: str = "t",
    variables: Sequence[str] | None = None,
    layout: str = "auto",
    missing: str = "interpolate",
) -> Dataset:
    """Read a CSV (see :func:`read_long_csv`) into a :class:`Dataset`.

    All series must have the same number of rows and the same sample times.

    Raises:
        DataError: as :func:`read_long_csv`, plus unequal lengths or misaligned times.
    """
    csv_path = Path(csv_path)
    ls = read_long_csv(csv_path, id_column, time_column, variables, layout, missing)
    ref_times, first = ls.times[0], ls.axes[0]
    for sid, times, axis in zip(ls.ids, ls.times, ls.axes, strict=True):
        if times.shape != ref_times.shape:
            raise _fail(
                csv_path,
                f"series {sid!r} has {times.size} rows but series {ls.ids[0]!r} has "
                f"{ref_times.size}: all series must have equal length",
            )
        if first.stamps is not None and not np.array_equal(axis.stamps, first.stamps):
            raise _fail(
                csv_path,
                f"series {sid!r} covers other dates than series {ls.ids[0]!r} "
                f"({format_stamps(axis.stamps[:1])[0]} … against "
                f"{format_stamps(first.stamps[:1])[0]} …): all series must share their dates",
            )
        if not np.allclose(times, ref_times):
            raise _fail(
                csv_path, f"series {sid!r} is sampled at different times than series {ls.ids[0]!r}"
            )
    attrs = {"variables": ls.variables, "series_ids": ls.ids, "source": str(csv_path.name)}
    if first.stamps is not None:  # dates (every series on the same ones) and their frequency
        attrs["time_stamps"] = format_stamps(first.stamps)
        attrs["time_freq"] = first.freq
    traj = np.stack(ls.values)
    return validate(traj.astype(np.float32), ref_times, path=csv_path, attrs=attrs)


# Statistics of the coursework's reference file ``lotka_volterra_data.h5``
# (1000 × 100 × 2, time 0..200), as computed by :func:`dynamics_stats`; source:
# DESIGN.md "Data facts" and issue #10's table (measured on that file, 2026-11).
REFERENCE_STATS: dict = {
    "persistence_mae_80_20": 0.473,
    "persistence_mae_50_50": 0.497,
    "late_std": 0.384,
    "early_std": 0.557,
    "prey_mean_crossings": 9.24,
    "prey_percentiles": [0.072, 0.728, 1.314, 2.220, 7.115],
    "predator_percentiles": [0.017, 0.277, 0.524, 0.804, 1.699],
}
STATS_PERCENTILES = (1, 25, 50, 75, 99)


def dynamics_stats(trajectories: np.ndarray) -> dict:
    """Statistics that say how a set of predator–prey series moves (compare with :data:`REFERENCE_STATS`).

    Args:
        trajectories: ``(N, T, V)`` with ``V >= 2`` (prey, predator) and ``T >= 100``
            for the persistence rows (they use steps 0–99).

    Returns:
        ``persistence_mae_80_20`` / ``_50_50``: MAE of repeating step 79 (49) over
        steps 80–99 (50–99), all trajectories and variables; ``late_std`` /
        ``early_std``: the standard deviation over steps 80–99 (0–19) of each
        trajectory and variable, averaged; ``prey_mean_crossings``: how often each
        prey series crosses its own mean, averaged; prey and predator percentiles
        1/25/50/75/99 of all values.
    """
    x = np.asarray(trajectories, dtype=np.float64)
    _, t, v = x.shape
    if v < 2 or t < 100:
        raise DataError(f"dynamics statistics need (N, >=100, >=2) series, got {x.shape}")
    prey = x[:, :, 0]
    above = prey > prey.mean(axis=1, keepdims=True)
    return {
        "persistence_mae_80_20": float(np.abs(x[:, 80:100] - x[:, 79:80]).mean()),
        "persistence_mae_50_50": float(np.abs(x[:, 50:100] - x[:, 49:50]).mean()),
        "late_std": float(x[:, 80:100].std(axis=1).mean()),
        "early_std": float(x[:, 0:20].std(axis=1).mean()),
        "prey_mean_crossings": float((above[:, 1:] != above[:, :-1]).sum(axis=1).mean()),
        "prey_percentiles": np.percentile(prey, STATS_PERCENTILES).round(4).tolist(),
        "predator_percentiles": np.percentile(x[:, :, 1], STATS_PERCENTILES).round(4).tolist(),
    }


def compare_with_reference(stats: dict, reference: dict = REFERENCE_STATS) -> dict[str, bool]:
    """Each statistic within 15 % of the reference (percentiles: within 15 % or 0.05)."""
    ok = {}
    for key, ref in reference.items():
        got = stats[key]
        if isinstance(ref, list):
            ok[key] = all(
                abs(g - r) <= max(0.15 * abs(r), 0.05) for g, r in zip(got, ref, strict=True)
            )
        else:
            ok[key] = abs(got - ref) <= 0.15 * abs(ref)
    return ok
