"""Real public series that installed packages ship offline, as Nixtla CSVs (``lmcast data classics``).

Nothing is downloaded: the series come from the data files inside the ``statsmodels``
and ``statsforecast`` wheels (both lmcast dependencies).

* ``monthly.csv``: ``air_passengers`` (statsforecast: AirPassengers, 1949–60, 144
  steps), ``elnino_sst`` (statsmodels: elnino, Niño sea-surface temperature 1950–2010,
  732 steps).
* ``weekly.csv``: ``co2`` (statsmodels: co2, Mauna Loa 1958–2001, 2284 weeks, the
  missing ones left as empty cells).
* ``quarterly.csv``: ``macro_<name>`` ×12 (statsmodels: macrodata, US 1959–2009, 203
  steps), ``danish_<name>`` ×5 (statsmodels: danish_data, 1974–87, 55 steps),
  ``interest_<name>`` ×2 (statsmodels: interest_inflation, 107 steps).
* ``yearly.csv``: ``nile`` (statsmodels: nile, 1871–1970), ``sunspots``
  (statsmodels: sunspots, 1700–2008).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from lmcast.core.runs.runinfo import WRITTEN_LOG, check_output_files, record_written, write_text
from lmcast.errors import LmcastError

FILES = ("monthly.csv", "weekly.csv", "quarterly.csv", "yearly.csv")


def _frames() -> dict[str, list[tuple[str, list[str], list[float]]]]:
    """file name → ``(unique_id, ISO dates, values)`` per series."""
    import pandas as pd
    import statsmodels.datasets as sm
    from statsforecast.utils import AirPassengers

    def dates(idx) -> list[str]:
        return list(pd.DatetimeIndex(idx).strftime("%Y-%m-%d"))

    def quarters(df) -> list[str]:
        return [
            f"{int(y)}-{3 * (int(q) - 1) + 1:02d}-01"
            for y, q in zip(df.year, df.quarter, strict=True)
        ]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        air = [float(x) for x in AirPassengers]
        nino = sm.elnino.load_pandas().data
        co2 = sm.co2.load_pandas().data["co2"]
        macro = sm.macrodata.load_pandas().data
        danish = sm.danish_data.load_pandas().data
        interest = sm.interest_inflation.load_pandas().data
        nile = sm.nile.load_pandas().data
        sun = sm.sunspots.load_pandas().data
    months = nino.columns[1:]
    nino_vals = nino[months].to_numpy().ravel()
    nino_dates = [f"{int(y)}-{m:02d}-01" for y in nino.YEAR for m in range(1, 13)]
    monthly = [
        ("air_passengers", dates(pd.date_range("1949-01-01", periods=len(air), freq="MS")), air),
        ("elnino_sst", nino_dates, [float(x) for x in nino_vals]),
    ]
    weekly = [("co2", dates(co2.index), [float(x) for x in co2.to_numpy()])]
    quarterly = [
        (f"macro_{c}", quarters(macro), [float(x) for x in macro[c]])
        for c in macro.columns
        if c not in ("year", "quarter")
    ]
    quarterly += [
        (f"danish_{c}", dates(danish.index), [float(x) for x in danish[c]]) for c in danish.columns
    ]
    quarterly += [
        (f"interest_{c}", quarters(interest), [float(x) for x in interest[c]]) for c in ("Dp", "R")
    ]
    yearly = [
        ("nile", [f"{int(y)}-01-01" for y in nile.year], [float(x) for x in nile.volume]),
        ("sunspots", [f"{int(y)}-01-01" for y in sun.YEAR], [float(x) for x in sun.SUNACTIVITY]),
    ]
    out = {"monthly.csv": monthly, "weekly.csv": weekly, "quarterly.csv": quarterly}
    out["yearly.csv"] = yearly
    return out


def write_classics(out: str | Path, overwrite: bool = False) -> list[Path]:
    """Write the suite into ``out`` (a new or empty folder) as Nixtla CSVs
    (``unique_id,ds,y``; a missing value is an empty cell). Returns the files.

    Raises:
        LmcastError: ``out`` is a file or a folder holding other files, or one of the
            files exists and lmcast did not write it (without ``overwrite``).
    """
    out = Path(out)
    ours = (*FILES, WRITTEN_LOG)
    if out.exists() and (not out.is_dir() or any(p.name not in ours for p in out.iterdir())):
        raise LmcastError(f"--out {out}: choose a new or empty folder")
    check_output_files(out, tuple(FILES), overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in _frames().items():
        lines = ["unique_id,ds,y"]
        for sid, ds, ys in rows:
            lines += [f"{sid},{d},{'' if y != y else repr(y)}" for d, y in zip(ds, ys, strict=True)]
        paths.append(record_written(write_text(out / name, "\n".join(lines) + "\n")))
    return paths
