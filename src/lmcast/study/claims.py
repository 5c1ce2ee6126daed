"""Grid-point claims: which sweep worker runs which trial, in a table of the sweep's database.

One row per (study, key), unique, so two workers racing for a grid point
cannot both win the insert. A running claim is a lease: its worker renews it
(:meth:`Claims.holding`, every ``CLAIM_LEASE_SECONDS / 4``); one not renewed for
``CLAIM_LEASE_SECONDS`` — its worker crashed, on any host — can be taken again, as
can a failed one or one whose worker process on this host has died (checked
at once, without waiting for the lease). So a crashed trial is retried by the
next ``lmcast sweep``, wherever it ran.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from lmcast.accounting.database import create_tables, open_engine

#: seconds a running claim lives without a renewal
CLAIM_LEASE_SECONDS = 600.0


class Claims:
    """Grid-point claims in the storage database (one row per key, unique)."""

    def __init__(self, url: str, study: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.engine = open_engine(url, "sweep storage")
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
        create_tables(meta, self.engine, url, "sweep storage")
        self.study = study
        self.me = (socket.gethostname(), os.getpid())
        self.lease = CLAIM_LEASE_SECONDS

    def _stale(self, row: Any) -> bool:
        if row.status == "failed":
            return True
        if row.status == "running" and time.time() - row.updated > self.lease:
            return True  # not renewed: its worker is gone, wherever it ran
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

    def status(self, key: str) -> str | None:
        """The claim's status (running, done, failed), or None when unclaimed."""
        sa, t = self.sa, self.table
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.c.status).where((t.c.study == self.study) & (t.c.key == key))
            ).scalar()

    def renew(self, key: str) -> bool:
        """Extend this worker's lease on ``key``; False when the claim is no longer its own."""
        sa, t = self.sa, self.table
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.update(t)
                .where(
                    (t.c.study == self.study)
                    & (t.c.key == key)
                    & (t.c.status == "running")
                    & (t.c.host == self.me[0])
                    & (t.c.pid == self.me[1])
                )
                .values(updated=time.time())
            )
            return res.rowcount == 1

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        """Renew the lease on ``key`` from a background thread while the block runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease / 4):
                with suppress(Exception):  # a database hiccup: the next beat tries again
                    self.renew(key)

        thread = threading.Thread(target=beat, name=f"lease:{key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def set(self, key: str, status: str) -> None:
        sa, t = self.sa, self.table
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where((t.c.study == self.study) & (t.c.key == key))
                .values(status=status, updated=time.time())
            )
