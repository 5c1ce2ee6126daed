"""The encoding as one value: :class:`Encoding`, and the only reader and writer of ``encoding.json``.

An adapter writes numbers one way: so many digits below the unit, with or without the
decimal point, each series divided by one scale (the one it was trained on) or by its own.
:class:`Encoding` holds those choices and answers every question about them — which scale
each series gets, its text, its prompt, the grammar that constrains generation, how the
text reads back — so no caller unpacks the record by hand.

Words (the developer guide's "One word per thing"): **precision** is the number of digits below
the unit of a scaled value (``--precision``; ``0.25`` has precision 2); **alpha** is the
number a series is divided by before it is written (value = alpha × written number);
**scale** is the rule that picks alpha (``"series"``, ``"adapter"`` or a number); the
**scale target** is where the automatic rule puts about 99 % of the written numbers.

Without the decimal point (LLMTIME's fixed digits) the same digits are written as one
integer: ``0.25`` at precision 2 becomes ``25``. That is the codec at ``alpha / 10^precision``
with no digit after a point, so :attr:`Encoding.alpha` (the scale of the *written*
numbers) and :attr:`Encoding.digits` (digits after the written point) are what the codec
uses, and :attr:`Encoding.given_alpha` is the ``--alpha`` a user would type.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmcast.core.codec import encoding
from lmcast.core.codec.grammar import Grammar
from lmcast.core.runs.runinfo import write_json
from lmcast.errors import DataError, LmcastError

#: the file a training run (and an export) leaves beside its adapter
ENCODING_FILE = "encoding.json"
#: the most digits below the unit (``--precision``)
MAX_PRECISION = 8
#: the largest scaled value a text may hold: beyond it the integer part outgrows a float's
#: exact digits (and at alpha 1e-310 the division overflows to inf)
MAX_SCALED = 1e12
#: the scales a record may hold (written numbers stay a few digits long)
ALPHA_RANGE = (1e-12, 1e12)
#: the scale targets a record may hold
TARGET_RANGE = (1.0, 1e9)

#: how :meth:`Encoding.alphas` scales series: "series", "adapter", a number, or one each
Scale = str | float | Sequence[float]


def check_precision(precision: int) -> None:
    """Refuse a ``--precision`` outside ``0..MAX_PRECISION`` digits.

    Raises:
        LmcastError: one line (a :class:`~lmcast.errors.DataError`).
    """
    if not 0 <= precision <= MAX_PRECISION:
        raise DataError(f"--precision must be between 0 and {MAX_PRECISION}, got {precision}")


def _check_number(
    name: str, value: object, bounds: tuple[float, float], words: str | None = None
) -> None:
    """Refuse a set ``value`` (``None`` passes) that is not a number within ``bounds``
    (``words`` says them, by default ``"LO to HI"``); NaN is outside every range.

    Raises:
        ValueError: one line naming ``name``.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not bounds[0] <= float(value) <= bounds[1]:
        raise ValueError(
            f"{name} {value!r} is outside {words or f'{bounds[0]:g} to {bounds[1]:g}'}"
        )


@dataclass(frozen=True)
class Encoding:
    """How an adapter writes numbers (see the module's words).

    Attributes:
        precision: digits below the unit of a scaled value (``--precision``), 0 to
            :data:`MAX_PRECISION`.
        decimal_point: whether a point is written (``0.25``); ``False`` writes the same
            digits as one integer (``25``).
        alpha: the one scale of the written numbers the adapter was trained on (value =
            alpha × written number), or ``None``: each series is scaled on its own, by its
            context.
        scale_target: where the automatic scale puts about 99 % of ``|written numbers|``;
            ``None``: 10 with the point, ``10^(precision + 1)`` without it.
        rule: how :attr:`alpha` was chosen, in words.
    """

    precision: int = 2
    decimal_point: bool = True
    alpha: float | None = None
    scale_target: float | None = None
    rule: str = ""

    def __post_init__(self) -> None:
        p = self.precision
        if isinstance(p, bool) or not isinstance(p, int):
            raise ValueError(f"precision must be an integer, got {p!r}")
        if not 0 <= p <= MAX_PRECISION:
            raise ValueError(f"precision {p} is outside 0 to {MAX_PRECISION}")
        _check_number("alpha", self.alpha, ALPHA_RANGE)
        _check_number("scale_target", self.scale_target, TARGET_RANGE, "1 to 1e9")

    # -- derived ---------------------------------------------------------------------------

    @property
    def unit(self) -> int:
        """What one written unit is worth in the user's alpha: 1 with the point,
        ``10^precision`` without it."""
        return 1 if self.decimal_point else 10**self.precision

    @property
    def digits(self) -> int:
        """Digits the text writes after its point (0: integers)."""
        return self.precision if self.decimal_point else 0

    @property
    def target(self) -> float:
        """The scale target in written numbers (:attr:`scale_target` or its default)."""
        if self.scale_target is not None:
            return float(self.scale_target)
        return encoding.SCALE_TARGET * self.unit

    @property
    def given_alpha(self) -> str | None:
        """The ``--alpha`` that reproduces :attr:`alpha` (12 significant digits, so the value
        pasted back matches), or ``None`` when each series is scaled on its own."""
        return None if self.alpha is None else f"{self.alpha * self.unit:.12g}"

    @property
    def trained_scale(self) -> str:
        """The scale (:meth:`alphas`) that writes series as training did: ``"adapter"``
        (its one alpha) or ``"series"`` (each its own)."""
        return "series" if self.alpha is None else "adapter"

    def written(self, alpha: float) -> Encoding:
        """This encoding with the user's scale ``alpha`` (as ``--alpha`` gives it) fixed: the
        written numbers' scale is ``alpha / unit``."""
        return dataclasses.replace(self, alpha=float(alpha) / self.unit)

    def with_precision(self, precision: int) -> Encoding:
        """The same scale written with ``precision`` digits after a point (evaluate's
        ``--precision`` override of an adapter's record)."""
        return dataclasses.replace(self, precision=int(precision), decimal_point=True)

    def train_settings(self) -> dict[str, object]:
        """The :class:`~lmcast.configs.TrainConfig` fields that write numbers this way:
        ``precision``, ``decimal_point`` and ``alpha`` (``"series"`` or :attr:`given_alpha`)."""
        return {
            "precision": self.precision,
            "decimal_point": self.decimal_point,
            "alpha": "series" if self.given_alpha is None else self.given_alpha,
        }

    def words(self) -> str:
        """How numbers are written: ``"2 decimals"``, ``"1 decimal, no point"``."""
        p = self.precision
        name = f"{p} decimal{'s' if p != 1 else ''}"
        return name if self.decimal_point else f"{name}, no point"

    # -- the record ------------------------------------------------------------------------

    @classmethod
    def from_record(cls, record: dict | None) -> Encoding:
        """The encoding of an ``encoding.json`` / ``meta.json`` record (``None``: the default,
        precision 2 with the point, each series its own scale). Records written before the
        ``decimals`` and ``decimal_point`` keys existed read as written with the point.

        Raises:
            ValueError: a missing key or a value of the wrong type or range.
        """
        if record is None:
            return cls()
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        point = record.get("decimal_point", True)
        if not isinstance(point, bool):
            raise ValueError(f"decimal_point must be true or false, got {point!r}")
        precision = record["precision"] if point else record.get("decimals", 0)
        written = record["alpha"]  # a per-series record holds 1.0: checked all the same
        if written is None:
            raise ValueError("alpha must be a number, got None")
        cls(alpha=written)
        alpha = None if record.get("scaling") == "series" else written
        return cls(
            precision=precision,
            decimal_point=point,
            alpha=alpha,
            scale_target=record.get("scale_target", encoding.SCALE_TARGET),
            rule=str(record.get("alpha_rule", "")),
        )

    def to_record(self) -> dict:
        """The record's format fields: ``alpha`` (1.0 when each series has its own),
        ``alpha_rule``, ``precision`` (digits after the written point), ``decimals``,
        ``decimal_point``, ``scale_target`` and ``scaling`` (``"series"`` or ``"file"``);
        :meth:`from_record` reads them back to an equal value."""
        return {
            "alpha": 1.0 if self.alpha is None else float(self.alpha),
            "alpha_rule": self.rule,
            "precision": self.digits,
            "decimals": self.precision,
            "decimal_point": self.decimal_point,
            "scale_target": self.target,
            "scaling": "series" if self.alpha is None else "file",
        }

    def summary(self) -> dict:
        """What a ``metrics.json`` says of the encoding (the record's fields and
        ``format``, :meth:`words`)."""
        rec = self.to_record()
        del rec["scaling"]
        return {**rec, "format": self.words()}

    # -- scaling, text and grammar ---------------------------------------------------------

    def auto_alpha(self, values: np.ndarray) -> float:
        """The automatic scale of the written numbers for ``values`` (any shape):
        :func:`lmcast.core.codec.encoding.auto_alpha` at :attr:`target`."""
        return encoding.auto_alpha(values, target=self.target)

    def alphas(self, contexts: Sequence[np.ndarray], scale: Scale = "series") -> list[float]:
        """One scale per ``(C_i, V)`` context.

        ``scale``: ``"series"`` — each series its own (:meth:`auto_alpha` of its values, as
        LLMTIME does); ``"adapter"`` — :attr:`alpha` for all; a positive number for all; or
        a sequence of one positive number per series.

        Raises:
            LmcastError: ``"adapter"`` without one training scale, an unknown word, or
                numbers that are not positive and finite or not one per series.
        """
        n = len(contexts)
        if isinstance(scale, str):
            if scale == "series":
                return [self.auto_alpha(c) for c in contexts]
            if scale == "adapter":
                return [self.fixed_alpha()] * n
            raise LmcastError(f"scale must be 'series', 'adapter' or numbers, got {scale!r}")
        values = [float(scale)] * n if np.ndim(scale) == 0 else [float(a) for a in scale]  # type: ignore[arg-type, union-attr]
        if len(values) != n or not all(math.isfinite(a) and a > 0 for a in values):
            raise LmcastError(f"scale: {n} positive finite numbers expected, got {scale!r}")
        return values

    def fixed_alpha(self) -> float:
        """The one training scale (``--scale adapter``).

        Raises:
            LmcastError: the adapter has none (each series is scaled on its own).
        """
        if self.alpha is None:
            raise LmcastError(
                "scale 'adapter' needs an adapter trained on one scale (this one has "
                "none, or scales each series on its own)"
            )
        return float(self.alpha)

    def check_scaled(self, contexts: Sequence[np.ndarray], alphas: Sequence[float]) -> None:
        """Refuse a context whose largest value, divided by its alpha, needs more integer
        digits than a number may hold (:data:`MAX_SCALED`).

        Raises:
            LmcastError: one line naming the series.
        """
        for i, (c, a) in enumerate(zip(contexts, alphas, strict=True)):
            scaled = float(np.abs(c).max()) / a
            if scaled > MAX_SCALED:
                raise LmcastError(
                    f"series {i}: values scaled by alpha {a:g} need {len(str(int(scaled)))} "
                    f"integer digits (at most {MAX_SCALED:.0e}: this scale does not suit it)"
                )

    def encode(self, x: np.ndarray, alpha: float) -> str:
        """The text of ``x`` (``(T, V)``, original units) divided by ``alpha``."""
        return encoding.encode(x, alpha, self.digits)

    def prompts(self, contexts: Sequence[np.ndarray], alphas: Sequence[float]) -> list[str]:
        """Each ``(C_i, V)`` context's text followed by ``;`` (a forecast's prompt): one
        :meth:`encode` per context."""
        return [
            self.encode(c, float(a)) + encoding.STEP_SEP
            for c, a in zip(contexts, alphas, strict=True)
        ]

    def decode(self, text: str, n_vars: int, max_steps: int | None = None) -> encoding.DecodeResult:
        """The written numbers of ``text`` (:func:`lmcast.core.codec.encoding.decode`)."""
        return encoding.decode(text, n_vars=n_vars, max_steps=max_steps)

    def grammar(
        self,
        contexts: Sequence[np.ndarray],
        alphas: Sequence[float],
        allow_negative: bool = False,
    ) -> Grammar:
        """The grammar generation is constrained to for these contexts: their variable count,
        :attr:`digits` after the point, and integer parts one digit longer than the largest
        scaled context value needs (at least 3)."""
        biggest = max(float(np.abs(c).max()) / a for c, a in zip(contexts, alphas, strict=True))
        return Grammar(
            n_vars=int(np.shape(contexts[0])[-1]),
            precision=self.digits,
            allow_negative=allow_negative,
            max_int_digits=max(3, len(str(int(biggest))) + 1),
        )


def read_record(adapter: str | os.PathLike | None) -> dict | None:
    """The ``encoding.json`` an adapter's training run left (in the adapter folder or the
    run folder above it), checked by :meth:`Encoding.from_record`; ``None`` when there is
    none.

    Raises:
        LmcastError: the file exists but is not a valid record (one line).
    """
    if not adapter:
        return None
    for p in (Path(adapter) / ENCODING_FILE, Path(adapter).parent / ENCODING_FILE):
        if p.is_file():
            try:
                rec = json.loads(p.read_text())
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
                Encoding.from_record(rec)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LmcastError(f"{p}: corrupt encoding record ({exc})") from None
            return rec
    return None


#: the training meta's keys an ``encoding.json`` keeps: the encoding's, and what a later
#: reader checks (split seed, source, what the run saw, the adapter it started from)
RECORD_KEYS = (
    "alpha", "alpha_rule", "precision", "decimals", "decimal_point", "scale_target", "scaling",
    "split_seed", "source_sha256", "seen", "init_adapter",
)  # fmt: skip


def write_record(run_dir: str | os.PathLike, meta: dict) -> Path:
    """Write ``encoding.json`` into a run folder: the :data:`RECORD_KEYS` of a training
    run's meta (:func:`lmcast.core.codec.prepare.training_texts`)."""
    return write_json(Path(run_dir) / ENCODING_FILE, {k: meta[k] for k in RECORD_KEYS if k in meta})


def read(adapter: str | os.PathLike | None) -> Encoding | None:
    """The :class:`Encoding` of an adapter (:func:`read_record`), or ``None`` without one."""
    rec = read_record(adapter)
    return None if rec is None else Encoding.from_record(rec)
