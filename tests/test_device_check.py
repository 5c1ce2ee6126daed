"""The device check's smoke mode: the same code as on a GPU, on the CPU with a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_device_check_smoke_writes_every_measurement(tmp_path):
    out = tmp_path / "check.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "device_check.py"),
            "--smoke",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["smoke"] and res["matmul_peak"]["flops_per_s"] > 0
    (train,) = res["train"]
    assert train["lmcast_tokens_per_s"] > 0 and train["reference_tokens_per_s"] > 0
    assert train["share_of_measured_peak"] > 0
    assert [g["samples"] for g in res["generation"]] == [1, 10]
    for g in res["generation"]:
        assert g["parse_success"] == 1.0 and g["generated_tokens"] > 0
        assert g["speedup"] > 0 and g["speedup_same_batch"] > 0 and g["speedup_vs_previous"] > 0
        assert g["decode_passes_jump_forward"]["one_token"] > 0 and g["jump_forward_speedup"] > 0
        # CPU: on where K samples share the prompt's KV (the tiny Llama supports it)
        assert g["jump_forward_default"] is (g["samples"] > 1)
        assert 0 <= g["forced_token_share"] <= 1
        assert g["shared_prefix_attention_speedup"] > 0 and g["lmcast_prefix_copied_s"] > 0
    assert set(res["train_speedup"]) == {"tiny"}
    assert set(res["generation_speedup"]) == {"samples=1", "samples=10"}
    assert set(res["generation_speedup_vs_previous"]) == {"samples=1", "samples=10"}
    assert set(res["shared_prefix_attention_speedup"]) == {"samples=1", "samples=10"}
