"""The FLOP ledger: every run that touches a model records the FLOPs it used.

Stored in a database given by a SQLAlchemy URL — an SQLite file in the
workspace by default (``sqlite:///workspace/ledger.db``), PostgreSQL
(``postgresql://…``) when several machines share one budget. Writes happen in
transactions, so concurrent writers lose no record.

Tables:

* ``runs``: one row per run — experiment, run name, kind (``train`` or
  ``evaluate``), FLOPs used so far, projected FLOPs, status (``running``,
  ``done`` or ``stopped``), config JSON, times.
* ``settings``: the budget (FLOPs) for this ledger.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from lmcast.errors import BudgetExceededError, LmcastError

DEFAULT_BUDGET = 1e17


def default_workspace() -> Path:
    """``$LMCAST_WORKSPACE`` or ``./workspace``."""
    return Path(os.environ.get("LMCAST_WORKSPACE") or "workspace")


def resolve_url(explicit: str | None = None, workspace: str | os.PathLike | None = None) -> str:
    """The ledger URL every command uses — the one rule, in one place.

    ``explicit`` (a ``--ledger`` flag) wins; else ``$LMCAST_LEDGER``; else the
    SQLite file ``ledger.db`` in ``workspace`` (default :func:`default_workspace`).
    So ``lmcast train``, ``evaluate``, ``sweep``, ``run`` and ``budget``
    without ``--ledger`` charge the same ledger when run in one workspace.
    """
    if explicit:
        return explicit
    if os.environ.get("LMCAST_LEDGER"):
        return os.environ["LMCAST_LEDGER"]
    ws = Path(workspace) if workspace is not None else default_workspace()
    return f"sqlite:///{ws / 'ledger.db'}"


@dataclass(frozen=True)
class RunRecord:
    """One row of the ledger."""

    id: int
    experiment: str
    name: str
    kind: str
    flops: int
    projected_flops: int
    status: str
    config: dict
    started: float
    updated: float


class Ledger:
    """A FLOP ledger on a SQLAlchemy database URL."""

    def __init__(self, url: str | None = None, budget: float | None = None) -> None:
        import sqlalchemy as sa

        self.url = resolve_url(url)
        connect_args = {}
        if self.url.startswith("sqlite:///"):
            db = Path(self.url.removeprefix("sqlite:///"))
            if str(db) != ":memory:":
                db.parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"timeout": 60}
        try:
            self.engine = sa.create_engine(self.url, connect_args=connect_args, future=True)
        except Exception as exc:  # bad URL or missing driver
            raise LmcastError(f"cannot open ledger {self.url!r}: {exc}") from None
        meta = sa.MetaData()
        self.runs = sa.Table(
            "runs",
            meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("experiment", sa.String(200), nullable=False),
            sa.Column("name", sa.String(400), nullable=False),
            sa.Column("kind", sa.String(50), nullable=False),
            sa.Column("flops", sa.BigInteger, nullable=False, default=0),
            sa.Column("projected_flops", sa.BigInteger, nullable=False, default=0),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("config", sa.Text, nullable=False, default="{}"),
            sa.Column("started", sa.Float, nullable=False),
            sa.Column("updated", sa.Float, nullable=False),
        )
        self.settings = sa.Table(
            "settings",
            meta,
            sa.Column("key", sa.String(100), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        try:
            meta.create_all(self.engine)
        except sa.exc.OperationalError as exc:
            if "already exists" not in str(exc):  # another process created it first
                raise LmcastError(f"cannot open ledger {self.url!r}: {exc.orig}") from None
        if budget is not None:
            self.set_budget(budget)

    # -- budget ------------------------------------------------------------

    def budget(self) -> float:
        """The budget in FLOPs (default 1e17 until set)."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(self.settings.c.value).where(self.settings.c.key == "budget")
            ).first()
        return float(row[0]) if row else DEFAULT_BUDGET

    def set_budget(self, flops: float) -> None:
        """Set the budget (FLOPs)."""
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.settings).where(self.settings.c.key == "budget"))
            conn.execute(sa.insert(self.settings).values(key="budget", value=repr(float(flops))))

    def used(self) -> int:
        """FLOPs charged so far over all runs."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(self.runs.c.flops), 0))
                ).scalar()
            )

    def remaining(self) -> float:
        """Budget minus FLOPs used."""
        return self.budget() - self.used()

    def check(self, projected: float, what: str = "run") -> None:
        """Refuse a run whose projected FLOPs exceed what remains.

        Raises:
            BudgetExceededError: with the projection and the remaining budget.
        """
        left = self.remaining()
        if projected > left:
            raise BudgetExceededError(
                f"{what} refused: projected {projected:.3e} FLOPs exceed the {left:.3e} FLOPs left "
                f"of the {self.budget():.3e} budget in {self.url}"
            )

    # -- runs ----------------------------------------------------------------

    def _insert(
        self,
        experiment: str,
        name: str,
        kind: str,
        flops: float,
        projected: float,
        status: str,
        config: dict | None,
    ) -> int:
        import sqlalchemy as sa

        now = time.time()
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.insert(self.runs).values(
                    experiment=experiment,
                    name=name,
                    kind=kind,
                    flops=int(flops),
                    projected_flops=int(projected),
                    status=status,
                    config=json.dumps(config or {}, default=str),
                    started=now,
                    updated=now,
                )
            )
            return int(res.inserted_primary_key[0])

    def start(
        self,
        experiment: str,
        name: str,
        kind: str,
        projected: float = 0.0,
        config: dict | None = None,
    ) -> int:
        """Record a run as ``running`` with 0 FLOPs used; return its id."""
        return self._insert(experiment, name, kind, 0, projected, "running", config)

    def update(self, run_id: int, flops: float, status: str | None = None) -> None:
        """Set the FLOPs a run has used so far (and optionally its status)."""
        import sqlalchemy as sa

        values: dict = {"flops": int(flops), "updated": time.time()}
        if status:
            values["status"] = status
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.runs).where(self.runs.c.id == run_id).values(**values))

    def charge(
        self,
        experiment: str,
        name: str,
        kind: str,
        flops: float,
        config: dict | None = None,
        status: str = "done",
    ) -> int:
        """Record a finished run in one transaction; return its id."""
        return self._insert(experiment, name, kind, flops, flops, status, config)

    def records(self) -> list[RunRecord]:
        """All runs, oldest first."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.runs).order_by(self.runs.c.id)).all()
        return [
            RunRecord(
                r.id,
                r.experiment,
                r.name,
                r.kind,
                int(r.flops),
                int(r.projected_flops),
                r.status,
                json.loads(r.config),
                r.started,
                r.updated,
            )
            for r in rows
        ]

    def table(self) -> dict:
        """The experiment table: one row per (experiment, kind) plus the total."""
        budget = self.budget()
        groups: dict[tuple[str, str], dict] = {}
        for rec in self.records():
            g = groups.setdefault(
                (rec.experiment, rec.kind),
                {"experiment": rec.experiment, "kind": rec.kind, "runs": 0, "flops": 0},
            )
            g["runs"] += 1
            g["flops"] += rec.flops
        rows = list(groups.values())
        for r in rows:
            r["percent_of_budget"] = 100.0 * r["flops"] / budget
        total = sum(r["flops"] for r in rows)
        return {
            "budget": budget,
            "rows": rows,
            "total": {
                "runs": sum(r["runs"] for r in rows),
                "flops": total,
                "percent_of_budget": 100.0 * total / budget,
            },
            "remaining": budget - total,
        }


def format_budget_table(tab: dict) -> str:
    """Fixed-width text of :meth:`Ledger.table`."""
    lines = [f"{'experiment':<28}{'kind':<14}{'runs':>6}{'FLOPs':>13}{'% budget':>11}"]
    for r in tab["rows"]:
        lines.append(
            f"{r['experiment']:<28}{r['kind']:<14}{r['runs']:>6}{r['flops']:>13.3e}"
            f"{r['percent_of_budget']:>10.4f}%"
        )
    t = tab["total"]
    lines.append("-" * 72)
    lines.append(f"{'total':<42}{t['runs']:>6}{t['flops']:>13.3e}{t['percent_of_budget']:>10.4f}%")
    lines.append(f"budget {tab['budget']:.3e} FLOPs, remaining {tab['remaining']:.3e}")
    return "\n".join(lines)
