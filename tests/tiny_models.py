"""Tiny randomly initialised causal LMs (built from a config, no download) for tests."""

from __future__ import annotations


def tiny_config(kind: str = "llama", layers: int = 2, vocab: int = 64):
    """A few-layer Llama or Qwen2 config with small widths."""
    from transformers import LlamaConfig, Qwen2Config

    common = dict(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=vocab,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        attn_implementation="eager",
    )
    if kind == "qwen2":
        return Qwen2Config(**common)
    return LlamaConfig(**common)


def tiny_model(kind: str = "llama", layers: int = 2, vocab: int = 64, seed: int = 0):
    """A float32 random model in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = tiny_config(kind, layers, vocab)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    return model.eval()
