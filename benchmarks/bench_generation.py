"""Batched constrained generation vs one-trajectory-at-a-time ``model.generate``.

Both run in this one process on the same model and the same trajectories, so
the ratio is meaningful on a noisy machine. The one-at-a-time reference is
Hugging Face ``generate`` (greedy, KV cache, no constraint) asked for as many
new tokens as the constrained run needed for that trajectory.

    .venv/bin/python benchmarks/bench_generation.py --model smollm2-135m --n 20
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=20, help="trajectories")
    ap.add_argument("--context-steps", type=int, default=50)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from lmcast import encoding
    from lmcast.forecast import forecast
    from lmcast.lotka_volterra import simulate
    from lmcast.models import load_model

    lm = load_model(args.model)
    x, _, _ = simulate(n=args.n, steps=args.context_steps + args.horizon, seed=args.seed)
    x = x.astype(np.float64)
    ctx = x[:, : args.context_steps]
    alpha, precision = encoding.auto_alpha(x), 2

    t0 = time.perf_counter()
    fc = forecast(
        lm, ctx, args.horizon, alpha, precision, batch_size=args.batch_size, progress=False
    )
    t_batched = time.perf_counter() - t0
    new_tokens = [len(lm.tokenizer(t[0], add_special_tokens=False)["input_ids"]) for t in fc.texts]

    t0 = time.perf_counter()
    for i in range(args.n):
        prompt = encoding.encode(ctx[i], alpha, precision) + ";"
        enc = lm.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(lm.device)
        with torch.inference_mode():
            lm.model.generate(
                **enc,
                max_new_tokens=new_tokens[i],
                min_new_tokens=new_tokens[i],
                do_sample=False,
                pad_token_id=lm.tokenizer.pad_token_id,
            )
    t_single = time.perf_counter() - t0

    gen_tokens = int(sum(new_tokens))
    out = {
        "model": args.model,
        "device": str(lm.device),
        "torch_threads": torch.get_num_threads(),
        "trajectories": args.n,
        "context_steps": args.context_steps,
        "horizon": args.horizon,
        "batch_size": args.batch_size,
        "generated_tokens": gen_tokens,
        "parse_success": float(fc.parse_success.mean()),
        "batched_constrained_s": round(t_batched, 2),
        "one_at_a_time_generate_s": round(t_single, 2),
        "batched_tokens_per_s": round(gen_tokens / t_batched, 1),
        "single_tokens_per_s": round(gen_tokens / t_single, 1),
        "speedup": round(t_single / t_batched, 2),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
