"""Write a randomly initialised model directory of a built-in architecture (speed checks).

Speed does not depend on the weights, so throughput can be measured on the
real architecture without downloading it. The tokenizer is the test suite's
character-level LLMTIME tokenizer (digits, ``.``, ``,``, ``;``, ``-``): a
window of N tokens costs the same whatever the tokenizer, and the model keeps
its real vocabulary size (the full-vocabulary LM head is part of the cost).

    python benchmarks/random_model.py qwen2.5-0.5b /tmp/qwen-random
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def hf_config(name: str):
    """A transformers config for a built-in :data:`lmcast.accounting.flops.ARCHITECTURES` entry."""
    from transformers import LlamaConfig, Qwen2Config

    from lmcast.accounting.flops import ARCHITECTURES

    a = ARCHITECTURES[name]
    common = dict(
        hidden_size=a.hidden,
        num_hidden_layers=a.layers,
        num_attention_heads=a.heads,
        num_key_value_heads=a.kv_heads,
        intermediate_size=a.intermediate,
        vocab_size=a.vocab,
        tie_word_embeddings=a.tied_embeddings,
        max_position_embeddings=8192,
    )
    return Qwen2Config(**common) if name.startswith("qwen") else LlamaConfig(**common)


def write(name: str, out: str | Path) -> Path:
    """Save the random model (float32) and the character tokenizer into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM

    from tiny_models import tiny_tokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config(name), dtype=torch.float32)
    model.save_pretrained(out)
    tiny_tokenizer().save_pretrained(out)
    return Path(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="qwen2.5-0.5b or smollm2-135m")
    ap.add_argument("out")
    args = ap.parse_args()
    print(write(args.name, args.out))
