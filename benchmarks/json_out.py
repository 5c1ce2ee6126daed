"""What each benchmark does with its result: name the command that made it, print it, and
write it to ``--out`` when given (the docs render tables from those files)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path


def emit(result: dict, out: str | None, script: str, argv: list[str] | None = None) -> dict:
    """Add ``command`` (``script`` and its arguments) to ``result``, print it as JSON and
    write it to ``out`` (if any); return it."""
    result["command"] = shlex.join([f"benchmarks/{script}", *(argv or sys.argv[1:])])
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return result
