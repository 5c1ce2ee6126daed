"""FLOP calculator: hand counts, torch's flop counter, scaling laws, the CLI."""

from __future__ import annotations

import json

import pytest

from lmcast.accounting import flops
from lmcast.accounting.flops import Architecture, LoraSpec

TOY = Architecture("toy", hidden=8, layers=1, heads=2, kv_heads=1, intermediate=16, vocab=10)


def test_one_layer_toy_by_hand():
    """Every component of a 1-layer model over L=3 tokens, counted by hand from the rules."""
    c = flops.forward_count(TOY, 3).components
    L, h, H, G, d, inter, V = 3, 8, 2, 1, 4, 16, 10
    assert c["embedding"] == 0
    # rope on Q (2 heads) and K (1 head): per head vector 2*4 mul + 4 add + 2 neg = 14
    assert c["rope"] == L * (H + G) * 14 == 126
    # rmsnorm per token: 8 sq + 7 sum + 1 div + 1 eps + 10 sqrt + 1 inv + 8 + 8 = 44; two norms
    assert c["rmsnorm"] == 2 * L * 44 == 264
    assert c["q_proj"] == L * 8 * (2 * 8 - 1) == 360
    assert c["k_proj"] == c["v_proj"] == L * 4 * 15 == 180
    assert c["attn_scores"] == H * L * L * (2 * d - 1) == 126
    assert c["attn_scale"] == H * L * L == 18
    assert c["attn_softmax"] == H * L * (10 * L + (L - 1) + L) == 210
    assert c["attn_values"] == H * L * d * (2 * L - 1) == 120
    assert c["o_proj"] == L * h * (2 * 8 - 1) == 360
    assert c["residual"] == 2 * L * h == 48
    assert c["mlp_gate"] == c["mlp_up"] == L * inter * 15 == 720
    assert c["mlp_act"] == L * inter * (1 + 10 + 1 + 1) + L * inter * 1 + L * inter == 720
    assert c["mlp_down"] == L * h * (2 * 16 - 1) == 744
    assert c["final_norm"] == L * 44 == 132
    assert c["lm_head"] == L * V * 15 == 450
    assert (
        flops.forward_count(TOY, 3).total
        == 126 + 264 + 360 + 360 + 126 + 18 + 210 + 120 + 360 + 48 + 1440 + 720 + 744 + 132 + 450
    )


def test_lora_and_bias_terms_by_hand():
    arch = Architecture(
        "toyb", hidden=8, layers=1, heads=2, kv_heads=1, intermediate=16, vocab=10, qkv_bias=True
    )
    c = flops.forward_count(arch, 3, lora=LoraSpec(2, ("q_proj", "v_proj"))).components
    assert c["q_proj"] == 360 + 3 * 8
    assert c["v_proj"] == 180 + 3 * 4
    # q: x·A 3*2*15, ·B 3*8*3, scale+add 2*3*8 ; v: 3*2*15, 3*4*3, 2*3*4
    assert c["lora"] == (90 + 72 + 48) + (90 + 36 + 24)
    assert flops.lora_parameter_count(arch, LoraSpec(2)) == 2 * (8 + 8) + 2 * (8 + 4)


def test_training_is_three_forward_and_linear_in_batch():
    arch = flops.ARCHITECTURES["smollm2-135m"]
    f1 = flops.forward_count(arch, 128).total
    assert flops.forward_count(arch, 128, batch=4).total == 4 * f1
    assert flops.train_step_flops(arch, 128, batch=4) == 3 * 4 * f1
    lora = LoraSpec(8)
    assert (
        flops.train_step_flops(arch, 128, lora=lora)
        == 3 * flops.forward_count(arch, 128, lora=lora).total
    )


def test_attention_scores_quadratic_in_length():
    arch = flops.ARCHITECTURES["qwen2.5-0.5b"]
    a = flops.forward_count(arch, 256).components["attn_scores"]
    b = flops.forward_count(arch, 512).components["attn_scores"]
    assert b == 4 * a
    assert (
        flops.forward_count(arch, 512).components["mlp_up"]
        == 2 * flops.forward_count(arch, 256).components["mlp_up"]
    )


def test_generation_equals_prefill_plus_decode_steps():
    g = flops.generation_flops(TOY, prompt_len=5, new_tokens=3)
    expected = (
        flops.forward_count(TOY, 5, logits_positions=1).total
        + flops.forward_count(TOY, 1, k=6).total
        + flops.forward_count(TOY, 1, k=7).total
    )
    assert g == expected
    assert flops.generation_flops(TOY, 5, 3, batch=2) == 2 * g


def test_qwen_reference_numbers():
    arch = flops.ARCHITECTURES["qwen2.5-0.5b"]
    fwd = flops.forward_count(arch, 512).total
    assert 4.5e11 <= fwd <= 7.0e11
    assert flops.lora_parameter_count(arch, LoraSpec(8)) == 540_672


def _torch_count(model, input_ids, lora: bool = False) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=input_ids, use_cache=False)
    return counter.get_total_flops()


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("lora_rank", [0, 4])
def test_matmul_part_matches_torch_flop_counter(kind, lora_rank):
    """torch counts 2·m·n·p per product; ours must give the same Σ 2mnp."""
    import torch

    from tiny_models import tiny_model

    model = tiny_model(kind, layers=2)
    arch = flops.arch_from_hf_config(model.config.to_dict(), name="tiny")
    lora = None
    if lora_rank:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=lora_rank, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0
            ),
        )
        lora = LoraSpec(lora_rank, ("q_proj", "v_proj"))
    batch, length = 3, 17
    ids = torch.randint(0, arch.vocab, (batch, length))
    torch_total = _torch_count(model, ids)
    ours = flops.forward_count(arch, length, batch=batch, lora=lora)
    # Every product torch runs is one we count, and vice versa. (Torch's counter
    # records no FLOPs for the rotary-table product here; computing positional
    # encodings is free under the rules anyway.)
    assert 2 * ours.matmul_macs() == torch_total
    # Our convention m·p·(2n−1) is then torch's total minus Σ m·p over products.
    ours_matmul = sum(r * flops.matmul(m, n, p) for _, m, n, p, r in ours.matmuls)
    assert ours_matmul == torch_total - sum(r * m * p for _, m, _n, p, r in ours.matmuls)


def test_arch_from_hf_config_qwen_has_bias(tmp_path):
    from tiny_models import tiny_config

    cfg = tiny_config("qwen2").to_dict()
    assert flops.arch_from_hf_config(cfg).qkv_bias
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    assert flops.resolve_architecture(str(tmp_path)).hidden == 32


def test_cli_flops_json(run_cli):
    code, out, _ = run_cli("flops", "--model", "qwen2.5-0.5b", "--seq-len", 512, "--json")
    rep = json.loads(out)
    assert code == 0
    assert 4.5e11 <= rep["forward_flops"] <= 7.0e11
    assert rep["train_step_flops"] == 3 * rep["forward_flops"]
    names = [r["component"] for r in rep["components"]]
    for comp in (
        "embedding",
        "rope",
        "rmsnorm",
        "q_proj",
        "k_proj",
        "v_proj",
        "attn_scores",
        "attn_scale",
        "attn_softmax",
        "attn_values",
        "o_proj",
        "residual",
        "mlp_gate",
        "mlp_up",
        "mlp_act",
        "mlp_down",
        "final_norm",
        "lm_head",
    ):
        assert comp in names
    assert sum(r["flops"] for r in rep["components"]) == rep["total_flops"]


def test_cli_flops_bad_model(run_cli):
    code, _, err = run_cli("flops", "--model", "nope-7b")
    assert code == 2 and "unknown architecture" in err


def test_static_cache_and_restricted_head_terms():
    """A static cache attends over all its slots; a restricted head multiplies only K rows."""
    g = flops.generation_count(TOY, prompt_len=5, new_tokens=3, static_kv=9, head_vocab=4)
    expected = (
        flops.forward_count(TOY, 5, k=9, logits_positions=1, head_vocab=4).total
        + 2 * flops.forward_count(TOY, 1, k=9, head_vocab=4).total
    )
    assert g.total == expected
    assert g.components["lm_head"] == 3 * 1 * 4 * (2 * 8 - 1)
    assert flops.forward_count(TOY, 5, k=9).components["attn_scores"] == 2 * 5 * 9 * (2 * 4 - 1)


def _decode_loop(arch, prompt, new, batch=1, lora=None, head_vocab=None, static_kv=None):
    """The per-token definition the closed form must equal."""
    from lmcast.accounting import flops as F

    out = F.Count()
    out.merge(
        F.forward_count(
            arch,
            prompt,
            k=static_kv or prompt,
            batch=batch,
            lora=lora,
            logits_positions=1,
            head_vocab=head_vocab,
        )
    )
    for i in range(1, new):
        out.merge(
            F.forward_count(
                arch, 1, k=static_kv or prompt + i, batch=batch, lora=lora, head_vocab=head_vocab
            )
        )
    return out


@pytest.mark.parametrize(
    ("prompt", "new", "batch", "lora", "head_vocab", "static_kv"),
    [
        (50, 30, 1, None, None, None),
        (900, 211, 16, 8, 21, 1111),
        (7, 2, 3, 4, None, None),
        (5, 1, 1, None, None, None),
    ],
)
def test_generation_closed_form_equals_the_token_loop(
    prompt, new, batch, lora, head_vocab, static_kv
):
    from lmcast.accounting import flops as F

    arch = F.ARCHITECTURES["qwen2.5-0.5b"]
    spec = F.LoraSpec(lora) if lora else None
    want = _decode_loop(arch, prompt, new, batch, spec, head_vocab, static_kv)
    got = F.generation_count(arch, prompt, new, batch, spec, head_vocab, static_kv)
    assert got.components == want.components
    assert got.matmul_macs() == want.matmul_macs()
    # a million new tokens is arithmetic, not a million forward counts
    assert F.generation_flops(arch, 512, 10**6) > 10**6 * F.forward_count(arch, 1, k=512).total


@pytest.mark.parametrize("static_kv", [None, 260])
def test_decode_passes_add_up_to_the_generation_closed_form(static_kv):
    """One-token passes attending to the prompt plus what was generated (or to every slot
    of a static cache) cost what generation_count's decode steps cost; a two-token pass
    costs less than two one-token passes (one LM-head row) and more than one."""
    from lmcast.accounting import flops as F

    arch, spec = F.ARCHITECTURES["smollm2-135m"], F.LoraSpec(8)
    prompt, new, batch = 200, 40, 6
    passes = [(1, static_kv or prompt + i) for i in range(1, new)]
    prefill = F.generation_flops(arch, prompt, 1, batch, spec, 30, static_kv, prefill_batch=2)
    got = prefill + F.decode_passes_flops(arch, passes, batch, spec, head_vocab=30)
    want = F.generation_flops(arch, prompt, new, batch, spec, 30, static_kv, prefill_batch=2)
    assert got == want
    one = F.decode_passes_flops(arch, [(1, 300)], batch, spec, head_vocab=30)
    two = F.decode_passes_flops(arch, [(2, 300)], batch, spec, head_vocab=30)
    assert one < two < 2 * one
    assert F.decode_passes_flops(arch, [], batch) == 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[1, 2]", "a JSON object, not list"),
        (
            '{"hidden_size": -64, "num_hidden_layers": 2, "num_attention_heads": 2, '
            '"intermediate_size": 8, "vocab_size": 10}',
            "hidden_size must be a positive integer",
        ),
        (
            '{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 0, '
            '"intermediate_size": 8, "vocab_size": 10}',
            "num_attention_heads must be a positive",
        ),
    ],
)
def test_flops_refuses_malformed_configs(tmp_path, run_cli, content, needle):
    cfg = tmp_path / "config.json"
    cfg.write_text(content)
    code, out, err = run_cli("flops", "--model", cfg, "--seq-len", 8)
    assert code == 2 and needle in err and err.count("\n") == 1 and not out
