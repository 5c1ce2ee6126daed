"""The language-model work: loading models and tokenizers, memory-bounded batches,
grammar-constrained decoding, LoRA training. Built on the core, accounting and comparison.
"""
