"""Opening the SQL databases lmcast shares between processes: the FLOP ledger and the
sweep's claim table (SQLite files or PostgreSQL, through SQLAlchemy).

One place for what both need: a URL that cannot be opened is one line naming it
(password masked), SQLite waits up to a minute for a lock (and the ledger's file
gets its folder created), and tables are created by whichever process comes first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lmcast.core.runs.runinfo import mask_secrets
from lmcast.errors import LmcastError

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Engine


def open_engine(url: str, what: str, make_folder: bool = False) -> Engine:
    """A SQLAlchemy engine for ``url``; ``what`` names the database in errors
    (``"ledger"``, ``"sweep storage"``); ``make_folder`` creates a SQLite file's folder.

    Raises:
        LmcastError: a malformed URL or a missing driver (one line, password masked).
    """
    import sqlalchemy as sa

    connect_args = {}
    if url.startswith("sqlite"):
        connect_args = {"timeout": 60}
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        # an SQLite URI (file:…?mode=ro&uri=true) names an existing file: no folder made
        if make_folder and url.startswith("sqlite:///") and not path.startswith("file:"):
            db = Path(path)
            if str(db) != ":memory:":
                db.parent.mkdir(parents=True, exist_ok=True)
    try:
        return sa.create_engine(url, connect_args=connect_args, future=True)
    except Exception as exc:  # bad URL or missing driver
        raise LmcastError(mask_secrets(f"cannot open {what} {url!r}: {exc}")) from None


def create_tables(meta: MetaData, engine: Engine, url: str, what: str) -> None:
    """Create ``meta``'s tables unless another process already did.

    Raises:
        LmcastError: the database refuses (unreachable, no such folder; one line).
    """
    import sqlalchemy as sa

    try:
        meta.create_all(engine)
    except sa.exc.DBAPIError as exc:
        if "already exists" not in str(exc):  # another process created it first
            first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
            raise LmcastError(mask_secrets(f"cannot open {what} {url!r}: {first or exc}")) from None
