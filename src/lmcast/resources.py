"""The host's (or a CUDA device's) free memory: a core fact, no model imports.

:mod:`lmcast.lotka_volterra` (pure data) and :mod:`lmcast.memory` (batch sizes from
architectures) both bound their allocations by it.
"""

from __future__ import annotations

import os
from typing import Any

from lmcast.errors import LmcastError

# Share of the free memory a batch may take: the rest covers the allocator's
# fragmentation, temporaries the estimates leave out, and other processes.
MEMORY_SHARE = 0.5


def free_bytes(device: Any = "cpu") -> int:
    """Free memory of ``device`` in bytes: CUDA's ``mem_get_info``, else the host's available RAM.

    ``LMCAST_MEMORY_LIMIT`` (bytes, e.g. ``2e9``) overrides the measurement, to
    emulate a smaller machine or to leave room for other work.
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
    dev = str(device)
    if dev.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(dev))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)
