"""Seconds per decode pass by batch size: a window's prompt KV copied to its K rows vs kept once.

One process, one model: for G windows × K samples (``--samples``), prefill G prompts of
``--prompt`` random tokens, then time ``--steps`` one-token decode passes

* ``copied``: a static cache of prompt + ``--new`` slots, each prompt's rows copied to its
  K rows (what lmcast does for greedy decoding, and did for sampling before);
* ``shared``: :mod:`lmcast.lm.prefix_attention`, timed right after the prefill and after
  ``--new // 2`` generated tokens (a forecast's midpoint, where each row attends to its
  own generated tokens too).

Per-row figures (seconds per pass / rows) show what a larger ``--batch-size`` buys;
``copied_attention_share`` is the share of a copied pass's CPU time spent in attention
(``torch.profiler``, the same passes again).

    .venv/bin/python benchmarks/bench_decode_step.py --model smollm2-135m --out step.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _timed(fn, steps: int) -> float:
    fn()  # warm-up pass, not timed
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def _attention_share(fn, steps: int) -> float:
    """Share of ``steps`` calls' own CPU time spent in scaled-dot-product attention kernels
    (``torch.profiler``)."""
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(steps):
            fn()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    sdpa = sum(e.self_cpu_time_total for e in events if "scaled_dot_product" in e.key)
    return round(sdpa / total, 3) if total else 0.0


def measure(
    model: str, windows: int, samples: int, prompt: int, new: int, steps: int, seed: int = 0
) -> dict:
    """Seconds per decode pass of ``windows × samples`` rows, both ways (see the module),
    through the decoders :func:`lmcast.lm.decode.generate_texts` uses."""
    import torch

    from lmcast.lm.decode import SharedPrefixDecode, StaticDecode
    from lmcast.lm.models import decoder_and_head, load_model
    from lmcast.lm.prefix_attention import shared_prefix_decoding

    lm = load_model(model)
    dec, _ = decoder_and_head(lm.model)
    dev = lm.device
    gen = torch.Generator().manual_seed(seed)
    rows = windows * samples
    ids = torch.randint(100, 1000, (windows, prompt), generator=gen).to(dev)
    attn = torch.ones_like(ids)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    expand = torch.arange(windows, device=dev).repeat_interleave(samples)
    feed = torch.randint(100, 1000, (rows, 1), generator=gen).to(dev)
    out: dict = {"windows": windows, "samples": samples, "rows": rows}
    with torch.inference_mode():
        copied = StaticDecode(dec, ids, attn, pos, expand, prompt + new + 2 * steps + 2)
        out["copied_s"] = _timed(lambda: copied.step(feed), steps)
        out["copied_attention_share"] = _attention_share(lambda: copied.step(feed), steps)
        shared = SharedPrefixDecode(dec, ids, attn, pos, expand, new + 2 * steps + 2)
        with shared_prefix_decoding(lm.model):
            out["shared_s"] = _timed(lambda: shared.step(feed), steps)
            while shared.cache.length < new // 2:
                shared.step(feed)
            out["shared_midpoint_s"] = _timed(lambda: shared.step(feed), steps)
    for k in ("copied_s", "shared_s", "shared_midpoint_s"):
        out[k.replace("_s", "_ms_per_row")] = round(1000 * out[k] / rows, 3)
        out[k] = round(out[k], 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--windows", default="1,2,5,10,20", help="comma-separated G values")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--prompt", type=int, default=560, help="prompt tokens (50 steps ≈ 560)")
    ap.add_argument("--new", type=int, default=220, help="tokens a forecast generates")
    ap.add_argument("--steps", type=int, default=6, help="timed passes per measurement")
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args()
    import torch

    from lmcast.lm.models import machine_name

    res = {
        "model": a.model,
        "machine": machine_name(),
        "torch_threads": torch.get_num_threads(),
        "prompt_tokens": a.prompt,
        "new_tokens": a.new,
        "runs": [
            measure(a.model, int(g), a.samples, a.prompt, a.new, a.steps)
            for g in a.windows.split(",")
        ],
    }
    text = json.dumps(res, indent=2)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
