"""The context-length study: the best sweep configuration trained at several window lengths."""

from __future__ import annotations

from lmcast.compare.plots import plot_curves
from lmcast.configs import TrialSpec
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import write_json
from lmcast.errors import LmcastError
from lmcast.study.choice import LONGEST_WINDOW, choose, chosen_row
from lmcast.study.sweep import AXES, Trial, make_trial, run_trial
from lmcast.study.workspace import Workspace

log = get_logger("context")


def check_lengths(lengths: list[int]) -> list[int]:
    """The training window lengths, deduplicated and sorted (integers >= 8).

    Raises:
        LmcastError: none given, or one that is not an integer >= 8.
    """
    if not lengths or not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
        raise LmcastError(f"context lengths must be integers >= 8, got {lengths!r}")
    if min(lengths) < 8:
        raise LmcastError(f"context lengths must be integers >= 8, got {lengths!r}")
    return sorted(set(lengths))


def best_from_sweep(ws: Workspace) -> dict:
    """The best sweep trial's parameters (``lr``, ``rank``, ``lora_alpha``, ``precision``
    where swept)."""
    res = ws.read(ws.sweep_results)
    if res is None:
        raise LmcastError(
            f"{ws.sweep_results}: no sweep results; run `lmcast sweep` first or pass --no-from-best"
        )
    if isinstance(res, dict) and res.get("best") is None and res.get("rows") == []:
        raise LmcastError(f"{ws.sweep_results}: the sweep has no finished trial")
    return ws.read_choice(ws.sweep_results, ())["params"]


def identical_sweep_trial(ws: Workspace, trial: Trial) -> dict | None:
    """A finished sweep trial that trained the same weights and was scored the same way, if any."""
    want = trial.evaluate
    for rec_path in sorted(ws.sweep_dir.glob("*/record.json")):
        rec = ws.read(rec_path)
        val = ws.metrics(ws.sweep_dir / rec["key"] / "val")
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


def run_context_study(
    ws: Workspace,
    lengths: list[int],
    spec: TrialSpec,
    base: dict,
    from_best: bool = True,
    config: dict | None = None,
) -> dict:
    """Train and score one run per context length; write ``context/results.json``.

    Args:
        lengths: training window lengths in tokens.
        spec: what every trial shares (its ``context_length`` is each of ``lengths``).
        base: ``lr``, ``rank`` and ``precision`` of every trial; with ``from_best``, the
            sweep's best trial's values replace those it swept, and any other axis it swept
            (``lora_alpha``) is added, so a trial trains what the sweep's best trained.
        config: the command's own config, stored beside the results.
    """
    lengths = check_lengths(lengths)
    base = dict(base)
    if from_best:
        base.update({k: v for k, v in best_from_sweep(ws).items() if k in AXES})
    rows = []
    for length in lengths:
        point = {**base, "context_length": length}
        trial = make_trial(ws, spec, point, experiment="context-study", root="context")
        same = identical_sweep_trial(ws, trial)
        if same is not None:
            log.info(
                "context length %d: identical to sweep trial %s, reusing it", length, same["key"]
            )
            rows.append({**same, "params": point, "reused_from": same["out"]})
            continue
        log.info("context length %d (%s)", length, point)
        rows.append(run_trial(trial))
    choice = choose(rows, LONGEST_WINDOW, seed=spec.seed)
    res = {
        "base": base,
        "rows": rows,
        "best": chosen_row(rows, choice),
        "choice": choice,
        "config": config or {},
    }
    write_json(ws.context_results, res)
    _plot(ws, rows)
    return res


def _plot(ws: Workspace, rows: list[dict]) -> None:
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
    lines.append(f"\nchosen context length: {res['best']['params']['context_length']}")
    if res.get("choice"):
        lines.append(f"rule: {res['choice']['rule']}")
    return "\n".join(lines)
