"""One device check: lmcast's training and generation speed against plain references, one JSON.

On a GPU (at most 8 minutes on one H100): the measured bf16 matmul peak of the
card; training tokens/s and achieved TFLOP/s of lmcast's loop against the
seed-style loop on randomly initialised Qwen2.5-0.5B and SmolLM2-135M
architectures (speed does not depend on the weights), with the share of the
measured peak; generation tokens/s of lmcast against Hugging Face ``generate``
at batch 1 and at the same batch, greedy and with K = 10 samples. ``--smoke``
runs the same code on the CPU with a tiny model in well under a minute (the
test suite does).

    python benchmarks/device_check.py --out device_check.json
    python benchmarks/device_check.py --smoke --out smoke.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]


def matmul_peak(size: int, dtype_name: str, repeats: int = 10) -> dict:
    """FLOP/s of a ``size``³ matrix product (mean of ``repeats`` after 3 warm-ups)."""
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=dev, dtype=dtype)
    b = torch.randn(size, size, device=dev, dtype=dtype)
    for _ in range(3):
        a @ b
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if dev == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / repeats
    return {"size": size, "dtype": dtype_name, "flops_per_s": 2 * size**3 / seconds}


def run(smoke: bool) -> dict:
    """Every measurement of the check; see the module docstring."""
    import torch
    from bench_generation import measure_generation
    from bench_train import measure_train

    t_start = time.time()
    gpu = torch.cuda.is_available() and not smoke
    tmp = Path(tempfile.mkdtemp(prefix="lmcast-check-"))
    if gpu:
        from random_model import write

        models = {n: str(write(n, tmp / n)) for n in ("qwen2.5-0.5b", "smollm2-135m")}
        peak = matmul_peak(8192, "bfloat16")
        train_kw = {"steps": 20, "context_length": 512, "batch_size": 4}
        gen_kw = {"n": 8, "context_steps": 80, "horizon": 20, "batch_size": 8}
        gen_model = models["smollm2-135m"]
    else:
        from tiny_models import save_tiny

        models = {"tiny": str(save_tiny(tmp / "tiny", layers=2))}
        peak = matmul_peak(256, "float32", repeats=3)
        train_kw = {"steps": 2, "context_length": 64, "batch_size": 2}
        gen_kw = {"n": 3, "context_steps": 10, "horizon": 3, "batch_size": 3}
        gen_model = models["tiny"]
    train = []
    for name, path in models.items():
        r = measure_train(path, **train_kw)
        r["architecture"] = name
        r["share_of_measured_peak"] = round(r["achieved_flops_per_s"] / peak["flops_per_s"], 4)
        train.append(r)
    # the same windows per batch at K = 1 and K = 10 (K rows each)
    generation = [
        measure_generation(
            gen_model, samples=k, **{**gen_kw, "batch_size": gen_kw["batch_size"] * k}
        )
        for k in (1, 10)
    ]
    return {
        "smoke": smoke,
        "machine": {
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "matmul_peak": peak,
        "train": train,
        "generation": generation,
        "train_speedup": {r["architecture"]: r["speedup"] for r in train},
        "generation_speedup": {f"samples={g['samples']}": g["speedup"] for g in generation},
        "generation_speedup_vs_previous": {
            f"samples={g['samples']}": g["speedup_vs_previous"] for g in generation
        },
        "shared_prefix_attention_speedup": {
            f"samples={g['samples']}": g["shared_prefix_attention_speedup"] for g in generation
        },
        "seconds": round(time.time() - t_start, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny model, under a minute")
    args = ap.parse_args(argv)
    res = run(args.smoke)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("train_speedup", "generation_speedup", "seconds")}))
    return res


if __name__ == "__main__":
    main()
