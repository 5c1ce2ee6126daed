"""Lotka–Volterra dynamics with logistic prey growth (pure numpy).

The model, per trajectory::

    x' = a·x·(1 − x/K) − b·x·y        (prey)
    y' = d·x·y − g·y                  (predator)

``K`` is stored as its inverse ``inv_k = 1/K`` so that ``inv_k = 0`` means
unbounded prey growth. Everything is vectorised over trajectories: parameter
arrays have shape ``(N,)`` and states ``(N, 2)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmcast.core.runs import resources
from lmcast.core.runs.runinfo import check_output_file
from lmcast.core.series.data import Dataset, save_dataset
from lmcast.errors import DataError

PARAM_NAMES = ("a", "b", "d", "g", "inv_k")

# The default parameter distribution, chosen so that simulated data match the
# reference file's statistics (data.REFERENCE_STATS; each within 15 %): rates
# uniform on the ranges below, and a point mass at inv_k = 0 (no damping,
# sustained cycles) for UNDAMPED_FRACTION of the draws, the rest uniform on
# inv_k's range. Found by a seeded random search around the reference fits
# (DESIGN.md: about a third at 1/K ≈ 0; 10–90 % ranges a 0.11–0.25,
# b 0.17–0.41, d 0.07–0.21, g 0.11–0.25), scored on those statistics; the
# fits alone (uniform on the fitted ranges, inv_k up to 0.17) gave persistence
# MAE 0.36 against the reference's 0.47, oscillations still dying too fast.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "a": (0.07, 0.275),
    "b": (0.16, 0.46),
    "d": (0.042, 0.207),
    "g": (0.087, 0.263),
    "inv_k": (0.0, 0.125),
}
UNDAMPED_FRACTION = 0.2
INITIAL_RANGE = (0.8, 1.2)
# The reference data's values stay below about 14; about 1 % of draws from the
# ranges above overshoot that (low d with high a), and are redrawn.
MAX_POPULATION = 15.0
# Environmental noise on the per-capita growth rates (1/time): each trajectory's level
# log-uniform on NOISE_RANGE, an Ornstein–Uhlenbeck process with correlation time
# NOISE_TAU (time units). Calibrated on ../shared/data/lv_reference_a.h5
# (docs/findings.rst, "The reference data"; scripts/reference_study.py).
NOISE_RANGE: tuple[float, float] | None = (0.0005, 0.025)
NOISE_TAU = 5.0


@dataclass(frozen=True)
class LVParams:
    """Parameters for N trajectories; each field has shape ``(N,)``."""

    a: np.ndarray
    b: np.ndarray
    d: np.ndarray
    g: np.ndarray
    inv_k: np.ndarray

    def stack(self) -> np.ndarray:
        """Return the parameters as an ``(N, 5)`` array in :data:`PARAM_NAMES` order."""
        return np.stack([getattr(self, n) for n in PARAM_NAMES], axis=1)

    @classmethod
    def from_array(cls, arr: np.ndarray) -> LVParams:
        """Build from an ``(N, 5)`` array in :data:`PARAM_NAMES` order."""
        arr = np.atleast_2d(np.asarray(arr, dtype=np.float64))
        return cls(*(arr[:, i] for i in range(len(PARAM_NAMES))))


def sample_params(n: int, rng: np.random.Generator) -> LVParams:
    """Draw ``n`` parameter sets: uniform on :data:`PARAM_RANGES`, and ``inv_k = 0``
    (undamped) for a :data:`UNDAMPED_FRACTION` share of them."""
    p = {k: rng.uniform(lo, hi, size=n) for k, (lo, hi) in PARAM_RANGES.items()}
    p["inv_k"][rng.random(n) < UNDAMPED_FRACTION] = 0.0
    return LVParams(**p)


def rhs(state: np.ndarray, p: LVParams) -> np.ndarray:
    """Time derivative of ``state`` (shape ``(N, 2)``: prey, predator) → ``(N, 2)``."""
    x, y = state[:, 0], state[:, 1]
    dx = p.a * x * (1.0 - x * p.inv_k) - p.b * x * y
    dy = p.d * x * y - p.g * y
    return np.stack([dx, dy], axis=1)


def substeps(times: np.ndarray, max_dt: float) -> np.ndarray:
    """RK4 substeps per output interval: ``ceil(interval / max_dt)``, shape ``(T - 1,)``."""
    return np.maximum(1, np.ceil(np.diff(np.asarray(times, dtype=np.float64)) / max_dt)).astype(int)


def integrate(
    y0: np.ndarray,
    times: np.ndarray,
    p: LVParams,
    max_dt: float = 0.05,
    forcing: np.ndarray | None = None,
) -> np.ndarray:
    """Integrate with classical fixed-step RK4, reporting at ``times``.

    Args:
        y0: initial states, shape ``(N, 2)``, at ``times[0]``.
        times: increasing output times, shape ``(T,)`` (model time units).
        p: parameters for the N trajectories.
        max_dt: the largest internal step; each output interval is split into
            ``ceil(interval / max_dt)`` equal RK4 steps (:func:`substeps`).
        forcing: optional environmental noise, shape ``(N, S, 2)`` with ``S`` the total
            number of substeps: added to each variable's per-capita growth rate
            (``x' = x·(a(1 − x/K) − b·y + f_x)``, ``y' = y·(d·x − g + f_y)``; units
            1/time), held constant over each substep.

    Returns:
        States at ``times``, shape ``(N, T, 2)``, float64. Populations are
        clipped at 0 after each step (they cannot go negative).
    """
    times = np.asarray(times, dtype=np.float64)
    state = np.asarray(y0, dtype=np.float64).copy()
    n_subs = substeps(times, max_dt)
    if forcing is not None and forcing.shape != (state.shape[0], int(n_subs.sum()), 2):
        raise ValueError(f"forcing must have shape {(state.shape[0], int(n_subs.sum()), 2)}")
    out = np.empty((state.shape[0], times.size, 2))
    out[:, 0] = state
    k = 0
    for i in range(1, times.size):
        h = (times[i] - times[i - 1]) / n_subs[i - 1]
        for _ in range(n_subs[i - 1]):
            push = None if forcing is None else forcing[:, k]
            k1 = _forced_rhs(state, p, push)
            k2 = _forced_rhs(state + 0.5 * h * k1, p, push)
            k3 = _forced_rhs(state + 0.5 * h * k2, p, push)
            k4 = _forced_rhs(state + h * k3, p, push)
            state = np.maximum(state + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4), 0.0)
            k += 1
        out[:, i] = state
    return out


def _forced_rhs(state: np.ndarray, p: LVParams, push: np.ndarray | None) -> np.ndarray:
    """:func:`rhs` with ``push`` ``(N, 2)`` added to the per-capita rates (``None``: none)."""
    d = rhs(state, p)
    return d if push is None else d + state * push


def ou_forcing(
    sigma: np.ndarray, tau: float, n_steps: int, dt: float, rng: np.random.Generator
) -> np.ndarray:
    """Ornstein–Uhlenbeck environmental noise, ``(N, n_steps, 2)``, sampled exactly on a grid.

    Each path starts in its stationary law, has standard deviation ``sigma[i]`` (1/time)
    and correlation ``exp(-|s| / tau)`` between times ``s`` apart (``tau`` in time units).

    Args:
        sigma: ``(N,)`` per-trajectory standard deviation of the per-capita rate noise.
        tau: correlation time, > 0.
        n_steps: grid points; ``dt``: their spacing.
    """
    rho = float(np.exp(-dt / tau))
    z = rng.standard_normal((sigma.size, n_steps, 2))
    out = np.empty_like(z)
    out[:, 0] = z[:, 0]
    innov = np.sqrt(1.0 - rho**2)
    for j in range(1, n_steps):
        out[:, j] = rho * out[:, j - 1] + innov * z[:, j]
    return out * sigma[:, None, None]


def sample_noise(n: int, rng: np.random.Generator, noise: tuple[float, float] | None) -> np.ndarray:
    """``(n,)`` per-trajectory noise levels, log-uniform on ``noise`` (zeros for ``None``;
    the draws are taken either way, so a noise-free run sees the same parameters)."""
    u = rng.random(n)
    if noise is None:
        return np.zeros(n)
    lo, hi = np.log(noise[0]), np.log(noise[1])
    return np.exp(lo + u * (hi - lo))


def _run(
    y0: np.ndarray,
    time: np.ndarray,
    params: np.ndarray,
    sigma: np.ndarray,
    tau: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """States ``(n, T, 2)`` of ``(n, 5)`` parameter rows from ``y0`` ``(n, 2)``, with OU forcing
    of levels ``sigma`` ``(n,)`` (none when every level is 0)."""
    p = LVParams.from_array(params)
    if not np.any(sigma > 0):
        return integrate(y0, time, p)
    n_subs = substeps(time, 0.05)
    dt = float(time[1] - time[0]) / n_subs[0] if time.size > 1 else 0.05
    forcing = ou_forcing(sigma, tau, int(n_subs.sum()), dt, rng)
    return integrate(y0, time, p, forcing=forcing)


def simulate(
    n: int = 1000,
    steps: int = 100,
    t_max: float = 200.0,
    seed: int = 0,
    noise: tuple[float, float] | None = NOISE_RANGE,
    tau: float = NOISE_TAU,
) -> tuple[np.ndarray, np.ndarray, LVParams]:
    """Simulate ``n`` seeded trajectories on an even grid of ``steps`` points in ``[0, t_max]``.

    Each trajectory's per-capita growth rates carry environmental noise
    (:func:`ou_forcing`) whose level is drawn log-uniform on ``noise`` (1/time;
    ``None``: noise-free, the model class exactly), with correlation time ``tau``:
    the reference file's residuals from its best Lotka–Volterra fits are of this kind
    (docs/findings.rst, "The reference data"). Trajectories whose populations exceed
    :data:`MAX_POPULATION` are redrawn (parameters, initial values and noise) until
    none does, so the data match the reference value range.

    Returns:
        ``(trajectories, time, params)``: float32 ``(n, steps, 2)``, float64
        ``(steps,)`` and the parameters used, each field ``(n,)``.
    """
    rng = np.random.default_rng(seed)
    time = np.linspace(0.0, t_max, steps)
    params = sample_params(n, rng).stack()
    y0 = rng.uniform(*INITIAL_RANGE, size=(n, 2))
    sigma = sample_noise(n, rng, noise)
    traj = _run(y0, time, params, sigma, tau, rng)
    for _ in range(100):
        bad = np.flatnonzero(~(traj.max(axis=(1, 2)) <= MAX_POPULATION))
        if bad.size == 0:
            break
        params[bad] = sample_params(bad.size, rng).stack()
        y0[bad] = rng.uniform(*INITIAL_RANGE, size=(bad.size, 2))
        sigma[bad] = sample_noise(bad.size, rng, noise)
        traj[bad] = _run(y0[bad], time, params[bad], sigma[bad], tau, rng)
    return traj.astype(np.float32), time, LVParams.from_array(params)


# Time-loop iterations (RK4 substeps plus output points) one simulation may take: at
# n = 1000 one iteration costs about 0.1 ms here, so the cap is a couple of minutes.
MAX_ITERATIONS = 1_000_000
# Bytes per simulated value held at once: the float64 integration array, the float32
# copy written, and the redraw check's temporaries.
BYTES_PER_VALUE = 24


def check_size(n: int, steps: int, t_max: float, max_dt: float = 0.05) -> None:
    """Refuse, with one line, a simulation that would run for hours or not fit in memory.

    Raises:
        DataError: ``t_max`` not finite, more than :data:`MAX_ITERATIONS` time-loop
            iterations, or the ``(n, steps, 2)`` arrays over half the available memory.
    """
    import math

    if not math.isfinite(t_max):
        raise DataError(f"--t-max must be finite, got {t_max}")
    iterations = math.ceil(t_max / max_dt) + steps
    if iterations > MAX_ITERATIONS:
        raise DataError(
            f"--t-max {t_max:g} with --steps {steps} needs {iterations:.3g} integration steps "
            f"of {max_dt} time units (at most {MAX_ITERATIONS:.0e}): shorten --t-max or --steps"
        )
    need = n * steps * 2 * BYTES_PER_VALUE
    room = int(resources.free_bytes("cpu") * resources.MEMORY_SHARE)
    if need > room:
        raise DataError(
            f"--n {n} × --steps {steps} needs about {need / 2**30:,.1f} GiB of memory; "
            f"{room / 2**30:,.1f} GiB can be used: simulate fewer or shorter trajectories"
        )


def simulate_file(
    out: str | os.PathLike,
    n: int = 1000,
    steps: int = 100,
    t_max: float = 200.0,
    seed: int = 0,
    overwrite: bool = False,
    noise: tuple[float, float] | None = NOISE_RANGE,
) -> Path:
    """Simulate as :func:`simulate` and write the HDF5 file (atomically); return its path.

    The file holds ``/trajectories``, ``/time``, ``/params (n, 5)`` and the
    attributes ``generator``, ``seed`` and ``param_names``.

    Raises:
        DataError: ``n < 1``, ``steps < 2`` or ``t_max`` not positive.
        LmcastError: ``out`` exists and lmcast did not write it (without ``overwrite``).
    """
    check_output_file(out, overwrite=overwrite)

    if n < 1 or steps < 2 or not t_max > 0:
        raise DataError(f"need --n >= 1, --steps >= 2 and --t-max > 0 (got {n}, {steps}, {t_max})")
    check_size(n, steps, t_max)
    traj, time, params = simulate(n, steps, t_max, seed, noise)
    ds = Dataset(
        traj,
        time,
        params=params.stack(),
        attrs={
            "generator": "lmcast.core.series.lotka_volterra",
            "seed": seed,
            "param_names": list(PARAM_NAMES),
            "param_distribution": json.dumps(
                {
                    "uniform": {k: list(v) for k, v in PARAM_RANGES.items()},
                    "inv_k_zero_fraction": UNDAMPED_FRACTION,
                    "initial": list(INITIAL_RANGE),
                    "redrawn_above": MAX_POPULATION,
                    "rate_noise": None
                    if noise is None
                    else {"log_uniform": list(noise), "ou_tau": NOISE_TAU},
                }
            ),
        },
    )
    return save_dataset(ds, out)
