"""The context-length study: the best sweep configuration trained at several window lengths."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from lmcast.configs import ContextStudyConfig, SweepConfig
from lmcast.errors import LmcastError
from lmcast.logs import get_logger
from lmcast.runinfo import write_json

log = get_logger("context")


def parse_lengths(text: str) -> list[int]:
    """``"128,512"`` → ``[128, 512]`` (positive integers)."""
    try:
        vals = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise LmcastError(
            f"--context-lengths must be comma-separated integers, got {text!r}"
        ) from None
    if not vals or min(vals) < 8:
        raise LmcastError(f"--context-lengths must be integers >= 8, got {text!r}")
    return vals


def best_from_sweep(workspace: str) -> dict:
    """The best sweep trial's parameters (``lr``, ``rank``, ``precision`` where swept)."""
    path = Path(workspace) / "sweep" / "results.json"
    if not path.exists():
        raise LmcastError(
            f"{path}: no sweep results; run `lmcast sweep` first or pass --no-from-best"
        )
    res = json.loads(path.read_text())
    if not res.get("best"):
        raise LmcastError(f"{path}: the sweep has no finished trial")
    return res["best"]["params"]


_SAME_KEYS = (
    "model",
    "data",
    "lr",
    "rank",
    "precision",
    "lora_alpha",
    "context_length",
    "max_steps",
    "batch_size",
    "seed",
    "target_modules",
    "grad_accum",
)


def _identical_sweep_trial(cfg: ContextStudyConfig, point: dict) -> dict | None:
    """A finished sweep trial with exactly this training configuration and protocol, if any."""
    for rec_path in sorted((Path(cfg.workspace) / "sweep").glob("*/record.json")):
        rec = json.loads(rec_path.read_text())
        tc = rec["train_config"]
        want = {
            "model": cfg.model,
            "data": cfg.data,
            "max_steps": cfg.max_steps,
            "batch_size": cfg.batch_size,
            "seed": cfg.seed,
            "lora_alpha": tc["lora_alpha"],
            "target_modules": tc["target_modules"],
            "grad_accum": tc["grad_accum"],
            **point,
        }
        val = json.loads((Path(rec["out"]) / "val" / "metrics.json").read_text())["protocol"]
        if (
            all(tc.get(k) == want[k] for k in _SAME_KEYS)
            and val["n_trajectories"] == cfg.val_trajectories
            and val["context_steps"] == cfg.context_steps
            and val["horizon"] == cfg.horizon
        ):
            return rec
    return None


def run_context_study(cfg: ContextStudyConfig) -> dict:
    """Train and score one run per context length; write ``context/results.json``."""
    from lmcast.sweep import best_record, run_trial

    lengths = parse_lengths(cfg.context_lengths)
    base = {"lr": cfg.lr, "rank": cfg.rank, "precision": cfg.precision}
    if cfg.from_best:
        base.update({k: v for k, v in best_from_sweep(cfg.workspace).items() if k in base})
    scfg = SweepConfig(
        data=cfg.data,
        model=cfg.model,
        workspace=cfg.workspace,
        max_steps=cfg.max_steps,
        batch_size=cfg.batch_size,
        eval_steps=cfg.eval_steps,
        val_trajectories=cfg.val_trajectories,
        context_steps=cfg.context_steps,
        horizon=cfg.horizon,
        seed=cfg.seed,
        ledger=cfg.ledger,
        progress=cfg.progress,
        grid=["lr=1"],
    )
    rows = []
    for length in lengths:
        point = {**base, "context_length": length}
        same = _identical_sweep_trial(cfg, point)
        if same is not None:
            log.info(
                "context length %d: identical to sweep trial %s, reusing it", length, same["key"]
            )
            rows.append({**same, "params": point, "reused_from": same["out"]})
            continue
        log.info("context length %d (%s)", length, point)
        rows.append(run_trial(scfg, point, experiment="context-study", root="context"))
    best = best_record(rows)
    res = {"base": base, "rows": rows, "best": best, "config": asdict(cfg)}
    write_json(Path(cfg.workspace) / "context" / "results.json", res)
    from lmcast.plots import plot_curves

    xs = [r["params"]["context_length"] for r in rows]
    plot_curves(
        Path(cfg.workspace) / "context" / "context_length.png",
        {
            "validation MAE": (xs, [r["val_mae"] for r in rows]),
            "validation loss": (xs, [r["val_loss"] or float("nan") for r in rows]),
        },
        "training context length (tokens)",
        "value",
        title="context-length study",
    )
    return res


def format_context(res: dict) -> str:
    lines = [f"{'context':>8}{'val MAE':>10}{'val loss':>10}{'steps':>7}"]
    for r in res["rows"]:
        lines.append(
            f"{r['params']['context_length']:>8}{r['val_mae']:>10.4f}"
            f"{(r['val_loss'] or float('nan')):>10.4f}{r['steps']:>7}"
        )
    lines.append(f"\nbest context length: {res['best']['params']['context_length']}")
    return "\n".join(lines)
