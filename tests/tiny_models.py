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


CHARS = list("0123456789.,;-")
# A few multi-character tokens so the grammar automaton is exercised beyond single characters.
MULTI = ["0.", ",1", ";0", "12", "5;", ".5", "ab"]


def tiny_tokenizer(multi: bool = True):
    """A character-level fast tokenizer over the LLMTIME alphabet (+ a few multi-char tokens,
    unless ``multi`` is false: then, as in SmolLM2's and Qwen's vocabularies, some grammar
    states allow a single token)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {
        t: i
        for i, t in enumerate(
            ["<pad>", "<eos>", "<unk>", *CHARS, *(MULTI if multi else ()), " ", "x"]
        )
    }
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    return tok


def save_tiny(path, kind: str = "llama", layers: int = 2, seed: int = 0):
    """Write a tiny random model + tokenizer directory loadable by ``lmcast --model PATH``."""
    tok = tiny_tokenizer()
    model = tiny_model(kind, layers=layers, vocab=len(tok), seed=seed)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
