"""Time axes of series as people have them: numbers or dates, a regular step, gaps filled.

A series' sample times must lie on a regular grid: numbers ``t0 + k·step`` or dates at a
frequency pandas names (``MS`` monthly, ``QS-OCT`` quarterly, ``W-SUN`` weekly, ``h``
hourly, …; inferred, never asked for). Missing grid points (a gap) and missing values
(an empty cell) are filled by linear interpolation and counted, or refused under
``missing="error"``. Times that fit no grid are refused with one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmcast.core.logs import get_logger
from lmcast.errors import LmcastError

log = get_logger("timeaxis")

MISSING_POLICIES = ("interpolate", "error")
# A grid may hold at most this many times as many points as the series has
# observations; sparser than that, the times are called irregular.
MAX_GRID_RATIO = 2.0
# Numeric times may miss their grid point by this share of a step (rounded decimals).
STEP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Axis:
    """A regular time axis.

    Attributes:
        times: ``(T,)`` float times (numbers as given; dates as step numbers from 0).
        stamps: ``(T,)`` ``datetime64[ns]`` dates, or ``None`` for numeric times.
        freq: the pandas frequency of dates (``"MS"``, ``"QS-OCT"``…), or ``None``.
    """

    times: np.ndarray
    stamps: np.ndarray | None = None
    freq: str | None = None

    def after(self, horizon: int) -> list[str] | np.ndarray:
        """The ``horizon`` times after the axis: dates continue its frequency (ISO text,
        ``YYYY-MM-DD`` when every date is midnight), numbers its step."""
        if self.stamps is None:
            return continue_numeric(self.times, horizon)
        return format_stamps(self.next_stamps(horizon))

    def next_stamps(self, horizon: int):
        """The ``horizon`` dates after the axis's last one, at its frequency (a pandas
        ``DatetimeIndex``; the axis has dates)."""
        import pandas as pd

        assert self.stamps is not None
        return pd.date_range(pd.Timestamp(self.stamps[-1]), periods=horizon + 1, freq=self.freq)[1:]


def continue_numeric(times: np.ndarray, horizon: int) -> np.ndarray:
    """``(H,)`` times after ``times`` (``(C,)``), continuing its last spacing (1 for one time)."""
    t = np.asarray(times, dtype=np.float64)
    step = t[-1] - t[-2] if len(t) > 1 and math.isfinite(t[-1] - t[-2]) else 1.0
    return t[-1] + step * np.arange(1, horizon + 1)


def format_stamps(stamps) -> list[str]:
    """ISO text of dates: ``YYYY-MM-DD`` when all are midnight, else ``YYYY-MM-DD HH:MM:SS``."""
    import pandas as pd

    idx = pd.DatetimeIndex(stamps)
    fmt = "%Y-%m-%d" if (idx == idx.normalize()).all() else "%Y-%m-%d %H:%M:%S"
    return list(idx.strftime(fmt))


def parse_times(texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """``(numbers, dates)``: all-numeric texts → ``(float array, None)``; else every text must
    be a date or datetime → ``(step placeholder zeros, datetime64[ns] array)``.

    Raises:
        LmcastError: a text that is neither (names it), a time zone mix, a non-finite number.
    """
    numbers = [_number(x) for x in texts]
    if all(v is not None for v in numbers):
        nums = np.array(numbers, dtype=np.float64)
        bad = ~np.isfinite(nums)
        if bad.any():
            raise LmcastError(f"time {texts[int(np.argmax(bad))]!r} is not finite")
        return nums, None
    mixed = next((x for x, v in zip(texts, numbers, strict=True) if v is not None), None)
    if mixed is not None:
        raise LmcastError(f"time column mixes numbers ({mixed!r}) and dates")
    import pandas as pd

    local, zones = zip(*(split_zone(x) for x in texts), strict=True) if texts else ((), ())
    zoned = [z for z in zones if z]
    if zoned and len(zoned) < len(zones):
        naive = next(x for x, z in zip(texts, zones, strict=True) if not z)
        raise LmcastError(
            f"time column mixes times with a zone ({texts[zones.index(zoned[0])]!r}) and "
            f"without ({naive!r}): give every time a zone, or none"
        )
    try:  # local wall-clock times: a daily series across a daylight-saving change stays daily
        idx = pd.to_datetime(pd.Series(list(local)), format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise LmcastError(f"time column: not numbers and not ISO dates ({first})") from None
    if zoned:
        steps = np.diff(np.sort(idx.to_numpy(dtype="datetime64[ns]")))  # wall-clock steps
        if len(steps) and steps.min() < np.timedelta64(1, "D"):
            utc = pd.to_datetime(pd.Series(list(texts)), format="ISO8601", utc=True)
            utc = utc.dt.tz_convert(None)
            # hours and minutes: the clock repeats an hour in autumn and skips one in
            # spring, UTC does neither (a daily series keeps its local dates below)
            if len(set(zoned)) > 1:
                log.info("time zone offsets change (%s): sub-daily times are read in UTC",
                         ", ".join(sorted(set(zoned))))  # fmt: skip
            return np.zeros(len(texts)), utc.to_numpy(dtype="datetime64[ns]")
    if len(set(zoned)) > 1:
        log.info(
            "time zone offsets change (%s): the local times are used", ", ".join(sorted(set(zoned)))
        )
    return np.zeros(len(texts)), idx.to_numpy(dtype="datetime64[ns]")


def split_zone(text: str) -> tuple[str, str]:
    """``(local time, zone)`` of an ISO time: ``"2026-03-29T00:00:00+02:00"`` →
    ``("2026-03-29T00:00:00", "+02:00")``; ``"…Z"`` → zone ``"Z"``; a date or a time
    without a zone → zone ``""``. Only the part after the date's ``T`` or space is read, so
    a date's own hyphens are never taken for an offset."""
    s = text.strip()
    cut = max(s.find("T"), s.find(" ", 8))
    if cut < 0:
        return s, ""
    clock = s[cut + 1 :]
    if clock.endswith(("Z", "z")):
        return s[:-1], "Z"
    for sign in ("+", "-"):
        at = clock.find(sign)
        if at > 0:
            return s[: cut + 1 + at], clock[at:]
    return s, ""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def regular_axis(
    times: np.ndarray, stamps: np.ndarray | None, values: np.ndarray, missing: str, name: str
) -> tuple[Axis, np.ndarray, int]:
    """Put one series on its regular grid.

    Args:
        times: ``(T,)`` increasing numeric times (ignored when ``stamps`` is given).
        stamps: ``(T,)`` increasing ``datetime64[ns]`` dates, or ``None``.
        values: ``(T, V)``, NaN where a cell was empty.
        missing: ``"interpolate"`` or ``"error"``.
        name: the series' id, for messages.

    Returns:
        ``(axis, values on the grid (T', V), points filled)`` where filled counts grid
        points that were absent plus empty cells.

    Raises:
        LmcastError: irregular times; a gap or empty cell under ``missing="error"``; a
            variable with no value at all.
    """
    if missing not in MISSING_POLICIES:
        raise LmcastError(f"--missing must be one of {', '.join(MISSING_POLICIES)}")
    if stamps is None:
        grid_pos, axis = _numeric_grid(np.asarray(times, dtype=np.float64), name)
    else:
        grid_pos, axis = _date_grid(stamps, name)
    n_grid = len(axis.times)
    gaps = n_grid - len(grid_pos)
    full = np.full((n_grid, values.shape[1]), np.nan)
    full[grid_pos] = values
    empty = int(np.isnan(values).sum(axis=1).astype(bool).sum())
    if (gaps or empty) and missing == "error":
        what = f"{gaps} missing time step(s)" if gaps else f"{empty} empty value(s)"
        raise LmcastError(
            f"series {name!r} has {what} (use --missing interpolate to fill them linearly)"
        )
    filled = int(np.isnan(full).any(axis=1).sum())
    if filled:
        x = np.arange(n_grid, dtype=np.float64)
        for k in range(full.shape[1]):
            ok = ~np.isnan(full[:, k])
            if not ok.any():
                raise LmcastError(f"series {name!r}: a variable has no value at all")
            full[:, k] = np.interp(x, x[ok], full[ok, k])  # ends: the nearest value
    return axis, full, filled


def _numeric_grid(t: np.ndarray, name: str) -> tuple[np.ndarray, Axis]:
    """Grid positions of numeric times and the axis; a time may sit off the grid by up to
    :data:`STEP_TOLERANCE` of a step (times written with few decimals)."""
    if len(t) < 2:
        return np.arange(len(t)), Axis(t)
    d = np.diff(t)
    smallest = float(d.min())
    step = float(np.median(d[d < 1.5 * smallest]))
    k = d / step
    on_grid = np.all(np.abs(k - np.round(k)) <= STEP_TOLERANCE) and np.round(k).min() >= 1
    if not on_grid or np.round(k).sum() + 1 > MAX_GRID_RATIO * len(t):
        raise LmcastError(
            f"series {name!r}: times are not regularly spaced (steps from {d.min():g} to "
            f"{d.max():g}, not multiples of one step)"
        )
    pos = np.concatenate([[0], np.cumsum(np.round(k).astype(np.int64))])
    # observed times stay as given; a missing step's time lies between its neighbours
    return pos, Axis(np.interp(np.arange(pos[-1] + 1), pos, t))


def _date_grid(stamps: np.ndarray, name: str) -> tuple[np.ndarray, Axis]:
    import pandas as pd

    idx = pd.DatetimeIndex(stamps)
    if len(idx) < 3:
        raise LmcastError(f"series {name!r}: {len(idx)} dates are too few to infer a frequency")
    freq = pd.infer_freq(idx)
    grid = idx if freq else None
    if grid is None:  # gaps: the step is the largest common step of the observed ones
        grid, freq = _calendar_grid(idx) or _duration_grid(idx) or (None, None)
    if grid is None or not idx.isin(grid).all() or len(grid) > MAX_GRID_RATIO * len(idx):
        raise LmcastError(
            f"series {name!r}: dates are not at a regular frequency "
            f"({format_stamps(idx[:3])[0]}, {format_stamps(idx[1:3])[0]}, …)"
        )
    pos = grid.get_indexer(idx)
    return pos, Axis(np.arange(len(grid), dtype=np.float64), grid.to_numpy("datetime64[ns]"), freq)


def _calendar_grid(idx) -> tuple | None:
    """Month-based steps (monthly, quarterly, yearly) with some months missing."""
    import pandas as pd

    if not (idx == idx.normalize()).all():
        return None
    months = idx.year * 12 + idx.month
    step = int(np.gcd.reduce(np.diff(months)))
    if step < 1:
        return None
    if (idx.day == 1).all():
        anchor = "MS"
    elif idx.is_month_end.all():
        anchor = "ME"
    else:
        return None
    freq = f"{step}{anchor}" if step > 1 else anchor
    grid = pd.date_range(idx[0], idx[-1], freq=freq)
    return grid, pd.tseries.frequencies.to_offset(freq).freqstr


def _duration_grid(idx) -> tuple | None:
    """Fixed-length steps (days, hours, weeks…) with some steps missing."""
    import pandas as pd

    ns = idx.asi8
    step = int(np.gcd.reduce(np.diff(ns)))
    if step <= 0 or (ns[-1] - ns[0]) // step + 1 > MAX_GRID_RATIO * len(ns):
        return None
    offset = pd.tseries.frequencies.to_offset(pd.Timedelta(step, unit="ns"))
    return pd.date_range(idx[0], idx[-1], freq=offset), offset.freqstr


def season_of(freq: str | None) -> int:
    """A default season length for a pandas frequency: 12 monthly, 4 quarterly, 7 daily,
    24 hourly, 52 weekly, 1 otherwise (yearly, numeric times, unknown)."""
    if not freq:
        return 1
    import pandas as pd

    base = pd.tseries.frequencies.to_offset(freq)
    name, n = base.name.split("-")[0], base.n
    per_year = {"MS": 12, "ME": 12, "QS": 4, "QE": 4, "W": 52}.get(name)
    if per_year is not None:
        return per_year // n if per_year % n == 0 and per_year // n > 1 else 1
    return {"D": 7, "B": 5, "h": 24}.get(name, 1) if n == 1 else 1
