"""Hyper-parameter grid search through Optuna, shareable by many workers.

Each trial trains with :func:`lmcast.train.train` and is scored with
:func:`lmcast.evaluate.evaluate` on the validation split (forecast MAE in
original units is the objective; the final validation loss is recorded
beside it). Trials live in an Optuna study (grid sampler) on a storage URL —
an SQLite file in the workspace by default, PostgreSQL when several machines
join. Workers claim grid points in a table of that same database with a
unique key, so no grid point runs twice even when workers race; a claim whose
trial failed, or whose worker process on this host has died, can be taken
again, so a crashed trial is retried by the next ``lmcast sweep``.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from lmcast.configs import EvalConfig, SweepConfig, TrainConfig
from lmcast.errors import LmcastError
from lmcast.logs import get_logger

log = get_logger("sweep")

AXES = {"lr": float, "rank": int, "precision": int, "lora_alpha": float, "context_length": int}


def parse_grid(specs: list[str] | None) -> dict[str, list]:
    """``["lr=1e-5,1e-4", "rank=2,4"]`` → ``{"lr": [1e-5, 1e-4], "rank": [2, 4]}``."""
    grid: dict[str, list] = {}
    for spec in specs or []:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in AXES:
            raise LmcastError(
                f"--grid {spec!r}: expected NAME=V1,V2,… with NAME one of {', '.join(AXES)}"
            )
        try:
            vals = [AXES[name](v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise LmcastError(f"--grid {spec!r}: values must be {AXES[name].__name__}s") from None
        if not vals:
            raise LmcastError(f"--grid {spec!r}: no values")
        grid[name] = sorted(set(vals))
    if not grid:
        raise LmcastError("give at least one --grid NAME=V1,V2,…")
    return grid


def best_record(rows: list[dict]) -> dict:
    """The trial record with the lowest validation MAE (ties: lower validation loss)."""
    return min(rows, key=lambda r: (r["val_mae"], r["val_loss"] or 0.0))


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


def storage_url(cfg: SweepConfig) -> str:
    return cfg.storage or f"sqlite:///{Path(cfg.workspace) / 'sweep.db'}"


def ledger_url(cfg: SweepConfig) -> str:
    return cfg.ledger or f"sqlite:///{Path(cfg.workspace) / 'ledger.db'}"


class Claims:
    """Grid-point claims in the storage database (one row per key, unique)."""

    def __init__(self, url: str, study: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=args)
        meta = sa.MetaData()
        self.table = sa.Table(
            "lmcast_claims",
            meta,
            sa.Column("study", sa.String(200), primary_key=True),
            sa.Column("key", sa.String(400), primary_key=True),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("host", sa.String(200), nullable=False),
            sa.Column("pid", sa.Integer, nullable=False),
            sa.Column("updated", sa.Float, nullable=False),
        )
        try:
            meta.create_all(self.engine)
        except sa.exc.OperationalError as exc:  # a concurrent worker created it
            if "already exists" not in str(exc):
                raise
        self.study = study
        self.me = (socket.gethostname(), os.getpid())

    def _stale(self, row: Any) -> bool:
        if row.status == "failed":
            return True
        if row.status == "running" and row.host == self.me[0]:
            try:
                os.kill(row.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False

    def claim(self, key: str) -> bool:
        """Atomically take ``key``; True when this worker now owns it."""
        sa, t = self.sa, self.table
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(t).values(
                        study=self.study,
                        key=key,
                        status="running",
                        host=self.me[0],
                        pid=self.me[1],
                        updated=now,
                    )
                )
            return True
        except sa.exc.IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t).where((t.c.study == self.study) & (t.c.key == key))
            ).first()
            if row is None or not self._stale(row):
                return False
            res = conn.execute(
                sa.update(t)
                .where(
                    (t.c.study == self.study)
                    & (t.c.key == key)
                    & (t.c.status == row.status)
                    & (t.c.pid == row.pid)
                    & (t.c.updated == row.updated)
                )
                .values(status="running", host=self.me[0], pid=self.me[1], updated=now)
            )
            return res.rowcount == 1

    def set(self, key: str, status: str) -> None:
        sa, t = self.sa, self.table
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where((t.c.study == self.study) & (t.c.key == key))
                .values(status=status, updated=time.time())
            )

    def statuses(self) -> dict[str, str]:
        sa, t = self.sa, self.table
        with self.engine.connect() as conn:
            return {
                r.key: r.status for r in conn.execute(sa.select(t).where(t.c.study == self.study))
            }


def _study(cfg: SweepConfig, grid: dict[str, list]) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.GridSampler(grid, seed=cfg.seed)
    return optuna.create_study(
        study_name=cfg.study,
        storage=storage_url(cfg),
        sampler=sampler,
        direction="minimize",
        load_if_exists=True,
    )


def trial_dir(cfg: SweepConfig, point: dict, root: str = "sweep") -> Path:
    return Path(cfg.workspace) / root / point_key(point)


def run_trial(
    cfg: SweepConfig, point: dict, experiment: str = "sweep", root: str = "sweep"
) -> dict:
    """Train one grid point and score it on the validation split; returns its record.

    A trial whose folder already holds a record is not rerun; one with
    checkpoints but no adapter (interrupted) resumes from its last checkpoint.
    """
    from lmcast.evaluate import evaluate
    from lmcast.train import train

    out = trial_dir(cfg, point, root)
    resume = (out / "checkpoints").is_dir() and not (out / "adapter").exists()
    if (out / "record.json").exists():
        return json.loads((out / "record.json").read_text())
    tcfg = TrainConfig(
        model=cfg.model,
        data=cfg.data,
        out=str(out),
        max_steps=cfg.max_steps,
        context_length=cfg.context_length,
        batch_size=cfg.batch_size,
        eval_steps=cfg.eval_steps,
        save_steps=cfg.eval_steps,
        seed=cfg.seed,
        ledger=ledger_url(cfg),
        experiment=experiment,
        progress=cfg.progress,
        resume=resume,
    )
    tcfg = replace(
        tcfg,
        **{k: v for k, v in point.items() if k in AXES},
    )
    tres = train(tcfg) if not (out / "adapter").exists() else None
    summary = json.loads((out / "summary.json").read_text())
    ecfg = EvalConfig(
        model=cfg.model,
        data=cfg.data,
        adapter=str(out),
        split="val",
        num_samples=cfg.val_trajectories,
        context_steps=cfg.context_steps,
        horizon=cfg.horizon,
        oracle=False,
        visualize_first_n=2,
        out=str(out / "val"),
        seed=cfg.seed,
        ledger=ledger_url(cfg),
        experiment=experiment,
    )
    ev = evaluate(ecfg, progress=cfg.progress)
    record = {
        "key": point_key(point),
        "params": point,
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
        "train_config": asdict(tcfg),
        "trained_now": tres is not None,
    }
    (out / "record.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def worker(cfg: SweepConfig) -> list[dict]:
    """Claim and run grid points until none is left; returns the records this worker produced."""
    import optuna

    grid = parse_grid(cfg.grid)
    study = _study(cfg, grid)
    claims = Claims(storage_url(cfg), cfg.study)
    done: list[dict] = []
    from tqdm.auto import tqdm

    points = grid_points(grid)
    for point in tqdm(points, desc="sweep trials", unit="trial", disable=not cfg.progress):
        key = point_key(point)
        if not claims.claim(key):
            continue
        log.info("trial %s", key)
        dists = {k: optuna.distributions.CategoricalDistribution(grid[k]) for k in grid}
        try:
            rec = run_trial(cfg, point)
        except BaseException:
            claims.set(key, "failed")
            study.add_trial(
                optuna.trial.create_trial(
                    params=point,
                    distributions=dists,
                    state=optuna.trial.TrialState.FAIL,
                    user_attrs={"key": key},
                )
            )
            raise
        # The finished trial is written to the Optuna study in one call (no
        # ask/tell window in which racing workers could swap grid points).
        study.add_trial(
            optuna.trial.create_trial(
                params=point,
                distributions=dists,
                value=rec["val_mae"],
                user_attrs={
                    "key": key,
                    **{
                        k: rec[k]
                        for k in (
                            "val_loss",
                            "val_rmse",
                            "parse_success",
                            "out",
                            "train_flops",
                            "eval_flops",
                        )
                    },
                },
            )
        )
        claims.set(key, "done")
        done.append(rec)
    return done


def _worker_entry(cfg_dict: dict) -> None:
    from lmcast.logs import configure

    configure(0)
    worker(SweepConfig(**cfg_dict))


def run_sweep(cfg: SweepConfig) -> dict:
    """Run ``cfg.workers`` local workers (each claims grid points) and return the results table."""
    grid = parse_grid(cfg.grid)
    Path(cfg.workspace).mkdir(parents=True, exist_ok=True)
    _study(cfg, grid)
    Claims(storage_url(cfg), cfg.study)
    if cfg.workers <= 1:
        worker(cfg)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        procs = [
            ctx.Process(target=_worker_entry, args=(asdict(replace(cfg, progress=False)),))
            for _ in range(cfg.workers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise LmcastError(
                f"{len(failed)} sweep worker(s) failed (exit codes {failed}); rerun to retry"
            )
    res = results(cfg)
    from lmcast.runinfo import write_json

    write_json(Path(cfg.workspace) / "sweep" / "results.json", {**res, "config": asdict(cfg)})
    return res


def results(cfg: SweepConfig) -> dict:
    """The table of finished grid points (from the trial folders) and the best one."""
    grid = parse_grid(cfg.grid)
    rows = []
    for point in grid_points(grid):
        rec = trial_dir(cfg, point) / "record.json"
        if rec.exists():
            rows.append(json.loads(rec.read_text()))
    best = best_record(rows) if rows else None
    return {
        "grid": grid,
        "rows": rows,
        "best": best,
        "storage": storage_url(cfg),
        "study": cfg.study,
        "complete": len(rows) == len(grid_points(grid)),
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
        lines.append(f"\nbest: {res['best']['key']} (val MAE {res['best']['val_mae']:.4f})")
    return "\n".join(lines)
