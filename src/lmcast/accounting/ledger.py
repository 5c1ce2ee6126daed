"""The FLOP ledger: every run that touches a model records the FLOPs it used.

Stored in a database given by a SQLAlchemy URL — an SQLite file in the
workspace by default (``sqlite:///workspace/ledger.db``), PostgreSQL
(``postgresql://…``) when several machines share one budget. Writes happen in
transactions, so concurrent writers lose no record.

Tables:

* ``runs``: one row per run — experiment, run name, kind (``train``, ``evaluate``,
  ``forecast`` or ``benchmark``), FLOPs used so far, projected FLOPs, status (``running``,
  ``done`` or ``stopped``), config JSON, times.
* ``settings``: the budget (FLOPs) for this ledger.

Reservations: a run that has started (status ``running``) holds
``projected − flops`` FLOPs of the budget until it finishes, so two workers
cannot both spend the same remainder. :meth:`Ledger.reserve` checks what
remains (budget − charged − live reservations) and records the run in one
exclusive transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction
advisory lock). A running row not updated for :data:`LEASE_SECONDS` (a
crashed worker; training updates its row at least every minute) no longer
holds a reservation; what it charged stays charged. A running row records its owner
(host and process id, ``config["_owner"]``): once that process is gone from this host (a
SIGKILL), the next reservation on the host marks the row ``stopped`` at once, so its
reservation is not held for the rest of the lease.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmcast.accounting.database import create_tables, open_engine
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import mask_secrets
from lmcast.errors import BudgetExceededError, LmcastError

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection, Engine

log = get_logger("ledger")

DEFAULT_BUDGET = 1e17
LEASE_SECONDS = 3600.0
OWNER_KEY = "_owner"  # in a running row's config: {"host", "pid"} of the process holding it
MAX_FLOPS = 2**63 - 1  # the ledger's columns are 64-bit integers; budgets are capped here
_PG_LOCK_KEY = 0x6C6D63617374  # "lmcast": the advisory lock of budget transactions


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


def _immediate_transactions(engine: Engine) -> None:
    """Make every SQLite transaction of ``engine`` take the write lock at BEGIN (``BEGIN IMMEDIATE``).

    pysqlite otherwise begins lazily at the first write, so two processes could
    both read the remaining budget before either inserts. This is SQLAlchemy's
    documented recipe for serializable SQLite transactions.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
        self.shown_url = mask_secrets(self.url)  # what messages and outputs show
        self.engine = open_engine(self.url, "ledger", make_folder=True)
        if self.engine.dialect.name == "sqlite":
            _immediate_transactions(self.engine)
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
        create_tables(meta, self.engine, self.url, "ledger")
        check_schema(self.engine, meta, self.shown_url)
        if budget is not None:
            self.set_budget(budget)

    # -- budget ------------------------------------------------------------

    def _budget(self, conn: Connection) -> float:
        import sqlalchemy as sa

        row = conn.execute(
            sa.select(self.settings.c.value).where(self.settings.c.key == "budget")
        ).first()
        if not row:
            return DEFAULT_BUDGET
        try:
            value = float(row[0])
        except (TypeError, ValueError):
            value = float("nan")
        if not (value > 0 and math.isfinite(value)):
            raise LmcastError(
                f"{self.shown_url}: the budget setting {row[0]!r} is not a positive number of "
                "FLOPs (set one with lmcast budget --set)"
            )
        return value

    def budget(self) -> float:
        """The budget in FLOPs (default 1e17 until set)."""
        with self.engine.connect() as conn:
            return self._budget(conn)

    def set_budget(self, flops: float) -> None:
        """Set the budget (FLOPs).

        Raises:
            LmcastError: not a finite number in ``[0, MAX_FLOPS]`` (the ledger stores
                FLOPs as 64-bit integers).
        """
        import sqlalchemy as sa

        if not (math.isfinite(flops) and 0 <= flops <= MAX_FLOPS):
            raise LmcastError(
                f"budget {flops:g}: must be a finite number of FLOPs from 0 to {MAX_FLOPS:.3e}"
            )

        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.settings).where(self.settings.c.key == "budget"))
            conn.execute(sa.insert(self.settings).values(key="budget", value=repr(float(flops))))

    def _used(self, conn: Connection) -> int:
        import sqlalchemy as sa

        total = sa.func.coalesce(sa.func.sum(self.runs.c.flops), 0)
        return int(conn.execute(sa.select(total)).scalar_one())

    def used(self) -> int:
        """FLOPs charged so far over all runs."""
        with self.engine.connect() as conn:
            return self._used(conn)

    def _reserved(self, conn: Connection, exclude: int | None = None) -> int:
        """FLOPs held by live runs: Σ max(0, projected − flops) over fresh ``running`` rows."""
        import sqlalchemy as sa

        r = self.runs
        held = sa.func.coalesce(
            sa.func.sum(
                sa.case((r.c.projected_flops > r.c.flops, r.c.projected_flops - r.c.flops), else_=0)
            ),
            0,
        )
        cond = (r.c.status == "running") & (r.c.updated >= time.time() - LEASE_SECONDS)
        if exclude is not None:
            cond = cond & (r.c.id != exclude)
        return int(conn.execute(sa.select(held).where(cond)).scalar_one())

    def reserved(self) -> int:
        """FLOPs held by live runs that have not been charged yet."""
        with self.engine.connect() as conn:
            return self._reserved(conn)

    def remaining(self, exclude: int | None = None) -> float:
        """Budget minus FLOPs charged minus live reservations (other than run ``exclude``'s)."""
        with self.engine.connect() as conn:
            return self._budget(conn) - self._used(conn) - self._reserved(conn, exclude)

    def _refusal(
        self, what: str, projected: float, left: float, budget: float
    ) -> BudgetExceededError:
        return BudgetExceededError(
            f"{what} refused: projected {projected:.3e} FLOPs exceed the {left:.3e} FLOPs left "
            f"of the {budget:.3e} budget in {self.shown_url}"
        )

    def check(self, projected: float, what: str = "run") -> None:
        """Refuse a run whose projected FLOPs exceed what remains (reserves nothing).

        Raises:
            BudgetExceededError: with the projection and the remaining budget.
        """
        left = self.remaining()
        if projected > left:
            raise self._refusal(what, projected, left, self.budget())

    @contextmanager
    def _exclusive(self) -> Iterator[Connection]:
        """A transaction no other budget transaction interleaves with."""
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            yield conn

    def reserve(
        self,
        experiment: str,
        name: str,
        kind: str,
        projected: float,
        config: dict | None = None,
        what: str = "run",
        resume_id: int | None = None,
    ) -> int:
        """Check the budget and record a ``running`` run holding ``projected`` FLOPs, atomically.

        With ``resume_id`` the run's existing row is reused (one run, one row):
        its charged FLOPs stay, its reservation becomes ``projected`` more, and this
        process takes it over (owner pid and host, heartbeat), so that the next
        reservation on the host does not take the live run for its dead predecessor.

        Raises:
            BudgetExceededError: ``projected`` exceeds budget − charged − others' reservations.
        """
        import sqlalchemy as sa

        now = time.time()
        with self._exclusive() as conn:
            self._release_dead(conn)
            budget = self._budget(conn)
            used = self._used(conn)
            left = budget - used - self._reserved(conn, exclude=resume_id)
            if projected > left:  # no other connection may open inside this transaction
                raise self._refusal(what, projected, left, budget)
            owner = {"host": _host(), "pid": os.getpid()}
            if resume_id is not None:
                row = conn.execute(
                    sa.select(self.runs.c.flops, self.runs.c.config).where(
                        self.runs.c.id == resume_id
                    )
                ).first()
                if row is not None:
                    taken = {**_config(row.config), OWNER_KEY: owner}
                    conn.execute(
                        sa.update(self.runs)
                        .where(self.runs.c.id == resume_id)
                        .values(
                            projected_flops=int(row.flops + projected),
                            status="running",
                            updated=now,
                            config=json.dumps(taken, default=str),
                        )
                    )
                    return resume_id
            owned = {**(config or {}), OWNER_KEY: owner}
            return self._insert_row(conn, experiment, name, kind, 0, projected, "running", owned)

    def _release_dead(self, conn: Connection) -> int:
        """Mark ``stopped`` the running rows whose owner process on this host is gone (what
        they charged stays charged); returns how many. Rows of other hosts wait for their
        lease to lapse."""
        import sqlalchemy as sa

        r = self.runs
        rows = conn.execute(
            sa.select(r.c.id, r.c.config).where(
                (r.c.status == "running") & (r.c.updated >= time.time() - LEASE_SECONDS)
            )
        ).all()
        dead = []
        for run_id, config in rows:
            try:
                owner = json.loads(config or "{}").get(OWNER_KEY) or {}
            except (ValueError, AttributeError):
                continue
            pid = owner.get("pid") if isinstance(owner, dict) else None
            if owner.get("host") == _host() and isinstance(pid, int) and not _alive(pid):
                dead.append(run_id)
        if dead:
            conn.execute(sa.update(r).where(r.c.id.in_(dead)).values(status="stopped"))
        return len(dead)

    @contextmanager
    def reservation(
        self,
        experiment: str,
        name: str,
        kind: str,
        projected: float,
        spent: Callable[[], float],
        config: dict | None = None,
        what: str = "run",
    ) -> Iterator[int]:
        """Reserve ``projected`` FLOPs, run the body, then charge what ``spent()`` says.

        The row ends ``done`` when the body returns and ``stopped`` when it raises (an
        interrupt included), charged with the work that finished, its reservation
        released either way. Yields the run's id.

        Raises:
            BudgetExceededError: the reservation does not fit (nothing runs).
        """
        run_id = self.reserve(experiment, name, kind, projected, config=config, what=what)
        try:
            yield run_id
        except BaseException:
            self.settle(run_id, spent(), "stopped")
            raise
        self.settle(run_id, spent(), "done")

    def settle(self, run_id: int, flops: float, status: str, attempts: int = 5) -> None:
        """The final :meth:`update` of a run, retried while the database is locked (another
        process may hold it past the driver's own wait): the work that ran is charged.

        Raises:
            LmcastError: still locked after ``attempts`` tries (the FLOPs are named, so the
                user knows what was not recorded).
        """
        import sqlalchemy as sa

        for k in range(attempts):
            try:
                self.update(run_id, flops, status=status)
                return
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc).lower() or k == attempts - 1:
                    raise LmcastError(
                        f"ledger {self.shown_url}: run {run_id} could not be marked {status} with "
                        f"its {flops:.4g} FLOPs ({str(exc).splitlines()[0][:120]})"
                    ) from None
                log.warning("ledger locked; charging run %d again in %d s", run_id, 2**k)
                time.sleep(2**k)

    def heartbeat(self, run_id: int, flops: float) -> None:
        """A running run's FLOPs so far, and its lease renewed; best effort: a locked
        database is skipped (the next heartbeat or :meth:`settle` records them)."""
        import sqlalchemy as sa

        try:
            self.update(run_id, flops)
        except sa.exc.OperationalError as exc:
            log.warning("ledger busy, heartbeat skipped (%s)", str(exc).splitlines()[0][:80])

    def run_flops(self, run_id: int) -> int | None:
        """FLOPs charged to one run so far (``None`` for an unknown id)."""
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            v = conn.execute(sa.select(self.runs.c.flops).where(self.runs.c.id == run_id)).scalar()
        return None if v is None else int(v)

    def find_run(self, name: str, kind: str) -> int | None:
        """The id of the newest run with this name and kind, if any (a resumed run's row)."""
        import sqlalchemy as sa

        r = self.runs
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(r.c.id)
                .where((r.c.name == name) & (r.c.kind == kind))
                .order_by(r.c.id.desc())
            ).scalar()

    # -- runs ----------------------------------------------------------------

    def _insert_row(
        self,
        conn: Connection,
        experiment: str,
        name: str,
        kind: str,
        flops: float,
        projected: float,
        status: str,
        config: dict | None,
    ) -> int:
        """Insert one run row inside the open transaction ``conn``; return its id."""
        import sqlalchemy as sa

        now = time.time()
        res = conn.execute(
            sa.insert(self.runs).values(
                experiment=experiment,
                name=name,
                kind=kind,
                flops=int(flops),
                projected_flops=int(projected),
                status=status,
                config=json.dumps(mask_secrets(config or {}), default=str),
                started=now,
                updated=now,
            )
        )
        key = res.inserted_primary_key
        assert key is not None  # an INSERT of one row
        return int(key[0])

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
        with self.engine.begin() as conn:
            return self._insert_row(conn, experiment, name, kind, flops, flops, status, config)

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
                _config(r.config),
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
        reserved = self.reserved()
        return {
            "budget": budget,
            "rows": rows,
            "total": {
                "runs": sum(r["runs"] for r in rows),
                "flops": total,
                "percent_of_budget": 100.0 * total / budget,
            },
            "reserved": reserved,
            "remaining": budget - total - reserved,
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
    held = f", {tab['reserved']:.3e} reserved by running experiments" if tab.get("reserved") else ""
    lines.append(f"budget {tab['budget']:.3e} FLOPs, remaining {tab['remaining']:.3e}{held}")
    return "\n".join(lines)


def _host() -> str:
    import socket

    return socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _config(text: Any) -> dict:
    """A row's config JSON; a row whose config is not a JSON object (edited by hand, written
    by another tool) reads as ``{"unreadable": <its text>}`` rather than stopping the table."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {"unreadable": str(text)[:200]}
    return value if isinstance(value, dict) else {"unreadable": str(text)[:200]}


def check_schema(engine: Engine, meta: MetaData, shown_url: str) -> None:
    """Refuse, in one line, a database whose ``runs`` or ``settings`` table lacks the
    ledger's columns (another program's tables of the same name).

    Raises:
        LmcastError: a missing column, named.
    """
    import sqlalchemy as sa

    found = sa.inspect(engine)
    for table in meta.sorted_tables:
        have = {c["name"] for c in found.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise LmcastError(
                f"{shown_url}: not an lmcast ledger (its table {table.name} has no column "
                f"{', '.join(missing)}); choose another --ledger"
            )
