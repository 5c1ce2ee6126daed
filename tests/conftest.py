"""Shared fixtures: small simulated data files and helpers to run the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist (`make test` runs one worker per core, at most 4) each worker keeps
# to one thread, so workers do not oversubscribe the cores: on the 2-core CPU the suite
# took 89 s so against 132 s serial and 122 s with two workers of two threads each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


@pytest.fixture(scope="session")
def lv_file(tmp_path_factory) -> Path:
    """A small simulated predator–prey file: 40 trajectories × 100 steps."""
    from lmcast.core.series.lotka_volterra import simulate_file

    path = tmp_path_factory.mktemp("data") / "lv.h5"
    simulate_file(path, n=40, steps=100, seed=1)
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A one-layer random llama-kind model and tokenizer saved as a folder
    (``tests/tiny_models.py``); tests read it, none writes into it."""
    from tiny_models import save_tiny

    return save_tiny(tmp_path_factory.mktemp("m") / "tiny", layers=1)


@pytest.fixture()
def run_cli(capsys):
    """Run ``lmcast`` in-process; returns ``(exit_code, stdout, stderr)``."""
    from lmcast.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 server for the session (fails, never skips, without binaries)."""
    from pg_server import throwaway_postgres

    try:
        with throwaway_postgres() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture()
def fresh_pg_db(postgres_url):
    """A new empty database on the throwaway server; its URL."""
    import uuid

    import sqlalchemy as sa

    name = "t" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + "/" + name
