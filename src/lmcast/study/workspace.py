"""The workspace: one folder that holds a study's stages, its ledger and its sweep storage.

Every path a stage writes or a later stage reads is a property here, so no
module repeats ``"sweep/results.json"``; the default ledger URL comes from the
one rule in :func:`lmcast.accounting.ledger.resolve_url`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmcast.accounting.ledger import default_workspace, resolve_url
from lmcast.core.runs.runinfo import METRICS_FILE, RECORD_FILE, SUMMARY_FILE
from lmcast.errors import LmcastError


@dataclass(frozen=True)
class Workspace:
    """A study's folder.

    Attributes:
        root: the folder.
        ledger: an explicit ledger URL (``--ledger``), else the default rule applies.
        storage: an explicit sweep storage URL (``--storage``), else ``sweep.db`` here.
    """

    root: Path
    ledger: str | None = None
    storage: str | None = None

    @classmethod
    def at(
        cls,
        root: str | os.PathLike | None = None,
        ledger: str | None = None,
        storage: str | None = None,
    ) -> Workspace:
        """The workspace at ``root`` (default ``$LMCAST_WORKSPACE`` or ``./workspace``)."""
        return cls(Path(root) if root is not None else default_workspace(), ledger, storage)

    @property
    def ledger_url(self) -> str:
        """The FLOP ledger every stage of this study charges."""
        return resolve_url(self.ledger, self.root)

    @property
    def storage_url(self) -> str:
        """The sweep's Optuna storage and claim table."""
        return self.storage or f"sqlite:///{self.root / 'sweep.db'}"

    # -- stage outputs -----------------------------------------------------------

    @property
    def data_file(self) -> Path:
        """The simulated data file (when the study simulates its own data)."""
        return self.root / "data" / "lv.h5"

    @property
    def baseline_dir(self) -> Path:
        return self.root / "baseline"

    @property
    def sweep_dir(self) -> Path:
        return self.root / "sweep"

    @property
    def sweep_results(self) -> Path:
        return self.sweep_dir / "results.json"

    @property
    def context_dir(self) -> Path:
        return self.root / "context"

    @property
    def context_results(self) -> Path:
        return self.context_dir / "results.json"

    @property
    def context_figure(self) -> Path:
        return self.context_dir / "context_length.png"

    @property
    def final_dir(self) -> Path:
        return self.root / "final"

    @property
    def final_test_dir(self) -> Path:
        return self.final_dir / "test"

    def protocol_dir(self, context_steps: int, horizon: int) -> Path:
        """Tests on a further protocol: ``zero-shot/`` and ``final/`` evaluations inside."""
        return self.root / "protocols" / f"{context_steps}-{horizon}"

    @property
    def report_path(self) -> Path:
        return self.root / "report" / "report.md"

    @property
    def fingerprint_file(self) -> Path:
        """What the study's stages were run with (profile, data, model)."""
        return self.root / "fingerprint.json"

    @property
    def stage_dirs(self) -> list[Path]:
        """The folders the stages write (what ``--force-restage`` moves aside)."""
        return [
            self.baseline_dir,
            self.sweep_dir,
            self.context_dir,
            self.final_dir,
            self.root / "protocols",
            self.report_path.parent,
        ]

    # -- results I/O ---------------------------------------------------------------

    @staticmethod
    def metrics_file(folder: Path) -> Path:
        """An evaluation folder's scores (its done-marker)."""
        return folder / METRICS_FILE

    @staticmethod
    def summary_file(folder: Path) -> Path:
        """A training run folder's outcome."""
        return folder / SUMMARY_FILE

    @staticmethod
    def record_file(folder: Path) -> Path:
        """A sweep trial folder's record."""
        return folder / RECORD_FILE

    @classmethod
    def metrics(cls, folder: Path) -> Any | None:
        """The scores in ``folder`` (``None`` when not evaluated yet)."""
        return cls.read(cls.metrics_file(folder))

    @classmethod
    def read_choice(cls, path: Path, keys: tuple[str, ...]) -> dict:
        """The chosen trial record of a sweep or context-study ``results.json``, its shape
        checked: ``best`` an object whose ``params`` hold ``keys``.

        Raises:
            LmcastError: missing, unreadable, or of another shape (one line).
        """
        res = cls.read(path)
        best = res.get("best") if isinstance(res, dict) else None
        params = best.get("params") if isinstance(best, dict) else None
        if not isinstance(params, dict) or any(k not in params for k in keys):
            raise LmcastError(
                f"{path}: not a stage result with a chosen trial ({', '.join(keys)}); "
                "delete it to rerun the stage"
            )
        return best

    @staticmethod
    def read(path: Path) -> Any | None:
        """A stage's JSON output, or ``None`` when it does not exist.

        Raises:
            LmcastError: the file exists but is not valid JSON (a broken stage output).
        """
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise LmcastError(
                f"{path}: unreadable stage output ({exc}); delete it to rerun the stage"
            ) from None
