"""The context-length study: the best sweep configuration trained at several window lengths."""

from __future__ import annotations

from dataclasses import asdict

from lmcast.configs import ContextStudyConfig, ModelData, Protocol, SweepConfig, TrialBudget, shared
from lmcast.errors import LmcastError
from lmcast.logs import get_logger
from lmcast.runinfo import write_json
from lmcast.study.sweep import Trial, best_record, make_trial, run_trial
from lmcast.study.workspace import Workspace

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


def best_from_sweep(ws: Workspace) -> dict:
    """The best sweep trial's parameters (``lr``, ``rank``, ``precision`` where swept)."""
    res = ws.read(ws.sweep_results)
    if res is None:
        raise LmcastError(
            f"{ws.sweep_results}: no sweep results; run `lmcast sweep` first or pass --no-from-best"
        )
    if not res.get("best"):
        raise LmcastError(f"{ws.sweep_results}: the sweep has no finished trial")
    return res["best"]["params"]


def identical_sweep_trial(ws: Workspace, trial: Trial) -> dict | None:
    """A finished sweep trial that trained the same weights and was scored the same way, if any."""
    want = trial.evaluate
    for rec_path in sorted(ws.sweep_dir.glob("*/record.json")):
        rec = ws.read(rec_path)
        val = ws.read(ws.sweep_dir / rec["key"] / "val" / "metrics.json")
        if val is None or not trial.same_training(rec["train_config"]):
            continue
        prot = val["protocol"]
        if (prot["n_trajectories"], prot["context_steps"], prot["horizon"]) == (
            want.trajectories,
            want.context_steps,
            want.horizon,
        ):
            return rec
    return None


def run_context_study(cfg: ContextStudyConfig) -> dict:
    """Train and score one run per context length; write ``context/results.json``."""
    ws = Workspace.at(cfg.workspace, ledger=cfg.ledger)
    lengths = parse_lengths(cfg.context_lengths)
    base = {"lr": cfg.lr, "rank": cfg.rank, "precision": cfg.precision}
    if cfg.from_best:
        base.update({k: v for k, v in best_from_sweep(ws).items() if k in base})
    scfg = SweepConfig(
        **shared(ModelData, cfg),
        **shared(Protocol, cfg),
        **shared(TrialBudget, cfg),
        workspace=str(ws.root),
        grid=["lr=1"],
    )
    rows = []
    for length in lengths:
        point = {**base, "context_length": length}
        trial = make_trial(scfg, point, experiment="context-study", root="context")
        same = identical_sweep_trial(ws, trial)
        if same is not None:
            log.info(
                "context length %d: identical to sweep trial %s, reusing it", length, same["key"]
            )
            rows.append({**same, "params": point, "reused_from": same["out"]})
            continue
        log.info("context length %d (%s)", length, point)
        rows.append(run_trial(trial))
    res = {"base": base, "rows": rows, "best": best_record(rows), "config": asdict(cfg)}
    write_json(ws.context_results, res)
    _plot(ws, rows)
    return res


def _plot(ws: Workspace, rows: list[dict]) -> None:
    from lmcast.plots import plot_curves

    xs = [r["params"]["context_length"] for r in rows]
    plot_curves(
        ws.context_figure,
        {
            "validation MAE": (xs, [r["val_mae"] for r in rows]),
            "validation loss": (xs, [r["val_loss"] or float("nan") for r in rows]),
        },
        "training context length (tokens)",
        "value",
        title="context-length study",
    )


def format_context(res: dict) -> str:
    """Fixed-width text of :func:`run_context_study`."""
    lines = [f"{'context':>8}{'val MAE':>10}{'val loss':>10}{'steps':>7}"]
    for r in res["rows"]:
        lines.append(
            f"{r['params']['context_length']:>8}{r['val_mae']:>10.4f}"
            f"{(r['val_loss'] or float('nan')):>10.4f}{r['steps']:>7}"
        )
    lines.append(f"\nbest context length: {res['best']['params']['context_length']}")
    return "\n".join(lines)
