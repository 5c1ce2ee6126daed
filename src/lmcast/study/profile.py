"""Typed study profiles (``lmcast run --profile``): YAML validated into frozen dataclasses.

A profile is a complete description of a study: every key is required except
``context_study.eval_steps`` (default: its ``max_steps``), ``final.grow`` and
``final.decay_fraction``, and ``recipe`` (default: LoRA on q/v of every layer, warm-up over 5 %
of each run's steps). A typo, a missing
key, a value of the wrong type, a list where a mapping belongs or malformed
YAML is one :class:`~lmcast.errors.LmcastError` line naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmcast.errors import LmcastError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
# Keys that took the name of the config field they set (evaluate's --trajectories, …).
RENAMED = {
    "protocol.test_trajectories": "protocol.trajectories",
    "protocol.eval_batch_size": "protocol.batch_size",
    "protocol.baselines": "protocol.references",
}


def _count(default: Any = dataclasses.MISSING, minimum: int = 1) -> Any:
    return field(default=default, metadata={"min": minimum})


@dataclass(frozen=True)
class SimulateSpec:
    """``data.simulate``: arguments of :func:`lmcast.core.series.lotka_volterra.simulate_file`."""

    n: int = _count()
    steps: int = _count(minimum=2)
    t_max: float = _count(minimum=0)
    seed: int = _count(minimum=0)


@dataclass(frozen=True)
class DataSpec:
    """``data``: how the study gets data when ``--data`` is not given."""

    simulate: SimulateSpec


@dataclass(frozen=True)
class ProtocolSpec:
    """``protocol``: the forecast protocol of the baseline, trials and final test."""

    context_steps: int = _count()
    horizon: int = _count()
    trajectories: int = _count()
    also: list[list[int]] | None = None
    batch_size: int = _count(64)
    references: list[str] | None = None
    # the final model's tests also score it combined with these references (each in
    # references too): evaluate --combine
    combine: list[str] | None = None
    season_length: int = _count(1)
    samples: int = _count(1)  # test forecasts: 1 greedy; K > 1 the median of K sampled paths
    # the zero-shot model's tests: None decodes as the final model's (samples_for)
    zero_shot_samples: int | None = _count(None)
    # whether the zero-shot model is also tested on ``also`` (false: at the main protocol
    # only, and its test time goes to whatever the profile spends it on)
    zero_shot_also: bool = True
    # how test forecasts read a number: as written (argmax) or its last digit's expected
    # value (expected; lmcast.lm.decode.sample_paths)
    readout: str = "argmax"
    # the final model's test at the main protocol (greedy only): a ratio r > 1 forecasts the
    # mean of three greedy forecasts, at alpha / r, alpha and alpha * r (evaluate
    # --scale-ensemble); 1: one greedy forecast
    scale_ensemble: float = _count(1.0)

    def extra(self) -> list[tuple[int, int]]:
        """``also``: more ``(context_steps, horizon)`` pairs the zero-shot and final
        models are tested on (same test trajectories); an entry may add a third number,
        the sampled paths at that protocol (``[50, 50, 5]``)."""
        return [(int(p[0]), int(p[1])) for p in self.also or []]

    def samples_for(self, context_steps: int, horizon: int, zero_shot: bool = False) -> int:
        """Sampled paths per test forecast at a protocol: ``zero_shot_samples`` for the
        zero-shot model when set, else the ``also`` entry's third number, else ``samples``."""
        if zero_shot and self.zero_shot_samples is not None:
            return self.zero_shot_samples
        for p in self.also or []:
            if (int(p[0]), int(p[1])) == (context_steps, horizon) and len(p) == 3:
                return int(p[2])
        return self.samples

    def rows(self, context_steps: int, horizon: int, zero_shot: bool = False) -> int:
        """Sequences one test generates: K sampled paths (:meth:`samples_for`) per trajectory,
        three times over for the final model's test at the main protocol with a
        ``scale_ensemble``."""
        k = self.trajectories * self.samples_for(context_steps, horizon, zero_shot)
        main = (context_steps, horizon) == (self.context_steps, self.horizon)
        return k * 3 if main and not zero_shot and self.scale_ensemble > 1 else k

    def extra_models(self) -> tuple[bool, ...]:
        """``zero_shot`` of the models tested on each ``also`` protocol: the zero-shot model
        (unless ``zero_shot_also`` is false), then the final model."""
        return (True, False) if self.zero_shot_also else (False,)

    def extra_tests(self) -> list[tuple[int, int, bool]]:
        """``(context_steps, horizon, zero_shot)`` of every test on ``also``: the zero-shot
        model's (unless ``zero_shot_also`` is false), then the final model's, per protocol."""
        return [(c, h, zero_shot) for c, h in self.extra() for zero_shot in self.extra_models()]

    def reference_names(self) -> tuple[str, ...]:
        """``references``: the classical forecasters the final model is tested against
        (``lmcast.compare.classical`` names), as ``evaluate --references`` takes them."""
        return tuple(self.references or ())

    def combine_names(self) -> tuple[str, ...]:
        """``combine``: the references the final model is also averaged with, as
        ``evaluate --combine`` takes them."""
        return tuple(self.combine or ())


@dataclass(frozen=True)
class SweepSpec:
    """``sweep``: the LoRA grid and how each trial trains."""

    grid: dict[str, list[float]]
    max_steps: int = _count()
    context_length: int = _count(minimum=8)
    batch_size: int = _count()
    eval_steps: int = _count()
    val_trajectories: int = _count()


@dataclass(frozen=True)
class ContextSpec:
    """``context_study``: the training window lengths tried with the best sweep config."""

    context_lengths: list[int]
    max_steps: int = _count()
    batch_size: int = _count()
    val_trajectories: int = _count()
    eval_steps: int | None = None

    @property
    def eval_every(self) -> int:
        return self.eval_steps or self.max_steps


@dataclass(frozen=True)
class FinalSpec:
    """``final``: the final model's training (capped by the remaining budget).

    With ``grow``, nothing the study trained is thrown away: the sweep and context-study
    trials train at a constant learning rate after the warm-up (the stable phase of a
    warmup-stable-decay schedule), and the final model continues the chosen trial's
    checkpoint for ``max_steps`` more steps, the last ``decay_fraction`` of the whole run
    decaying (0: none, the rate stays constant to the end). Its trials then need the final's
    ``batch_size``.
    """

    max_steps: int = _count()
    batch_size: int = _count()
    eval_steps: int = _count()
    grow: bool = False
    decay_fraction: float = 0.25


@dataclass(frozen=True)
class RecipeSpec:
    """``recipe``: how every training run of the study (trials and final) adapts the model."""

    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    # False: the digits as integers, LLMTIME's format (lmcast.core.codec.scheme.Encoding)
    decimal_point: bool = True
    warmup_steps: int | None = None  # None: 5 % of each run's steps (TrainConfig's rule)
    lora_layers: int = 0  # LoRA on the top N layers only (0: every layer)


@dataclass(frozen=True)
class Profile:
    """A whole study."""

    model: str
    budget: float
    data: DataSpec
    protocol: ProtocolSpec
    sweep: SweepSpec
    context_study: ContextSpec
    final: FinalSpec
    recipe: RecipeSpec = field(default_factory=RecipeSpec)


def profile_path(name: str) -> Path:
    """The YAML file of a built-in profile name or a path."""
    path = Path(name)
    if not path.suffix:
        path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))
        raise LmcastError(f"profile {name!r} not found (built in: {known}; or give a YAML path)")
    return path


def load_profile(name: str) -> Profile:
    """Read and validate a profile by name (``quick``, ``cpu``, ``gpu``, ``seed``) or YAML path."""
    import yaml

    path = profile_path(name)
    try:
        text = path.read_text()
        check_yaml_shape(text, str(path))
        raw = yaml.load(text, Loader=_unique_keys_loader())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LmcastError(f"profile {path}: not readable YAML ({first})") from None
    return parse_profile(raw, str(path))


# What a profile may hold: a megabyte, twenty levels, and at most MAX_PROFILE_NODES nodes
# once its aliases are expanded. Checked on the parser's event stream, before any node is
# built: an alias bomb ("billion laughs": 81 aliases, 3.5e9 nodes) expands only when built,
# and 100,000 nested brackets overflow the recursive composer.
MAX_PROFILE_BYTES = 1_000_000
MAX_PROFILE_DEPTH = 20
MAX_PROFILE_NODES = 100_000


def check_yaml_shape(text: str, source: str) -> None:
    """Refuse, in one line, a profile too large, too deep, or whose aliases expand to more
    than :data:`MAX_PROFILE_NODES` nodes.

    Raises:
        LmcastError: the first limit passed.
    """
    import yaml

    if len(text) > MAX_PROFILE_BYTES:
        raise LmcastError(
            f"profile {source}: {len(text):,} characters (at most {MAX_PROFILE_BYTES:,})"
        )
    sizes: dict[str, int] = {}  # anchor -> nodes it expands to
    stack: list[list] = [[None, 0]]  # open collections: [anchor, nodes so far]
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([event.anchor, 1])
            if len(stack) - 1 > MAX_PROFILE_DEPTH:
                raise LmcastError(
                    f"profile {source}: nested deeper than {MAX_PROFILE_DEPTH} levels"
                )
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, n = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, n = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, n = None, sizes.get(event.anchor, 1)
        else:
            continue
        if anchor:
            sizes[anchor] = n
        stack[-1][1] += n
        if stack[-1][1] > MAX_PROFILE_NODES:
            raise LmcastError(
                f"profile {source}: its aliases (*name) expand to more than "
                f"{MAX_PROFILE_NODES:,} values: refused before they are expanded"
            )


def _unique_keys_loader() -> type:
    """PyYAML's safe loader, refusing a key given twice in one mapping (the safe loader
    keeps the last silently, so ``budget: 1e17`` above ``budget: 1e12`` ran on 1e12)."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeys


def parse_profile(raw: Any, source: str = "profile") -> Profile:
    """Validate a parsed YAML document into a :class:`Profile`."""
    return _build(Profile, raw, "", source)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _build(cls: type, raw: Any, where: str, source: str) -> Any:
    label = where.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise LmcastError(f"profile {source}: {label} must be a mapping, got {_type_name(raw)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        key = f"{where}{unknown[0]!s}"
        if key in RENAMED:
            raise LmcastError(f"profile {source}: {key} is now {RENAMED[key]} (the configs' name)")
        raise LmcastError(
            f"profile {source}: unknown key {key} (expected one of: {', '.join(names)})"
        )
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{where}{f.name}"
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise LmcastError(f"profile {source}: missing key {key}")
            continue
        values[f.name] = _value(hints[f.name], raw[f.name], key, source, f.metadata.get("min"))
    if cls is Profile and values["final"].grow:
        fb = values["final"].batch_size
        if values["sweep"].batch_size != fb or values["context_study"].batch_size != fb:
            raise LmcastError(
                f"profile {source}: final.grow continues a trial, so sweep.batch_size and "
                f"context_study.batch_size must equal final.batch_size ({fb})"
            )
        if not 0 <= values["final"].decay_fraction <= 1:
            raise LmcastError(f"profile {source}: final.decay_fraction must be in [0, 1]")
    if cls is ProtocolSpec:  # names and ranges: the configs' own checks (check_study)
        for pair in values.get("also") or []:
            if len(pair) not in (2, 3) or min(pair) < 1:
                raise LmcastError(
                    f"profile {source}: {where}also must list [context_steps, horizon] or "
                    f"[context_steps, horizon, samples] of positive integers, got {pair!r}"
                )
    return cls(**values)


def _value(tp: Any, value: Any, key: str, source: str, minimum: int | None) -> Any:
    def bad(expected: str) -> LmcastError:
        return LmcastError(
            f"profile {source}: {key} must be {expected}, got {_type_name(value)} {value!r}"
        )

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".", source)
    if origin is dict:
        if not isinstance(value, dict) or not value:
            raise bad("a non-empty mapping of lists")
        return {
            str(k): _value(typing.get_args(tp)[1], v, f"{key}.{k}", source, None)
            for k, v in value.items()
        }
    if origin is list:
        if not isinstance(value, list) or not value:
            raise bad("a non-empty list")
        return [_value(typing.get_args(tp)[0], v, key, source, minimum) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if tp is str:
        if not isinstance(value, str) or not value:
            raise bad("a string")
        return value
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "1e17" as a string
        try:
            value = float(value)
        except ValueError:
            raise bad("a finite number") from None
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int and not (numeric and float(value).is_integer()):
        raise bad("an integer")
    if tp is float and not (numeric and value == value and abs(value) != float("inf")):
        raise bad("a finite number")
    if tp is float and key == "budget" and not value > 0:
        raise bad("a positive number of FLOPs")
    if minimum is not None and value < minimum:
        raise bad(f">= {minimum}")
    return int(value) if tp is int else value  # a float field keeps an int as given (rank=8)
