"""The LLMTIME text codec (pure: numpy only).

A series ``x`` of shape ``(T, V)`` in original units is scaled by ``alpha``
and written with ``precision`` decimals, variables joined by ``,`` and
timesteps by ``;``::

    x = [[0.25, 1.5], [0.27, 1.47]], alpha=1, precision=2 → "0.25,1.50;0.27,1.47"

Decoding is the exact inverse for well-formed text (in scaled units, up to the
rounding) and is tolerant of malformed model output: it never raises, keeps the
leading run of well-formed steps and reports how many it parsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VAR_SEP = ","
STEP_SEP = ";"
# One value: optional minus, digits, optional decimal point and digits.
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?")

# The auto scale puts about 99 % of |values| in [0, SCALE_TARGET] (with the decimal point).
SCALE_TARGET = 10.0
# Below this scale a value / target is subnormal and its two significant figures underflow.
TINY_SCALE = 1e-300

ALPHA_RULE = (
    "alpha = 99th percentile of |x| over the training split / 10, "
    "rounded up to 2 significant figures (so ~99% of scaled values lie in [0, 10])"
)


def ensemble_scales(alpha: float, ratio: float) -> tuple[float, float, float]:
    """The three scales a scale ensemble writes a series at: ``alpha / ratio``, ``alpha``
    and ``alpha * ratio``, the outer two rounded to 2 significant figures as the alpha rule
    rounds (0.061 at ratio 1.15: 0.053, 0.061, 0.070).

    Raises:
        ValueError: ``ratio`` not above 1, or ``alpha`` not positive and finite.
    """
    if not (math.isfinite(alpha) and alpha > 0) or not (math.isfinite(ratio) and ratio > 1):
        raise ValueError(f"alpha > 0 and ratio > 1 expected, got {alpha} and {ratio}")
    return float(f"{alpha / ratio:.2g}"), float(alpha), float(f"{alpha * ratio:.2g}")


@dataclass(frozen=True)
class DecodeResult:
    """What :func:`decode` could read.

    Attributes:
        values: ``(n_steps, n_vars)`` float64 values in scaled units.
        n_steps: number of well-formed steps parsed (the leading run).
        n_malformed: number of non-empty step chunks that were not parsed.
    """

    values: np.ndarray
    n_steps: int
    n_malformed: int


def format_value(v: float, precision: int) -> str:
    """Format one scaled value with ``precision`` decimals, never as ``-0.00``."""
    r = round(float(v), precision)
    if r == 0:
        r = 0.0
    return f"{r:.{precision}f}"


def encode(x: np.ndarray, alpha: float = 1.0, precision: int = 2) -> str:
    """Encode ``x`` (shape ``(T, V)``, original units) as LLMTIME text.

    Args:
        x: finite values, shape ``(T, V)`` (a ``(T,)`` array is one variable).
        alpha: scale; the text holds ``x / alpha``.
        precision: decimals per value (≥ 0).
    """
    if alpha <= 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be positive and finite, got {alpha}")
    if precision < 0:
        raise ValueError(f"precision must be >= 0, got {precision}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"expected shape (T, V), got {arr.shape}")
    scaled = arr / alpha
    if not np.all(np.isfinite(scaled)):
        raise ValueError("cannot encode NaN or infinite values")
    return STEP_SEP.join(VAR_SEP.join(format_value(v, precision) for v in row) for row in scaled)


def decode(text: str, n_vars: int = 2, max_steps: int | None = None) -> DecodeResult:
    """Parse LLMTIME text back to scaled values; never raises.

    A step is well formed when it holds at least ``n_vars`` comma-separated
    numbers (extra fields are ignored; white space is ignored). Parsing keeps
    the leading run of well-formed steps and stops at the first malformed one,
    since later positions in time are then unknown. A trailing empty chunk
    (text ending in ``;``) is not counted as malformed.

    Args:
        text: model output or encoded text.
        n_vars: variables per step.
        max_steps: stop after this many steps (``None``: all).
    """
    try:
        chunks = str(text).replace(" ", "").replace("\n", "").split(STEP_SEP)
    except Exception:  # pragma: no cover - str() of arbitrary objects
        return DecodeResult(np.zeros((0, n_vars)), 0, 1)
    rows: list[list[float]] = []
    malformed = 0
    stopped = False
    for chunk in chunks:
        if max_steps is not None and len(rows) >= max_steps:
            break
        if stopped:
            malformed += 1 if chunk else 0
            continue
        fields = chunk.split(VAR_SEP)
        if len(fields) >= n_vars and all(_NUMBER.fullmatch(f) for f in fields[:n_vars]):
            try:
                row = [float(f) for f in fields[:n_vars]]
            except ValueError:  # pragma: no cover - regex guarantees floats
                row = []
            if len(row) == n_vars and all(math.isfinite(v) for v in row):
                rows.append(row)
                continue
        if chunk:
            malformed += 1
            stopped = True
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), n_vars)
    return DecodeResult(values, len(rows), malformed)


def refine_last_digits(text: str, means: Sequence[float], extra: int = 3) -> str:
    """``text`` with the last digit of its ``i``-th number replaced by ``means[i]``.

    The expected-digit readout: a number ``d₁…dₖ`` whose last digit ``dₖ`` the model wrote
    with probabilities ``p(0…9)`` is read as if ``dₖ`` were ``Σ p(j)·j``, written with
    ``extra`` more decimals (``"122"`` with mean 2.7 → ``"122.700"``; ``"-1.23"`` with
    mean 2.5 → ``"-1.225000"``). A NaN mean, and numbers past the end of ``means``, are
    kept as written; separators and anything else are untouched.
    """
    it = iter(means)

    def one(m: re.Match) -> str:
        mean = next(it, float("nan"))
        num = m.group(0)
        if not math.isfinite(mean) or not num[-1].isdigit():
            return num
        q = len(num) - num.index(".") - 1 if "." in num else 0
        sign = -1.0 if num.startswith("-") else 1.0
        value = float(num) + sign * (mean - int(num[-1])) * 10.0**-q
        return f"{value:.{q + extra}f}"

    return _NUMBER.sub(one, text)


def auto_alpha(train_values: np.ndarray, target: float = 10.0, q: float = 99.0) -> float:
    """The scale that puts about ``q`` % of ``|train_values|`` in ``[0, target]``.

    See :data:`ALPHA_RULE`. Returns 1.0 for all-zero data, and for data so close to zero
    (99th percentile of ``|x|`` below :data:`TINY_SCALE`) that its scale is not a normal
    float: such values are written as zeros, which they are to within 1e-300.
    """
    v = float(np.percentile(np.abs(np.asarray(train_values, dtype=np.float64)), q))
    if not math.isfinite(v) or v < TINY_SCALE * target:
        return 1.0
    raw = v / target
    mag = 10 ** (math.floor(math.log10(raw)) - 1)
    return float(math.ceil(raw / mag - 1e-9) * mag)
