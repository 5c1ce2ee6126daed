r"""FLOP accounting for decoder-only transformers (Qwen2 / Llama family). Pure arithmetic.

The rules (the reference study's, followed exactly):

* add / subtract / negate: 1; multiply / divide / inverse: 1; ReLU / abs: 1;
  exp / log: 10; sin / cos / sqrt: 10.
* a matrix product ``(m×n)·(n×p)`` costs ``m·p·(2n−1)``.
* backward pass = exactly 2 × forward, so one training step = 3 × forward.
* tokenization and everything outside the model (loss, sampling) is free.
* positional encodings are free to *compute*; *applying* them costs.

Notation: ``h`` hidden size, ``H`` query heads, ``G`` key/value heads,
``d = h/H`` head size (or the config's ``head_dim``), ``I`` MLP width, ``V``
vocabulary, ``q`` query tokens processed, ``k`` key tokens attended to (for a
full forward pass ``q = k = L``; for one decode step against a KV cache
``q = 1`` and ``k`` is the cache length plus one). Every count below is per
sequence and is multiplied by the batch size.

Components, per layer unless marked:

============================  ==================================================
``embedding`` (once)           table look-up: 0 (no arithmetic)
``rope``                       applying rotary embeddings ``x·cos + rot(x)·sin``
                               to Q and K: per head vector 2d mul + d add + d/2
                               negations (``rotate_half``) = ``3.5·d·q·(H+G)``;
                               computing the sin/cos tables is free
``rmsnorm`` (2 per layer)      per token: square h, sum h−1, divide by h 1, add
                               ε 1, sqrt 10, inverse 1, scale h, weight h =
                               ``q·(4h+12)``
``q_proj``                     ``q·(H·d)·(2h−1)`` (+ ``q·H·d`` bias adds if any)
``k_proj``, ``v_proj``         ``q·(G·d)·(2h−1)`` each (+ bias): GQA is counted
                               at its real width, not as multi-head attention
``attn_scores``                ``H·q·k·(2d−1)`` (Q·Kᵀ per query head)
``attn_scale``                 ``H·q·k`` (multiply by 1/√d, a constant)
``attn_softmax``               per row of k: exp 10k, sum k−1, divide k =
                               ``H·q·(12k−1)``
``attn_values``                ``H·q·d·(2k−1)`` (weights · V per query head)
``o_proj``                     ``q·h·(2·H·d−1)``
``residual`` (2 per layer)     ``2·q·h``
``mlp_gate``, ``mlp_up``       ``q·I·(2h−1)`` each
``mlp_act``                    SiLU ``x/(1+exp(−x))``: negate 1, exp 10, add 1,
                               divide 1 = ``14·q·I``; times the up branch:
                               ``q·I`` more
``mlp_down``                   ``q·h·(2I−1)``
``lora`` (per target module)   ``x·A``: ``q·r·(2·n_in−1)``; ``·B``:
                               ``q·n_out·(2r−1)``; scale by α/r: ``q·n_out``;
                               add to the frozen output: ``q·n_out``
``final_norm`` (once)          ``q·(4h+12)``
``lm_head`` (once)             ``n_logits·V·(2h−1)`` where ``n_logits`` is the
                               number of positions whose logits are computed
                               (all ``q`` in training; the last one in a
                               generation step, as Hugging Face ``generate``
                               does with ``logits_to_keep=1``); lmcast's
                               constrained decoding multiplies only the
                               ``V'`` rows of tokens its grammar can emit, and
                               is charged ``V'`` instead of ``V``
============================  ==================================================

Simplifications, stated: causal masking is not exploited (the full ``q×k``
score matrix is counted, as eager attention computes it) and applying the mask
is free (a select, no arithmetic); softmax's max-subtraction for stability is
omitted (it does not change the function); dropout is identity. Tied input and
output embeddings change parameter counts, not FLOPs.

Modes: ``forward`` over a prefix of L tokens; ``train`` = 3 × forward over L
tokens; ``generate`` = a prefill forward over the prompt (logits for its last
position only) plus one decode step per further new token against a cache that
grows by one each step.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Architecture:
    """The numbers of a decoder-only transformer that FLOPs depend on."""

    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    qkv_bias: bool = False
    tied_embeddings: bool = True
    head_dim: int | None = None

    @property
    def d_head(self) -> int:
        """Per-head size ``d``."""
        return self.head_dim or self.hidden // self.heads


ARCHITECTURES: dict[str, Architecture] = {
    "qwen2.5-0.5b": Architecture(
        "qwen2.5-0.5b",
        hidden=896,
        layers=24,
        heads=14,
        kv_heads=2,
        intermediate=4864,
        vocab=151936,
        qkv_bias=True,
        tied_embeddings=True,
    ),
    "smollm2-135m": Architecture(
        "smollm2-135m",
        hidden=576,
        layers=30,
        heads=9,
        kv_heads=3,
        intermediate=1536,
        vocab=49152,
        qkv_bias=False,
        tied_embeddings=True,
    ),
}


def arch_from_hf_config(cfg: dict, name: str = "custom") -> Architecture:
    """Build an :class:`Architecture` from a Hugging Face ``config.json`` dict."""
    if not isinstance(cfg, dict):
        raise ValueError(f"a config.json holds a JSON object, not {type(cfg).__name__}")
    sizes = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
    )
    for key in sizes:
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config {key} must be a positive integer, got {value!r}")
    heads = int(cfg["num_attention_heads"])
    qkv_bias = bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2"))
    return Architecture(
        name=name,
        hidden=int(cfg["hidden_size"]),
        layers=int(cfg["num_hidden_layers"]),
        heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        intermediate=int(cfg["intermediate_size"]),
        vocab=int(cfg["vocab_size"]),
        qkv_bias=qkv_bias,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        head_dim=cfg.get("head_dim"),
    )


def resolve_architecture(model: str) -> Architecture:
    """A built-in name, a ``config.json`` path, or a directory holding one."""
    if model in ARCHITECTURES:
        return ARCHITECTURES[model]
    path = Path(model)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return arch_from_hf_config(json.loads(path.read_text()), name=str(model))
    known = ", ".join(ARCHITECTURES)
    raise KeyError(f"unknown architecture {model!r}: use one of {known}, or a config.json path")


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapters of rank ``rank`` on the named projections.

    ``layers``: on the top ``layers`` transformer layers only (``None``: every
    layer). Training then back-propagates through those layers alone: nothing
    below the lowest adapted layer needs a gradient, and autograd computes none.
    """

    rank: int
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    layers: int | None = None

    def adapted_layers(self, arch: Architecture) -> int:
        """How many layers carry adapters (and are back-propagated through)."""
        return arch.layers if self.layers is None else min(self.layers, arch.layers)


def module_shapes(arch: Architecture) -> dict[str, tuple[int, int]]:
    """``(n_in, n_out)`` of each per-layer linear module."""
    h, d = arch.hidden, arch.d_head
    return {
        "q_proj": (h, arch.heads * d),
        "k_proj": (h, arch.kv_heads * d),
        "v_proj": (h, arch.kv_heads * d),
        "o_proj": (arch.heads * d, h),
        "gate_proj": (h, arch.intermediate),
        "up_proj": (h, arch.intermediate),
        "down_proj": (arch.intermediate, h),
    }


def lora_parameter_count(arch: Architecture, lora: LoraSpec) -> int:
    """Trainable LoRA parameters: ``r·(n_in + n_out)`` per target per layer."""
    shapes = module_shapes(arch)
    return lora.adapted_layers(arch) * sum(lora.rank * sum(shapes[t]) for t in lora.targets)


def matmul(m: int, n: int, p: int) -> int:
    """FLOPs of ``(m×n)·(n×p)`` under the rules: ``m·p·(2n−1)``."""
    return m * p * (2 * n - 1)


@dataclass
class Count:
    """FLOPs by component plus the matmul shapes behind them.

    Attributes:
        components: component name → FLOPs (exact integers).
        matmuls: ``(component, m, n, p, repeats)`` for every matrix product,
            so other conventions (``2mnp``) can be compared.
    """

    components: OrderedDict[str, int] = field(default_factory=OrderedDict)
    matmuls: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    def add(self, component: str, flops: int) -> None:
        self.components[component] = self.components.get(component, 0) + int(flops)

    def add_matmul(self, component: str, m: int, n: int, p: int, repeats: int = 1) -> None:
        self.add(component, repeats * matmul(m, n, p))
        self.matmuls.append((component, m, n, p, repeats))

    def merge(self, other: Count, times: int = 1) -> None:
        for k, v in other.components.items():
            self.add(k, v * times)
        self.matmuls.extend((c, m, n, p, r * times) for c, m, n, p, r in other.matmuls)

    @property
    def total(self) -> int:
        return sum(self.components.values())

    def matmul_macs(self) -> int:
        """Σ m·n·p over all matrix products (multiply–accumulates)."""
        return sum(m * n * p * r for _, m, n, p, r in self.matmuls)


def forward_count(
    arch: Architecture,
    q: int,
    k: int | None = None,
    batch: int = 1,
    lora: LoraSpec | None = None,
    logits_positions: int | None = None,
    head_vocab: int | None = None,
) -> Count:
    """FLOPs of one forward pass: ``q`` new tokens attending to ``k`` keys, ``batch`` sequences.

    Args:
        arch: the architecture.
        q: tokens processed per sequence.
        k: keys attended to per query (``q`` for a full pass; cache + 1 for decoding).
        batch: sequences in the batch (every term is linear in it).
        lora: LoRA adapters, if any.
        logits_positions: positions whose LM-head logits are computed
            (default: all ``q``).
        head_vocab: rows of the LM head actually multiplied (default: the
            whole vocabulary; constrained decoding computes only the logits of
            the tokens its grammar can ever allow).
    """
    k = q if k is None else k
    n_logits = q if logits_positions is None else logits_positions
    h, d, H, G, inter = arch.hidden, arch.d_head, arch.heads, arch.kv_heads, arch.intermediate
    norm = 4 * h + 12
    layer = Count()
    layer.add("rope", (7 * d * q * (H + G)) // 2)
    layer.add("rmsnorm", 2 * q * norm)
    for name in ("q_proj", "k_proj", "v_proj"):
        n_in, n_out = module_shapes(arch)[name]
        layer.add_matmul(name, q, n_in, n_out)
        if arch.qkv_bias:
            layer.add(name, q * n_out)
    layer.add_matmul("attn_scores", q, d, k, repeats=H)
    layer.add("attn_scale", H * q * k)
    layer.add("attn_softmax", H * q * (12 * k - 1))
    layer.add_matmul("attn_values", q, k, d, repeats=H)
    layer.add_matmul("o_proj", q, H * d, h)
    layer.add("residual", 2 * q * h)
    layer.add_matmul("mlp_gate", q, h, inter)
    layer.add_matmul("mlp_up", q, h, inter)
    layer.add("mlp_act", 14 * q * inter + q * inter)
    layer.add_matmul("mlp_down", q, inter, h)
    total = Count()
    total.add("embedding", 0)
    total.merge(layer, times=arch.layers)
    if lora is not None:
        adapters = Count()
        shapes = module_shapes(arch)
        for t in lora.targets:
            n_in, n_out = shapes[t]
            adapters.add_matmul("lora", q, n_in, lora.rank)
            adapters.add_matmul("lora", q, lora.rank, n_out)
            adapters.add("lora", 2 * q * n_out)
        total.merge(adapters, times=lora.adapted_layers(arch))
    total.add("final_norm", q * norm)
    total.add_matmul("lm_head", n_logits, h, head_vocab or arch.vocab)
    if batch != 1:
        scaled = Count()
        scaled.merge(total, times=batch)
        return scaled
    return total


def train_step_flops(
    arch: Architecture,
    seq_len: int,
    batch: int = 1,
    lora: LoraSpec | None = None,
    logits_positions: int | None = None,
    head_vocab: int | None = None,
) -> int:
    """One training step: forward + backward, backward = 2 × the forward of what it runs through.

    With LoRA on every layer (or full fine-tuning) that is 3 × forward. With
    LoRA on the top ``lora.layers`` layers only, the backward pass runs through
    the LM head, the final norm and those layers (with their adapters); the
    layers below are charged their forward alone. The lowest adapted layer is
    charged a full 2 × forward although autograd skips its input gradient: the
    rule's unit is the layer. Other arguments as :func:`forward_count`.
    """

    def fwd_of(a: Architecture, spec: LoraSpec | None) -> int:
        return forward_count(
            a, seq_len, batch=batch, lora=spec, logits_positions=logits_positions,
            head_vocab=head_vocab,
        ).total  # fmt: skip

    fwd = fwd_of(arch, lora)
    below = arch.layers - (lora.adapted_layers(arch) if lora is not None else arch.layers)
    if below == 0:
        return 3 * fwd
    # forward FLOPs of the frozen layers below (no adapters there): one layer's
    # cost is the difference between an L-layer and an (L-1)-layer count
    one = fwd_of(arch, None)
    rest = fwd_of(replace(arch, layers=arch.layers - 1), None)
    return 3 * fwd - 2 * below * (one - rest)


def generation_count(
    arch: Architecture,
    prompt_len: int,
    new_tokens: int,
    batch: int = 1,
    lora: LoraSpec | None = None,
    head_vocab: int | None = None,
    static_kv: int | None = None,
    prefill_batch: int | None = None,
) -> Count:
    """Autoregressive generation with a KV cache.

    A prefill over ``prompt_len`` tokens (logits for the last position) gives
    the first new token; each of the other ``new_tokens − 1`` tokens costs one
    decode step whose query attends to the cache plus itself. With a static
    (preallocated) cache of ``static_kv`` slots, attention runs over all
    ``static_kv`` slots in the prefill and in every step (unused ones masked).
    ``batch`` sequences are decoded; with shared-prefix sampling only
    ``prefill_batch`` distinct prompts are prefilled (default: ``batch``).
    """
    out = Count()
    if new_tokens <= 0:
        return out
    out.merge(
        forward_count(
            arch,
            prompt_len,
            k=static_kv or prompt_len,
            batch=prefill_batch or batch,
            lora=lora,
            logits_positions=1,
            head_vocab=head_vocab,
        )
    )
    steps = new_tokens - 1
    if steps == 0:
        return out
    # Closed form of the decode steps (a loop per token took 27 s at 1e6 tokens): a
    # one-token step's count is affine in its key count k, and so is every matmul's
    # m·n·p, so the sum over k = P+1 … P+steps (or k = static_kv each step) is exact.
    c1, c2 = (
        forward_count(arch, 1, k=k, batch=batch, lora=lora, head_vocab=head_vocab) for k in (1, 2)
    )
    keys = static_kv * steps if static_kv else steps * prompt_len + steps * (steps + 1) // 2
    for name, v1 in c1.components.items():
        slope = c2.components[name] - v1
        out.add(name, (v1 - slope) * steps + slope * keys)
    for (name, m, n, p, r), (_, _, n2, p2, _) in zip(c1.matmuls, c2.matmuls, strict=True):
        if n2 != n:  # k is the inner dimension: one product of inner size Σk
            out.matmuls.append((name, m, keys, p, r))
        elif p2 != p:  # k is the outer dimension
            out.matmuls.append((name, m, n, keys, r))
        else:
            out.matmuls.append((name, m, n, p, r * steps))
    return out


def generation_flops(
    arch: Architecture,
    prompt_len: int,
    new_tokens: int,
    batch: int = 1,
    lora: LoraSpec | None = None,
    head_vocab: int | None = None,
    static_kv: int | None = None,
    prefill_batch: int | None = None,
) -> int:
    """Total FLOPs of :func:`generation_count`."""
    count = generation_count(
        arch, prompt_len, new_tokens, batch, lora, head_vocab, static_kv, prefill_batch
    )
    return count.total


def decode_passes_flops(
    arch: Architecture,
    passes: Sequence[tuple[int, int]],
    batch: int,
    lora: LoraSpec | None = None,
    head_vocab: int | None = None,
) -> int:
    """FLOPs of decode passes ``(w, k)``: ``w`` tokens per row fed together (``w > 1`` when
    grammar-forced tokens are jumped forward) attending to ``k`` keys each, ``batch`` rows,
    logits at the last position only. With a static cache ``k`` is its slot count every
    pass; with shared-prefix attention it is the prompt plus the tokens generated so far."""
    counts = Counter(passes)
    return sum(
        n
        * forward_count(
            arch, w, k=k, batch=batch, lora=lora, logits_positions=1, head_vocab=head_vocab
        ).total
        for (w, k), n in counts.items()
    )


def component_table(count: Count, multiplier: int = 1) -> list[dict]:
    """Rows ``{component, flops, share}`` (``share`` of the total, 0–1)."""
    total = count.total * multiplier
    return [
        {
            "component": c,
            "flops": v * multiplier,
            "share": (v * multiplier / total) if total else 0.0,
        }
        for c, v in count.components.items()
    ]


def report(
    arch: Architecture,
    seq_len: int,
    batch: int = 1,
    mode: str = "forward",
    new_tokens: int = 0,
    lora_rank: int = 0,
    lora_targets: Sequence[str] = ("q_proj", "v_proj"),
) -> dict:
    """Everything ``lmcast flops`` prints, as a JSON-ready dict."""
    lora = LoraSpec(lora_rank, tuple(lora_targets)) if lora_rank > 0 else None
    fwd = forward_count(arch, seq_len, batch=batch, lora=lora)
    out: dict = {
        "model": arch.name,
        "architecture": asdict(arch),
        "mode": mode,
        "seq_len": seq_len,
        "batch": batch,
        "lora": asdict(lora) if lora else None,
        "lora_parameters": lora_parameter_count(arch, lora) if lora else 0,
        "forward_flops": fwd.total,
        "train_step_flops": 3 * fwd.total,
    }
    if mode == "generate":
        gen = generation_count(arch, seq_len, new_tokens, batch=batch, lora=lora)
        out.update(
            new_tokens=new_tokens,
            generate_flops=gen.total,
            total_flops=gen.total,
            components=component_table(gen),
        )
    elif mode == "train":
        out.update(total_flops=3 * fwd.total, components=component_table(fwd, multiplier=3))
    else:
        out.update(total_flops=fwd.total, components=component_table(fwd))
    return out


def format_table(rep: dict) -> str:
    """A fixed-width text table of :func:`report`'s output."""
    lines = [
        f"model {rep['model']}  mode {rep['mode']}  seq_len {rep['seq_len']}  batch {rep['batch']}"
        + (f"  new_tokens {rep['new_tokens']}" if rep["mode"] == "generate" else "")
        + (
            f"  LoRA r={rep['lora']['rank']} on {','.join(rep['lora']['targets'])}"
            if rep["lora"]
            else ""
        ),
        "",
        f"{'component':<16}{'FLOPs':>14}{'share':>9}",
    ]
    lines += [
        f"{r['component']:<16}{r['flops']:>14.4e}{100 * r['share']:>8.2f}%"
        for r in rep["components"]
    ]
    lines += [
        "-" * 39,
        f"{'total':<16}{rep['total_flops']:>14.4e}",
        "",
        f"forward pass      {rep['forward_flops']:.6e}",
        f"training step     {rep['train_step_flops']:.6e}  (= 3 × forward)",
    ]
    if rep["mode"] == "generate":
        lines.append(f"generation        {rep['generate_flops']:.6e}")
    return "\n".join(lines)
