"""Package a trained general adapter: ``lmcast export`` of the run, its LoRA weights stored
as float16 (half the bytes; the loader casts them to the model's dtype), and a card that
says how it was made.

    python scripts/ship_adapter.py WORKDIR DEST [--max-context-steps N] [--benchmark LEADERBOARD.md]...

WORKDIR is what ``scripts/general_adapter.sh`` wrote (corpus.json, run/, ledger.db);
DEST (e.g. src/lmcast/lm/adapters/general) is replaced. Each ``--benchmark`` table is
appended to the card as measured.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path


def _forecasters(leaderboard: Path) -> list[str]:
    """The forecasters of the benchmark whose ``leaderboard.md`` this is (its
    ``benchmark.json`` beside it)."""
    info = json.loads((leaderboard.parent / "benchmark.json").read_text())
    return list(info["config"]["forecasters"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--benchmark", type=Path, action="append", default=[])
    ap.add_argument("--lmcast", default="lmcast")
    ap.add_argument(
        "--max-context-steps", type=int, help="passed to lmcast export (chosen on validation)"
    )
    args = ap.parse_args()
    run, dest = args.work / "run", args.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.new"
    shutil.rmtree(tmp, ignore_errors=True)
    cap = ["--max-context-steps", str(args.max_context_steps)] if args.max_context_steps else []
    subprocess.run([args.lmcast, "export", str(run), "--out", str(tmp), *cap], check=True)

    import torch
    from safetensors.torch import load_file, save_file

    weights = tmp / "adapter_model.safetensors"
    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    cfg = json.loads((tmp / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "smollm2-135m"  # not the trainer's cache path
    (tmp / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n")

    corpus = json.loads((args.work / "corpus.json").read_text())
    corpus.pop("out", None)
    import h5py

    with h5py.File(args.work / "corpus.h5", "r") as f:
        arima = float(f.attrs.get("arima_share", 0.0))
        season = float(f.attrs.get("season_share", 0.0))
    summary = json.loads((run / "summary.json").read_text())
    info = json.loads((run / "run.json").read_text())
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    wall = args.work / "train_seconds"
    seconds = float(wall.read_text()) if wall.is_file() else None
    tcfg = info["config"]
    lines = [
        "",
        "## How this adapter was made",
        "",
        "```",
        f"{f'ARIMA={arima:g} ' if arima else ''}{f'SEASON={season:g} ' if season else ''}"
        "bash scripts/general_adapter.sh WORKDIR"
        "   # lmcast data synth + lmcast train (below)",
        f"python scripts/ship_adapter.py WORKDIR {dest}"
        + " ".join(["", *cap])
        + " --benchmark BENCH/leaderboard.md" * bool(args.benchmark),
        "```",
        "",
        f"- Corpus: `lmcast data synth --n {corpus['n']} --seed 0 --min-length 48 "
        f"--max-length 320{f' --arima-share {arima:g}' * bool(arima)}"
        f"{f' --season-share {season:g}' * bool(season)}` (KernelSynth-style "
        "Gaussian-process kernels, trend x season x noise, TSMixup mixes"
        + (", integrated ARMA with drift" if arima else "")
        + (", repeated seasons of any shape" if season else "")
        + "; no real series).",
        f"- Corpus statistics: `{json.dumps(corpus)}`",
        f"- Training: {summary['steps']} steps of {tcfg['batch_size']} windows x "
        f"{tcfg['context_length']} tokens, LoRA r{tcfg['rank']} on "
        f"{', '.join(tcfg['target_modules'])}, lr {tcfg['lr']} ({tcfg['schedule']}), "
        f"seed {tcfg['seed']}, split seed {tcfg['split_seed']}; each series scaled on its own, "
        f"{tcfg['precision']} decimals written without the point.",
        f"- FLOPs charged: {summary['flops']:.3e}; {summary['tokens_per_second']:.0f} tokens/s "
        f"on the training machine"
        + (f", {seconds / 60:.1f} minutes of wall-clock time." if seconds else "."),
        f"- Validation loss ({summary['val_windows']} windows of the "
        f"{round(0.1 * corpus['n'])} held-out synthetic series) by step: "
        + ", ".join(f"{s}: {v:.4f}" for s, v in val),
        "- Weights stored as float16 (the loader casts them to the model's dtype).",
    ]
    for b in args.benchmark:
        lines += [
            "",
            "## Benchmark: the 24 classics, the last 12 steps held out",
            "",
            "`python scripts/real_series_benchmark.py --work BENCH/.. --name classics_general "
            f"--forecasters {','.join(_forecasters(b))}` (`adapter:general_vN`: a copy of an "
            "adapter shipped before this one, whose recipe the findings page names; "
            "`adapter:indomain`: `scripts/classics_indomain.py`, trained on the series' contexts "
            "with `--holdout 12`).",
            "",
            b.read_text().strip().removeprefix("# lmcast benchmark").strip(),
            "",
        ]
    with open(tmp / "README.md", "a") as f:
        f.write("\n".join(lines) + "\n")
    # the export names the trainer's own paths (data, command): say WORKDIR instead
    for name in ("README.md", "lmcast_export.json"):
        text = (tmp / name).read_text()
        for w in sorted({str(args.work.resolve()), str(args.work)}, key=len, reverse=True):
            text = text.replace(w, "WORKDIR")
        (tmp / name).write_text(text)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    print(f"shipped {dest}: {sum(p.stat().st_size for p in dest.iterdir()) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
