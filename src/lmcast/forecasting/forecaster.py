"""Forecast the future of your own series: the :class:`Forecaster` Python API.

Load a model (optionally with a trained adapter or an exported forecaster) once,
then ask for the next ``horizon`` steps of any number of series — of different
lengths if need be — with sample paths and quantiles:

>>> import numpy as np
>>> from lmcast import Forecaster
>>> fc = Forecaster.load(model=MODEL, device="cpu")  # MODEL: a name or a model folder
>>> t = np.linspace(0, 6, 40)
>>> series = np.stack([2 + np.sin(t), 1 + np.cos(t)], axis=1)   # (C, V) = (40, 2)
>>> pred = fc.predict(series, horizon=5, samples=4, quantiles=(0.1, 0.5, 0.9))
>>> pred.samples.shape                                          # (N, K, H, V)
(1, 4, 5, 2)
>>> pred.median.shape, pred.quantiles.shape                     # (N, H, V), (Q, N, H, V)
((1, 5, 2), (3, 1, 5, 2))
>>> bool(np.all(pred.quantiles[0] <= pred.quantiles[2]))
True
>>> ragged = fc.predict([series, series[:25]], horizon=3, samples=1)  # greedy, two lengths
>>> ragged.samples.shape
(2, 1, 3, 2)

The precision is the adapter's training precision (2 without one). Each series is
scaled on its own, as LLMTIME prescribes (``scale="series"``, the default: a series
near 1 beside one near 1e5 are both written in a few digits); ``scale="adapter"``
keeps the adapter's training scale for every series, and a number (or one per
series) fixes it. :attr:`Prediction.alphas` says which scale each series got.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lmcast.compare import conformal
from lmcast.configs import check_quantiles
from lmcast.core.codec import scheme
from lmcast.core.codec.encoding import ensemble_scales
from lmcast.core.codec.scheme import Encoding, Scale
from lmcast.core.logs import get_logger
from lmcast.core.series.timeaxis import Axis, continue_numeric
from lmcast.errors import LmcastError
from lmcast.lm.decode import GenerationPlan, GenerationStats, Sampling
from lmcast.lm.models import adapter_path, load_model, model_alias

if TYPE_CHECKING:
    from lmcast.accounting.ledger import Ledger
    from lmcast.lm.models import LoadedModel

#: the file an export (and a training run) names its base model in
EXPORT_FILE = "lmcast_export.json"


@dataclass(frozen=True)
class Prediction:
    """Forecasts of N series: K sample paths of H steps and V variables each.

    Attributes:
        samples: ``(N, K, H, V)`` in the series' units (NaN where a step did not parse).
        quantile_levels: the levels of :attr:`quantiles`, increasing.
        variables: V names.
        flops: FLOPs the generation computed (charged to the ledger by the CLI).
        alphas: N scales the series were encoded with (value = alpha × written number).
        generated: the decoding's own record (:class:`lmcast.lm.decode.Forecast`: texts,
            steps parsed per path, token counts), for callers that score parsing.
        calibrated_quantiles: ``(Q, N, H, V)`` quantiles calibrated on each series' own last windows
            (:meth:`calibrated`), which :attr:`quantiles` returns instead of the samples'.
    """

    samples: np.ndarray
    quantile_levels: tuple[float, ...]
    variables: tuple[str, ...]
    flops: int
    alphas: tuple[float, ...] = ()
    generated: Any = None
    calibrated_quantiles: np.ndarray | None = None

    def first(self, k: int) -> Prediction:
        """The forecasts of the first ``k`` series (the same FLOPs, which ran for all)."""
        return dataclasses.replace(
            self,
            samples=self.samples[:k],
            alphas=self.alphas[:k],
            calibrated_quantiles=None
            if self.calibrated_quantiles is None
            else self.calibrated_quantiles[:, :k],
        )

    def calibrated(self, win: conformal.Windows) -> Prediction:
        """The series of a prediction of ``win.all_contexts`` (the series, then their
        calibration windows), with conformal quantiles
        (:meth:`lmcast.compare.conformal.Windows.apply` on the medians; the FLOPs are all)."""
        _, q = win.apply(self.median, self.quantiles, self.quantile_levels)
        return dataclasses.replace(self.first(len(win.series)), calibrated_quantiles=q)

    @property
    def median(self) -> np.ndarray:
        """``(N, H, V)`` per-step median over the samples (the point forecast)."""
        with np.errstate(all="ignore"):
            return np.nanmedian(self.samples, axis=1)

    @property
    def quantiles(self) -> np.ndarray:
        """``(Q, N, H, V)`` per-step sample quantiles at :attr:`quantile_levels` (the
        conformal ones of a :meth:`calibrated` prediction)."""
        if self.calibrated_quantiles is not None:
            return self.calibrated_quantiles
        with np.errstate(all="ignore"):
            return np.nanquantile(self.samples, self.quantile_levels, axis=1)

    def rows(
        self, ids: Sequence[str] | None = None, times: Sequence[np.ndarray] | None = None
    ) -> list[dict]:
        """Long format: one dict per series × step × variable.

        Args:
            ids: N series names (default ``0 … N-1``).
            times: N sequences of H forecast times, numbers or ISO date texts (default: the
                step number).
        """
        n, _, h, v = self.samples.shape
        med, qs = self.median, self.quantiles
        out = []
        for i in range(n):
            for s in range(h):
                for k in range(v):
                    row = {
                        "series": ids[i] if ids is not None else str(i),
                        "step": s + 1,
                        "time": time_cell(times[i][s]) if times is not None else float(s + 1),
                        "variable": self.variables[k],
                        "median": short_number(med[i, s, k]),
                    }
                    for q, level in enumerate(self.quantile_levels):
                        row[f"q{level:g}"] = short_number(qs[q, i, s, k])
                    row["failed"] = int(not np.isfinite(med[i, s, k]))  # no path parsed it
                    if self.alphas:
                        row["alpha"] = short_number(self.alphas[i])
                    out.append(row)
        return out

    def to_frame(self, ids: Sequence[str] | None = None, times: Sequence[np.ndarray] | None = None):
        """:meth:`rows` as a pandas DataFrame (pandas is optional: ImportError without it)."""
        import pandas as pd

        return pd.DataFrame(self.rows(ids, times))


def short_number(x: float, digits: int = 6) -> float:
    """``x`` to ``digits`` significant digits (no 141.41400000000002 in CSVs)."""
    return float(f"{float(x):.{digits}g}")


def time_cell(t: object) -> object:
    """A forecast time as the CSV shows it: a date's ISO text as is, a number shortened."""
    return t if isinstance(t, str) else short_number(float(t), 10)


def as_contexts(context: Any) -> list[np.ndarray]:
    """``(C, V)``, ``(N, C, V)`` or a list of ``(C_i, V)`` → N float arrays ``(C_i, V)``.

    Raises:
        LmcastError: wrong dimensions, mixed variable counts, a series shorter than
            2 steps, or a non-finite value inside a context.
    """
    if isinstance(context, np.ndarray) and context.ndim == 3:
        items = list(context)
    elif isinstance(context, np.ndarray) and context.ndim == 2:
        items = [context]
    elif isinstance(context, (list, tuple)):
        items = list(context)
    else:
        raise LmcastError(
            "context must be an array (C, V) or (N, C, V), or a list of (C, V) arrays"
        )
    out = []
    for i, c in enumerate(items):
        a = np.asarray(c, dtype=np.float64)
        if a.ndim != 2:
            raise LmcastError(f"series {i}: expected (steps, variables), got shape {a.shape}")
        if a.shape[0] < 2:
            raise LmcastError(f"series {i}: {a.shape[0]} step(s); a context needs at least 2")
        if not np.all(np.isfinite(a)):
            raise LmcastError(f"series {i}: NaN or infinite value inside the context")
        out.append(a)
    if not out:
        raise LmcastError("no series to forecast")
    if len({a.shape[1] for a in out}) > 1:
        raise LmcastError("all series must have the same number of variables")
    return out


def read_export_meta(folder: str | os.PathLike) -> dict:
    """The ``lmcast_export.json`` of an exported forecaster, its schema checked:
    an object whose ``base_model`` is a string, ``variables`` a list of strings and
    ``max_context_steps``, if given, an integer >= 2.

    Raises:
        LmcastError: unreadable, not JSON, or of the wrong shape (one line).
    """
    f = Path(folder) / EXPORT_FILE
    try:
        meta = json.loads(f.read_text())
    except (OSError, ValueError) as exc:
        raise LmcastError(f"{f}: not a readable export record ({exc})") from None
    if not isinstance(meta, dict):
        raise LmcastError(f"{f}: not an export record (a JSON object is expected)")
    if not isinstance(meta.get("base_model"), str) or not meta["base_model"]:
        raise LmcastError(f"{f}: base_model must be a model name, got {meta.get('base_model')!r}")
    variables = meta.get("variables", [])
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise LmcastError(f"{f}: variables must be a list of names")
    n = meta.get("max_context_steps")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 2):
        raise LmcastError(f"{f}: max_context_steps must be >= 2, got {n!r}")
    return meta


def base_model_of(adapter: str | os.PathLike) -> str | None:
    """The base model an exported forecaster or a training run was trained from, if recorded."""
    path = Path(adapter)
    if (path / EXPORT_FILE).is_file():
        return read_export_meta(path)["base_model"]
    f = path / "run.json"
    if f.is_file():
        try:
            model = json.loads(f.read_text())["config"]["model"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LmcastError(f"{f}: unreadable ({exc!r})") from None
        if not isinstance(model, str):
            raise LmcastError(f"{f}: config.model must be a model name, got {model!r}")
        return model
    return None


def max_context_steps_of(adapter: str | os.PathLike) -> int | None:
    """The most context steps an exported forecaster takes (``lmcast export
    --max-context-steps``, checked by :func:`read_export_meta`; None: all it is given)."""
    if not (Path(adapter) / EXPORT_FILE).is_file():
        return None
    return read_export_meta(adapter).get("max_context_steps")


class Forecaster:
    """A loaded model (+ adapter) and its encoding, ready to forecast.

    Use :meth:`load`; then :meth:`predict` as often as needed.
    """

    def __init__(
        self,
        lm: LoadedModel,
        encoding: Encoding | None = None,
        variables: tuple[str, ...] = (),
    ):
        self.lm = lm
        #: how numbers are written: the adapter's training encoding (its ``encoding.json``),
        #: or precision 2 with the point and each series its own scale without one
        self.encoding = encoding if encoding is not None else Encoding()
        self.variables = variables
        #: the most context steps the adapter takes (:meth:`recent`; None: all of them)
        self.max_context_steps: int | None = None

    @classmethod
    def load(
        cls,
        model: str = "smollm2-135m",
        adapter: str | os.PathLike | None = None,
        device: str = "auto",
        dtype: str = "auto",
    ) -> Forecaster:
        """Load ``model`` (alias, hub id or folder) and, optionally, an adapter.

        ``adapter``: a training run folder, an adapter folder, a folder written by
        ``lmcast export``, or the name of a shipped adapter (``"general"``). Its
        ``encoding.json`` fixes the precision and the scale (one, or each series its own).

        Raises:
            LmcastError: an adapter trained on another base model, or an export
                folder missing a file.
        """
        enc, variables, cap = None, (), None
        adapter = adapter_path(adapter)
        if adapter is not None:
            path = adapter
            if (path / EXPORT_FILE).is_file():
                for f in ("adapter_config.json", "adapter_model.safetensors", "encoding.json"):
                    if not (path / f).is_file():
                        raise LmcastError(f"{path}: exported forecaster is missing {f}")
                meta = read_export_meta(path)
                variables = tuple(meta.get("variables", ()))
                cap = meta.get("max_context_steps")
            base = base_model_of(path)
            if (
                base is not None
                and Path(base).name != Path(model).name
                and model_alias(base) != model_alias(model)
            ):
                raise LmcastError(f"{path}: adapter was trained on {base!r}, not {model!r}")
            enc = scheme.read(path)
        lm = load_model(model, adapter=adapter, device=device, dtype=dtype)
        fc = cls(lm, enc, variables)
        fc.max_context_steps = cap
        return fc

    def recent(self, contexts: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each ``(C_i, V)`` context cut to its last :attr:`max_context_steps` steps (as
        Chronos cuts to its context length); without that limit, the contexts as given.
        :meth:`plan` (so every forecast) applies it; the shipped general adapter
        takes 150 steps: on the 24 classics' validation contexts it scored 0.930 [0.870,
        0.985] of its MASE with 200 steps (paired over the series, 3 sampling seeds x 2
        origins; docs: findings)."""
        n = self.max_context_steps
        out = [c[-n:] if n is not None and len(c) > n else c for c in contexts]
        cut = sum(len(o) < len(c) for o, c in zip(out, contexts, strict=True))
        if cut:
            get_logger("forecast").info(
                "%d of %d series: the adapter takes their last %d steps (its max_context_steps)",
                cut,
                len(out),
                n,
            )
        return out

    def alphas(self, contexts: Sequence[np.ndarray], scale: Scale = "series") -> list[float]:
        """One scale per context (:meth:`lmcast.core.codec.scheme.Encoding.alphas`)."""
        return self.encoding.alphas(contexts, scale)

    def plan(
        self,
        context: Any,
        horizon: int,
        sampling: Sampling | None = None,
        scale: Scale = "series",
    ) -> GenerationPlan:
        """The forecast of these series as one :class:`~lmcast.lm.decode.GenerationPlan`,
        after every check :meth:`predict` makes: the series as ``(C_i, V)`` arrays (cut to
        :attr:`max_context_steps`), the scale each is written with (:meth:`alphas`), the
        prompts (each series encoded once), grammar and batches. Pass it to
        :meth:`projected_flops` and :meth:`predict` (or :func:`charged_predict`): nothing is
        encoded or checked again.

        Raises:
            LmcastError: bad input (see :func:`as_contexts`), ``horizon`` below 1, a bad
                ``scale``, or a horizon the context window cannot hold.
        """
        if isinstance(context, GenerationPlan):
            return context
        ctx = self.recent(as_contexts(context))
        if horizon < 1:
            raise LmcastError(f"horizon must be >= 1, got {horizon}")
        alphas = self.encoding.alphas(ctx, scale)
        r = sampling.scale_ensemble if sampling is not None else 1.0
        # before any encoding, at the smallest scale written (a scale ensemble's alpha / r)
        smallest = [ensemble_scales(a, r)[0] for a in alphas] if r > 1 else alphas
        self.encoding.check_scaled(ctx, smallest)
        plan = GenerationPlan(self.lm, ctx, alphas, horizon, self.encoding, sampling)
        room = plan.room()
        if horizon > room:
            longest = int(np.argmax(plan.lengths)) % len(ctx)
            raise LmcastError(
                f"horizon {horizon} does not fit: the model's context window holds at most "
                f"{room} more steps after a {len(ctx[longest])}-step prompt (shorten the context)"
            )
        return plan

    def projected_flops(
        self,
        context: Any,
        horizon: int = 1,
        sampling: Sampling | None = None,
        scale: Scale = "series",
    ) -> int:
        """An upper bound on the FLOPs :meth:`predict` charges for these arguments (every
        series tokenized: :meth:`lmcast.lm.decode.GenerationPlan.flops_bound`). ``context``
        may be a plan from :meth:`plan` (then the other arguments are the plan's)."""
        return self.plan(context, horizon, sampling, scale).flops_bound()

    def predict(
        self,
        context: Any,
        horizon: int = 1,
        samples: int = 20,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        temperature: float = 0.7,
        top_p: float = 0.9,
        batch_size: int = 64,
        seed: int = 0,
        progress: bool = False,
        stats: Any = None,
        flop_limit: int | None = None,
        scale: Scale = "series",
        readout: str = "argmax",
        calibrate: int = 0,
        calibration_method: str = "series",
        scale_ensemble: float = 1.0,
    ) -> Prediction:
        """Forecast ``horizon`` steps after the end of each series.

        Args:
            context: ``(C, V)``, ``(N, C, V)``, a list of ``(C_i, V)`` arrays, or a plan from
                :meth:`plan` (then ``horizon``, the sampling and ``scale`` are the plan's).
            horizon: steps to forecast (bounded by the model's context window).
            samples: K sample paths per series; 1 is greedy decoding.
            quantiles: levels in (0, 1) for :attr:`Prediction.quantiles`.
            temperature, top_p, seed, batch_size, readout: how paths are drawn
                (:class:`~lmcast.lm.decode.Sampling`; ``batch_size`` is lowered to fit memory).
            stats: a :class:`~lmcast.lm.decode.GenerationStats` filled batch by batch.
            flop_limit: FLOPs reserved for this call (e.g. :meth:`projected_flops`); no
                batch starts that could exceed it.
            scale: how each series is scaled (:meth:`alphas`); by default on its own.
            calibrate: conformal intervals from this many windows of ``horizon`` steps at
                the end of each context (:mod:`lmcast.compare.conformal`; the windows are
                forecast too, in the same call: ``1 + calibrate`` times the work); a series
                too short for them keeps its samples' quantiles. 0: the samples' own.
            scale_ensemble: a ratio r > 1: each series also written at alpha / r and
                alpha × r, the point the mean of the three greedy forecasts (``samples``
                1; :class:`~lmcast.lm.decode.Sampling`). On the reference half's validation
                split at 80 → 20, r = 1.15 beat one greedy forecast (docs: findings).
            calibration_method: ``series`` (each series' own window errors, as
                statsforecast's ``ConformalIntervals``) or ``pooled`` (the samples' spread
                rescaled per level by one factor from every series' windows;
                :mod:`lmcast.compare.conformal`).

        Raises:
            LmcastError: bad input (see :meth:`plan`, :func:`check_quantiles`, and
                ``samples`` or ``batch_size`` below 1).
            BudgetExceededError: a batch could exceed ``flop_limit``.
        """
        win = None
        if isinstance(context, GenerationPlan):
            if calibrate:
                raise LmcastError("calibrate: give the contexts, not a plan")
            plan = context
        else:
            try:
                sampling = Sampling(
                    samples,
                    temperature,
                    top_p,
                    seed,
                    batch_size,
                    readout,
                    scale_ensemble=scale_ensemble,
                )
            except ValueError as exc:
                raise LmcastError(str(exc)) from None
            if calibrate < 0:
                raise LmcastError(f"calibrate must be >= 0 windows, got {calibrate}")
            if calibrate:
                try:
                    win = conformal.windows(
                        as_contexts(context), horizon, calibrate, 3, calibration_method
                    )
                except ValueError as exc:
                    raise LmcastError(str(exc)) from None
                context = win.all_contexts
            plan = self.plan(context, horizon, sampling, scale)
        levels = check_quantiles(quantiles)
        fc = plan.run(progress, stats, flop_limit)
        v = plan.contexts[0].shape[1]
        names = self.variables if len(self.variables) == v else tuple(f"x{k}" for k in range(v))
        pred = Prediction(fc.samples, levels, names, int(fc.stats.flops), plan.alphas, fc)
        return pred if win is None else pred.calibrated(win)

    def predict_df(
        self,
        df: Any,
        h: int,
        level: Sequence[int | float] = (80, 95),
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        alias: str = "lmcast",
        samples: int = 20,
        **kwargs: Any,
    ) -> Any:
        """Forecast a long DataFrame in statsforecast's shape (``unique_id, ds, y``), as
        ``StatsForecast.forecast``, neuralforecast, TimeGPT and Chronos-2's ``predict_df``
        take it.

        Each series (rows of one ``id_col``, ordered by ``time_col``) is one context; the
        result continues each series' own frequency (dates: ``pandas.infer_freq`` of its
        stamps, else its last spacing; numbers: its last step).

        Args:
            df: a pandas DataFrame with ``id_col``, ``time_col`` and ``target_col``.
            h: steps to forecast.
            level: central interval levels in percent (0 < level < 100).
            alias: the forecaster's column name.
            samples: sample paths per series (their median is the point forecast).
            kwargs: passed to :meth:`predict` (``temperature``, ``seed``, ``scale`` …).

        Returns:
            A DataFrame ``id_col, time_col, alias, alias-lo-L…, alias-hi-L…`` (the lower
            ends for every level, then the upper ends, as statsforecast orders them): it
            concatenates with ``StatsForecast.forecast``'s output and scores with
            ``utilsforecast.evaluation``.

        Raises:
            LmcastError: a missing column, a level outside (0, 100), a series shorter than
                2 steps or with a missing value (see :meth:`predict`).
        """
        import pandas as pd

        missing = [c for c in (id_col, time_col, target_col) if c not in df.columns]
        if missing:
            raise LmcastError(f"predict_df: no column {missing[0]!r} (columns: {list(df.columns)})")
        levels = sorted(float(x) for x in level)
        if not all(0 < x < 100 for x in levels):
            raise LmcastError(f"predict_df: levels must lie between 0 and 100, got {list(level)}")
        ids = list(pd.unique(df[id_col]))
        groups = {k: g.sort_values(time_col) for k, g in df.groupby(id_col, sort=False)}
        contexts = [groups[k][target_col].to_numpy(dtype=np.float64)[:, None] for k in ids]
        qs = [q for x in levels for q in (0.5 - x / 200, 0.5 + x / 200)]
        pred = self.predict(contexts, h, samples=samples, quantiles=sorted({*qs, 0.5}), **kwargs)
        # (N, H) each; the levels are the very floats asked for (check_quantiles keeps them)
        quant = dict(zip(pred.quantile_levels, pred.quantiles[..., 0], strict=True))
        median = pred.median[..., 0]
        frames = []
        for i, k in enumerate(ids):
            frame = {id_col: [k] * h, time_col: _future(groups[k][time_col], h), alias: median[i]}
            for end, sign in (("lo", -1), ("hi", 1)):
                for x in levels:
                    frame[f"{alias}-{end}-{x:g}"] = quant[0.5 + sign * x / 200][i]
            frames.append(pd.DataFrame(frame))
        return pd.concat(frames, ignore_index=True)


def _future(times: Any, h: int) -> Any:
    """``h`` times after a series' ``times`` (a pandas Series): dates continue its inferred
    frequency (else its last spacing), numbers its last step."""
    import pandas as pd

    t = pd.Series(times).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(t):
        freq = pd.infer_freq(t) if len(t) >= 3 else None
        if freq is not None:
            return Axis(np.arange(len(t), dtype=np.float64), t.to_numpy(), freq).next_stamps(h)
        step = t.iloc[-1] - t.iloc[-2]
        return pd.DatetimeIndex([t.iloc[-1] + step * (k + 1) for k in range(h)])
    future = continue_numeric(t.to_numpy(dtype=np.float64), h)
    return future.round().astype(t.dtype) if pd.api.types.is_integer_dtype(t) else future


def sampling_of(cfg: Any) -> Sampling:
    """The :class:`~lmcast.lm.decode.Sampling` a command's config asks for (``samples``,
    ``temperature``, ``top_p``, ``seed``, ``batch_size`` and, where it has them, ``readout``
    and ``scale_ensemble``)."""
    return Sampling(
        cfg.samples,
        cfg.temperature,
        cfg.top_p,
        cfg.seed,
        cfg.batch_size,
        getattr(cfg, "readout", "argmax"),
        scale_ensemble=getattr(cfg, "scale_ensemble", 1.0),
    )


#: how often a running forecast writes its FLOPs so far to the ledger (and renews its lease)
HEARTBEAT_SECONDS = 10.0


def charged_predict(
    fc: Forecaster,
    plan: GenerationPlan,
    ledger: Ledger,
    *,
    experiment: str,
    name: str,
    what: str,
    config: dict,
    kind: str = "evaluate",
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    progress: bool = False,
) -> Prediction:
    """The one forecasting path of ``evaluate``, ``forecast`` and ``benchmark``: reserve →
    generate → charge → quantiles.

    Reserves the plan's bound (:meth:`lmcast.lm.decode.GenerationPlan.flops_bound`) on
    ``ledger`` before any generation (refused when it does not fit), runs the same plan,
    and charges what ran (a ledger row of ``kind``: ``evaluate``, ``forecast`` or
    ``benchmark``): every :data:`HEARTBEAT_SECONDS` while it runs (so a killed
    process leaves its work charged and its lease renewed only while alive), and in full
    when it ends or is interrupted — never above the reservation.

    Raises:
        BudgetExceededError: the reservation does not fit (nothing runs).
    """
    projected = plan.flops_bound()
    done = GenerationStats()
    with ledger.reservation(
        experiment,
        name,
        kind,
        projected,
        spent=lambda: done.flops,
        config=config,
        what=what,
    ) as run_id:
        last = [time.monotonic()]

        def heartbeat(flops: int) -> None:
            if time.monotonic() - last[0] >= HEARTBEAT_SECONDS:
                ledger.heartbeat(run_id, flops)
                last[0] = time.monotonic()

        done.listener = heartbeat
        return fc.predict(
            plan, quantiles=quantiles, progress=progress, stats=done, flop_limit=projected
        )


def forecast_times(times: np.ndarray, horizon: int) -> np.ndarray:
    """``(H,)`` times after ``times`` (``(C,)``), continuing its last spacing
    (:func:`lmcast.core.series.timeaxis.continue_numeric`)."""
    return continue_numeric(times, horizon)
