"""Subcommands beyond the data group (model, FLOP, training and study commands)."""

from __future__ import annotations

from typing import Any


def more_commands(command_cls: Any) -> list[Any]:
    """Return the extra :class:`~lmcast.cli.Command` rows."""
    return []
