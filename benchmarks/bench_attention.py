"""Attention implementations for training on this machine: the same model, LoRA, windows and
weights, one process, the implementations interleaved (A B A B …) so machine noise hits all.

For each implementation transformers offers here (``sdpa``: PyTorch's
scaled_dot_product_attention, whose CPU path is a flash-attention kernel; ``eager``: the
matmul-softmax-matmul reference), time ``--steps`` forward + backward passes of LoRA r8 on
every linear layer (bfloat16 autocast where the CPU has fast bfloat16, as ``lmcast train``
chooses) and check that the losses agree on the same batch. Prints tokens/s of each and
the ratio to ``sdpa`` (lmcast's choice).

    .venv/bin/python benchmarks/bench_attention.py --steps 6 --context-length 512 --out x.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from json_out import emit

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from lmcast.lm.models import load_model, machine_name
    from lmcast.lm.train import use_bf16

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per implementation")
    ap.add_argument("--context-length", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--implementations", default="sdpa,eager")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    impls = args.implementations.split(",")
    lm = load_model(args.model, dtype="float32")
    torch.manual_seed(0)
    model = get_peft_model(lm.model, LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS))
    model.train()
    bf16 = use_bf16("auto", lm.device.type)
    rng = np.random.default_rng(0)
    text = ";".join(f"{x:.0f}" for x in 500 + 400 * np.sin(np.arange(4000) / 7))
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    L, B = args.context_length, args.batch_size

    def batch() -> torch.Tensor:
        starts = rng.integers(0, len(ids) - L, B)
        return torch.tensor(np.stack([ids[s : s + L] for s in starts]))

    def step(impl: str, x: torch.Tensor) -> float:
        model.base_model.model.set_attn_implementation(impl)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss)

    same = batch()
    losses = {i: step(i, same) for i in impls}  # also the warm-up of each
    seconds = {i: 0.0 for i in impls}
    for _ in range(args.steps):
        x = batch()
        for i in impls:
            t0 = time.perf_counter()
            step(i, x)
            seconds[i] += time.perf_counter() - t0
    tokens = args.steps * B * L
    out = {
        "model": args.model,
        "context_length": L,
        "batch_size": B,
        "steps": args.steps,
        "bf16_autocast": bf16,
        "lora": "r8 on every linear layer",
        "torch": torch.__version__,
        "machine": machine_name(),
        "implementations": {
            i: {
                "tokens_per_s": tokens / seconds[i],
                "ratio_to_sdpa": seconds["sdpa"] / seconds[i] if "sdpa" in seconds else None,
                "loss_on_the_same_batch": losses[i],
            }
            for i in impls
        },
    }
    emit(out, args.out, "bench_attention.py")


if __name__ == "__main__":
    main()
