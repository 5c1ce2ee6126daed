"""Typed configuration dataclasses: the single source of defaults.

Every field carries one line of help in its metadata; :mod:`lmcast.cli.args`
turns a dataclass into ``--option`` flags with that help, so the CLI, sweeps and
tests share these defaults. Run folders store the resolved config as JSON.

Fields several commands share live in small base classes (:class:`ModelData`,
:class:`Protocol`, :class:`TrialBudget`); :func:`shared` copies the fields of
one base from a config into the keyword arguments of another. Where a config
is built from a profile (``lmcast.study.pipeline``) or a trial spec
(``lmcast.study.sweep.make_trial``), the fields are named once there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from lmcast.errors import LmcastError

CALIBRATION_METHODS = ("series", "pooled")  # lmcast.compare.conformal's two methods
CALIBRATION_METHOD_HELP = (
    "how --calibrate turns the windows' errors into quantiles: series (each series' own "
    "errors around the point, statsforecast's ConformalIntervals) or pooled (the forecaster's "
    "own spread, each quantile's distance from the point times one factor per level chosen "
    "on every series' windows together; needs a spread: a point forecaster keeps its own)"
)


def opt(
    default: Any = MISSING,
    help: str = "",
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    positive: bool = False,
    **meta: Any,
) -> Any:
    """A dataclass field with one line of ``help``, optional CLI metadata, and the range
    :class:`Checked` enforces (``at_least``/``at_most`` inclusive; ``positive``: > 0 and
    finite)."""
    rng = {"min": at_least, "max": at_most, "positive": positive}
    meta.update({k: v for k, v in rng.items() if v is not None and v is not False})
    return field(default=default, metadata={"help": help, **meta})


def check_ranges(cfg: Checked) -> None:
    """Refuse, in one line naming the flag, a field outside the range or the choices its
    metadata states.

    Raises:
        LmcastError: ``--name must be >= m`` / ``between m and n`` / ``a positive finite
            number``, with the value given.
    """
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        flag = "--" + f.name.replace("_", "-")
        choices = f.metadata.get("choices")
        if choices and isinstance(v, str) and v not in choices:  # a profile's, or the API's
            raise LmcastError(f"{flag} must be one of {', '.join(choices)}, got {v!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue  # None (a default to resolve later), strings, lists
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if f.metadata.get("positive") and not (v > 0 and math.isfinite(v)):
            raise LmcastError(f"{flag} must be a positive finite number, got {v}")
        if lo is not None and hi is not None and not lo <= v <= hi:
            raise LmcastError(f"{flag} must be between {lo:g} and {hi:g}, got {v}")
        if lo is not None and not v >= lo:
            raise LmcastError(f"{flag} must be >= {lo:g}, got {v}")
        if hi is not None and not v <= hi:
            raise LmcastError(f"{flag} must be <= {hi:g}, got {v}")


def check_lists(cfg: Checked) -> None:
    """Refuse, in one line naming the flag, a list-valued field given as one string or with
    an item of the wrong type (the CLI and the profile loader fill them as lists; a comma
    string is split at the edge, never below it), and an empty list where ``nonempty``."""
    for f in fields(cfg):
        item = f.metadata.get("items")
        v = getattr(cfg, f.name)
        if item is None or v is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(v, str) or not isinstance(v, Sequence):
            raise LmcastError(f"{flag} must be a list, got {type(v).__name__} {v!r}")
        kinds = (int, float) if item is float else (item,)
        if not all(isinstance(x, kinds) and not isinstance(x, bool) for x in v):
            raise LmcastError(f"{flag}: every item must be a {item.__name__}, got {list(v)!r}")
        if f.metadata.get("nonempty") and not v:
            raise LmcastError(f"{flag} must name at least one")
        object.__setattr__(cfg, f.name, tuple(float(x) if item is float else x for x in v))


def items(
    default: tuple = (), help: str = "", item: type = str, nonempty: bool = False, **meta: Any
) -> Any:
    """A list-valued field, held as a tuple of ``item``: the CLI takes ``a,b`` and repeats
    (``--x a --x b``), a profile a YAML list; :func:`check_lists` checks it once."""
    meta.update({"items": item, "nonempty": nonempty})
    return opt(default, help, **meta)


@dataclass(kw_only=True)
class Checked:
    """Configs check their own ranges and lists when built (as PEFT's ``LoraConfig`` and
    litgpt's ``TrainArgs`` do), so a handler is one call and a library caller gets the same
    error."""

    def __post_init__(self) -> None:
        check_lists(self)
        check_ranges(self)
        self.check()

    def check(self) -> None:
        """Checks across fields or against known names (overridden where a config has any)."""


# The classical reference forecasters (lmcast.compare.classical fits them); named here so
# that configs check them when built.
CLASSICAL_NAMES = ("ets", "arima", "theta", "snaive", "naive", "var")


def check_reference_names(names: Sequence[str], flag: str = "--references") -> tuple[str, ...]:
    """Known, distinct classical reference names.

    Raises:
        LmcastError: an unknown name (the message lists the known ones), or a name twice.
    """
    for n in names:
        if n not in CLASSICAL_NAMES:
            raise LmcastError(
                f"{flag}: unknown reference forecaster {n!r} (choose from "
                f"{', '.join(CLASSICAL_NAMES)})"
            )
    if len(set(names)) != len(names):
        raise LmcastError(f"{flag}: a reference forecaster is named twice in {','.join(names)}")
    return tuple(names)


def check_forecast_references(names: Sequence[str]) -> tuple[str, ...]:
    """``lmcast forecast --references``: classical names, or combinations ``A+B+…`` of them
    and ``model`` (this forecast's model): the equal-weight mean of the members' points and
    quantiles. Returned normalised (no spaces).

    Raises:
        LmcastError: an unknown member, a member twice in one combination, ``model`` alone,
            or a reference twice.
    """
    out = []
    for n in names:
        parts = [m.strip() for m in n.split("+")]
        check_reference_names([m for m in parts if m != "model"], "--references")
        if len(set(parts)) != len(parts):
            raise LmcastError(f"--references {n}: a combination names a member twice")
        if parts == ["model"]:
            raise LmcastError("--references model: the model's rows are there anyway")
        out.append("+".join(parts))
    if len(set(out)) != len(out):
        raise LmcastError(f"--references: a reference is named twice in {','.join(out)}")
    return tuple(out)


def check_quantiles(levels: Sequence[float]) -> tuple[float, ...]:
    """Sorted, de-duplicated levels, each strictly inside (0, 1).

    Raises:
        LmcastError: a level outside (0, 1), or none at all.
    """
    out = tuple(sorted({float(q) for q in levels}))
    if not out or not all(0 < q < 1 for q in out):
        raise LmcastError(f"quantiles must lie strictly between 0 and 1, got {list(levels)}")
    return out


@dataclass(frozen=True)
class ForecasterSpec:
    """One forecaster of ``lmcast benchmark``: ``zero-shot`` (the model alone),
    ``adapter:PATH`` (a training run or an export folder, or ``adapter:general``, the
    shipped one) or a classical name."""

    kind: str  # "zero-shot", "adapter" or one of CLASSICAL_NAMES
    adapter: str | None = None

    @classmethod
    def parse(cls, text: str) -> ForecasterSpec:
        """``"adapter:runs/t1"`` → ``ForecasterSpec("adapter", "runs/t1")``.

        Raises:
            LmcastError: an unknown name, or ``adapter:`` without a folder.
        """
        text = text.strip()
        if text == "zero-shot":
            return cls("zero-shot")
        if text.startswith("adapter:"):
            path = text[len("adapter:") :].strip()
            if not path:
                raise LmcastError("--forecasters: adapter: needs a folder (adapter:PATH)")
            return cls("adapter", path)
        if text in CLASSICAL_NAMES:
            return cls(text)
        raise LmcastError(
            f"--forecasters: unknown forecaster {text!r} (choose from zero-shot, adapter:PATH, "
            f"{', '.join(CLASSICAL_NAMES)})"
        )

    def __str__(self) -> str:
        return f"adapter:{self.adapter}" if self.kind == "adapter" else self.kind

    @classmethod
    def members(cls, text: str) -> tuple[ForecasterSpec, ...]:
        """A forecaster name's members: one for a single forecaster, two or more for a
        combination ``A+B+…`` (``adapter:general+ets+theta``: the equal-weight mean of
        the members' points and of each quantile level). An ``adapter:PATH`` whose folder
        exists with a ``+`` in its name is one forecaster.

        Raises:
            LmcastError: an unknown member, or a member named twice.
        """
        text = text.strip()
        if "+" not in text or (text.startswith("adapter:") and Path(text[8:].strip()).exists()):
            return (cls.parse(text),)
        parts = tuple(cls.parse(t) for t in text.split("+"))
        names = [str(m) for m in parts]
        if len(set(names)) != len(names):
            raise LmcastError(f"--forecasters {text}: a combination names a member twice")
        return parts

    @property
    def is_lm(self) -> bool:
        """A language-model forecaster (zero-shot or an adapter), not a classical one."""
        return self.kind in ("zero-shot", "adapter")


def combination_name(members: Sequence[ForecasterSpec]) -> str:
    """The normalised name of one forecaster or a combination (members joined by ``+``)."""
    return "+".join(str(m) for m in members)


def shared(base: type[Checked], source: Checked) -> dict[str, Any]:
    """The values ``source`` holds for the fields of the base class ``base``."""
    return {f.name: getattr(source, f.name) for f in fields(base)}


@dataclass(kw_only=True)
class ModelData(Checked):
    """The model and the data file a command works on."""

    model: str = opt("smollm2-135m", "model alias, Hugging Face id or local directory")
    data: str = opt(help="HDF5 data file in the lmcast layout")


@dataclass(kw_only=True)
class Protocol(Checked):
    """The forecast protocol: context and horizon in timesteps."""

    context_steps: int = opt(50, "forecast protocol: context timesteps", at_least=1)
    horizon: int = opt(50, "forecast protocol: horizon timesteps", at_least=1)


@dataclass(kw_only=True)
class Overwrite(Checked):
    """Commands that write files: an existing output lmcast did not write is refused unless
    ``--overwrite`` (:func:`lmcast.core.runs.runinfo.check_output_file`); an input never is replaced."""

    overwrite: bool = opt(
        False,
        "replace existing output files lmcast did not write (never one of the inputs)",
        late=True,
    )


@dataclass(kw_only=True)
class Sampling(Checked):
    """How sample paths are drawn (with ``--samples`` > 1): temperature and nucleus mass
    (:func:`lmcast.lm.decode.sample_paths`). The defaults are the ones every published
    lmcast figure used."""

    temperature: float = opt(
        0.7,
        "sampling temperature (with --samples > 1; lower: paths closer together)",
        positive=True,
        late=True,
    )
    top_p: float = opt(
        0.9,
        "nucleus sampling mass in (0, 1] (with --samples > 1)",
        positive=True,
        at_most=1,
        late=True,
    )


@dataclass(kw_only=True)
class CsvInput(Checked):
    """How a CSV of series is read (:func:`lmcast.core.series.data.read_long_csv`)."""

    id_column: str = opt("id", "long layout: the column naming the series", late=True)
    time_column: str = opt("t", "the column holding the time (numbers or ISO dates)", late=True)
    layout: str = opt(
        "auto",
        "CSV layout: long (id,t,vars…), nixtla (unique_id,ds,y) or wide (a time column, one "
        "column per series); auto recognises them by their columns",
        choices=["auto", "long", "nixtla", "wide"],
        late=True,
    )
    missing: str = opt(
        "interpolate",
        "a missing time step or empty cell: interpolate (linearly, counted) or error",
        choices=["interpolate", "error"],
        late=True,
    )


@dataclass(kw_only=True)
class TrialBudget(Checked):
    """How each trial of a sweep or context study trains and is scored."""

    max_steps: int = opt(100, "training steps per trial", at_least=1)
    batch_size: int = opt(4, "windows per step", at_least=1)
    eval_steps: int = opt(50, "validation loss every N steps", at_least=1)
    val_trajectories: int = opt(10, "validation trajectories forecast per trial", at_least=1)
    seed: int = opt(0, "seed for every trial")
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )
    progress: bool = opt(True, "show progress bars")


WORKSPACE_HELP = "the study's workspace folder (default: $LMCAST_WORKSPACE, else ./workspace)"


@dataclass(kw_only=True)
class SimulateConfig(Overwrite):
    """``lmcast data simulate``: logistic-prey Lotka–Volterra trajectories."""

    out: str = opt(help="output HDF5 path")
    n: int = opt(1000, "number of trajectories")
    steps: int = opt(100, "timesteps per trajectory")
    t_max: float = opt(200.0, "end time of the evenly spaced grid starting at 0")
    seed: int = opt(0, "random seed (parameters, initial values and noise)")
    noise_free: bool = opt(
        False,
        "no environmental noise: the logistic-prey ODE exactly (the ODE oracle is then exact); "
        "by default each trajectory's growth rates carry coloured noise as the reference file's do",
    )


# The longest series ``data synth`` writes: far beyond any real series lmcast forecasts,
# and 10^6 x 8 bytes per series stays small.
MAX_SYNTH_LENGTH = 1_000_000


@dataclass(kw_only=True)
class SynthConfig(Overwrite):
    """``lmcast data synth``: a synthetic corpus (KernelSynth, trend × season × noise, mixes)."""

    out: str = opt(help="output HDF5 path (the collection layout: series of many lengths)")
    n: int = opt(2000, "number of series", at_least=1, at_most=1_000_000)
    seed: int = opt(
        0, "seed: series i comes from the stream (seed, i)", at_least=0, at_most=2**63 - 1
    )
    min_length: int = opt(48, "shortest series (steps)", at_least=8, at_most=MAX_SYNTH_LENGTH)
    max_length: int = opt(320, "longest series (steps)", at_least=8, at_most=MAX_SYNTH_LENGTH)
    arima_share: float = opt(
        0.0,
        "share of integrated-ARMA series with drift (random walks, growth, change points); "
        "0 keeps the corpus of the general adapter shipped before v4",
        at_least=0.0,
        at_most=1.0,
    )
    season_share: float = opt(
        0.0,
        "share of strongly seasonal series (seasons of any shape: many harmonics or one "
        "random value per phase, on flat, linear, damped or exponential trends); 0 keeps "
        "the corpus of the shipped general adapter (with the same --arima-share)",
        at_least=0.0,
        at_most=1.0,
    )
    figure: str | None = opt(None, "also draw a figure of the first 12 series to this PNG")

    def check(self) -> None:
        if self.figure and Path(self.figure).resolve() == Path(self.out).resolve():
            raise LmcastError(f"--figure {self.figure} is the --out file: give the figure its own")
        if self.max_length < self.min_length:
            raise LmcastError(
                f"--max-length {self.max_length} is below --min-length {self.min_length}"
            )
        if self.arima_share + self.season_share > 1:
            raise LmcastError(
                f"--arima-share {self.arima_share:g} + --season-share {self.season_share:g} "
                "is above 1"
            )


@dataclass(kw_only=True)
class InfoConfig(Checked):
    """``lmcast data info``: shape, time span and value percentiles of a data file."""

    path: str = opt(
        help="an HDF5 file (lmcast layout or collection) or a CSV of series", positional=True
    )
    stats: bool = opt(
        False,
        "also the dynamics statistics (persistence MAE, late/early std, mean crossings, "
        "percentiles) beside the predator–prey reference file's",
    )
    json: bool = opt(False, "print JSON")


@dataclass(kw_only=True)
class ImportConfig(CsvInput, Overwrite):
    """``lmcast data import``: a CSV of series (long, Nixtla or wide) into the HDF5 layout."""

    csv: str = opt(help="CSV: long (id,t,vars…), Nixtla (unique_id,ds,y) or wide")
    out: str = opt(help="output HDF5 path")


@dataclass(kw_only=True)
class ClassicsConfig(Overwrite):
    """``lmcast data classics``: real public series shipped inside installed packages."""

    out: str = opt(help="output folder (new or empty): monthly/weekly/quarterly/yearly.csv")


@dataclass(kw_only=True)
class PrepareConfig(Overwrite):
    """``lmcast data prepare``: LLMTIME texts per split and meta.json."""

    data: str = opt(help="input HDF5 file in the lmcast layout")
    out: str = opt(help="output directory for *_texts.txt and meta.json")
    precision: int = opt(2, "decimals per scaled value", at_least=0, at_most=8)
    decimal_point: bool = opt(
        True,
        "write the decimal point (0.25,1.50;); --no-decimal-point writes the same digits as "
        "integers (25,150;), as LLMTIME does: fewer tokens per step, the same resolution",
    )
    alpha: str = opt("auto", "scale: a positive number, or 'auto' (from the training split)")
    split_seed: int = opt(0, "seed of the train/val/test permutation")
    split: tuple[float, ...] = items(
        (0.8, 0.1, 0.1), "train,val,test fractions by trajectory", float
    )

    def check(self) -> None:
        if (
            len(self.split) != 3
            or not all(0 <= f <= 1 for f in self.split)
            or abs(sum(self.split) - 1) > 1e-9
        ):
            raise LmcastError(
                f"--split must be three fractions in [0, 1] summing to 1, got {list(self.split)}"
            )


@dataclass(kw_only=True)
class EncodeConfig(Checked):
    """``lmcast encode``: show one trajectory as text and token ids."""

    data: str = opt(help="an HDF5 file (lmcast layout or collection) or a CSV of series")
    index: int = opt(0, "trajectory or series index in the file")
    precision: int = opt(2, "decimals per scaled value", at_least=0, at_most=8)
    decimal_point: bool = opt(
        True,
        "write the decimal point (0.25,1.50;); --no-decimal-point writes the same digits as "
        "integers (25,150;), as LLMTIME does: fewer tokens per step, the same resolution",
    )
    alpha: str = opt(
        "auto",
        "scale: a number, 'series' (this series on its own, as forecasts are written) or "
        "'auto' (an lmcast-layout file: one from the training split; a CSV or collection: "
        "'series')",
    )
    steps: int = opt(5, "timesteps to show (0: all)")
    model: str | None = opt(None, "also show this model's own token ids (loads its tokenizer)")
    json: bool = opt(False, "print JSON")


@dataclass(kw_only=True)
class FlopsConfig(Checked):
    """``lmcast flops``: FLOPs of a forward pass, training step or generation."""

    model: str = opt(
        "qwen2.5-0.5b", "built-in architecture name or a Hugging Face config.json path"
    )
    seq_len: int = opt(512, "sequence length in tokens (the prompt length in generate mode)")
    batch: int = opt(1, "sequences per batch")
    mode: str = opt("forward", "what to count", choices=["forward", "train", "generate"])
    new_tokens: int = opt(0, "tokens to generate (generate mode)")
    lora_rank: int = opt(0, "LoRA rank on the target modules (0: no LoRA)")
    lora_targets: tuple[str, ...] = items(
        ("q_proj", "v_proj"), "LoRA target modules: a,b or repeated"
    )
    json: bool = opt(False, "print JSON")


@dataclass(kw_only=True)
class BudgetConfig(Checked):
    """``lmcast budget``: the FLOP ledger's experiment table."""

    ledger: str | None = opt(
        None,
        "ledger URL (default: $LMCAST_LEDGER, else <$LMCAST_WORKSPACE or ./workspace>/ledger.db)",
    )
    set: float | None = opt(None, "set the budget in FLOPs (e.g. 1e17)")
    json: bool = opt(False, "print JSON")


@dataclass(kw_only=True)
class EvalConfig(ModelData, Protocol, Overwrite):
    """``lmcast evaluate``: forecast held-out windows and score them beside references."""

    def check(self) -> None:
        check_reference_names(self.references)
        if self.scale_ensemble > 1 and self.samples > 1:
            raise LmcastError(
                f"--scale-ensemble {self.scale_ensemble:g} averages greedy forecasts: it "
                f"takes --samples 1, got {self.samples}"
            )
        left_out = [n for n in self.combine if n not in self.references]
        if left_out:
            raise LmcastError(
                f"--combine {','.join(left_out)}: a combined forecaster's members are "
                "--references too (add them there)"
            )

    adapter: str | None = opt(
        None, "LoRA adapter to apply: a folder (adapter or training run) or 'general' (shipped)"
    )
    split: str = opt("test", "which split to evaluate", choices=["train", "val", "test"])
    trajectories: int = opt(
        50,
        "number of test trajectories (the first ones of the split)",
        aliases=["--num-samples"],
        at_least=1,
    )
    precision: int | None = opt(
        None, "decimals (default: the adapter's training precision, else 2)", at_least=0, at_most=8
    )
    alpha: str = opt("auto", "scale: a number or 'auto' (default: the adapter's training alpha)")
    samples: int = opt(
        1,
        "sampled forecasts per window: 1 greedy; K > 1 the median of K is the point forecast",
        at_least=1,
    )
    temperature: float = opt(0.7, "sampling temperature (with --samples > 1)")
    top_p: float = opt(0.9, "nucleus sampling mass (with --samples > 1)")
    readout: str = opt(
        "argmax",
        "how a generated number is read: as written (argmax), or its last digit as the "
        "expected value of the model's distribution over that digit (expected; free)",
        choices=["argmax", "expected"],
    )
    scale_ensemble: float = opt(
        1.0,
        "a ratio r > 1 also writes each window at alpha / r and alpha * r (2 significant "
        "figures) and forecasts the mean of the three greedy forecasts: three times the "
        "generation (with --samples 1; 1: off)",
        at_least=1,
        positive=True,  # finite: inf passed the range and failed later as a traceback
    )
    batch_size: int = opt(
        64, "sequences generated together (an upper bound: lowered to fit in memory)", at_least=1
    )
    oracle: bool = opt(True, "also fit the Lotka–Volterra ODE oracle (2-variable data)")
    references: tuple[str, ...] = items(
        (),
        "classical reference forecasters besides persistence (a,b or repeated): ets, arima, "
        "theta, snaive, naive (statsforecast, each variable alone), var (statsmodels, jointly)",
        aliases=["--baselines"],
    )
    combine: tuple[str, ...] = items(
        (),
        "also score the model combined with these references (each also in --references): "
        "the equal-weight mean of their points and of each quantile level, a row "
        "'model+VAR' of its own, paired with every forecaster (it costs no model FLOPs)",
    )
    season_length: int = opt(
        1, "season in steps for snaive/ets/arima/theta and MASE's scale (1: no season)", at_least=1
    )
    visualize_first_n: int = opt(5, "trajectory figures to draw", at_least=0)
    out: str | None = opt(None, "output folder (default: <workspace>/eval/<model>-<split>)")
    seed: int = opt(0, "seed (sampling, split, oracle starts)")
    split_seed: int = opt(0, "seed of the train/val/test split")
    device: str = opt("auto", "cpu, cuda, cuda:1 … or auto")
    dtype: str = opt(
        "auto", "float32, bfloat16 or auto (bfloat16 on CUDA and CPUs with native bf16)"
    )
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )
    experiment: str = opt("evaluate", "experiment name the FLOPs are charged to")
    progress: bool = opt(True, "show a progress bar (per finished sequence)")
    json: bool = opt(False, "print the metrics JSON")


@dataclass(kw_only=True)
class ForecastConfig(CsvInput, Sampling, Overwrite):
    """``lmcast forecast``: the next steps of your own series, with quantile bands."""

    def check(self) -> None:
        object.__setattr__(self, "quantiles", check_quantiles(self.quantiles))
        object.__setattr__(self, "references", check_forecast_references(self.references))
        n = self.figures_for
        if n != "all" and not (n.isdigit() and len(n) < 10):
            raise LmcastError(f"--figures-for must be a count of series or 'all', got {n!r}")

    @property
    def figure_count(self) -> int | None:
        """How many series get a figure (``None``: every one)."""
        return None if self.figures_for == "all" else int(self.figures_for)

    model: str = opt("smollm2-135m", "model alias, Hugging Face id or local directory")
    adapter: str | None = opt(
        None,
        "a training run folder, an 'lmcast export' folder or 'general' (the shipped general "
        "adapter); its encoding is used",
    )
    data: str = opt(
        help="HDF5 file, or a CSV: long (id,t,vars…), Nixtla (unique_id,ds,y) or wide; "
        "times may be ISO dates"
    )
    series: list[str] | None = opt(  # noqa: RUF009 (None default; the CLI appends)
        None, "forecast only this series (an id, or an index for HDF5); repeat for several"
    )
    context_steps: int | None = opt(
        None, "context: the last N steps of each series (default: all of it)", at_least=2
    )
    horizon: int = opt(help="steps to forecast after the end of each series", at_least=1)
    samples: int = opt(20, "sample paths per series (1: greedy, no band)", at_least=1)
    quantiles: tuple[float, ...] = items(
        (0.1, 0.5, 0.9), "quantile levels in (0, 1): a,b,c or repeated", float, nonempty=True
    )
    scale: str = opt(
        "series",
        "series: each series scaled on its own (LLMTIME; the CSV's alpha column says how); "
        "adapter: the adapter's training scale for every series",
        choices=["series", "adapter"],
    )
    out: str = opt("forecast.csv", "output CSV (one row per series × step × variable)")
    figures: str | None = opt(None, "folder for one PNG per series (default: <out>_figures)")
    figures_for: str = opt(
        "20",
        "draw figures for the first N series in the file's order (0: none), or 'all'; the "
        "CSV always has every series",
    )
    batch_size: int = opt(
        64, "sequences generated together (an upper bound: lowered to fit in memory)", at_least=1
    )
    seed: int = opt(0, "sampling seed")
    device: str = opt("auto", "cpu, cuda, cuda:1 … or auto")
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )
    experiment: str = opt("forecast", "experiment name the FLOPs are charged to")
    progress: bool = opt(True, "show a progress bar (per finished sequence)")
    references: tuple[str, ...] = items(
        (),
        "also forecast with classical references (ets, arima, theta, snaive, naive, var) or "
        "combinations A+B+... of them and 'model' (model+ets: the equal-weight mean of the "
        "model's and AutoETS's points and quantiles): their rows get the forecaster's name in "
        "a 'forecaster' column",
        aliases=["--baselines"],
    )
    calibrate: bool = opt(
        False,
        "conformal intervals: the model and each reference also forecast the last "
        "--calibration-windows windows of each series, and their quantiles become the point "
        "plus or minus the quantiles of those absolute errors, per step (statsforecast's "
        "ConformalIntervals); a series too short for them keeps its own; (1 + windows) times "
        "the work",
    )
    calibration_windows: int = opt(
        2, "windows of --calibrate, each --horizon steps, back from each series' end", at_least=1
    )
    calibration_method: str = opt(
        "series", CALIBRATION_METHOD_HELP, choices=list(CALIBRATION_METHODS)
    )
    season_length: int | None = opt(
        None,
        "season in steps for the references (default: from the dates, 12 monthly …; else 1)",
        at_least=1,
    )


@dataclass(kw_only=True)
class BenchmarkConfig(CsvInput, Sampling):
    """``lmcast benchmark``: datasets × forecasters at one protocol → one leaderboard."""

    def check(self) -> None:
        names = tuple(combination_name(ForecasterSpec.members(n)) for n in self.forecasters)
        if len(set(names)) != len(names):
            raise LmcastError("--forecasters: a forecaster is named twice")
        object.__setattr__(self, "forecasters", names)

    @property
    def specs(self) -> tuple[ForecasterSpec, ...]:
        """Every single forecaster :attr:`forecasters` names, alone or in a combination,
        each once (in order)."""
        out: dict[str, ForecasterSpec] = {}
        for n in self.forecasters:
            out.update({str(m): m for m in ForecasterSpec.members(n)})
        return tuple(out.values())

    data: list[str] = opt(  # noqa: RUF009 (the CLI appends)
        help="a dataset: HDF5, or CSV (long, Nixtla or wide); repeat for several"
    )
    forecasters: tuple[str, ...] = items(
        ("zero-shot", "ets", "arima", "theta", "snaive"),
        "a,b or repeated: zero-shot, adapter:PATH (a run or export folder; adapter:general is "
        "the shipped general adapter), ets, arima, "
        "theta, snaive, naive, var, or a combination A+B+... (adapter:general+ets+theta: the "
        "equal-weight mean of the members' points and quantiles; a member also named alone "
        "is forecast once)",
        nonempty=True,
    )
    calibrate: bool = opt(
        False,
        "conformal intervals: every forecaster also forecasts the last --calibration-windows "
        "windows of each series' own context, and its quantiles become the point plus or minus "
        "the quantiles of those absolute errors, per step (statsforecast's ConformalIntervals); "
        "a series too short for the windows keeps its own; costs (1 + windows) forecasts",
    )
    calibration_windows: int = opt(
        2, "windows of --calibrate, each --horizon steps, back from each context's end", at_least=1
    )
    calibration_method: str = opt(
        "series", CALIBRATION_METHOD_HELP, choices=list(CALIBRATION_METHODS)
    )
    horizon: int = opt(help="steps held out at the end of every series and forecast", at_least=1)
    context_steps: int | None = opt(
        200, "context: at most this many steps before the held-out ones (0: all)", at_least=0
    )
    season_length: int | None = opt(
        None,
        "season in steps (default: from the dates' frequency, 12 monthly …; else 1)",
        at_least=1,
    )
    max_series: int | None = opt(None, "use only the first N series of each dataset", at_least=1)
    model: str = opt("smollm2-135m", "model of zero-shot and adapter forecasters")
    samples: int = opt(20, "sample paths per series for the language-model forecasters", at_least=1)
    batch_size: int = opt(64, "sequences generated together (lowered to fit in memory)", at_least=1)
    seed: int = opt(0, "sampling seed")
    device: str = opt("auto", "cpu, cuda, cuda:1 … or auto")
    out: str = opt(help="output folder (new, empty, or a benchmark folder to resume)")
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )
    experiment: str = opt("benchmark", "experiment name the FLOPs are charged to")
    progress: bool = opt(
        True,
        "show progress bars: series done over every dataset and forecaster, and per language-model forecast",
    )
    json: bool = opt(False, "print the leaderboard JSON")


@dataclass(kw_only=True)
class ExportConfig(Checked):
    """``lmcast export``: a trained run as a self-contained, shareable forecaster folder."""

    run: str = opt(help="training run folder (holds adapter/ and encoding.json)", positional=True)
    out: str = opt(help="output folder (must not exist)")
    max_context_steps: int | None = opt(
        None,
        "every forecast (forecast, benchmark, evaluate, Forecaster.predict) gives the "
        "forecaster at most the last N steps of each series (choose N on validation; "
        "default: all it is given)",
        at_least=2,
    )
    ship: bool = opt(
        False,
        "make it ready to hand out: LoRA weights as float16, the base model named by its "
        "alias, a card section on how it was made (data, recipe, FLOPs, validation loss), "
        "the trainer's folder written WORKDIR",
    )
    card: tuple[str, ...] = items(
        (), "markdown file(s) appended to a shipped card as written (e.g. a leaderboard.md)"
    )

    def check(self) -> None:
        if self.card and not self.ship:
            raise LmcastError("--card adds to a shipped card: give --ship too")


@dataclass(kw_only=True)
class TrainConfig(ModelData, CsvInput, Overwrite):
    """``lmcast train``: LoRA fine-tuning on the encoded training split."""

    data: str = opt(
        help="data: an HDF5 file in the lmcast layout (one system: one scale, 80/10/10 "
        "trajectories), or a collection of series (a CSV, or lmcast data synth's HDF5: each "
        "series scaled on its own, 90/10 series for training and validation)"
    )
    holdout: int = opt(
        0,
        "train only on the steps before each series' last N: lmcast benchmark --horizon N "
        "then tests on exactly those, and refuses an adapter that saw them",
        at_least=0,
    )

    out: str = opt(help="run folder (adapter, checkpoints, metrics, config)")
    precision: int = opt(2, "decimals per scaled value", at_least=0, at_most=8)
    decimal_point: bool = opt(
        True,
        "write the decimal point (0.25,1.50;); --no-decimal-point writes the same digits as "
        "integers (25,150;), as LLMTIME does: fewer tokens per step, the same resolution",
    )
    alpha: str = opt(
        "auto",
        "scale: a number, 'series' (each series its own) or 'auto' (an lmcast-layout file: "
        "one from the training split; a collection: each series its own)",
    )
    split_seed: int = opt(0, "seed of the train/val/test split")
    lr: float = opt(1e-4, "peak learning rate (AdamW)", positive=True)
    rank: int = opt(8, "LoRA rank", at_least=1)
    lora_alpha: float = opt(16.0, "LoRA alpha (the update is scaled by alpha / rank)")
    lora_dropout: float = opt(0.0, "dropout on the LoRA input")
    target_modules: tuple[str, ...] = items(
        ("q_proj", "v_proj"), "modules that get LoRA adapters: a,b or repeated", nonempty=True
    )
    lora_layers: int = opt(
        0,
        "LoRA on the top N layers only; backward stops below them and is charged so (0: all)",
        at_least=0,
    )
    batch_size: int = opt(4, "windows per device per micro-batch", at_least=1)
    grad_accum: int = opt(1, "micro-batches per optimizer step", at_least=1)
    max_steps: int = opt(100, "optimizer steps", at_least=1)
    context_length: int = opt(512, "tokens per training window", at_least=8)
    stride: int | None = opt(
        None, "tokens between window starts (default: half the window)", at_least=1
    )
    loss_from: int = opt(
        0,
        "the first N tokens of each window are context only: the loss (training and "
        "validation) starts at token N (0: every token)",
        at_least=0,
    )
    warmup_steps: int | None = opt(None, "linear warm-up steps (default: 5 % of max steps)")
    schedule: str = opt(
        "cosine",
        "learning-rate schedule after warm-up; wsd: warm-up, stable, then a cosine decay over "
        "the last --decay-fraction of the steps (a run that continues another keeps its prefix)",
        choices=["cosine", "linear", "constant", "wsd"],
    )
    decay_fraction: float = opt(
        0.2, "wsd: share of the steps the learning rate decays over", positive=True, at_most=1
    )
    init_from: str | None = opt(
        None,
        "continue another run's newest checkpoint (a run folder or a checkpoint folder): its "
        "LoRA weights, optimizer and step; its FLOPs stay charged to that run",
    )
    init_adapter: str | None = opt(
        None,
        "start from a trained adapter's LoRA weights (a shipped name such as 'general', an "
        "adapter or run folder) with a fresh optimizer at step 0: how to adapt 'general' to "
        "your own series; options left out take the adapter's model, format and LoRA shape "
        "(one that contradicts them is refused), and what it saw counts as seen",
    )
    weight_decay: float = opt(0.0, "AdamW weight decay")
    loraplus_ratio: float = opt(
        1.0,
        "LoRA+: each LoRA B matrix learns at this many times --lr, its A matrix at --lr "
        "(peft's create_loraplus_optimizer; 1: one rate for both, plain LoRA)",
        at_least=1,
    )
    max_grad_norm: float = opt(1.0, "gradient clipping norm (0: off)")
    eval_steps: int = opt(
        50, "validation loss every N steps (and at step 0 and the end)", at_least=1
    )
    eval_windows: int = opt(32, "validation windows scored per evaluation (0: all)", at_least=0)
    save_steps: int = opt(50, "checkpoint every N steps (0: only at the end)", at_least=0)
    keep_checkpoints: int = opt(
        2,
        "checkpoints kept (0: all); each holds an adapter 'evaluate --adapter' reads",
        at_least=0,
    )
    early_stopping: int = opt(
        0, "stop after N evaluations without improvement (0: off)", at_least=0
    )
    resume: bool = opt(False, "continue from the run folder's last checkpoint")
    max_flops: float | None = opt(
        None, "FLOP allotment for this run (also capped by the ledger budget)", positive=True
    )
    restricted_head: bool = opt(
        True, "score only the tokens LLMTIME text can contain (digits . , ; - eos)"
    )
    autocast: str = opt(
        "auto",
        "bfloat16 autocast: auto (CUDA and CPUs with fast bf16), bf16 or no",
        choices=["auto", "bf16", "no"],
    )
    seed: int = opt(0, "seed (LoRA init, window order)")
    device: str = opt("auto", "cpu, cuda or auto (accelerate picks under accelerate launch)")
    report_to: str = opt("none", "experiment tracker", choices=["none", "tensorboard", "wandb"])
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )
    experiment: str = opt("train", "experiment name the FLOPs are charged to")
    progress: bool = opt(True, "show a progress bar")


@dataclass(kw_only=True)
class TrialSpec(ModelData, Protocol, TrialBudget):
    """What every trial of a sweep or a context study shares (its grid point aside)."""

    context_length: int = opt(128, "training window in tokens", at_least=8)
    decimal_point: bool = opt(
        True,
        "write the decimal point (0.25,1.50;); --no-decimal-point writes the same digits as "
        "integers (25,150;), as LLMTIME does: fewer tokens per step, the same resolution",
    )
    target_modules: tuple[str, ...] = items(
        ("q_proj", "v_proj"), "modules that get LoRA adapters: a,b or repeated", nonempty=True
    )
    lora_layers: int = opt(
        0,
        "LoRA on the top N layers only; backward stops below them and is charged so (0: all)",
        at_least=0,
    )
    warmup_steps: int | None = opt(None, "linear warm-up steps (default: 5 % of max steps)")
    schedule: str = opt(
        "cosine",
        "learning-rate schedule after warm-up (constant: a prefix a final run can continue)",
        choices=["cosine", "linear", "constant", "wsd"],
    )


@dataclass(kw_only=True)
class SweepConfig(TrialSpec):
    """``lmcast sweep``: a grid of training runs scored on the validation split."""

    grid: list[str] | None = opt(  # noqa: RUF009 (None default; the CLI appends)
        None, "a grid axis NAME=V1,V2,… (repeat; lr, rank, precision, lora_alpha)"
    )
    workspace: str | None = opt(None, WORKSPACE_HELP)
    storage: str | None = opt(None, "Optuna storage URL (default: sqlite:///<workspace>/sweep.db)")
    study: str = opt("sweep", "study name inside the storage")
    workers: int = opt(
        1, "workers on this machine: this process and N - 1 spawned ones", at_least=1
    )


@dataclass(kw_only=True)
class ContextStudyConfig(ModelData, Protocol, TrialBudget):
    """``lmcast context-study``: the best sweep configuration trained at several context lengths."""

    context_lengths: tuple[int, ...] = items(
        (128, 512, 768), "training window lengths in tokens: a,b or repeated", int, nonempty=True
    )

    def check(self) -> None:
        bad = [n for n in self.context_lengths if n < 8]
        if bad:
            raise LmcastError(f"--context-lengths must each be >= 8, got {bad[0]}")
        object.__setattr__(self, "context_lengths", tuple(sorted(set(self.context_lengths))))

    from_best: bool = opt(True, "take lr, rank and precision from the sweep's best trial")
    lr: float = opt(1e-4, "learning rate (without --from-best)")
    rank: int = opt(8, "LoRA rank (without --from-best)")
    precision: int = opt(2, "decimals (without --from-best)", at_least=0, at_most=8)
    workspace: str | None = opt(None, WORKSPACE_HELP)


@dataclass(kw_only=True)
class ReportConfig(Overwrite):
    """``lmcast report``: the study report from a workspace."""

    workspace: str | None = opt(None, WORKSPACE_HELP)
    out: str | None = opt(None, "report path (default: <workspace>/report/report.md)")
    ledger: str | None = opt(
        None, "FLOP ledger URL (default: $LMCAST_LEDGER, else <workspace>/ledger.db)"
    )


@dataclass(kw_only=True)
class RunConfig(Checked):
    """``lmcast run``: the whole study, each stage skipped when its outputs exist."""

    profile: str = opt("quick", "profile name (quick, cpu, gpu, seed) or a YAML file")
    data: str | None = opt(None, "HDF5 data file (default: simulate as the profile says)")
    model: str | None = opt(None, "model (default: the profile's)")
    workspace: str | None = opt(None, WORKSPACE_HELP)
    dry_run: bool = opt(False, "print the planned experiments and projected FLOPs; run nothing")
    force_restage: bool = opt(
        False,
        "the profile, data or model changed: move the old stage outputs aside "
        "(into restaged-<time>/, nothing deleted) and run every stage again",
    )
    progress: bool = opt(True, "show progress bars")
