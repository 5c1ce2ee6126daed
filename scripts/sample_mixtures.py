"""Equal-cost mixtures of sample paths on the classics' validation contexts (never the test
steps): does pooling the general adapter's samples with another source's beat 20 of its own?

``generate`` keeps the raw sample paths of each source (``WORK/samples/o{O}_s{S}_{name}.npz``,
``(N, K, H, V)`` per dataset, original units; reserved and charged on ``--ledger``, default
``WORK/ledger.db``); ``score`` pools the first k paths of each
source of an arm (point = the median, quantiles as ``lmcast benchmark`` takes them), scores
every series as the benchmark does, and writes per-series MASE and WQL with seasonal naive's
beside them to ``docs/findings/sampling/mixtures.json`` (``scripts/findings.py`` renders it).

Usage::

    for o in 1 2; do for s in 0 1 2; do
      python scripts/sample_mixtures.py generate --work W --origin $o --seed $s \\
        --source v7=general:150 --source v7b=general:150:100 --source v7c75=general:75 \\
        --source zs=:200 --source v6=PATH_V6:150 --source v4=PATH_V4:150
    done; done
    python scripts/sample_mixtures.py score --work W --seeds 0,1,2 \\
        v7:20 v7:10+v7b:10 v7:20+v7b:20 v7:10+v7c75:10 v7:10+zs:10 v7:10+v6:10 v7:7+v6:7+v4:6

A source is ``NAME=ADAPTER:STEPS[:SEED_OFFSET]`` (an empty ADAPTER is the base model, zero-shot;
STEPS the most context steps it reads); an arm is ``NAME:K+NAME:K…``, the first is the
reference. An arm may also be a classical forecaster alone (``ets``) or paths combined with one
at equal weight (``v7:20|ets``: the mean of the points and of each quantile level)::

    python scripts/sample_mixtures.py score --work W --seeds 0,1,2 \\
        --out docs/findings/sampling/combination.json ets v7:20 'v7:20|ets'
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_series_benchmark import FILES, drop_last

ROOT = Path(__file__).resolve().parents[1]
HORIZON = 12


def contexts(work: Path, origin: int) -> Path:
    """The classics without their last ``origin`` × 12 steps (the benchmark then holds out
    the 12 before those)."""
    classics = work / "classics"
    if not classics.is_dir():
        subprocess.run(
            [sys.executable, "-m", "lmcast", "data", "classics", "--out", str(classics)],
            check=True,
        )
    return drop_last(classics, work / f"contexts_o{origin}", origin * HORIZON)


@functools.cache
def tasks(work: Path, origin: int) -> list:
    """The 4 benchmark tasks of the validation contexts (read once per origin)."""
    from lmcast.configs import BenchmarkConfig
    from lmcast.forecasting.benchmark import load_task

    d = contexts(work, origin)
    files = [str(d / f"{f}.csv") for f in FILES]
    cfg = BenchmarkConfig(data=files, horizon=HORIZON, out=str(work / "unused"))
    return [load_task(p, f, cfg) for p, f in zip(files, FILES, strict=True)]


def source(spec: str) -> tuple[str, str, int, int]:
    """``NAME=ADAPTER:STEPS[:SEED_OFFSET]`` → ``(name, adapter, steps, offset)``."""
    name, eq, rest = spec.partition("=")
    parts = rest.split(":")
    numbers = parts[1:]
    if not (name and eq and len(parts) in (2, 3) and all(n.isdigit() for n in numbers)):
        raise argparse.ArgumentTypeError(f"{spec!r}: expected NAME=ADAPTER:STEPS[:SEED_OFFSET]")
    if int(numbers[0]) < 2:
        raise argparse.ArgumentTypeError(f"{spec!r}: STEPS must be at least 2")
    return name, parts[0], int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else 0


def generate(args: argparse.Namespace) -> None:
    from lmcast.accounting.ledger import Ledger
    from lmcast.forecasting.forecaster import Forecaster, charged_predict
    from lmcast.lm.decode import Sampling

    work = Path(args.work)
    ledger = Ledger(args.ledger or f"sqlite:///{work / 'ledger.db'}")
    out = work / "samples"
    out.mkdir(parents=True, exist_ok=True)
    ts = tasks(work, args.origin)
    for name, adapter, steps, offset in args.source:
        path = out / f"o{args.origin}_s{args.seed}_{name}.npz"
        if path.exists():
            continue
        fc = Forecaster.load(args.model, adapter=adapter or None)
        fc.max_context_steps = steps
        t0 = time.perf_counter()
        seed = args.seed + offset
        arrays = {}
        for t in ts:  # reserved, then charged as it runs (also when interrupted)
            arrays[t.name] = charged_predict(
                fc,
                fc.plan(t.contexts, HORIZON, Sampling(samples=20, seed=seed)),
                ledger,
                experiment="sample_mixtures",
                name=f"sample_mixtures:{name}:o{args.origin}_s{args.seed}:{t.name}",
                what=f"{name} on {t.name}",
                kind="benchmark",
                config={"source": name, "adapter": adapter, "steps": steps, "seed": seed},
            ).samples
        np.savez_compressed(path, **arrays)
        print(f"origin {args.origin} seed {args.seed} {name}: {time.perf_counter() - t0:.0f} s")


def arm_files(work: Path, arm: str, origin: int, seed: int) -> list[tuple[Path, int | None]]:
    """The kept samples an arm pools in one run, and how many paths of each (None: all)."""
    from lmcast.compare.classical import CLASSICAL_NAMES

    out = []
    paths = arm.partition("|")[0]
    for piece in [] if paths in CLASSICAL_NAMES else paths.split("+"):
        name, _, k = piece.partition(":")
        out.append((work / "samples" / f"o{origin}_s{seed}_{name}.npz", int(k) if k else None))
    return out


def pooled_samples(work: Path, arm: str, origin: int, seed: int, dataset: str) -> np.ndarray:
    parts = [np.load(f)[dataset][:, :k] for f, k in arm_files(work, arm, origin, seed)]
    return np.concatenate(parts, axis=1)


@functools.cache
def snaive_scores(work: Path, origin: int) -> dict[str, dict]:
    """dataset → seasonal naive's per-series scores (deterministic: once per origin)."""
    from lmcast.forecasting.benchmark import score

    return {
        t.name: score(t, *classical_forecast(work, "snaive", origin, t.name))["per_series"]
        for t in tasks(work, origin)
    }


@functools.cache
def classical_forecast(work: Path, name: str, origin: int, dataset: str) -> tuple:
    """``(point (N, H, V), quantiles (Q, N, H, V))`` of a classical forecaster fitted on one
    dataset's validation contexts, as the benchmark fits it (deterministic: once)."""
    from lmcast.compare import classical

    t = next(t for t in tasks(work, origin) if t.name == dataset)
    f = classical.predict(name, t.contexts, HORIZON, t.season)
    return f.point, f.quantiles


def arm_forecast(work: Path, arm: str, origin: int, seed: int, t) -> tuple:
    """``(point, quantiles)`` of an arm on task ``t``: its pooled paths (point = the median,
    quantiles as the benchmark takes them), or ``PATHS|CLASSICAL`` (e.g. ``v7:20|ets``): the
    equal-weight combination of those paths' forecast with a classical forecaster's (the
    mean of the points, and of the quantiles level by level)."""
    from lmcast.compare import metrics

    paths, _, partner = arm.partition("|")
    s = pooled_samples(work, paths, origin, seed, t.name)
    last = np.stack([c[-1] for c in t.contexts])
    point = metrics.fill_unparsed(np.nanmedian(s, axis=1), last)
    q = metrics.sample_quantiles(s)
    q = np.where(np.isfinite(q), q, point[None])
    if partner:
        p2, q2 = classical_forecast(work, partner, origin, t.name)
        point, q = (point + p2) / 2, (q + q2) / 2
    return point, q


def score_run(work: Path, arm: str, origin: int, seed: int) -> dict[str, list[float]]:
    """series → ``[MASE, WQL, seasonal naive's MASE, its WQL]``; an arm that names no paths
    (``ets``) is that classical forecaster alone."""
    from lmcast.compare import classical
    from lmcast.forecasting.benchmark import score

    out = {}
    for t in tasks(work, origin):
        if arm in classical.CLASSICAL_NAMES:
            point, q = classical_forecast(work, arm, origin, t.name)
        else:
            point, q = arm_forecast(work, arm, origin, seed, t)
        mine = score(t, point, q)["per_series"]
        ref = snaive_scores(work, origin)[t.name]
        for sid in t.ids:
            out[f"{t.name}/{sid}"] = [
                mine[sid]["mase"],
                mine[sid]["wql"],
                ref[sid]["mase"],
                ref[sid]["wql"],
            ]
    return out


def score_arms(args: argparse.Namespace) -> None:
    from lmcast.compare.classical import CLASSICAL_NAMES

    work = Path(args.work)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [(o, s) for o in (1, 2) for s in seeds]
    for arm in args.arms:
        partner = arm.partition("|")[2]
        if partner and partner not in CLASSICAL_NAMES:
            raise SystemExit(f"{arm}: {partner!r} is not a classical forecaster {CLASSICAL_NAMES}")
        for o, s in runs:
            for f, _ in arm_files(work, arm, o, s):
                if not f.is_file():
                    raise SystemExit(
                        f"no kept samples at {f} (run generate for that source and run)"
                    )
    record = {
        "commands": [" ".join(["python", "scripts/sample_mixtures.py", *sys.argv[1:]])],
        "reference": args.arms[0],
        "runs": [f"o{o}_s{s}" for o, s in runs],
        "arms": {a: {f"o{o}_s{s}": score_run(work, a, o, s) for o, s in runs} for a in args.arms},
    }
    out = Path(args.out)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="keep 20 sample paths per series of each source")
    g.add_argument("--work", required=True)
    g.add_argument("--origin", type=int, default=1)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--model", default="smollm2-135m")
    g.add_argument("--ledger", help="FLOP ledger (default: sqlite:///WORK/ledger.db)")
    g.add_argument(
        "--source", type=source, action="append", required=True, help="NAME=ADAPTER:STEPS[:OFFSET]"
    )
    s = sub.add_parser("score", help="score arms (mixtures) over the kept samples")
    s.add_argument("--work", required=True)
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--out", default=str(ROOT / "docs" / "findings" / "sampling" / "mixtures.json"))
    s.add_argument("arms", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        generate(args)
        return
    try:
        score_arms(args)
    except SystemExit as exc:  # a missing input: a usage error, nothing written
        if isinstance(exc.code, str):
            ap.error(exc.code)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
