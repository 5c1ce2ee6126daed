"""The host's free memory: a core fact, no model imports (a CUDA device's: lmcast.lm.memory).

:mod:`lmcast.core.series.lotka_volterra` (pure data) and :mod:`lmcast.lm.memory` (batch sizes from
architectures) both bound their allocations by it.
"""

from __future__ import annotations

import os
from typing import Any

from lmcast.errors import LmcastError

# Share of the free memory a batch may take: the rest covers the allocator's
# fragmentation, temporaries the estimates leave out, and other processes.
MEMORY_SHARE = 0.5


def memory_override() -> int | None:
    """``LMCAST_MEMORY_LIMIT`` (bytes, e.g. ``2e9``) when set: it replaces every measurement,
    to emulate a smaller machine or to leave room for other work.

    Raises:
        LmcastError: not a positive number.
    """
    override = os.environ.get("LMCAST_MEMORY_LIMIT")
    if override:
        try:
            value = float(override)
        except ValueError:
            msg = f"LMCAST_MEMORY_LIMIT must be a number of bytes, got {override!r}"
            raise LmcastError(msg) from None
        if not value > 0:
            raise LmcastError(f"LMCAST_MEMORY_LIMIT must be positive, got {override!r}")
        return int(min(value, 2**62))
    return None


def free_bytes(device: Any = "cpu") -> int:
    """Free memory of the host in bytes (its available RAM); a CUDA device's is
    :func:`lmcast.lm.memory.free_bytes` (the core imports no torch).

    ``LMCAST_MEMORY_LIMIT`` (bytes, e.g. ``2e9``) overrides the measurement, to
    emulate a smaller machine or to leave room for other work.
    """
    override = memory_override()
    if override is not None:
        return override
    if str(device).startswith("cuda"):
        raise ValueError(
            "lmcast.core.runs.resources.free_bytes reads the host; use lmcast.lm.memory"
        )
    import psutil

    return int(psutil.virtual_memory().available)
