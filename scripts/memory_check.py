"""Check lmcast.lm.memory's per-sequence estimates against the allocator: peak-RSS growth.

Runs one training forward/backward (LoRA r8 q/v, full-vocabulary loss, 512 tokens) or
one prefill into a static cache (900-token prompts, 1,200 slots) of the bundled
SmolLM2-135M in float32 with ``B`` sequences, and prints the peak-RSS growth beside
the estimate per sequence. Run it for B = 1 and B = 3 in separate processes; the
measured cost of one sequence is half the difference:

    for m in train gen; do for b in 1 3; do
        .venv/bin/python scripts/memory_check.py $m $b; done; done
"""

from __future__ import annotations

import resource
import sys


def main(mode: str, batch: int) -> None:
    import torch

    from lmcast.lm import memory
    from lmcast.lm.models import load_model

    lm = load_model("smollm2-135m", dtype="float32")
    torch.manual_seed(0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "train":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(lm.model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
        ids = torch.randint(0, 100, (batch, 512))
        model(input_ids=ids, labels=ids).loss.backward()
        estimate = memory.training_bytes(lm.arch, 512, None, 4)
    else:
        from transformers import StaticCache

        ids = torch.randint(0, 100, (batch, 900))
        with torch.inference_mode():
            cache = StaticCache(config=lm.model.config, max_cache_len=1200)
            lm.model.model(input_ids=ids, past_key_values=cache, use_cache=True)
        estimate = memory.generation_bytes(lm.arch, 900, 1200, 4)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"{mode} batch {batch}: peak RSS +{(peak - base) / 1024:,.0f} MiB; "
          f"estimate {estimate / 2**20:,.0f} MiB per sequence")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
