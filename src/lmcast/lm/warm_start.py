"""Start a training run from a trained LoRA adapter: ``lmcast train --init-adapter``.

A user adapts the shipped ``general`` adapter (or any adapter lmcast trained) to their own
collection by training on from its weights instead of from a fresh LoRA: a new run at step
0 with a fresh optimizer and schedule (unlike ``--init-from``, which continues a run's
checkpoint, optimizer and step). The run must write numbers as the adapter read them and
put LoRA of the same shape on the same model; :func:`mismatched_flags` names the flags that
differ. What the adapter's training saw stays seen: :func:`merge_seen` adds its record to
the run's, so ``lmcast benchmark`` still refuses held-out steps either of them trained on.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from lmcast.core.codec import scheme
from lmcast.core.codec.scheme import Encoding
from lmcast.core.runs.runinfo import file_sha256
from lmcast.errors import LmcastError
from lmcast.lm.models import (
    adapter_path,
    check_adapter,
    check_adapter_folder,
    lora_mismatch,
    model_alias,
)

log = logging.getLogger("lmcast.train")

# the LoRA modules of a Llama/Qwen-style block, in the order a layer uses them
MODULE_ORDER = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def adapter_dir(adapter: str | os.PathLike) -> Path:
    """The folder holding ``adapter_config.json`` of ``adapter``: a shipped name (``general``),
    an adapter folder, or a training run folder (its ``adapter/``).

    Raises:
        LmcastError: no such folder, or no LoRA adapter in it.
    """
    check_adapter_folder(adapter, "--init-adapter")
    path = adapter_path(adapter)
    assert path is not None
    if (path / "adapter").is_dir():
        path = path / "adapter"
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        if not (path / name).is_file():
            raise LmcastError(f"--init-adapter {adapter}: not a LoRA adapter folder (no {name})")
    return path


def adapter_record(path: Path) -> tuple[dict, dict]:
    """``(adapter_config.json, encoding.json)`` of an adapter folder.

    Raises:
        LmcastError: unreadable config, or no encoding record (an adapter lmcast did not
            train: the format it reads numbers in is unknown).
    """
    try:
        conf = json.loads((path / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise LmcastError(f"{path}: adapter_config.json is not readable JSON ({exc})") from None
    if not _lora_config(conf):
        raise LmcastError(
            f"{path}: adapter_config.json is not a LoRA config (an integer r >= 1, a number "
            "lora_alpha and target_modules named)"
        )
    rec = scheme.read_record(path)
    if rec is None:
        raise LmcastError(
            f"{path}: no encoding.json beside the adapter: cannot tell how it writes numbers"
        )
    return conf, rec


def _lora_config(conf: object) -> bool:
    """Whether ``conf`` holds what :func:`adapter_settings` reads, of the right types."""
    if not isinstance(conf, dict) or conf.get("peft_type", "LORA") != "LORA":
        return False
    r, alpha, targets = conf.get("r"), conf.get("lora_alpha"), conf.get("target_modules")
    targets = [targets] if isinstance(targets, str) else targets
    layers = conf.get("layers_to_transform") or []
    return (
        isinstance(r, int) and not isinstance(r, bool) and r >= 1
        and isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
        and isinstance(targets, list) and bool(targets) and all(isinstance(t, str) for t in targets)
        and isinstance(layers, (list, int))
    )  # fmt: skip


def _n_layers(conf: dict) -> int:
    """How many layers carry LoRA (0: all), as ``--lora-layers`` counts them."""
    layers = conf.get("layers_to_transform") or []
    return 1 if isinstance(layers, int) else len(layers)


def adapter_settings(conf: dict, rec: dict) -> dict[str, Any]:
    """The :class:`~lmcast.configs.TrainConfig` fields that write numbers and put LoRA as the
    adapter does (``adapter_config.json``, ``encoding.json``)."""
    targets = conf.get("target_modules") or []
    targets = [targets] if isinstance(targets, str) else list(targets)
    known = {t: i for i, t in enumerate(MODULE_ORDER)}  # PEFT keeps a set: block order
    out: dict[str, Any] = {
        "rank": conf.get("r"),
        "lora_alpha": float(conf.get("lora_alpha", 0)),
        "target_modules": tuple(sorted(targets, key=lambda t: (known.get(t, len(known)), t))),
        "lora_layers": _n_layers(conf),
        **Encoding.from_record(rec).train_settings(),
    }
    if conf.get("base_model_name_or_path"):  # the alias, not the bundled model's cache path
        out["model"] = model_alias(str(conf["base_model_name_or_path"]))
    return out


def same_alpha(a: float, b: float) -> bool:
    """Two codec scales equal to rounding (``0.69 / 10`` against ``0.069``)."""
    return math.isclose(float(a), float(b), rel_tol=1e-9)


def with_adapter_settings(cfg: Any) -> Any:
    """``cfg`` with the adapter's settings (:func:`adapter_settings`) wherever it kept the
    default (``lmcast train --init-adapter general`` needs no format or LoRA flags); a value
    given otherwise is kept, and :func:`prepare_meta` refuses it if it differs."""
    import dataclasses

    cfg = _resumed_from(cfg)
    if cfg.init_adapter is None:
        return cfg
    conf, rec = adapter_record(adapter_dir(cfg.init_adapter))
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    taken = {
        k: v
        for k, v in adapter_settings(conf, rec).items()
        if getattr(cfg, k) == defaults[k] and v != defaults[k]
    }

    if k_v := " ".join(_flag(k, v) for k, v in taken.items()):
        log.info("--init-adapter %s: its settings where none was given: %s", cfg.init_adapter, k_v)
    return dataclasses.replace(cfg, **taken) if taken else cfg


def _resumed_from(cfg: Any) -> Any:
    """``--resume`` of a run that started from an adapter keeps that adapter (its seen steps
    stay in the record) without ``--init-adapter`` given again.

    Raises:
        LmcastError: ``--init-adapter`` names another adapter than the run started from.
    """
    import dataclasses

    run = Path(cfg.out) / "run.json"
    if not cfg.resume or not run.is_file():
        return cfg
    try:
        started = json.loads(run.read_text())["config"].get("init_adapter")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return cfg  # an unreadable record: resuming reports what it lacks
    if started is None or cfg.init_adapter == started:
        return cfg
    if cfg.init_adapter is not None:
        raise LmcastError(
            f"--resume: {cfg.out} started from adapter {started}, not {cfg.init_adapter}"
        )
    log.info("--resume: the run started from adapter %s; it stays its origin", started)
    return dataclasses.replace(cfg, init_adapter=started)


def mismatched_flags(conf: dict, rec: dict, cfg: Any, meta: dict) -> list[str]:
    """The ``lmcast train`` flags (with the adapter's values, :func:`adapter_settings`) where
    this run differs from the adapter: model, LoRA rank, alpha, modules and layers, and the
    text format of ``meta`` (the run's encoding record) against ``rec`` (the adapter's).
    Empty: compatible."""
    want = adapter_settings(conf, rec)
    flags = []
    for k in ("model", "rank", "lora_alpha", "target_modules", "lora_layers"):
        if k not in want:  # no base model named
            continue
        got = getattr(cfg, k)
        if k == "target_modules":  # PEFT keeps a set: the order is not the adapter's
            want_k, got = set(want[k]), set(got)
        else:
            want_k = want[k]
        if want_k != got:
            flags.append(_flag(k, want[k]))
    n_model = len(flags)
    theirs, ours = Encoding.from_record(rec), Encoding.from_record(meta)
    same = ours.train_settings()
    for k, v in theirs.train_settings().items():
        if k != "alpha" and v != same[k]:  # alpha: below, to rounding
            flags.append(_flag(k, v))
    if theirs.alpha is None and ours.alpha is not None:
        flags.append(_flag("alpha", "series"))
    elif theirs.alpha is not None and (
        ours.alpha is None or not same_alpha(theirs.alpha, ours.alpha)
    ):
        flags.append(_flag("alpha", want["alpha"]))
    same_format = len(flags) == n_model
    if same_format and theirs.target != ours.target:
        # the same flags, another target: an adapter written by another lmcast version
        flags.append(f"(and an lmcast whose scale target is {theirs.target:g})")
    return flags


def _flag(field: str, value: Any) -> str:
    """A :class:`~lmcast.configs.TrainConfig` field and value as the option that gives it
    (``--no-decimal-point``, ``--target-modules q_proj,v_proj``, ``--lora-alpha 16``)."""
    name = field.replace("_", "-")
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no-{name}"
    if isinstance(value, tuple):
        return f"--{name} {','.join(value)}"
    return f"--{name} {value:g}" if isinstance(value, float) else f"--{name} {value}"


def merge_seen(own: dict, inherited: dict | None) -> dict:
    """The run's ``seen`` record joined with its adapter's: a step either trained on counts
    as seen (digest lists merged per prefix length; ``holdout`` stays the run's own, the
    adapter's under ``init_adapter_holdout``)."""
    if not isinstance(inherited, dict) or not isinstance(inherited.get("steps"), dict):
        return own
    steps: dict[str, set[str]] = {k: set(v) for k, v in own["steps"].items()}
    for k, v in inherited["steps"].items():
        steps.setdefault(str(k), set()).update(v)
    return {
        **own,
        "series": int(own.get("series", 0)) + int(inherited.get("series", 0)),
        "init_adapter_holdout": inherited.get("holdout", 0),
        "steps": {k: sorted(steps[k]) for k in sorted(steps, key=int)},
    }


def prepare_meta(cfg: Any, meta: dict) -> dict:
    """The run's encoding record once ``--init-adapter`` is checked: the adapter's seen
    steps added and where it started recorded (``meta`` is not changed).

    Raises:
        LmcastError: the run's model, LoRA shape or text format is not the adapter's (one
            line with the flags to give).
    """
    path = adapter_dir(cfg.init_adapter)
    conf, rec = adapter_record(path)
    flags = mismatched_flags(conf, rec, cfg, meta)
    if flags:
        raise LmcastError(
            f"--init-adapter {cfg.init_adapter}: this run must read numbers and put LoRA as the "
            f"adapter does; give {' '.join(flags)} (or leave those options out)"
        )
    weights = path / "adapter_model.safetensors"
    origin = {
        "adapter": str(cfg.init_adapter),
        "folder": str(path),
        "sha256": file_sha256(weights),  # adapter_dir: the file is there
        "source_sha256": rec.get("source_sha256"),
    }
    return {**meta, "seen": merge_seen(meta["seen"], rec.get("seen")), "init_adapter": origin}


def load_weights(model: Any, adapter: str | os.PathLike) -> None:
    """Put the LoRA weights of ``adapter`` into the PEFT ``model`` (same modules and shapes).

    Raises:
        LmcastError: a tensor the model lacks or of another shape (one line).
    """
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    path = adapter_dir(adapter)
    check_adapter(path, model.get_base_model())
    weights = load_peft_weights(str(path), device="cpu")
    if (bad := lora_mismatch(model, weights)) is not None:
        key, theirs, mine = bad
        raise LmcastError(
            f"--init-adapter {adapter}: its LoRA tensor {key} is {theirs}, this run's {mine}"
        )
    set_peft_model_state_dict(model, weights)
