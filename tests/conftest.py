"""Shared fixtures: small simulated data files and helpers to run the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def lv_file(tmp_path_factory) -> Path:
    """A small simulated predator–prey file: 40 trajectories × 100 steps."""
    from lmcast.lotka_volterra import simulate_file

    path = tmp_path_factory.mktemp("data") / "lv.h5"
    simulate_file(path, n=40, steps=100, seed=1)
    return path


@pytest.fixture()
def run_cli(capsys):
    """Run ``lmcast`` in-process; returns ``(exit_code, stdout, stderr)``."""
    from lmcast.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run
