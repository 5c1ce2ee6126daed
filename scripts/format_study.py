"""The text-format study: how numbers are written decides tokens per step, and so how many
steps a window holds, how fast every forecast step is generated, and how well the model
learns per token. An experiment, not a test.

It collects learning curves that ``scripts/learning_curve.py`` wrote — one per format, the
same recipe, data, steps and validation trajectories — into one JSON: per format the
tokens per step (prompt and generated, counted by the model's tokenizer in each
evaluation), training tokens/s, seconds per generated step, validation MAE at every point
and its paired interval against the first (reference) format at the same tokens. With
512-token windows and the same batch, every format costs the same FLOPs and time per
training step, so equal steps are equal wall-clock time (the JSON keeps each run's FLOPs
per step to show it).

Usage::

    python scripts/format_study.py --out docs/findings/format_study.json \\
        "2 decimals, point=experiments/curve_base" \\
        "1 decimal, no point=experiments/curve_fmtA" \\
        "2 decimals, no point=experiments/curve_fmtB"
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _eval_metrics(run: Path, step: int) -> dict:
    return json.loads((run / f"eval_{step:06d}" / "metrics.json").read_text())


def _format(name: str, run: Path, reference: dict | None) -> dict:
    """One format's row: its learning curve, tokens per step and speeds."""
    from lmcast.compare.metrics import paired_comparison

    curve = json.loads((run / "curve.json").read_text())
    train = [json.loads(x) for x in (run / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in train if "tokens_per_s" in r]
    flops_per_step = (steps[-1]["flops"] - steps[0]["flops"]) / max(1, len(steps) - 1)
    points = []
    for p in curve["points"]:
        m = _eval_metrics(run, p["step"])
        proto = m["protocol"]
        n, c, h = proto["n_trajectories"], proto["context_steps"], proto["horizon"]
        row = {
            "step": p["step"],
            "tokens": p["tokens"],
            "mae": p["mae"],
            "persistence_mae": p["persistence_mae"],
            "vs_persistence": p["vs_persistence"],
            "prompt_tokens_per_step": m["tokens"]["prompt"] / (n * c),
            "generated_tokens_per_step": m["tokens"]["generated"] / (n * h),
            "seconds_per_generated_step": m["seconds"]["generation"] / (n * h),
            "format": m["encoding"].get("format", f"{m['encoding']['precision']} decimals"),
            "indices": p["indices"],
            "per_trajectory_mae": p["per_trajectory_mae"],
        }
        other = next(
            (q for q in (reference or {}).get("points", []) if q["tokens"] == p["tokens"]), None
        )
        if other is not None and other["indices"] == p["indices"] and p["step"] > 0:
            row["vs_reference"] = paired_comparison(
                p["per_trajectory_mae"], other["per_trajectory_mae"]
            )
        points.append(row)
    trained = [q for q in points if q["step"] > 0]
    return {
        "name": name,
        "run": str(run),
        "train_command": curve["commands"][0],
        "train_tokens_per_s": curve.get("train_tokens_per_s"),
        "train_flops_per_step": flops_per_step,
        "prompt_tokens_per_step": trained[-1]["prompt_tokens_per_step"],
        "generated_tokens_per_step": trained[-1]["generated_tokens_per_step"],
        "seconds_per_generated_step": sum(q["seconds_per_generated_step"] for q in trained)
        / len(trained),
        "points": points,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="NAME=CURVE_FOLDER; the first is the reference")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    formats: list[dict] = []
    for spec in args.runs:
        name, _, folder = spec.partition("=")
        formats.append(_format(name, Path(folder), formats[0] if formats else None))
    out = {
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "reference": formats[0]["name"],
        "formats": formats,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    for f in formats:
        end = f["points"][-1]
        vs = end.get("vs_reference")
        print(
            f"{f['name']:<24} {f['prompt_tokens_per_step']:.2f} tok/step  "
            f"{f['train_tokens_per_s'] or 0:.0f} tok/s  {f['seconds_per_generated_step']:.3f} s/step  "
            f"MAE {end['mae']:.3f}"
            + (f"  vs ref {vs['mean_difference']:+.3f} {vs['ci95']}" if vs else "")
        )


if __name__ == "__main__":
    main()
