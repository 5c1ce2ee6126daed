"""The package's namespaced logger, and the set-up entry points (the CLI, sweep workers)
call once; library code only logs."""

from __future__ import annotations

import logging
import sys
from typing import Any

LOGGER_NAME = "lmcast"


def get_logger(name: str | None = None) -> logging.Logger:
    """Return ``lmcast`` or a child logger ``lmcast.<name>``."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at each record (not the one at set-up), so a
    replaced stderr (pytest's capture, a redirecting caller) never gets a closed stream."""

    @property
    def stream(self) -> Any:  # the stderr of the moment (a property over the attribute)
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; ignored
        pass


def configure(verbosity: int = 0) -> None:
    """Send ``lmcast`` log records to stderr; ``verbosity`` 0 → INFO, 1+ → DEBUG, -1 → WARNING."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False


def quiet_third_party() -> None:
    """Process-wide quieting of third-party chatter, for entry points only.

    Called by the CLI's ``main`` and by spawned sweep workers, never by library
    functions: Hugging Face weight-loading bars off (weights load in under a
    second once cached), deprecation warnings from transformers/peft internals
    hidden (they are not the user's concern). Must run before transformers is imported.
    """
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
