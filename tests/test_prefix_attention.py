"""Shared-prefix attention equals attention over each row's own copy of the prompt."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_decoder_outputs_match_a_static_cache_with_copied_rows(kind):
    """Hidden states of the decoder, pass by pass (one token, then two), with the prompt's
    KV kept once per prompt vs copied to every row of a static cache: left padding,
    three prompts × four rows, float32."""
    import torch
    from transformers import DynamicCache, StaticCache

    from lmcast.lm.models import decoder_and_head
    from lmcast.lm.prefix_attention import SharedPrefixCache, shared_prefix_decoding, supported
    from tiny_models import tiny_model

    model = tiny_model(kind, layers=2, seed=1)
    assert supported(model)
    dec, _ = decoder_and_head(model)
    g, k, p_len = 3, 4, 7
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 60, (g, p_len), generator=gen)
    attn = torch.ones(g, p_len, dtype=torch.long)
    attn[0, :2] = 0  # left padding
    attn[2, :1] = 0
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    expand = torch.arange(g).repeat_interleave(k)
    feeds = [torch.randint(3, 60, (g * k, w), generator=gen) for w in (1, 1, 2, 1, 2)]
    with torch.inference_mode():
        static = StaticCache(config=model.config, max_cache_len=p_len + 8)
        dec(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, cache=static)
        static.reorder_cache(expand)
        a, p = attn[expand], pos[expand]
        reference = []
        for f in feeds:
            w = f.shape[1]
            a = torch.cat([a, torch.ones(g * k, w, dtype=a.dtype)], 1)
            p = p[:, -1:] + torch.arange(1, w + 1)
            out = dec(input_ids=f, attention_mask=a, position_ids=p, use_cache=True, cache=static)
            reference.append(out.last_hidden_state)
        prefix = DynamicCache(config=model.config)
        dec(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, cache=prefix)
        shared = SharedPrefixCache(prefix, attn, k, capacity=8)
        p = pos[expand]
        before = model.config._attn_implementation
        with shared_prefix_decoding(model):
            for f, ref in zip(feeds, reference, strict=True):
                w = f.shape[1]
                p = p[:, -1:] + torch.arange(1, w + 1)
                out = dec(
                    input_ids=f, position_ids=p, use_cache=True, cache=shared, shared_prefix=shared
                )
                shared.advance()
                torch.testing.assert_close(out.last_hidden_state, ref, atol=2e-6, rtol=1e-5)
        assert model.config._attn_implementation == before  # restored after the block
        assert shared.get_seq_length() == p_len + 7


def test_a_full_cache_is_an_error_not_an_overwrite():
    import torch
    from transformers import DynamicCache

    from lmcast.lm.models import decoder_and_head
    from lmcast.lm.prefix_attention import SharedPrefixCache
    from tiny_models import tiny_model

    model = tiny_model("llama", layers=1)
    dec, _ = decoder_and_head(model)
    prefix = DynamicCache(config=model.config)
    ids = torch.randint(3, 60, (1, 4))
    with torch.inference_mode():
        dec(input_ids=ids, use_cache=True, cache=prefix)
        shared = SharedPrefixCache(prefix, torch.ones(1, 4), rows=2, capacity=1)
        key = torch.zeros(2, model.config.num_key_value_heads, 2, 8)
        with pytest.raises(RuntimeError, match="full"):
            shared.update(key, key, 0)


def test_only_tested_decoders_are_supported():
    from transformers import AutoModelForCausalLM, GPT2Config

    from lmcast.lm.prefix_attention import supported
    from tiny_models import tiny_model

    gpt2 = AutoModelForCausalLM.from_config(GPT2Config(n_layer=1, n_embd=16, n_head=2))
    assert not supported(gpt2)
    qwen = tiny_model("qwen2", layers=1)
    qwen.config.use_sliding_window = True
    assert not supported(qwen)
