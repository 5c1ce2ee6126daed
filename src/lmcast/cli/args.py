"""Build argparse options from a config dataclass (field metadata → ``--help``)."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from lmcast.errors import LmcastError

T = TypeVar("T")


def _base_type(tp: Any) -> Any:
    """Strip ``X | None`` / ``Optional[X]`` to ``X``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def add_config_args(
    parser: argparse.ArgumentParser, cls: type, exclude: Iterable[str] = ()
) -> argparse.ArgumentParser:
    """Add one ``--field-name`` option per dataclass field of ``cls``.

    Fields without a default become required options; bools become
    ``--flag/--no-flag``. Help text is the field's ``metadata["help"]`` with
    the default appended. Metadata ``positional=True`` makes a positional
    argument; ``aliases=[...]`` adds other flag spellings.
    """
    hints = typing.get_type_hints(cls)
    skip = set(exclude)
    # fields marked late=True (a mixin's, e.g. the CSV-reading options) are listed last
    ordered = sorted(dataclasses.fields(cls), key=lambda f: bool(f.metadata.get("late")))
    for f in ordered:
        if f.name in skip:
            continue
        tp = _base_type(hints[f.name])
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        if f.metadata.get("positional"):
            parser.add_argument(f.name, help=help_text)
            continue
        flags = ["--" + f.name.replace("_", "-"), *f.metadata.get("aliases", [])]
        kwargs: dict[str, Any] = {"dest": f.name}
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["default"] = f.default
        elif typing.get_origin(tp) is list:
            kwargs["action"] = "append"
            kwargs["default"] = None
            help_text += " (repeatable)"
        else:
            kwargs["type"] = tp if tp in (int, float, str) else str
            if required:
                kwargs["required"] = True
            else:
                kwargs["default"] = f.default
                if f.default is not None:
                    help_text += " (default: %(default)s)"
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if "metavar" in f.metadata:
            kwargs["metavar"] = f.metadata["metavar"]
        parser.add_argument(*flags, help=help_text, **kwargs)
    return parser


# Fields that seed numpy or torch generators: both refuse negative seeds with a traceback.
SEED_FIELDS = {"seed", "split_seed"}


def config_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Instantiate ``cls`` from the parsed ``args`` (fields it has), then ``overrides``."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update(overrides)
    for name in SEED_FIELDS & set(values):
        if isinstance(values[name], int) and values[name] < 0:  # numpy seeds are unsigned
            flag = "--" + name.replace("_", "-")
            raise LmcastError(f"{flag} must be >= 0, got {values[name]}")
    return cls(**values)
