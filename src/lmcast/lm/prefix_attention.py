"""Shared-prefix ("cascade") attention for decoding K samples of one prompt.

With ``--samples K`` the K rows of a window share its prompt. Copying the prompt's
KV cache to K rows (what :meth:`StaticCache.reorder_cache` does) makes every decode
step read K copies of the same keys and values, and on a CPU decode attention is
bound by those reads: at 200 rows (20 windows × 10 samples) over a 560-token prompt,
SDPA was 74 % of a SmolLM2 decode pass on the 2-core CPU (``torch.profiler`` in
``benchmarks/bench_decode_step.py``; ``docs/performance/cpu_decode_step.json``).

Here the prompt's keys and values are kept once per window (``G`` prompts), and
the generated ones per row. Each decode pass splits attention in two:

* the prefix part: the queries of a window's K rows, stacked, times its prompt's
  keys — one matrix product per window and KV head instead of K reads;
* the suffix part: each row's queries against its own generated tokens.

The two partial softmaxes are merged exactly through their maxima and sums (the
log-sum-exp rule), so the output equals attention over the concatenated keys.

It runs through the model's own layers: :func:`shared_prefix_decoding` switches the
model's attention implementation to :func:`shared_prefix_attention` (registered
with transformers' ``AttentionInterface``) for the decode loop and back after it,
and the decoder is called with ``cache=SharedPrefixCache`` and
``shared_prefix=<that cache>`` (the keyword reaches every attention call).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

IMPLEMENTATION = "lmcast_shared_prefix"


class SharedPrefixCache:
    """Per-layer prompt K/V once per window and generated K/V per row.

    Shapes (per layer): prefix keys/values ``(G, KVH, P, D)``; suffix buffers
    ``(B, KVH, capacity, D)`` with ``B = G × rows`` (rows of a window adjacent);
    ``prefix_mask`` ``(G, P)`` bool, true where a prompt token is real (not left
    padding). Every row holds the same number of generated tokens (``length``):
    decoding is in lock-step.
    """

    def __init__(self, prefix_cache: Any, prefix_mask: Any, rows: int, capacity: int) -> None:
        import torch

        layers = prefix_cache.layers
        self.prefix_k = [layer.keys for layer in layers]
        self.prefix_v = [layer.values for layer in layers]
        g, kvh, _, d = self.prefix_k[0].shape
        self.groups, self.rows = int(g), int(rows)
        # -inf where the prompt is padding, 0 elsewhere: (G, 1, 1, P), added to the scores
        self.prefix_bias = torch.zeros(
            prefix_mask.shape, dtype=torch.float32, device=prefix_mask.device
        ).masked_fill(~prefix_mask.bool(), float("-inf"))[:, None, None, :]
        b = self.groups * self.rows
        like = self.prefix_k[0]
        self.suffix_k = [like.new_zeros((b, kvh, capacity, d)) for _ in layers]
        self.suffix_v = [like.new_zeros((b, kvh, capacity, d)) for _ in layers]
        self.length = 0  # generated tokens stored per row (all layers, after a pass)
        self._width = 0  # tokens of the pass in progress

    @property
    def prompt_len(self) -> int:
        """Padded prompt length ``P``."""
        return int(self.prefix_k[0].shape[2])

    def update(self, key: Any, value: Any, layer_idx: int, **_: Any) -> tuple[Any, Any]:
        """Store a pass's ``(B, KVH, w, D)`` keys/values; return the row's suffix so far
        ``(B, KVH, length + w, D)`` (the prefix comes from ``shared_prefix``)."""
        w = key.shape[2]
        end = self.length + w
        if end > self.suffix_k[layer_idx].shape[2]:
            raise RuntimeError(f"shared-prefix cache full ({end} > capacity)")
        self.suffix_k[layer_idx][:, :, self.length : end] = key
        self.suffix_v[layer_idx][:, :, self.length : end] = value
        self._width = w
        return self.suffix_k[layer_idx][:, :, :end], self.suffix_v[layer_idx][:, :, :end]

    def advance(self) -> None:
        """Mark the pass's tokens as stored (call after each decoder pass)."""
        self.length += self._width
        self._width = 0

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Tokens each row attends to: the prompt plus what it generated."""
        return self.prompt_len + self.length


def shared_prefix_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    shared_prefix: SharedPrefixCache | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention of ``query`` ``(B, H, w, D)`` over the window's prompt and the row's suffix.

    ``key``/``value`` ``(B, KVH, t, D)`` are the row's generated tokens (the last ``w``
    of them are this pass's, masked causally among themselves). Without
    ``shared_prefix`` (a prefill, or any other call) it is plain SDPA.

    Returns:
        ``(B, w, H, D)`` attention output (the layout transformers' layers expect), None.
    """
    import torch

    if shared_prefix is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    cache = shared_prefix
    layer = module.layer_idx
    kp, vp = cache.prefix_k[layer], cache.prefix_v[layer]
    b, h, w, d = query.shape
    g, kvh, t = cache.groups, key.shape[1], key.shape[2]
    k, r = cache.rows, h // kvh
    scale = scaling if scaling is not None else d**-0.5
    # prefix: a window's K rows' queries (their r heads sharing a KV head, w tokens) stacked
    qg = query.reshape(g, k, kvh, r * w, d).transpose(1, 2).reshape(g, kvh, k * r * w, d)
    sp = torch.matmul(qg, kp.transpose(-1, -2)).float() * scale + cache.prefix_bias
    # suffix: each row against its own generated tokens, causal among this pass's w
    qs = query.reshape(b, kvh, r * w, d)
    ss = torch.matmul(qs, key.transpose(-1, -2)).float() * scale  # (B, KVH, r·w, t)
    if w > 1:
        j = torch.arange(w, device=query.device)
        allowed = torch.arange(t, device=query.device)[None, :] <= (t - w + j)[:, None]  # (w, t)
        ss = ss.masked_fill(~allowed.repeat(r, 1), float("-inf"))
    # merge the two partial softmaxes through a shared maximum
    mp = sp.amax(-1, keepdim=True).reshape(g, kvh, k, r * w, 1).transpose(1, 2)
    m = torch.maximum(mp.reshape(b, kvh, r * w, 1), ss.amax(-1, keepdim=True))
    m_g = m.reshape(g, k, kvh, r * w, 1).transpose(1, 2).reshape(g, kvh, k * r * w, 1)
    ep, es = torch.exp(sp - m_g), torch.exp(ss - m)
    op = torch.matmul(ep.to(vp.dtype), vp).float()  # (G, KVH, k·r·w, D)
    os_ = torch.matmul(es.to(value.dtype), value).float()  # (B, KVH, r·w, D)
    lp = ep.sum(-1, keepdim=True)

    def per_row(x: Any, last: int) -> Any:
        return x.reshape(g, kvh, k, r * w, last).transpose(1, 2).reshape(b, kvh, r * w, last)

    out = (per_row(op, d) + os_) / (per_row(lp, 1) + es.sum(-1, keepdim=True))
    # (B, KVH, r·w, D) → (B, H, w, D) → (B, w, H, D)
    return out.to(query.dtype).reshape(b, h, w, d).transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface

    if IMPLEMENTATION not in AttentionInterface._global_mapping:
        AttentionInterface.register(IMPLEMENTATION, shared_prefix_attention)


def supported(model: Any) -> bool:
    """Whether the model's layers can decode through :func:`shared_prefix_attention`: the
    decoders it is tested on (Llama, Qwen2), whose attention calls the attention interface
    with ``module.layer_idx`` and passes extra keywords through, without sliding windows."""
    cfg = model.config
    return getattr(cfg, "model_type", None) in {"llama", "qwen2"} and not getattr(
        cfg, "use_sliding_window", False
    )


@contextlib.contextmanager
def shared_prefix_decoding(model: Any) -> Iterator[None]:
    """Route the model's attention through :func:`shared_prefix_attention` inside the block."""
    _register()
    cfg = model.config
    before = cfg._attn_implementation
    cfg._attn_implementation = IMPLEMENTATION
    try:
        yield
    finally:
        cfg._attn_implementation = before
