"""Batched constrained generation vs Hugging Face ``generate``, one process, same model.

Three ways to produce the same forecasts' worth of tokens (the HF runs are asked
for exactly as many new tokens as the constrained run needed per trajectory):

* lmcast: :func:`lmcast.lm.decode.sample_paths`, batched, grammar-constrained, with
  shared-prefix sampling (one prefill per window and, with K samples, its KV attended
  to once by all K rows) and jump-forward decoding;
* lmcast as it was before both (each sample's prompt prefilled on its own, every
  token chosen by a pass of its own), to show that neither costs time;
* HF ``generate`` one trajectory at a time (batch 1; with K samples it returns
  K sequences per prompt);
* HF ``generate`` at lmcast's batch size (left-padded prompts).

``speedup`` is one-at-a-time time / lmcast time; ``speedup_same_batch`` the
same against HF at the same batch; ``speedup_vs_previous`` lmcast-before / lmcast;
``shared_prefix_attention_speedup`` the same forecasts with the window's KV copied to
each of its K rows (as before shared-prefix attention) / lmcast.
Jump-forward decoding is timed on and off (the default: on CUDA, and with K > 1 samples);
``decode_passes_jump_forward`` counts its one- and two-token passes. ``--samples K`` samples K forecasts per
trajectory (temperature 0.7, top-p 0.9) instead of greedy decoding.

    .venv/bin/python benchmarks/bench_generation.py --model smollm2-135m --n 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from json_out import emit


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def measure_generation(
    model: str,
    n: int = 20,
    context_steps: int = 50,
    horizon: int = 20,
    batch_size: int = 20,
    samples: int = 1,
    seed: int = 0,
) -> dict:
    """Seconds and tokens/s of the three ways; see the module docstring."""
    import torch

    from lmcast.core.codec import encoding
    from lmcast.core.codec.scheme import Encoding
    from lmcast.core.series.lotka_volterra import simulate
    from lmcast.lm import prefix_attention
    from lmcast.lm.decode import Sampling, default_jump_forward, sample_paths
    from lmcast.lm.models import load_model, machine_name

    lm = load_model(model)
    x, _, _ = simulate(n=n, steps=context_steps + horizon, seed=seed)
    ctx = x.astype(np.float64)[:, :context_steps]
    alpha, precision = encoding.auto_alpha(x), 2
    k = samples
    sampling = (
        {"do_sample": True, "temperature": 0.7, "top_p": 0.9} if k > 1 else {"do_sample": False}
    )

    def ours(jump: bool | None, contexts=ctx, steps=horizon, shared: bool = True):
        _sync(lm.device)
        t0 = time.perf_counter()
        how = Sampling(k, seed=seed, batch_size=batch_size, jump_forward=jump,
                       shared_attention=shared)  # fmt: skip
        fc = sample_paths(lm, contexts, steps, alpha, Encoding(precision), how)
        _sync(lm.device)
        return fc, time.perf_counter() - t0

    ours(None, ctx[:2], 2)  # warm-up: grammar tables, first passes (not timed)
    fc, t_ours = ours(None)  # the defaults
    # what sample_paths() chose by default (K > 1: decoded with shared-prefix attention)
    jump_default = default_jump_forward(lm.device, k > 1 and prefix_attention.supported(lm.model))
    fc_other, t_other = ours(not jump_default)
    t_jump, t_nojump = (t_ours, t_other) if jump_default else (t_other, t_ours)
    passes = fc if jump_default else fc_other
    # the K samples' prompt KV copied to each row instead of attended to once (greedy: the same)
    t_copied = ours(None, shared=False)[1] if k > 1 else t_ours
    t_prev = _previous_algorithm(lm, ctx, horizon, alpha, precision, k, batch_size, seed)
    tok = lm.tokenizer
    needed = [
        max(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts) for texts in fc.texts
    ]
    useful = int(
        sum(len(tok(t, add_special_tokens=False)["input_ids"]) for ts in fc.texts for t in ts)
    )
    prompts = [encoding.encode(c, alpha, precision) + ";" for c in ctx]
    forced_share = _forced_share(lm, fc, ctx, alpha, precision)

    def hf(batch_prompts: list[str], new: int) -> None:
        enc = tok(batch_prompts, add_special_tokens=False, padding=True, return_tensors="pt")
        with torch.inference_mode():
            lm.model.generate(
                **enc.to(lm.device),
                max_new_tokens=new,
                min_new_tokens=new,
                num_return_sequences=k,
                pad_token_id=tok.pad_token_id,
                **sampling,
            )

    torch.manual_seed(seed)
    _sync(lm.device)
    t0 = time.perf_counter()
    for i in range(n):
        hf([prompts[i]], needed[i])
    _sync(lm.device)
    t_single = time.perf_counter() - t0

    per_batch = max(1, batch_size // k)  # the same number of sequences per batch as lmcast
    t0 = time.perf_counter()
    for b in range(0, n, per_batch):
        hf(prompts[b : b + per_batch], max(needed[b : b + per_batch]))
    _sync(lm.device)
    t_batch = time.perf_counter() - t0
    return {
        "model": model,
        "device": str(lm.device),
        "machine": machine_name(str(lm.device)),
        "torch_threads": torch.get_num_threads(),
        "trajectories": n,
        "samples": k,
        "context_steps": context_steps,
        "horizon": horizon,
        "batch_size": batch_size,
        "generated_tokens": useful,
        "parse_success": float(fc.parse_success.mean()),
        "lmcast_s": round(t_ours, 3),
        "lmcast_previous_s": round(t_prev, 3),
        "jump_forward_default": jump_default,
        "lmcast_jump_forward_s": round(t_jump, 3),
        "lmcast_no_jump_forward_s": round(t_nojump, 3),
        "lmcast_prefix_copied_s": round(t_copied, 3),
        "shared_prefix_attention_speedup": round(t_copied / t_ours, 2),
        "forced_token_share": round(forced_share, 4),
        "decode_passes_jump_forward": {
            "one_token": passes.stats.decode_passes[0],
            "two_tokens": passes.stats.decode_passes[1],
        },
        "hf_one_at_a_time_s": round(t_single, 3),
        "hf_same_batch_s": round(t_batch, 3),
        "lmcast_tokens_per_s": round(useful / t_ours, 1),
        "hf_one_at_a_time_tokens_per_s": round(useful / t_single, 1),
        "hf_same_batch_tokens_per_s": round(useful / t_batch, 1),
        "speedup": round(t_single / t_ours, 2),
        "speedup_same_batch": round(t_batch / t_ours, 2),
        "speedup_vs_previous": round(t_prev / t_ours, 2),
        "jump_forward_speedup": round(t_nojump / t_jump, 2),
    }


def _forced_share(lm, fc, ctx, alpha: float, precision: int) -> float:
    """Share of the generated tokens the grammar forced (the only token allowed there),
    under the grammar :func:`lmcast.lm.decode.sample_paths` built for these contexts."""
    from lmcast.core.codec.scheme import Encoding
    from lmcast.lm.decode import grammar_tables

    grammar = Encoding(precision).grammar(ctx, [alpha] * len(ctx))
    tab = grammar_tables(lm, grammar)
    col = {int(t): k for k, t in enumerate(tab.token_ids.tolist())}
    total = forced = 0
    for texts in fc.texts:
        for text in texts:
            state = tab.auto.start
            for t in lm.tokenizer(text, add_special_tokens=False)["input_ids"]:
                if t not in col:
                    break
                total += 1
                forced += int(tab.forced[state]) >= 0
                state = int(tab.nxt[state, col[t]])
                if state < 0:
                    break
    return forced / max(total, 1)


def _previous_algorithm(lm, ctx, horizon, alpha, precision, k, batch_size, seed) -> float:
    """Seconds of the same forecasts the way lmcast made them before shared-prefix sampling
    and jump-forward decoding: each of the K prompts repeated and prefilled, one pass per token."""
    from lmcast.core.codec import encoding
    from lmcast.core.codec.scheme import Encoding
    from lmcast.lm.decode import Sampling, generate_texts

    grammar = Encoding(precision).grammar(ctx, [alpha] * len(ctx))
    prompts = [encoding.encode(c, alpha, precision) + ";" for c in ctx for _ in range(k)]
    _sync(lm.device)
    t0 = time.perf_counter()
    # each prompt repeated K times: one draw each, at temperature 0.7 when K > 1
    how = Sampling(1, 0.7 if k > 1 else 0.0, 0.9 if k > 1 else 1.0, seed, batch_size,
                   jump_forward=False)  # fmt: skip
    generate_texts(lm, prompts, grammar, horizon, how, progress=False)
    _sync(lm.device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=20, help="trajectories")
    ap.add_argument("--context-steps", type=int, default=50)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--samples", type=int, default=1, help="K sampled forecasts per trajectory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the result JSON here")
    a = ap.parse_args()
    res = measure_generation(
        a.model, a.n, a.context_steps, a.horizon, a.batch_size, a.samples, a.seed
    )
    emit(res, a.out, "bench_generation.py")


if __name__ == "__main__":
    main()
