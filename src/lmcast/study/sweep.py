"""Hyper-parameter grid search, shareable by many workers on one or several machines.

What it is: lmcast enumerates the grid itself (:func:`grid_points`, a fixed
order) and workers take grid points through the claim table of
:mod:`lmcast.study.claims`, so no point runs twice even when workers race.
Each trial trains with :func:`lmcast.lm.train.train` and is scored with
:func:`lmcast.forecasting.evaluate.evaluate` on the validation split (forecast MAE in
original units is the objective; the final validation loss is recorded
beside it).

Optuna's part is the record, not the search: every finished (or failed) trial
is written to an Optuna study on the same storage URL in one ``add_trial``
call, so ``optuna.load_study`` and optuna-dashboard can read and plot the
sweep. No Optuna sampler picks points — a grid needs none, and Optuna's
``GridSampler`` hands the same point to racing workers, which the claim
table exists to prevent. Storage: an SQLite file in the workspace by
default, PostgreSQL when several machines join.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lmcast.configs import EvalConfig, ModelData, Protocol, TrainConfig, TrialSpec, shared
from lmcast.core.logs import configure, get_logger, quiet_third_party
from lmcast.core.runs.runinfo import write_json
from lmcast.errors import LmcastError
from lmcast.forecasting.evaluate import evaluate
from lmcast.lm.train import train
from lmcast.study.choice import LOWEST_VAL_LOSS, choose, chosen_row
from lmcast.study.claims import Claims
from lmcast.study.workspace import Workspace

log = get_logger("sweep")

AXES = {"lr": float, "rank": int, "precision": int, "lora_alpha": float, "context_length": int}
# TrainConfig fields that do not change the trained weights (bookkeeping, schedule of checks).
_NOT_WEIGHTS = {
    "out",
    "experiment",
    "resume",
    "progress",
    "ledger",
    "eval_steps",
    "save_steps",
    "eval_windows",
    "report_to",
    "max_flops",
}


def check_grid(grid: dict[str, list]) -> dict[str, list]:
    """The grid with each axis's values typed, deduplicated and sorted.

    ``{"lr": [1e-4, 1e-3], "rank": [8]}``: names from :data:`AXES`, each a non-empty list.

    Raises:
        LmcastError: an unknown axis, no values, or a value of the wrong type.
    """
    if not grid:
        raise LmcastError("the grid has no axis (e.g. {'lr': [1e-4, 1e-3]})")
    out: dict[str, list] = {}
    for name, values in grid.items():
        if name not in AXES:
            raise LmcastError(f"grid axis {name!r}: not one of {', '.join(AXES)}")
        kind = AXES[name]
        if not isinstance(values, (list, tuple)) or not values:
            raise LmcastError(f"grid axis {name!r}: no values")
        ok = all(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and (kind is float or v == int(v))
            for v in values
        )
        if not ok:
            raise LmcastError(f"grid axis {name!r}: values must be {kind.__name__}s, got {values}")
        out[name] = sorted({kind(v) for v in values})
    return out


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination, in a fixed order."""
    names = sorted(grid)
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(grid[n] for n in names))
    ]


def point_key(point: dict) -> str:
    """A stable folder-safe key of a grid point, e.g. ``lr=0.0001_rank=8``."""
    return "_".join(
        f"{k}={point[k]:g}" if isinstance(point[k], float) else f"{k}={point[k]}"
        for k in sorted(point)
    )


@dataclass(frozen=True)
class Trial:
    """One grid point of a sweep: where it lives and the configs that train and score it."""

    point: dict
    out: Path
    train: TrainConfig
    evaluate: EvalConfig

    @property
    def key(self) -> str:
        return point_key(self.point)

    def same_training(self, other: TrainConfig | dict) -> bool:
        """True when ``other`` trains exactly the same weights (bookkeeping fields aside)."""
        mine = {k: v for k, v in asdict(self.train).items() if k not in _NOT_WEIGHTS}
        theirs = other if isinstance(other, dict) else asdict(other)
        # compared as their JSON reads back: a record keeps a tuple of names as a list
        as_json = json.loads(json.dumps({k: theirs.get(k) for k in mine}, default=str))
        return as_json == json.loads(json.dumps(mine, default=str))


def make_trial(
    ws: Workspace,
    spec: TrialSpec,
    point: dict,
    experiment: str = "sweep",
    root: str = "sweep",
) -> Trial:
    """The train and evaluation configs of one grid point (a pure function of its inputs):
    ``spec`` with the point's values (``lr``, ``rank``, … from :data:`AXES`) replaced,
    trained into ``ws.root / root / point_key(point)`` and charged to ``ws``'s ledger."""
    out = ws.root / root / point_key(point)
    tcfg = TrainConfig(
        **shared(ModelData, spec),
        out=str(out),
        max_steps=spec.max_steps,
        context_length=spec.context_length,
        batch_size=spec.batch_size,
        eval_steps=spec.eval_steps,
        save_steps=spec.eval_steps,
        target_modules=spec.target_modules,
        lora_layers=spec.lora_layers,
        decimal_point=spec.decimal_point,
        warmup_steps=spec.warmup_steps,
        schedule=spec.schedule,
        seed=spec.seed,
        ledger=ws.ledger_url,
        experiment=experiment,
        progress=spec.progress,
    )
    tcfg = replace(tcfg, **{k: v for k, v in point.items() if k in AXES})
    ecfg = EvalConfig(
        **shared(ModelData, spec),
        **shared(Protocol, spec),
        adapter=str(out),
        split="val",
        trajectories=spec.val_trajectories,
        oracle=False,
        visualize_first_n=2,
        out=str(out / "val"),
        seed=spec.seed,
        ledger=ws.ledger_url,
        experiment=experiment,
    )
    return Trial(point, out, tcfg, ecfg)


def read_record(out: Path) -> dict | None:
    """A trial folder's ``record.json``; None when missing or unreadable (then redone)."""
    try:
        return Workspace.read(Workspace.record_file(out))
    except LmcastError as exc:
        log.warning("%s; the trial will be redone", exc)
        return None


def run_trial(trial: Trial) -> dict:
    """Train one grid point and score it on the validation split; returns its record.

    ``record.json`` (written last, atomically) marks a finished trial, and
    ``summary.json`` a finished training; a trial missing a marker resumes from
    its last checkpoint: interrupted training, a kill between the adapter and
    its summary, or an unreadable record are all redone, never a traceback.
    """
    import shutil

    out = trial.out
    done = read_record(out)
    if done is not None:
        return done
    if (out / "adapter").exists() and not Workspace.summary_file(out).exists():
        shutil.rmtree(out / "adapter")  # killed before its summary: finish again from a checkpoint
    resume = (out / "checkpoints").is_dir() and not (out / "adapter").exists()
    tcfg = replace(trial.train, resume=resume)
    tres = train(tcfg) if not (out / "adapter").exists() else None
    summary = Workspace.read(Workspace.summary_file(out))
    ev = evaluate(trial.evaluate, progress=trial.train.progress).metrics
    record = {
        "key": trial.key,
        "params": trial.point,
        "val_mae": ev["model"]["original"]["mae"],
        "val_rmse": ev["model"]["original"]["rmse"],
        "val_loss": summary["val_loss_final"],
        "val_loss_initial": summary["val_loss_initial"],
        "train_loss": summary["train_loss"],
        "parse_success": ev["model"]["parse_success"],
        "steps": summary["steps"],
        "train_flops": summary["flops"],
        "eval_flops": ev["flops"],
        "out": str(out),
        "persistence_val_mae": ev["persistence"]["original"]["mae"],
        "val_per_trajectory": ev["per_trajectory_mae"]["model"],
        "train_config": asdict(tcfg),
        "trained_now": tres is not None,
    }
    write_json(Workspace.record_file(out), record)
    return record


def _record_in_optuna(study: Any, grid: dict[str, list], point: dict, rec: dict | None) -> None:
    """Write one finished (``rec``) or failed (``None``) trial to the Optuna study in one call."""
    import optuna

    dists = {k: optuna.distributions.CategoricalDistribution(grid[k]) for k in grid}
    attrs: dict[str, Any] = {"key": point_key(point)}
    if rec is None:
        study.add_trial(
            optuna.trial.create_trial(
                params=point,
                distributions=dists,
                state=optuna.trial.TrialState.FAIL,
                user_attrs=attrs,
            )
        )
        return
    keep = ("val_loss", "val_rmse", "parse_success", "out", "train_flops", "eval_flops")
    attrs.update({k: rec[k] for k in keep})
    study.add_trial(
        optuna.trial.create_trial(
            params=point, distributions=dists, value=rec["val_mae"], user_attrs=attrs
        )
    )


def _study(ws: Workspace, study: str) -> Any:
    import optuna

    return optuna.create_study(
        study_name=study, storage=ws.storage_url, direction="minimize", load_if_exists=True
    )


def worker(
    ws: Workspace, grid: dict[str, list], spec: TrialSpec, study: str = "sweep"
) -> list[dict]:
    """Claim and run grid points until none is left; returns the records this worker produced."""
    from tqdm.auto import tqdm

    grid = check_grid(grid)
    claims = Claims(ws.storage_url, study)  # a bad URL: one line, first
    optuna_study = _study(ws, study)
    done: list[dict] = []
    for point in tqdm(
        grid_points(grid), desc="sweep trials", unit="trial", disable=not spec.progress
    ):
        key = point_key(point)
        trial = make_trial(ws, spec, point)
        if claims.status(key) == "done" and read_record(trial.out) is None:
            claims.set(key, "failed")  # marked done but its record is gone: take it again
        if not claims.claim(key):
            continue
        log.info("trial %s", key)
        try:
            with claims.holding(key):  # the lease stays fresh while the trial runs
                rec = run_trial(trial)
        except BaseException:
            claims.set(key, "failed")
            _record_in_optuna(optuna_study, grid, point, None)
            raise
        _record_in_optuna(optuna_study, grid, point, rec)
        claims.set(key, "done")
        done.append(rec)
    return done


def _worker_entry(ws: Workspace, grid: dict[str, list], spec: dict, study: str) -> None:
    """Entry point of a spawned worker process (``spec`` as a dict: plain pickling)."""
    configure(0)
    quiet_third_party()
    quiet_optuna()
    worker(ws, grid, TrialSpec(**spec), study)


def run_sweep(
    ws: Workspace,
    grid: dict[str, list],
    spec: TrialSpec,
    study: str = "sweep",
    workers: int = 1,
    config: dict | None = None,
) -> dict:
    """Run ``workers`` local workers over ``grid`` (each claims grid points), write
    ``sweep/results.json`` (with ``config``, the command's own, when given) and return the
    results table (:func:`results`). This process is the first worker; ``workers − 1``
    more are spawned (each imports the libraries afresh: one start-up fewer)."""
    grid = check_grid(grid)
    fresh = not ws.root.exists()
    ws.root.mkdir(parents=True, exist_ok=True)
    try:  # a bad storage URL: one line, before Optuna's traceback
        Claims(ws.storage_url, study)
    except LmcastError:
        if fresh and not any(ws.root.iterdir()):
            ws.root.rmdir()  # nothing half-made is left behind
        raise
    _study(ws, study)
    if workers <= 1:
        worker(ws, grid, spec, study)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        quiet = asdict(replace(spec, progress=False))
        procs = [
            ctx.Process(target=_worker_entry, args=(ws, grid, quiet, study))
            for _ in range(workers - 1)
        ]
        for p in procs:
            p.start()
        try:
            worker(ws, grid, spec, study)
        finally:  # the spawned ones finish their trials whatever this one did
            for p in procs:
                p.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise LmcastError(
                f"{len(failed)} sweep worker(s) failed (exit codes {failed}); rerun to retry"
            )
    res = results(ws, grid, spec, study)
    write_json(ws.sweep_results, {**res, "config": config or {"grid": grid, **asdict(spec)}})
    return res


def results(ws: Workspace, grid: dict[str, list], spec: TrialSpec, study: str = "sweep") -> dict:
    """The table of finished grid points (from the trial folders) and the best one."""
    grid = check_grid(grid)
    points = grid_points(grid)
    rows = [
        rec for rec in (read_record(make_trial(ws, spec, p).out) for p in points) if rec is not None
    ]
    choice = choose(rows, LOWEST_VAL_LOSS, seed=spec.seed) if rows else None
    return {
        "grid": grid,
        "rows": rows,
        "best": chosen_row(rows, choice) if choice else None,
        "choice": choice,
        "storage": ws.storage_url,
        "study": study,
        "complete": len(rows) == len(points),
    }


def format_results(res: dict) -> str:
    """Fixed-width text of :func:`results`."""
    names = sorted(res["grid"])
    head = (
        "".join(f"{n:>12}" for n in names)
        + f"{'val MAE':>10}{'val loss':>10}{'parse':>7}{'steps':>7}"
    )
    lines = [head]
    for r in sorted(res["rows"], key=lambda r: r["val_mae"]):
        vl = r["val_loss"] if r["val_loss"] is not None else float("nan")
        lines.append(
            "".join(f"{r['params'][n]:>12g}" for n in names)
            + f"{r['val_mae']:>10.4f}{vl:>10.4f}{r['parse_success']:>7.2f}{r['steps']:>7}"
        )
    if res["best"]:
        lines.append(f"\nchosen: {res['best']['key']} (val MAE {res['best']['val_mae']:.4f})")
        if res.get("choice"):
            lines.append(f"rule: {res['choice']['rule']}")
    return "\n".join(lines)


def quiet_optuna() -> None:
    """Optuna's per-study INFO lines off (entry points that run sweeps only; imports optuna)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
