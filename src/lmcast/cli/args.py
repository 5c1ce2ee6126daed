"""Build argparse options from a config dataclass (field metadata → ``--help``)."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
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


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> argparse.ArgumentParser:
    """Add one ``--field-name`` option per dataclass field of ``cls``.

    Fields without a default become required options; bools become
    ``--flag/--no-flag``. Help text is the field's ``metadata["help"]`` with
    the default appended. Metadata ``positional=True`` makes a positional
    argument; ``aliases=[...]`` adds other flag spellings.
    """
    hints = typing.get_type_hints(cls)
    # fields marked late=True (a mixin's, e.g. the CSV-reading options) are listed last
    ordered = sorted(dataclasses.fields(cls), key=lambda f: bool(f.metadata.get("late")))
    for f in ordered:
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
        elif "items" in f.metadata:  # a,b,c or repeated; parsed here, once
            kwargs["action"] = "extend"
            kwargs["type"] = _comma_list(f.metadata["items"], flags[0])
            kwargs["default"] = None  # None: the dataclass default
            if f.default:
                shown = ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in f.default)
                help_text += f" (default: {shown.replace('%', '%%')})"
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


def _comma_list(item: type, flag: str) -> Any:
    """An argparse ``type``: ``"a,b"`` → ``[item("a"), item("b")]`` (blank parts skipped)."""

    def parse(text: str) -> list:
        parts = [x.strip() for x in text.split(",") if x.strip()]
        try:
            return [item(x) for x in parts]
        except ValueError:
            kind = {float: "numbers", int: "integers"}.get(item, "names")
            raise argparse.ArgumentTypeError(
                f"{flag} takes {kind} like a,b, got {text!r}"
            ) from None

    parse.__name__ = f"{item.__name__} list"
    return parse


# Fields that seed numpy or torch generators: both refuse negative seeds with a traceback.
SEED_FIELDS = {"seed", "split_seed"}


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Instantiate ``cls`` from the parsed ``args`` (the fields it has; its checks run)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {
        k: v
        for k, v in vars(args).items()
        if k in fields and not (v is None and "items" in fields[k].metadata)
    }
    for name in SEED_FIELDS & set(values):
        if isinstance(values[name], int) and values[name] < 0:  # numpy seeds are unsigned
            flag = "--" + name.replace("_", "-")
            raise LmcastError(f"{flag} must be >= 0, got {values[name]}")
    return cls(**values)
