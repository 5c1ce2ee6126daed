"""Typed configuration dataclasses: the single source of defaults.

Every field carries one line of help in its metadata; :mod:`lmcast.cli_args`
turns a dataclass into ``--option`` flags with that help, so the CLI, sweeps and
tests share these defaults. Run folders store the resolved config as JSON.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field
from typing import Any


def opt(default: Any = MISSING, help: str = "", **meta: Any) -> Any:
    """A dataclass field with one line of ``help`` (and optional CLI metadata)."""
    return field(default=default, metadata={"help": help, **meta})


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass."""
    return asdict(cfg)


@dataclass
class SimulateConfig:
    """``lmcast data simulate``: logistic-prey Lotka–Volterra trajectories."""

    out: str = opt(help="output HDF5 path")
    n: int = opt(1000, "number of trajectories")
    steps: int = opt(100, "timesteps per trajectory")
    t_max: float = opt(200.0, "end time of the evenly spaced grid starting at 0")
    seed: int = opt(0, "random seed (parameters and initial values)")


@dataclass
class PrepareConfig:
    """``lmcast data prepare``: LLMTIME texts per split and meta.json."""

    data: str = opt(help="input HDF5 file in the lmcast layout")
    out: str = opt(help="output directory for *_texts.txt and meta.json")
    precision: int = opt(2, "decimals per scaled value")
    alpha: str = opt("auto", "scale: a positive number, or 'auto' (from the training split)")
    split_seed: int = opt(0, "seed of the train/val/test permutation")
    split: str = opt("0.8,0.1,0.1", "train,val,test fractions by trajectory")


@dataclass
class EncodeConfig:
    """``lmcast encode``: show one trajectory as text and token ids."""

    data: str = opt(help="input HDF5 file")
    index: int = opt(0, "trajectory index in the file")
    precision: int = opt(2, "decimals per scaled value")
    alpha: str = opt("auto", "scale: a number, or 'auto' (from the training split)")
    steps: int = opt(5, "timesteps to show (0: all)")
    model: str | None = opt(None, "also show this model's own token ids (loads its tokenizer)")
    json: bool = opt(False, "print JSON")


@dataclass
class FlopsConfig:
    """``lmcast flops``: FLOPs of a forward pass, training step or generation."""

    model: str = opt(
        "qwen2.5-0.5b", "built-in architecture name or a Hugging Face config.json path"
    )
    seq_len: int = opt(512, "sequence length in tokens (the prompt length in generate mode)")
    batch: int = opt(1, "sequences per batch")
    mode: str = opt("forward", "what to count", choices=["forward", "train", "generate"])
    new_tokens: int = opt(0, "tokens to generate (generate mode)")
    lora_rank: int = opt(0, "LoRA rank on the target modules (0: no LoRA)")
    lora_targets: str = opt("q_proj,v_proj", "comma-separated LoRA target modules")
    json: bool = opt(False, "print JSON")


@dataclass
class BudgetConfig:
    """``lmcast budget``: the FLOP ledger's experiment table."""

    ledger: str | None = opt(
        None, "ledger URL (default: $LMCAST_LEDGER or sqlite:///workspace/ledger.db)"
    )
    set: float | None = opt(None, "set the budget in FLOPs (e.g. 1e17)")
    json: bool = opt(False, "print JSON")
