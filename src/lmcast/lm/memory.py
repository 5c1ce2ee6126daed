"""How many sequences fit in memory: batch sizes bounded by bytes, not by hope.

Generation and training both take a ``--batch-size`` from the user; a value
the device cannot hold (``--batch-size 1000000``) used to allocate until the
process died. Here the bytes one sequence needs are estimated from the
architecture, the free memory of the device is read, and the batch is split
into micro-batches that fit (the caller keeps the user's batch semantics: the
same forecasts, the same optimizer batch through gradient accumulation). Only
when a *single* sequence cannot fit is the request refused, with one line.

The estimates are upper-bound-minded, not exact: they count the tensors that
grow with the batch (KV cache, activations kept for backward, logits) and
leave the weights out (they are already resident when the check runs).
"""

from __future__ import annotations

from typing import Any

from lmcast.accounting.flops import Architecture
from lmcast.core.runs import resources
from lmcast.core.runs.resources import MEMORY_SHARE
from lmcast.errors import LmcastError

__all__ = ["MEMORY_SHARE", "free_bytes"]  # the callers' one import


def free_bytes(device: Any = "cpu") -> int:
    """Free memory of ``device`` in bytes: CUDA's ``mem_get_info``, else the host's available
    RAM (:func:`lmcast.core.runs.resources.free_bytes`); ``LMCAST_MEMORY_LIMIT`` overrides both."""
    dev = str(device)
    if dev.startswith("cuda") and resources.memory_override() is None:
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(dev))
        return int(free)
    return resources.free_bytes("cpu")


def kv_cache_bytes(arch: Architecture, cache_len: int, elem_bytes: int = 4) -> int:
    """Bytes of one sequence's KV cache: keys and values, every layer, ``cache_len`` slots."""
    return 2 * arch.layers * arch.kv_heads * arch.d_head * cache_len * elem_bytes


def generation_bytes(
    arch: Architecture, prompt_len: int, cache_len: int, elem_bytes: int = 4
) -> int:
    """Bytes one generated sequence needs: its KV cache plus the prefill's largest temporaries.

    The prefill holds, per prompt token, the hidden state and its q/k/v/o
    projections, the MLP's intermediate activations (gate, up and their
    product), the attention scores of one layer at a time (``heads ×
    prompt_len``) and a row of the 4-D attention mask (``cache_len``).
    Checked on SmolLM2-135M (float32, 900-token prompts, 1,200-slot cache;
    ``scripts/memory_check.py``): 90–116 MiB per sequence measured in two runs
    as the peak-RSS growth from 1 to 3 sequences, 112 MiB estimated.
    """
    per_token = 6 * arch.hidden + 3 * arch.intermediate + arch.heads * prompt_len + cache_len
    return kv_cache_bytes(arch, cache_len, elem_bytes) + prompt_len * per_token * elem_bytes


def training_bytes(
    arch: Architecture, seq_len: int, head_vocab: int | None = None, elem_bytes: int = 4
) -> int:
    """Bytes one training sequence needs: activations kept for backward plus its logits.

    Per layer and token a LLaMA-style block keeps about ``8·hidden + 4·intermediate``
    values for the backward pass (norm inputs and outputs, q/k/v/o, the MLP's gate,
    up, activation and product), plus the attention probabilities (``heads ×
    seq_len``) where the kernel materialises them. The logits, their softmax and
    its gradient are three ``seq_len × vocab`` float32 tensors. Checked on
    SmolLM2-135M (float32, 512 tokens, LoRA r8 q/v, full-vocabulary loss;
    ``scripts/memory_check.py``): 994–1,088 MiB per window measured in two runs
    as the peak-RSS growth from 1 to 3 windows, 1,188 MiB estimated.
    """
    per_token_layer = 8 * arch.hidden + 4 * arch.intermediate + arch.heads * seq_len
    activations = arch.layers * seq_len * per_token_layer * elem_bytes
    logits = 3 * seq_len * (head_vocab or arch.vocab) * 4
    return activations + logits


def fit_batch(requested: int, per_item: int, device: Any = "cpu", what: str = "sequence") -> int:
    """The largest batch ``<= requested`` whose ``per_item`` bytes fit in the device's share.

    Raises:
        LmcastError: not even one item fits (the message gives both sizes).
    """
    budget = int(free_bytes(device) * MEMORY_SHARE)
    fits = budget // max(1, per_item)
    if fits < 1:
        raise LmcastError(
            f"one {what} needs about {per_item / 2**20:,.0f} MiB but only "
            f"{budget / 2**20:,.0f} MiB of {device} memory can be used: "
            "shorten the context or horizon, or use a device with more memory"
        )
    return int(min(requested, fits))
