"""A synthetic corpus of univariate series for a general adapter (``lmcast data synth``).

Three generators (and two more on request), each series drawn from its own seeded stream
``(seed, i)`` so the corpus of ``n`` series is the first ``n`` of any larger one and a
series never depends on others:

* ``kernel`` — KernelSynth-style (Chronos, Ansari et al. 2024): a Gaussian-process sample
  whose covariance is a random composition (sums and products) of one to five kernels from
  a bank: linear, RBF, rational-quadratic, periodic (the common seasons 4, 7, 12, 24, 52
  and random periods) and white noise.
* ``tsn`` — trend × season × noise: a level, a (possibly damped) trend, a seasonal profile
  of a few harmonics added to or multiplied with it, AR(1) noise and sometimes a level
  shift.
* ``mix`` — TSMixup-style: a convex (Dirichlet) mix of two or three series of the other
  kinds, each first divided by its mean absolute value.
* ``arima`` (only with ``arima_share > 0``) — integrated ARMA(1, 1) with a drift that may
  change at one or two points, as many economic series are (Box & Jenkins; TimesFM's
  synthetic data has ARMA and piecewise trends): sometimes taken to the exponent
  (growth by a constant factor per step), sometimes with a season added (multiplied with
  the level when exponentiated).
* ``season`` (only with ``season_share > 0``) — a season of any shape repeated with little
  change: a profile of up to eight harmonics or of one random value per phase (peaks and
  troughs that a few sines cannot draw, as passenger numbers and weekly CO2 have), on a
  trend that is flat, linear, damped or growing by a constant factor, added to or
  multiplied with the level, its amplitude drifting slowly, with AR(1) noise.

Every series is then placed at a random level and scale (from 0.01 to 1e6, some near
zero and crossing it, some far above their variation like CO2 or prices) and its length is
drawn between ``min_length`` and ``max_length``. Nothing here reads any real data: the
corpus cannot contain a series of ``lmcast data classics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SEASONS = (4, 7, 12, 24, 52)
KINDS = ("kernel", "tsn", "mix")
SHARES = (0.5, 0.3, 0.2)  # of kernel, tsn and mix series (of those not ``arima``)
MAX_GP_LENGTH = 512  # a GP sample is drawn on at most this many points (longer: interpolated)

Kernel = Callable[[np.ndarray], np.ndarray]  # (T,) times in [0, 1] → (T, T) covariance


@dataclass(frozen=True)
class Synth:
    """One synthetic series: ``values`` ``(T,)``, its generator ``kind`` and a short
    ``recipe`` (kernels, periods) for the corpus statistics."""

    values: np.ndarray
    kind: str
    recipe: str


def _period(rng: np.random.Generator, length: int) -> float:
    """A season: one of :data:`SEASONS` (if it fits three times) or a random period."""
    fits = [p for p in SEASONS if 3 * p <= length]
    if fits and rng.random() < 0.7:
        return float(rng.choice(fits))
    return float(rng.uniform(3, max(4.0, length / 3)))


def _kernel(rng: np.random.Generator, length: int) -> tuple[Kernel, str]:
    """One kernel of the bank on times ``t`` in ``[0, 1]`` (``length`` steps)."""
    kind = rng.choice(["linear", "rbf", "rq", "periodic", "periodic", "white", "constant"])
    if kind == "linear":
        c = rng.uniform(-0.5, 1.0)
        return (lambda t: np.outer(t - c, t - c) + 0.1), "linear"
    if kind == "rbf":
        ell = float(rng.choice([0.03, 0.1, 0.3, 1.0]))
        return (lambda t: np.exp(-0.5 * ((t[:, None] - t[None]) / ell) ** 2)), f"rbf{ell:g}"
    if kind == "rq":
        ell, a = float(rng.choice([0.05, 0.2, 1.0])), float(rng.choice([0.5, 1.0, 2.0]))
        return (lambda t: (1 + ((t[:, None] - t[None]) / ell) ** 2 / (2 * a)) ** -a), f"rq{ell:g}"
    if kind == "periodic":
        p = _period(rng, length) / length  # in units of the series' length
        ell = float(rng.choice([0.5, 1.0, 2.0]))
        return (
            lambda t: np.exp(-2 * np.sin(np.pi * np.abs(t[:, None] - t[None]) / p) ** 2 / ell**2)
        ), f"per{p * length:.3g}"
    if kind == "white":
        s = float(rng.choice([0.01, 0.05, 0.2]))
        return (lambda t: s * np.eye(len(t))), "white"
    c = float(rng.uniform(0.1, 1.0))
    return (lambda t: np.full((len(t), len(t)), c)), "const"


def kernel_series(rng: np.random.Generator, length: int) -> tuple[np.ndarray, str]:
    """A GP sample ``(length,)`` under a random composition of one to five kernels."""
    parts = [_kernel(rng, length) for _ in range(int(rng.integers(1, 6)))]
    k, recipe = parts[0]
    for nxt, name in parts[1:]:
        if rng.random() < 0.5:
            k = (lambda a, b: lambda t: a(t) + b(t))(k, nxt)
            recipe += f"+{name}"
        else:
            k = (lambda a, b: lambda t: a(t) * b(t))(k, nxt)
            recipe += f"*{name}"
    m = min(length, MAX_GP_LENGTH)
    t = np.linspace(0, 1, m)
    cov = k(t) + 1e-6 * np.eye(m)
    # eigh instead of Cholesky: products of kernels can be numerically indefinite
    w, vec = np.linalg.eigh(cov)
    y = vec @ (np.sqrt(np.clip(w, 0, None)) * rng.standard_normal(m))
    if m < length:
        y = np.interp(np.linspace(0, 1, length), t, y)
    return y, recipe


def _harmonics(
    rng: np.random.Generator, t: np.ndarray, p: float, fewest: int, most: int
) -> np.ndarray:
    """A sum of the first ``fewest … most`` harmonics (how many: drawn) of period ``p`` at
    times ``t`` ``(T,)``; harmonic ``h`` has a ``N(0, 1/h)`` amplitude and a uniform phase."""
    season = np.zeros(len(t))
    for h in range(1, int(rng.integers(fewest, most + 1)) + 1):
        season += rng.normal(0, 1 / h) * np.sin(2 * np.pi * h * t / p + rng.uniform(0, 2 * np.pi))
    return season


def _season(rng: np.random.Generator, length: int) -> tuple[np.ndarray, float]:
    """A seasonal profile ``(length,)`` of one to three harmonics, max ``|·|`` 1, and its
    period."""
    t = np.arange(length, dtype=np.float64)
    p = _period(rng, length)
    season = _harmonics(rng, t, p, 1, 3)
    return season / max(np.abs(season).max(), 1e-9), p


def _ar1(rng: np.random.Generator, length: int, max_phi: float, max_sigma: float) -> np.ndarray:
    """AR(1) noise ``(length,)`` starting at 0: ``phi ~ U(0, max_phi)``, innovations
    ``N(0, sigma)`` with ``sigma ~ U(0.02, max_sigma)`` (drawn in that order)."""
    noise = np.zeros(length)
    phi, sigma = rng.uniform(0, max_phi), rng.uniform(0.02, max_sigma)
    eps = rng.normal(0, sigma, length)
    for i in range(1, length):
        noise[i] = phi * noise[i - 1] + eps[i]
    return noise


def tsn_series(rng: np.random.Generator, length: int) -> tuple[np.ndarray, str]:
    """Trend × season × noise ``(length,)`` (see the module docstring)."""
    t = np.arange(length, dtype=np.float64)
    season, p = _season(rng, length)
    trend = rng.normal(0, 1) * t / length
    if rng.random() < 0.3:  # damped
        trend = rng.normal(0, 1) * (1 - np.exp(-t / rng.uniform(0.1, 0.5) / length))
    noise = _ar1(rng, length, 0.9, 0.3)
    amp = rng.uniform(0.1, 1.0)
    if rng.random() < 0.4:  # multiplicative: the season grows with the level
        level = 2 + trend - trend.min()
        y = level * (1 + 0.5 * amp * season) * (1 + 0.3 * noise)
        recipe = f"mul p{p:.3g}"
    else:
        y = trend + amp * season + noise
        recipe = f"add p{p:.3g}"
    if rng.random() < 0.15:  # a level shift
        at = int(rng.integers(length // 4, 3 * length // 4 + 1))
        y[at:] += rng.normal(0, 0.5) * np.std(y)
        recipe += " shift"
    return y, recipe


def _unit(y: np.ndarray) -> np.ndarray:
    return y / max(float(np.mean(np.abs(y))), 1e-9)


def mix_series(rng: np.random.Generator, length: int) -> tuple[np.ndarray, str]:
    """A convex mix of two or three kernel or tsn series, each of mean absolute value 1."""
    k = int(rng.integers(2, 4))
    parts = [
        (kernel_series if rng.random() < 0.5 else tsn_series)(rng, length)[0] for _ in range(k)
    ]
    w = rng.dirichlet(np.ones(k))
    return sum(wi * _unit(p) for wi, p in zip(w, parts, strict=True)), f"mix{k}"


def _profile(rng: np.random.Generator, length: int) -> tuple[np.ndarray, float, str]:
    """A seasonal profile ``(length,)`` of max ``|·|`` 1 and its period: two to eight
    harmonics (amplitudes falling as ``1/h``) or one random value per phase, circularly
    smoothed a little and read at fractional phases by linear interpolation."""
    t = np.arange(length, dtype=np.float64)
    p = _period(rng, length)
    if rng.random() < 0.5:
        season, shape = _harmonics(rng, t, p, 2, 8), "harm"
    else:
        k = max(round(p), 2)
        values = rng.normal(0, 1, k)
        w = rng.uniform(0, 0.35)  # weight of each neighbour in the circular smoothing
        values = (1 - 2 * w) * values + w * (np.roll(values, 1) + np.roll(values, -1))
        phase = (t % p) / p * k
        lo = np.floor(phase).astype(int) % k
        frac = phase - np.floor(phase)
        season = (1 - frac) * values[lo] + frac * values[(lo + 1) % k]
        shape = "prof"
    season -= season.mean()
    return season / max(np.abs(season).max(), 1e-9), p, shape


def season_series(rng: np.random.Generator, length: int) -> tuple[np.ndarray, str]:
    """A repeated season on a trend ``(length,)`` (see the module docstring)."""
    season, p, shape = _profile(rng, length)
    t = np.arange(length, dtype=np.float64) / length  # 0 … 1 over the series
    u = rng.random()
    if u < 0.2:
        trend, kind = np.zeros(length), "flat"
    elif u < 0.5:
        trend, kind = rng.normal(0, 1) * t, "lin"
    elif u < 0.7:
        trend, kind = rng.normal(0, 1) * (1 - np.exp(-t / rng.uniform(0.1, 0.5))), "damp"
    else:
        trend, kind = np.expm1(rng.uniform(0.3, 2.0) * t), "exp"
    drift = 1 + rng.uniform(-0.4, 0.4) * t  # the season's amplitude, slowly changing
    noise = _ar1(rng, length, 0.8, 0.25)
    amp = rng.uniform(0.05, 0.5)
    if rng.random() < 0.5:  # multiplicative: the season grows with the level
        level = 1 + trend - trend.min()
        y = level * (1 + amp * drift * season) * (1 + 0.3 * amp * noise)
        mode = "mul"
    else:
        span = max(float(trend.max() - trend.min()), 1.0)
        y = trend + amp * span * (drift * season + noise)
        mode = "add"
    return y, f"season {shape} p{p:.3g} {kind} {mode}"


def arima_series(rng: np.random.Generator, length: int) -> tuple[np.ndarray, str]:
    """Integrated ARMA(1, 1) with drift ``(length,)`` (see the module docstring).

    The steps ``d`` follow ``d_t = phi d_{t-1} + e_t + theta e_{t-1}`` (unit innovations)
    plus a drift of ``r`` innovation scales per step, ``r ~ N(0, 1)`` (zero for a quarter
    of the series), redrawn at up to two change points; the series is their running sum.
    """
    phi, theta = rng.uniform(-0.3, 0.8), rng.uniform(-0.5, 0.5)
    eps = rng.standard_normal(length + 1)
    d = eps[1:] + theta * eps[:-1]
    for i in range(1, length):
        d[i] += phi * d[i - 1]
    drift = np.full(length, 0.0 if rng.random() < 0.25 else rng.normal(0, 1))
    recipe = f"arima ar{phi:.2f} drift{drift[0]:+.2f}"
    for _ in range(int(rng.choice([0, 0, 1, 2]))):  # change points
        at = int(rng.integers(length // 5, 4 * length // 5 + 1))
        drift[at:] = rng.normal(0, 1)
        recipe += " cp"
    x = np.cumsum(d * np.std(eps) + drift)
    span = max(float(x.max() - x.min()), 1e-9)
    season = None
    if rng.random() < 0.3:
        season, p = _season(rng, length)
        recipe += f" p{p:.3g}"
    if rng.random() < 0.4:  # growth by a constant factor: e**g over the series' range
        g = rng.uniform(0.5, 3.0)
        z = g * (x - x.min()) / span
        if season is not None:
            z = z + rng.uniform(0.02, 0.3) * season
        return np.exp(z), recipe + f" exp{g:.2g}"
    if season is not None:
        x = x + rng.uniform(0.02, 0.3) * span * season
    return x, recipe


GENERATORS = {
    "kernel": kernel_series,
    "tsn": tsn_series,
    "mix": mix_series,
    "arima": arima_series,
    "season": season_series,
}


def place(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """``y`` at a random scale (1e-2 … 1e6) and level: centred on zero, a little above its
    variation, or far above it (the level up to 50 times the spread)."""
    z = (y - y.mean()) / max(float(y.std()), 1e-9)
    scale = 10 ** rng.uniform(-2, 6)
    u = rng.random()
    if u < 0.2:
        level = 0.0
    elif u < 0.7:
        level = -z.min() + rng.uniform(0, 3)  # positive, near zero at its lowest
    else:
        level = -z.min() + 10 ** rng.uniform(0.5, 1.7)  # far above its variation
    return (z + level) * scale


def synth_series(
    seed: int,
    i: int,
    min_length: int = 48,
    max_length: int = 320,
    arima_share: float = 0.0,
    season_share: float = 0.0,
) -> Synth:
    """Series ``i`` of the corpus of ``seed`` (its own random stream); a share
    ``arima_share`` of the series is ``arima``, a share ``season_share`` is ``season``, the
    rest split by :data:`SHARES`. With both shares 0 the stream draws nothing for them: the
    corpus is the one of before these kinds (and with ``season_share`` 0, the one of before
    ``season``)."""
    if arima_share + season_share > 1:
        raise ValueError(f"arima_share + season_share = {arima_share + season_share} > 1")
    rng = np.random.default_rng([seed, i])
    u = rng.random() if arima_share > 0 or season_share > 0 else 1.0
    if u < arima_share:
        kind = "arima"
    elif u < arima_share + season_share:
        kind = "season"
    else:
        kind = str(rng.choice(KINDS, p=SHARES))
    length = int(rng.integers(min_length, max_length + 1))
    y, recipe = GENERATORS[kind](rng, length)
    values = place(rng, y).astype(np.float32)
    return Synth(values, kind, recipe)


def synth_corpus(
    n: int,
    seed: int = 0,
    min_length: int = 48,
    max_length: int = 320,
    arima_share: float = 0.0,
    season_share: float = 0.0,
) -> list[Synth]:
    """The first ``n`` series of the corpus of ``seed`` (see :func:`synth_series`)."""
    return [
        synth_series(seed, i, min_length, max_length, arima_share, season_share) for i in range(n)
    ]


def corpus_stats(series: list[Synth]) -> dict:
    """Counts per kind, and quantiles of length, scale (99th percentile of ``|x|``) and
    level-to-spread ratio (``|mean| / std``)."""
    lengths = np.array([len(s.values) for s in series])
    scales = np.array([np.percentile(np.abs(s.values), 99) for s in series])
    ratio = np.array([abs(s.values.mean()) / max(float(s.values.std()), 1e-12) for s in series])
    q = (0, 10, 50, 90, 100)

    def quant(x: np.ndarray) -> dict[str, float]:
        return {f"p{k}": float(np.percentile(x, k)) for k in q}

    periodic = sum("per" in s.recipe or " p" in s.recipe for s in series)
    return {
        "n": len(series),
        "kinds": {k: n for k in GENERATORS if (n := sum(s.kind == k for s in series))},
        "with_a_season": periodic,
        "length": quant(lengths),
        "scale": quant(scales),
        "level_over_spread": quant(ratio),
        "negative_values": int(sum(bool((s.values < 0).any()) for s in series)),
    }
