"""Ablations of the training recipe, each scored on the same validation trajectories.

An experiment, not a test. Every variant changes one thing from the base
recipe (512-token windows, batch 4, lr 1e-3, 20 warm-up steps, cosine, LoRA r8
on q/v, precision 2, greedy decoding), trains with ``lmcast train`` for the
same number of steps, and is scored with ``lmcast evaluate --split val`` on
the same trajectories. Each variant is compared with the base, paired over
trajectories (:func:`lmcast.compare.metrics.paired_comparison`). Variants run
``--parallel`` at a time (one GPU holds several). Writes ``ablations.json``
and ``ablations.md`` into ``--out``; the commands run are stored in the JSON.

Usage::

    python scripts/ablations.py --data lv1000.h5 --out experiments/ablations \\
        --steps 240 --val-trajectories 50 --parallel 4
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lmcast.compare.metrics import paired_comparison


@dataclass(frozen=True)
class Variant:
    """One ablation: what changes, as ``lmcast train`` / ``evaluate`` options."""

    name: str
    change: str
    train: tuple[str, ...] = ()
    evaluate: tuple[str, ...] = ()
    reuse: str | None = None  # evaluate another variant's adapter instead of training


VARIANTS = (
    Variant("base", "base recipe"),
    Variant("seed1", "base, seed 1 (seed-to-seed spread)", ("--seed", "1")),
    Variant(
        "window128",
        "128-token windows, batch 16 (same tokens)",
        ("--context-length", "128", "--batch-size", "16"),
    ),
    Variant("lr3e-4", "lr 3e-4", ("--lr", "3e-4")),
    Variant("lr3e-3", "lr 3e-3", ("--lr", "3e-3")),
    Variant("warmup0", "no warm-up", ("--warmup-steps", "0")),
    Variant("warmup60", "60 warm-up steps", ("--warmup-steps", "60")),
    Variant(
        "all-linear",
        "LoRA on all 7 linear layers",
        ("--target-modules", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"),
    ),
    Variant("rank4", "LoRA rank 4", ("--rank", "4", "--lora-alpha", "8")),
    Variant("rank16", "LoRA rank 16", ("--rank", "16", "--lora-alpha", "32")),
    Variant("precision1", "precision 1 (alpha auto)", ("--precision", "1")),
    Variant("precision3", "precision 3 (alpha auto)", ("--precision", "3")),
    Variant("top8", "LoRA on the top 8 layers only", ("--lora-layers", "8")),
    Variant(
        "median10", "base adapter, median of 10 samples", evaluate=("--samples", "10"), reuse="base"
    ),
    Variant(
        "median5", "base adapter, median of 5 samples", evaluate=("--samples", "5"), reuse="base"
    ),
)


def _run(cmd: list[str], log: list[str], logfile: Path) -> None:
    log.append(shlex.join(cmd))
    with open(logfile, "a") as f:
        print("+", shlex.join(cmd), file=f, flush=True)
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)


def run_variant(v: Variant, args: argparse.Namespace, out: Path) -> dict:
    """Train (unless reused) and evaluate one variant; its metrics and cost."""
    d = out / v.name
    d.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    lm = [sys.executable, "-m", "lmcast"]
    common = ["--model", args.model, "--data", args.data, "--device", args.device]
    run = out / (v.reuse or v.name) / "run"
    t0 = time.time()
    if v.reuse is None and not (run / "adapter").is_dir():
        cmd = [*lm, "train", *common, "--out", str(run), "--max-steps", str(args.steps)]
        cmd += ["--batch-size", "4", "--context-length", "512", "--lr", "1e-3"]
        cmd += ["--warmup-steps", str(args.warmup), "--eval-steps", str(args.steps)]
        cmd += ["--save-steps", "0"]
        cmd += ["--no-progress", *v.train]  # argparse: the variant's later flags win
        _run(cmd, log, d / "log.txt")
    train_s = time.time() - t0
    ev = d / "eval"
    if not (ev / "metrics.json").is_file():
        cmd = [*lm, "evaluate", *common, "--adapter", str(run), "--split", "val"]
        cmd += ["--trajectories", str(args.val_trajectories), "--context-steps"]
        cmd += [str(args.context_steps), "--horizon", str(args.horizon), "--no-oracle"]
        cmd += ["--visualize-first-n", "0", "--out", str(ev), "--batch-size"]
        cmd += [str(args.eval_batch_size), *v.evaluate]
        _run(cmd, log, d / "log.txt")
    m = json.loads((ev / "metrics.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    tc = json.loads((run / "run.json").read_text())["config"]
    tokens = summary["steps"] * tc["batch_size"] * tc["grad_accum"] * tc["context_length"]
    return {
        "name": v.name,
        "change": v.change,
        "commands": log,
        "tokens": tokens,
        "train_flops": summary.get("flops"),
        "train_seconds": round(train_s, 1),
        "val_loss": summary.get("val_loss_final"),
        "mae": m["model"]["original"]["mae"],
        "parse_success": m["model"]["parse_success"],
        "persistence_mae": m["persistence"]["original"]["mae"],
        "eval_flops": m["flops"],
        "per_trajectory_mae": m["per_trajectory_mae"]["model"],
        "vs_persistence": m["comparisons"]["persistence"],
    }


def table(rows: list[dict], args: argparse.Namespace) -> str:
    """Markdown table: each variant against the base, paired over trajectories."""
    lines = [
        f"{args.steps} steps each; validation split, first {args.val_trajectories} trajectories, "
        f"{args.context_steps} → {args.horizon}; MAE in original units; Δ = variant − base "
        "(95 % paired bootstrap interval).",
        "",
        "| variant | change | tokens | train FLOPs | val MAE | Δ vs base [95 % CI] | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r.get("vs_base")
        delta = (
            f"{c['mean_difference']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c else "–"
        )
        verdict = c["verdict"] if c else "–"
        lines.append(
            f"| {r['name']} | {r['change']} | {r['tokens']:,} | {r['train_flops']:.3e} | "
            f"{r['mae']:.4f} | {delta} | {verdict} |"
        )
    pers = rows[0]["persistence_mae"]
    lines += ["", f"Persistence on the same trajectories: {pers:.4f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=240)
    p.add_argument("--warmup", type=int, default=20, help="warm-up steps of the base recipe")
    p.add_argument("--val-trajectories", type=int, default=50)
    p.add_argument("--context-steps", type=int, default=80)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--eval-batch-size", type=int, default=20, help="sequences generated together")
    p.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["LMCAST_WORKSPACE"] = str(out)  # one ledger for all variants: out/ledger.db
    wanted = set(filter(None, args.only.split(","))) or {v.name for v in VARIANTS}
    chosen = [v for v in VARIANTS if v.name in wanted]
    trained = [v for v in chosen if v.reuse is None]
    reused = [v for v in chosen if v.reuse is not None]
    results: dict[str, dict] = {}
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        for v, res in zip(trained, pool.map(lambda v: _safe(v, args, out), trained), strict=True):
            results[v.name] = res
    for v in reused:  # after the adapters they reuse exist
        results[v.name] = _safe(v, args, out)
    rows = [results[v.name] for v in chosen if "mae" in results[v.name]]
    base = results.get("base")
    for r in rows:
        if base and "mae" in base and r["name"] != "base":
            r["vs_base"] = paired_comparison(r["per_trajectory_mae"], base["per_trajectory_mae"])
    failed = {k: v["error"] for k, v in results.items() if "error" in v}
    (out / "ablations.json").write_text(
        json.dumps({"args": vars(args), "rows": rows, "failed": failed}, indent=1) + "\n"
    )
    if rows:
        (out / "ablations.md").write_text(table(rows, args))
        print(table(rows, args))
    if failed:
        print("failed:", json.dumps(failed, indent=1))


def _safe(v: Variant, args: argparse.Namespace, out: Path) -> dict:
    try:
        return run_variant(v, args, out)
    except (subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
        return {"name": v.name, "error": repr(exc)}


if __name__ == "__main__":
    main()
