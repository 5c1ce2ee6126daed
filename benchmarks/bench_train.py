"""lmcast's training loop vs a plain reference loop, same model, data and machine, one process.

The reference is written the way the reference study did it: float32, Adam,
LoRA r=8 on q/v, batch 4 processed one window at a time (gradient
accumulation of single windows), the model's own full-vocabulary loss, no
other tuning. lmcast's loop is :func:`lmcast.lm.train.train` with its defaults
(batched windows, the restricted LLMTIME head, bfloat16 autocast where the
device has fast bfloat16). Prints tokens/s of both and the ratio; on a GPU
also achieved FLOP/s (by lmcast's FLOP rules) and the share of the bf16 peak.

    .venv/bin/python benchmarks/bench_train.py --model smollm2-135m --steps 6 --context-length 256
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from json_out import emit

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def reference_loop(
    model_name: str, windows: np.ndarray, steps: int, batch: int, lr: float, seed: int
) -> float:
    """Seconds for ``steps`` reference optimizer steps."""
    import torch
    from peft import LoraConfig, get_peft_model

    from lmcast.lm.models import load_model

    lm = load_model(model_name, dtype="float32")
    torch.manual_seed(seed)
    model = get_peft_model(
        lm.model,
        LoraConfig(
            r=8,
            lora_alpha=16,
            target_modules=["q_proj", "v_proj"],
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = np.random.default_rng(seed)
    if lm.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        for w in windows[rng.choice(len(windows), batch, replace=False)]:
            ids = torch.as_tensor(w[None], device=lm.device)
            loss = model(input_ids=ids, labels=ids).loss / batch
            loss.backward()
        opt.step()
        opt.zero_grad()
    if lm.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def layer_matmul_rate(arch, tokens: int, dtype_name: str, repeats: int = 5) -> dict:
    """FLOP/s of one decoder layer's linear maps at the model's shapes: ``tokens`` rows
    through q, k, v, o and the three MLP projections (``(tokens × in)·(in × out)``,
    ``tokens·out·(2·in − 1)`` FLOPs each, the ledger's rule), timed together after a
    warm-up. The attention scores and the norms are left out: this is the rate the
    CPU reaches on the work that dominates training's count, its practical ceiling."""
    import torch

    h, kv, f = arch.hidden, arch.kv_heads * arch.d_head, arch.intermediate
    shapes = [(h, h), (h, kv), (h, kv), (h, h), (h, f), (h, f), (f, h)]
    dtype = getattr(torch, dtype_name)
    xs = {n: torch.randn(tokens, n, dtype=dtype) for n in {h, f}}
    ws = [torch.randn(i, o, dtype=dtype) for i, o in shapes]

    def layer() -> None:
        for (i, _), w in zip(shapes, ws, strict=True):
            xs[i] @ w

    layer()
    t0 = time.perf_counter()
    for _ in range(repeats):
        layer()
    seconds = (time.perf_counter() - t0) / repeats
    flops = sum(tokens * o * (2 * i - 1) for i, o in shapes)
    return {"dtype": dtype_name, "tokens": tokens, "flops_per_s": flops / seconds}


# self-time categories of a training step's operators, matched in this order
OP_CATEGORIES = (
    ("attention", ("scaled_dot_product", "flash_attention", "_efficient_attention")),
    ("loss: restricted head and cross-entropy", ("log_softmax", "nll_loss", "cross_entropy")),
    ("optimizer (AdamW)", ("adam", "_foreach", "clip_grad", "norm_")),
    ("matmul", ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")),
    ("dtype casts and copies", ("aten::to", "aten::_to_copy", "aten::copy_", "aten::clone")),
    ("elementwise, norms, activations", ("aten::",)),
)


def op_profile(
    model: str, context_length: int, batch_size: int, targets: list[str], steps: int = 2
) -> dict:
    """Where one training step's CPU time goes: ``steps`` steps built as
    :func:`lmcast.lm.train.train` runs them (PEFT LoRA r8 on ``targets``, the restricted
    LLMTIME head, bf16 autocast where the CPU has fast bf16, AdamW, gradient clipping)
    under ``torch.profiler`` after one warm-up step; operators' self time summed per
    :data:`OP_CATEGORIES` (the rest: Python and autograd bookkeeping)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch.profiler import ProfilerActivity, profile

    from lmcast.core.codec.grammar import alphabet_token_ids
    from lmcast.lm.models import load_model
    from lmcast.lm.train import LossModule, use_bf16

    lm = load_model(model, dtype="float32")
    torch.manual_seed(0)
    peft = get_peft_model(
        lm.model,
        LoraConfig(r=8, lora_alpha=16, target_modules=targets, lora_dropout=0.0),
    )
    head = alphabet_token_ids(lm.tokenizer.convert_ids_to_tokens(range(len(lm.tokenizer))))
    loss_mod = LossModule.build(peft, head)
    opt = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-4)
    bf16 = use_bf16("auto", "cpu")
    ids = torch.as_tensor(np.random.default_rng(0).choice(head, size=(batch_size, context_length)))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_mod(ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(peft.parameters(), 1.0)
        opt.step()
        opt.zero_grad()

    step()
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - t0) / steps
    shares = {name: 0.0 for name, _ in OP_CATEGORIES}
    top: dict[str, float] = {}
    for ev in prof.key_averages():
        us = ev.self_cpu_time_total
        for name, keys in OP_CATEGORIES:
            if any(k in ev.key.lower() for k in keys):
                shares[name] += us
                break
        top[ev.key] = us
    total = sum(top.values())
    return {
        "bf16_autocast": bf16,
        "targets": targets,
        "profiled_step_s": round(wall, 3),
        "self_time_share": {k: round(v / total, 3) for k, v in shares.items()},
        "other_share": round(1 - sum(shares.values()) / total, 3),
        "top_ops": {
            k: round(v / total, 3) for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:12]
        },
    }


def measure_train(
    model: str,
    steps: int = 6,
    context_length: int = 256,
    batch_size: int = 4,
    lr: float = 1e-4,
    autocast: str = "auto",
    seed: int = 0,
) -> dict:
    """tokens/s of the seed-style loop and of lmcast's, same model, data and process."""
    import torch

    from lmcast.configs import TrainConfig
    from lmcast.core.codec import encoding
    from lmcast.core.series.data import load_dataset
    from lmcast.core.series.lotka_volterra import simulate_file
    from lmcast.core.series.windows import make_windows
    from lmcast.lm.models import load_tokenizer
    from lmcast.lm.train import train

    tmp = Path(tempfile.mkdtemp(prefix="lmcast-bench-"))
    data = tmp / "lv.h5"
    simulate_file(data, n=100, seed=seed)
    x = load_dataset(data).trajectories
    alpha = encoding.auto_alpha(x)
    tok = load_tokenizer(model)
    windows = make_windows([encoding.encode(t, alpha, 2) for t in x[:80]], tok, context_length)

    ref_s = reference_loop(model, windows, steps, batch_size, lr, seed)
    tokens = steps * batch_size * context_length

    cfg = TrainConfig(
        model=model,
        data=str(data),
        out=str(tmp / "run"),
        max_steps=steps,
        context_length=context_length,
        batch_size=batch_size,
        lr=lr,
        eval_steps=10**9,
        eval_windows=1,
        save_steps=0,
        autocast=autocast,
        ledger=f"sqlite:///{tmp / 'ledger.db'}",
        progress=False,
        seed=seed,
    )
    res = train(cfg)
    summary = json.loads((tmp / "run" / "summary.json").read_text())
    ours_tps = res.tokens_per_second
    out = {
        "model": model,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        "steps": steps,
        "batch": batch_size,
        "context_length": context_length,
        "bf16_autocast": summary["bf16_autocast"],
        "reference_tokens_per_s": round(tokens / ref_s, 1),
        "lmcast_tokens_per_s": round(ours_tps, 1),
        "speedup": round(ours_tps / (tokens / ref_s), 2),
    }
    # achieved FLOP/s by lmcast's own count (restricted head: what it computes)
    flops_per_s = summary["step_flops"] * ours_tps / (batch_size * context_length)
    out["achieved_flops_per_s"] = flops_per_s
    if not torch.cuda.is_available():  # the CPU's own ceiling at the model's shapes
        from lmcast.accounting.flops import resolve_architecture

        arch = resolve_architecture(model)
        rows = batch_size * context_length
        rates = {
            d: layer_matmul_rate(arch, rows, d)["flops_per_s"] for d in ("bfloat16", "float32")
        }
        out["layer_matmul_flops_per_s"] = {d: round(v) for d, v in rates.items()}
        ceiling = max(rates.values())
        out["share_of_layer_matmul_rate"] = round(flops_per_s / ceiling, 3)
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        out.update(gpu=name, share_of_bf16_peak=round(flops_per_s / peak, 3) if peak else None)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    from lmcast.lm.models import machine_name

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--context-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--autocast", default="auto", choices=["auto", "bf16", "no"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument(
        "--profile-ops",
        default=None,
        metavar="TARGETS",
        help="also profile a training step with LoRA on these comma-separated modules: "
        "each operator category's share of the step's CPU time",
    )
    args = ap.parse_args()
    out = measure_train(
        args.model,
        args.steps,
        args.context_length,
        args.batch_size,
        args.lr,
        args.autocast,
        args.seed,
    )
    if args.profile_ops:
        out["op_profile"] = op_profile(
            args.model, args.context_length, args.batch_size, args.profile_ops.split(",")
        )
    out["machine"] = machine_name()
    emit(out, args.out, "bench_train.py")


if __name__ == "__main__":
    main()
