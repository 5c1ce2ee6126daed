"""Render the findings page's figure and tables from the experiments' own output files.

``make docs`` runs this (from ``docs/_ext``): it reads what
``scripts/learning_curve.py`` and ``scripts/ablations.py`` wrote (copied into
``docs/findings/``) and writes ``docs/_generated/``: ``learning_curve.png``,
``curve_table.inc`` and ``ablations_table.inc`` (reStructuredText tables the
page includes). No number is typed by hand.

    python scripts/findings.py docs/findings docs/_generated
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {c}" for c in row[1:]]
    return "\n".join(lines) + "\n"


def _versus(c: dict | None, digits: int = 3) -> str:
    if not c:
        return "–"
    lo, hi = c["ci95"]
    d = digits
    return f"{c['mean_difference']:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}], {c['verdict']}"


def _record(src: Path, name: str, inc: Path) -> dict | None:
    """The JSON record ``src/name``, or ``None`` after writing "(not measured yet)" to the
    page's include ``inc`` when it is not committed."""
    path = src / name
    if not path.is_file():
        inc.write_text("(not measured yet)\n")
        return None
    return json.loads(path.read_text())


def curve(src: Path, out: Path) -> None:
    """The learning curve: MAE (and validation loss) against training tokens."""
    from lmcast.compare.plots import pyplot, save_figure

    data = json.loads((src / "curve.json").read_text())
    pts = data["points"]
    tokens = [p["tokens"] for p in pts]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(tokens, [p["mae"] for p in pts], marker="o", label="LoRA SmolLM2 (val MAE)")
    ax.axhline(pts[0]["persistence_mae"], color="grey", ls="--", label="persistence")
    ax.set_xlabel("training tokens (512-token windows)")
    ax.set_ylabel("forecast MAE, 80 → 20 (original units)")
    ax.grid(alpha=0.3)
    loss = [(p["tokens"], p["val_loss"]) for p in pts if p.get("val_loss") is not None]
    if loss:
        ax2 = ax.twinx()
        ax2.plot(
            *zip(*loss, strict=True),
            color="tab:red",
            marker="s",
            ms=3,
            alpha=0.6,
            label="validation loss (right axis)",
        )
        ax2.set_ylabel("validation loss (nats/token)", color="tab:red")
        lines = ax.get_legend_handles_labels()
        more = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")
    else:
        ax.legend(fontsize=8, loc="upper right")
    a = data["args"]
    ax.set_title(
        f"{a['trajectories']} validation trajectories; lr {a['lr']:g}, cosine over {a['steps']} steps",
        fontsize=9,
    )
    save_figure(fig, out / "learning_curve.png")
    rows = [
        [
            str(p["step"]),
            f"{p['tokens']:,}",
            f"{p['train_flops']:.2e}",
            "–" if p.get("val_loss") is None else f"{p['val_loss']:.3f}",
            f"{p['mae']:.4f}",
            f"{p['persistence_mae']:.4f}",
            _versus(p.get("vs_persistence")),
        ]
        for p in pts
    ]
    head = [
        "step",
        "tokens",
        "FLOPs",
        "val loss",
        "val MAE",
        "persistence",
        "Δ vs persistence [95 % CI], verdict",
    ]
    (out / "curve_table.inc").write_text(_table(head, rows))


RECIPES = {  # curve file -> the recipe it ran (from its own args)
    "curve.json": "q/v, lr 1e-3, cosine",
    "curve_recipe.json": "every linear layer, lr 2e-3, cosine (the base of the variants)",
    "curve_recipe_qv.json": "q/v, lr 2e-3, cosine",
    "curve_recipe_lr3e-3.json": "every linear layer, lr 3e-3",
    "curve_recipe_b8.json": "every linear layer, batch 8 at equal tokens",
    "curve_recipe_r16.json": "every linear layer, rank 16, alpha 32",
    "curve_recipe_lossfrom256.json": "every linear layer, loss on each window's second half",
}
BASE_RECIPE = "curve_recipe.json"


def _describe(data: dict) -> str:
    a = data["args"]
    extra = shlex.split(a.get("extra", ""))
    opts = dict(zip(extra[::2], extra[1::2], strict=False))
    what = ["every linear layer" if "gate_proj" in a.get("extra", "") else "q/v"]
    if "--rank" in opts:
        what.append(f"rank {opts['--rank']}, alpha {opts.get('--lora-alpha', 16)}")
    if "--loss-from" in opts:
        what.append(f"loss from token {opts['--loss-from']}")
    return (
        f"{', '.join(what)}, lr {a['lr']:g}, batch {a['batch_size']}, warm-up {a['warmup']}, "
        f"cosine over {a['steps']} steps × {a['batch_size']} × {a['context_length']} tokens"
    )


def _crossing(data: dict) -> dict | None:
    """The first point whose paired interval against persistence excludes zero (beats)."""
    for p in data["points"]:
        if (p.get("vs_persistence") or {}).get("verdict") == "beats":
            return p
    return None


def _versus_base(point: dict, base: dict | None) -> str:
    """``point`` against the base recipe's point at the same tokens, paired over the same
    validation trajectories (variant − base MAE)."""
    from lmcast.compare.metrics import paired_comparison

    if base is None or point is None:
        return "–"
    other = next((p for p in base["points"] if p["tokens"] == point["tokens"]), None)
    if not (other and "per_trajectory_mae" in point and "per_trajectory_mae" in other):
        return "–"
    if other.get("indices") != point.get("indices"):
        return "– (other trajectories)"
    return _versus(paired_comparison(point["per_trajectory_mae"], other["per_trajectory_mae"]))


def recipes(src: Path, out: Path) -> None:
    """Every committed learning curve on one plot (MAE relative to its own persistence) and
    the recipe table: tokens, FLOPs and seconds to beat persistence, and the best point."""
    from lmcast.compare.plots import pyplot, save_figure

    curves = [(f, json.loads((src / f).read_text())) for f in RECIPES if (src / f).is_file()]
    base = dict(curves).get(BASE_RECIPE)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    rows = []
    for name, data in curves:
        pts = data["points"]
        label = _describe(data)
        ax.plot(
            [p["tokens"] for p in pts],
            [p["mae"] / p["persistence_mae"] for p in pts],
            marker="o",
            label=label.split(", warm-up")[0] + f" ({data['args']['trajectories']} traj.)",
        )
        cross = _crossing(data)
        tps = data.get("train_tokens_per_s") or float("nan")
        end = pts[-1]
        rows.append(
            [
                label,
                str(data["args"]["trajectories"]),
                f"{cross['tokens']:,}" if cross else "not reached",
                f"{cross['train_flops']:.2e}" if cross else "–",
                f"{cross['tokens'] / tps / 60:.0f} min at {tps:.0f} tokens/s" if cross else "–",
                " · ".join(f"{p['tokens'] / 1000:.0f}k: {p['mae']:.3f}" for p in pts[1:])
                + f" (persistence {end['persistence_mae']:.3f})",
                f"{end['tokens']:,}: " + _versus(end.get("vs_persistence")),
                "(the base)" if name == BASE_RECIPE else _versus_base(end, base),
            ]
        )
    ax.axhline(1.0, color="grey", ls="--", label="persistence")
    ax.set_xlabel("training tokens (512-token windows)")
    ax.set_ylabel("val MAE / persistence MAE, 80 → 20")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    save_figure(fig, out / "recipe_curves.png")
    head = [
        "recipe",
        "val traj.",
        "tokens to beat persistence",
        "FLOPs then",
        "CPU time then",
        "val MAE (training tokens: MAE)",
        "Δ vs persistence at the end [95 % CI]",
        "Δ vs the base recipe at the end [95 % CI]",
    ]
    (out / "recipe_table.inc").write_text(_table(head, rows) if rows else "(none)\n")


def ablations(src: Path, out: Path) -> None:
    """The ablation table: each variant against the base, paired over trajectories."""
    path = src / "ablations.json"
    if not path.is_file():
        (out / "ablations_table.inc").write_text("(no ablation results committed)\n")
        return
    data = json.loads(path.read_text())
    rows = []
    for r in data["rows"]:
        c = r.get("vs_base")
        delta = (
            f"{c['mean_difference']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c else "–"
        )
        rows.append(
            [
                r["name"],
                r["change"],
                f"{r['tokens']:,}",
                f"{r['train_flops']:.2e}",
                "–" if r.get("val_loss") is None else f"{r['val_loss']:.3f}",
                f"{r['mae']:.4f}",
                delta,
                c["verdict"] if c else "–",
            ]
        )
    head = [
        "variant",
        "change",
        "tokens",
        "train FLOPs",
        "val loss",
        "val MAE",
        "Δ MAE vs base [95 % CI]",
        "verdict",
    ]
    (out / "ablations_table.inc").write_text(_table(head, rows))


def gpu_training(src: Path, out: Path) -> None:
    """``benchmarks/bench_train.py`` outputs from a GPU: lmcast's loop vs the seed-style loop."""
    rows = []
    for path in sorted(src.glob("gpu_train_*.json")):
        r = json.loads(path.read_text())
        rows.append(
            [
                path.stem.removeprefix("gpu_train_"),
                r["gpu"],
                f"{r['batch']} × {r['context_length']}",
                f"{r['reference_tokens_per_s']:,.0f}",
                f"{r['lmcast_tokens_per_s']:,.0f}",
                f"{r['speedup']:.2f}×",
                f"{r['achieved_flops_per_s'] / 1e12:.1f}",
            ]
        )
    head = [
        "architecture",
        "card",
        "batch",
        "seed-style tokens/s",
        "lmcast tokens/s",
        "speedup",
        "TFLOP/s",
    ]
    (out / "gpu_train_table.inc").write_text(_table(head, rows) if rows else "(none)\n")


def gpu_ablation_training(src: Path, out: Path) -> None:
    """Validation loss of the ablation variants trained on a GPU (their forecasts were void)."""
    path = src / "gpu_ablation_training.json"
    rows = []
    if path.is_file():
        for name, r in json.loads(path.read_text()).items():
            rows.append(
                [
                    name,
                    f"{r['val_loss_initial']:.3f} → {r['val_loss_final']:.3f}",
                    f"{r['flops']:.3e}",
                    f"{r['tokens_per_second']:,.0f}",
                ]
            )
    head = [
        "variant",
        "val loss (step 0 → 160)",
        "train FLOPs",
        "tokens/s (6 runs sharing the card)",
    ]
    (out / "gpu_ablation_table.inc").write_text(_table(head, rows) if rows else "(none)\n")


def _machine(name: str) -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores' -> 'Intel Xeon, 2 cores' (a table cell)."""
    return name.replace("(R)", "").replace(" Processor", "").replace("  ", " ") or "–"


def performance(src: Path, out: Path) -> None:
    """The performance page's tables from ``benchmarks/*.py`` JSON outputs in ``src``
    (``*_generation_k*.json`` from bench_generation.py, ``*_train*.json`` from bench_train.py)."""
    gen = []
    for path in sorted(src.glob("*_generation_k*.json")):
        r = json.loads(path.read_text())
        passes = r["decode_passes_jump_forward"]
        shared = r.get("shared_prefix_attention_speedup")  # absent from runs before it existed
        gen.append(
            [
                path.stem.split("_")[0].upper(),
                _machine(r.get("machine", "")),
                str(r["samples"]),
                f"{r['trajectories']} × {r['samples']}, {r['context_steps']} → {r['horizon']}",
                str(r["batch_size"]),
                f"{r['lmcast_s']:.1f}",
                f"{r['lmcast_previous_s']:.1f}",
                f"{r['hf_same_batch_s']:.1f}",
                f"{r['hf_one_at_a_time_s']:.1f}",
                f"{r['speedup']:.2f}×",
                f"{r['speedup_same_batch']:.2f}×",
                f"{r['speedup_vs_previous']:.2f}×",
                "–" if shared is None or r["samples"] == 1 else f"{shared:.2f}×",
                f"{r['forced_token_share']:.0%}",
                f"{passes['one_token']} + {passes['two_tokens']}",
                f"{r['jump_forward_speedup']:.2f}×",
            ]
        )
    head = [
        "device",
        "machine",
        "K",
        "windows × samples, steps",
        "batch (rows)",
        "lmcast s",
        "lmcast before s",
        "HF same batch s",
        "HF one at a time s",
        "vs one at a time",
        "vs HF same batch",
        "vs lmcast before",
        "prompt KV once / copied to K rows",
        "forced tokens",
        "jump-forward passes (1 + 2 tokens)",
        "jump-forward on / off",
    ]
    machines = sorted(
        {m for p in src.glob("*.json") if (m := json.loads(p.read_text()).get("machine"))}
    )
    named = f"\nMachine: {'; '.join(machines)}.\n" if machines else ""
    (out / "performance_generation.inc").write_text(
        (_table(head, gen) + named) if gen else "(none)\n"
    )
    runs = [(p.stem, json.loads(p.read_text())) for p in sorted(src.glob("*_train*.json"))]
    train = []
    for stem, r in runs:
        train.append(
            [
                stem,
                f"{r['batch']} × {r['context_length']}",
                f"{r['reference_tokens_per_s']:,.0f}",
                f"{r['lmcast_tokens_per_s']:,.0f}",
                f"{r['speedup']:.2f}×",
            ]
        )
    head = ["run", "batch", "seed-style tokens/s", "lmcast tokens/s", "speedup"]
    (out / "performance_train.inc").write_text(_table(head, train) if train else "(none)\n")
    ceiling = []
    for stem, r in runs:
        rates = r.get("layer_matmul_flops_per_s")
        if not rates:  # measured before the benchmark reported the CPU's own ceiling
            continue
        ceiling.append(
            [
                stem,
                f"{r['batch']} × {r['context_length']}",
                f"{rates['bfloat16'] / 1e9:,.0f}",
                f"{rates['float32'] / 1e9:,.0f}",
                f"{r['achieved_flops_per_s'] / 1e9:,.0f}",
                f"{r['share_of_layer_matmul_rate']:.0%}",
            ]
        )
    head = [
        "run",
        "batch",
        "layer matmuls, bf16 GFLOP/s",
        "layer matmuls, float32 GFLOP/s",
        "training GFLOP/s (ledger count)",
        "share of the faster",
    ]
    (out / "performance_ceiling.inc").write_text(
        _table(head, ceiling) if ceiling else "(not measured yet)\n"
    )
    ops = []
    for stem, r in runs:
        prof = r.get("op_profile")
        if prof:  # bench_train --profile-ops: the step's self time per operator category
            shares = {
                **prof["self_time_share"],
                "Python, autograd and the rest": prof["other_share"],
            }
            ops += [[stem, name, f"{share:.1%}"] for name, share in shares.items()]
    (out / "performance_train_ops.inc").write_text(
        _table(["run", "operators", "share of a training step's CPU time"], ops)
        if ops
        else "(not measured yet)\n"
    )
    oracle = src / "cpu_oracle.json"
    if oracle.is_file():
        r = json.loads(oracle.read_text())
        rows = [
            [
                f"{r['trajectories']} × {r['protocol']}, noise σ {r['noise_sigma']}",
                f"{r['one_at_a_time_s']:.1f}",
                f"{r['batched_s']:.1f}",
                f"{r['speedup']:.1f}×",
                f"{r['one_at_a_time_mae']:.4f}",
                f"{r['batched_mae']:.4f}",
            ]
        ]
        head = [
            "contexts",
            "scipy one at a time s",
            "batched s",
            "speedup",
            "MAE scipy",
            "MAE batched",
        ]
        (out / "performance_oracle.inc").write_text(
            _table(head, rows) + f"\nMachine: {r['machine']}.\n"
        )
    else:
        (out / "performance_oracle.inc").write_text("(not measured yet)\n")
    step = src / "cpu_decode_step.json"
    rows = []
    if step.is_file():
        r = json.loads(step.read_text())
        for run in r["runs"]:
            rows.append(
                [
                    f"{run['windows']} × {run['samples']} = {run['rows']}",
                    f"{run['copied_ms_per_row']:.2f}",
                    f"{run['copied_attention_share']:.0%}"
                    if "copied_attention_share" in run
                    else "–",
                    f"{run['shared_ms_per_row']:.2f}",
                    f"{run['shared_midpoint_ms_per_row']:.2f}",
                    f"{run['copied_s'] / run['shared_midpoint_s']:.2f}×",
                ]
            )
    head = [
        "rows (windows × samples)",
        "prompt KV copied, ms per row",
        "copied: attention's share of the pass",
        "kept once, ms per row (start)",
        "kept once, ms per row (midpoint)",
        "copied / kept once (midpoint)",
    ]
    (out / "performance_decode_step.inc").write_text(_table(head, rows) if rows else "(none)\n")


def _markdown_tables(text: str) -> list[list[list[str]]]:
    """The pipe tables of a markdown text, each as rows of cells (header first)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):  # the |---| rule
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def profile_run(src: Path, out: Path) -> None:
    """Whole ``lmcast run`` reports (the files the runs wrote, copied to ``src``): each one's
    final-results tables (metrics, MAE per step, paired comparisons) for every protocol."""
    for report, inc in (
        ("cpu_profile_report.md", "cpu_profile_tables.inc"),
        ("cpu_fast_report.md", "cpu_fast_tables.inc"),
        ("reference_cpu_report.md", "reference_cpu_tables.inc"),
    ):
        path = src / report
        if not path.is_file():
            (out / inc).write_text("(not run)\n")
            continue
        text = path.read_text()
        start = text.index("## Final results")
        end = text.find("## Forecast figures", start)
        section = text[start : end if end > 0 else None]
        parts = []
        for heading, tables in zip(
            ["80 → 20 (the main protocol)", *re.findall(r"^### (.+)$", section, re.M)],
            _pairs(_markdown_tables(section)),
            strict=False,
        ):
            body = "\n".join(_table(t[0], t[1:]) for t in tables)
            parts.append(f"**{heading}**\n\n{body}")
        (out / inc).write_text("\n".join(parts))


def _pairs(tables: list) -> list[list]:
    """Group the report's tables per protocol: each group starts at a metrics table (its
    header's first cell is "forecaster"), followed by its per-step and comparison tables."""
    groups: list[list] = []
    for t in tables:
        if t[0][0] == "forecaster" or not groups:
            groups.append([])
        groups[-1].append(t)
    return groups


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def _paired_classics(data: dict, rows: list[dict]) -> str:
    """Each adapter against zero-shot and the classical forecasters, paired over series:
    the geometric mean of the per-series MASE ratio and its 95 % bootstrap interval
    (:func:`lmcast.compare.metrics.paired_comparison` on log MASE)."""
    import math

    import numpy as np

    from lmcast.compare.metrics import paired_comparison

    labels = {r["forecaster"]: r["label"] for r in rows}
    per = data["per_series"]
    lines = []
    adapters = [r["forecaster"] for r in rows if r["forecaster"].startswith("adapter:")]
    for i, a in enumerate(adapters):
        # then each adapter against those listed after it (rows run best first)
        for b in ("zero-shot", "ets", "arima", "theta", "snaive", *adapters[i + 1 :]):
            if b not in labels or b == a:
                continue
            pairs = [(v[a], v[b]) for v in per.values() if v.get(a, 0) > 0 and v.get(b, 0) > 0]
            if len(pairs) < 2:
                continue
            x, y = (np.log(np.array(c)) for c in zip(*pairs, strict=True))
            cmp = paired_comparison(x, y)
            lo, hi = (math.exp(v) for v in cmp["ci95"])
            lines.append(
                [labels[a], labels[b], str(cmp["n"]), f"{math.exp(cmp['mean_difference']):.3f}",
                 f"[{lo:.3f}, {hi:.3f}]", f"{cmp['win_rate']:.2f}", cmp["verdict"]]
            )  # fmt: skip
    if not lines:
        return ""
    head = ["adapter", "against", "series", "MASE ratio (geometric mean)", "95 % interval",
            "share of series better", "verdict"]  # fmt: skip
    return "\nPaired over series (MASE ratio; below 1: the adapter is better):\n\n" + _table(
        head, lines
    )


def classics(src: Path, out: Path) -> None:
    """The real-series benchmark (``scripts/real_series_benchmark.py`` wrote
    ``src/classics_*.json``): one leaderboard table per run, sorted by MASE relative to
    seasonal naive, and the per-dataset MASE table; likewise for the second suite
    (``src/rdatasets_*.json``, ``--suite rdatasets``), and both suites' test runs pooled."""
    for path in sorted([*src.glob("classics_*.json"), *src.glob("rdatasets_*.json")]):
        data = json.loads(path.read_text())
        rows = sorted(data["rows"], key=lambda r: r.get("mase_vs_snaive") or 9e9)
        body = [
            [
                r["label"],
                _num(r["mase_gmean"]),
                _num(r.get("mase_vs_snaive")),
                _num(r.get("wql_vs_snaive")),
                f"{r.get('better_than_snaive', '–')} of {r['series']}",
                f"{r['seconds']:.1f}",
                f"{r['flops']:.2e}" if r["flops"] else "–",
            ]
            for r in rows
        ]
        head = [
            "forecaster",
            "MASE (geometric mean)",
            "MASE / seasonal naive",
            "WQL / seasonal naive",
            "series better than seasonal naive (MASE)",
            "seconds",
            "FLOPs",
        ]
        text = _table(head, body)
        names = [r["forecaster"] for r in rows]
        per = data["per_dataset"]
        text += "\nMASE per dataset (mean over its series):\n\n" + _table(
            ["dataset", *[r["label"] for r in rows]],
            [[d, *[_num(per[d].get(n, {}).get("mase")) for n in names]] for d in per],
        )
        text += _paired_classics(data, rows)
        text += (
            f"\nWall time {data['wall_seconds']:.0f} s on {data['cpu']}. Commands: "
            + "; ".join(f"``{c}``" for c in data["commands"])
            + ".\n"
        )
        (out / f"{path.stem}.inc").write_text(text)
    pooled_suites(src, out)


def pooled_suites(src: Path, out: Path) -> None:
    """The general adapter against the others over both suites' test runs together
    (``classics_general.json`` and ``rdatasets_general.json``: 24 + 36 series), paired over
    the series that every compared forecaster scored."""
    paths = [src / "classics_general.json", src / "rdatasets_general.json"]
    if not all(p.is_file() for p in paths):
        (out / "suites_pooled.inc").write_text("(not measured yet)\n")
        (out / "suites_by_frequency.inc").write_text("(not measured yet)\n")
        return
    runs = [json.loads(p.read_text()) for p in paths]
    per = {
        f"{p.stem}/{k}": v
        for p, r in zip(paths, runs, strict=True)
        for k, v in r["per_series"].items()
    }
    common = set.intersection(*({r["forecaster"] for r in run["rows"]} for run in runs))
    rows = [r for r in runs[1]["rows"] if r["forecaster"] in common]
    rows.sort(key=lambda r: r.get("mase_vs_snaive") or 9e9)
    (out / "suites_pooled.inc").write_text(_paired_classics({"per_series": per}, rows) or "–\n")
    (out / "suites_by_frequency.inc").write_text(_by_frequency(per))


def _by_frequency(per: dict[str, dict[str, float]]) -> str:
    """The general adapter against AutoETS, zero-shot and seasonal naive, paired over the
    series of each frequency (keys ``<suite>/<frequency>/<series>``)."""
    import numpy as np

    rivals = ("ets", "zero-shot", "snaive")
    rows = []
    for freq in ("monthly", "weekly", "quarterly", "yearly"):
        keys = [k for k, v in per.items() if k.split("/")[1] == freq
                and all(v.get(f, 0) > 0 for f in ("adapter:general", *rivals))]  # fmt: skip
        if len(keys) < 3:  # too few for an interval (one or two weekly series)
            continue
        mine = np.log([per[k]["adapter:general"] for k in keys])
        rows.append([freq, str(len(keys)), *(
            _ratio_versus(mine, np.log([per[k][r] for k in keys])) for r in rivals
        )])  # fmt: skip
    head = ["frequency", "series", "general / AutoETS [95 %]", "general / zero-shot [95 %]",
            "general / seasonal naive [95 %]"]  # fmt: skip
    return _table(head, rows)


#: the sampling and context study of the general adapter (``src/sampling/``): arm → label;
#: each arm's runs are ``classics_general_<arm>_o<origin>_s<seed>_validation.json``
SAMPLING_ARMS = {
    "temp07": "temperature 0.7, 200 context steps (the default)",
    "temp03": "temperature 0.3",
    "temp05": "temperature 0.5",
    "temp10": "temperature 1.0",
    "temp13": "temperature 1.3",
    "ctx150": "150 context steps for every forecaster (``--context-steps 150``)",
    "cap150": "the adapter takes 150 steps (``max_context_steps``), protocol 200",
}


def _sampling_runs(src: Path, arm: str, seeds: tuple[int, ...]) -> list[dict]:
    runs = []
    for o in (1, 2):
        for s in seeds:
            p = src / f"classics_general_{arm}_o{o}_s{s}_validation.json"
            if p.is_file():
                runs.append(json.loads(p.read_text()))
    return runs


def _ratio_versus(x, y) -> str:
    """Paired log scores ``x`` against ``y`` (``(N,)`` each) as the ratio of geometric means,
    its 95 % interval, and how many series are better and worse (ties apart)."""
    import math

    from lmcast.compare.metrics import paired_comparison

    c = paired_comparison(x, y)
    lo, hi = (math.exp(v) for v in c["ci95"])
    d = x - y
    return (f"{math.exp(c['mean_difference']):.3f} [{lo:.3f}, {hi:.3f}]; better on "
            f"{int((d < -1e-12).sum())}, worse on {int((d > 1e-12).sum())} of {c['n']}")  # fmt: skip


def sampling_study(src: Path, out: Path) -> None:
    """The general adapter's sampling temperature and context length on the classics'
    validation contexts (``src/sampling/``, runs of ``scripts/real_series_benchmark.py
    --validation``): per arm and block of seeds, the geometric mean over runs of MASE and WQL
    relative to seasonal naive, and each arm against the default, paired over the 24
    series (per-series mean log MASE over the block's runs)."""
    import math

    import numpy as np

    folder, rows = src / "sampling", []
    if not folder.is_dir():
        (out / "sampling_table.inc").write_text("(not measured yet)\n")
        return

    def score(run: dict, key: str) -> float:
        return next(r for r in run["rows"] if r["forecaster"] == "adapter:general")[key]

    def per_series(runs: list[dict]) -> dict[str, float]:
        acc: dict[str, list[float]] = {}
        for run in runs:
            for sid, v in run["per_series"].items():
                acc.setdefault(sid, []).append(math.log(v["adapter:general"]))
        return {k: float(np.mean(v)) for k, v in acc.items()}

    for seeds in ((0, 1, 2), (3, 4, 5)):
        base = _sampling_runs(folder, "temp07", seeds)
        for arm, label in SAMPLING_ARMS.items():
            runs = _sampling_runs(folder, arm, seeds)
            if len(runs) != 2 * len(seeds):  # a block is whole or left out
                continue
            m, w = (math.exp(np.mean([math.log(score(r, k)) for r in runs]))
                    for k in ("mase_vs_snaive", "wql_vs_snaive"))  # fmt: skip
            versus = "–"
            if arm != "temp07" and len(base) == len(runs):
                a, b = per_series(runs), per_series(base)
                keys = sorted(set(a) & set(b))
                versus = _ratio_versus(
                    np.array([a[k] for k in keys]), np.array([b[k] for k in keys])
                )
            rows.append([f"{seeds[0]}–{seeds[-1]}", label, str(len(runs)), f"{m:.3f}", f"{w:.3f}",
                         versus])  # fmt: skip
    head = ["seeds", "arm", "runs", "MASE / seasonal naive", "WQL / seasonal naive",
            "MASE against the default, paired over series [95 %]"]  # fmt: skip
    (out / "sampling_table.inc").write_text(_table(head, rows))


MIXTURE_ARMS = {
    "v7:20": "20 paths of the general adapter (today's forecaster)",
    "v7:10+v7b:10": "10 + 10 of it, two sampling streams (control)",
    "v7:20+v7b:20": "40 of it (twice the cost)",
    "v7:10+v7c75:10": "10 + 10 of it given only the last 75 steps",
    "v7:10+zs:10": "10 of it + 10 of the base model (zero-shot)",
    "v7:10+v6:10": "10 of it + 10 of v6",
    "v7:7+v6:7+v4:6": "7 of it + 7 of v6 + 6 of v4",
    "zs:20": "20 of the base model (zero-shot), for scale",
    "v8:20": "20 of v8 (v7's recipe, season share 0.5; a candidate, not shipped)",
}


#: the general adapter combined with AutoETS (``src/sampling/combination.json``)
COMBINATION_ARMS = {
    "ets": "AutoETS alone",
    "v7:20": "the general adapter alone (20 paths; its median)",
    "v7:20|ets": "both at equal weight: the mean of the two points and of each quantile level",
}


def mixture_study(src: Path, out: Path) -> None:
    """Equal-cost mixtures of sample paths (``src/sampling/mixtures.json``) and the general
    adapter combined with AutoETS (``combination.json``), both from ``scripts/sample_mixtures.py
    score``: :func:`arms_table` of each."""
    arms_table(src / "sampling" / "mixtures.json", out / "mixtures_table.inc", MIXTURE_ARMS)
    arms_table(
        src / "sampling" / "combination.json", out / "combination_table.inc", COMBINATION_ARMS
    )


def arms_table(path: Path, inc: Path, labels: dict[str, str]) -> None:
    """Per arm of a ``sample_mixtures.py score`` record the geometric mean over runs and
    series of MASE and WQL relative to seasonal naive, and against the reference arm, paired
    over the series (per-series mean log MASE over the runs)."""
    import math

    import numpy as np

    if not path.is_file():
        inc.write_text("(not measured yet)\n")
        return
    rec = json.loads(path.read_text())

    def per_series(arm: str) -> dict[str, float]:
        acc: dict[str, list[float]] = {}
        for run in rec["arms"][arm].values():
            for sid, v in run.items():
                acc.setdefault(sid, []).append(math.log(v[0]))
        return {k: float(np.mean(v)) for k, v in acc.items()}

    base = per_series(rec["reference"])
    rows = []
    for arm, runs in rec["arms"].items():
        cells = [v for run in runs.values() for v in run.values()]
        m = math.exp(np.mean([math.log(v[0] / v[2]) for v in cells]))
        w = math.exp(np.mean([math.log(v[1] / v[3]) for v in cells if v[1] and v[3]]))
        versus = "–"
        if arm != rec["reference"]:
            a = per_series(arm)
            keys = sorted(set(a) & set(base))
            versus = _ratio_versus(
                np.array([a[k] for k in keys]), np.array([base[k] for k in keys])
            )
        rows.append([f"``{arm}``", labels.get(arm, ""), str(len(runs)), f"{m:.3f}",
                     f"{w:.3f}", versus])  # fmt: skip
    head = ["arm", "forecast", "runs", "MASE / seasonal naive", "WQL / seasonal naive",
            "MASE against the first row, paired over series [95 %]"]  # fmt: skip
    inc.write_text(_table(head, rows))


#: the general adapter trained on from with ``--init-adapter`` on the classics' contexts
#: (``src/grown/grown_o<origin>_s<seed>_validation.json``): a run folder's name → arm, label
GROWN_ARMS = {
    "general": ("general", "the shipped general adapter alone"),
    "g1": ("G1", "trained on from general: 60 steps, lr 1e-3"),
    "g2": ("G2", "trained on from general: 60 steps, lr 3e-4"),
}


def grown_study(src: Path, out: Path) -> None:
    """The general adapter against itself trained on from on the classics' own contexts
    (``src/grown/``, runs of ``scripts/real_series_benchmark.py --validation``): per arm the
    geometric mean over runs of MASE and WQL relative to seasonal naive, per origin and in
    all, and against general, paired over the 24 series (per-series mean log MASE)."""
    import math

    import numpy as np

    runs = sorted((src / "grown").glob("grown_o*_s*_validation.json"))
    if not runs:
        (out / "grown_table.inc").write_text("(not measured yet)\n")
        return

    def arm(forecaster: str) -> str | None:
        name = forecaster.removeprefix("adapter:").rstrip("/").rsplit("/", 1)[-1]
        return name.split("_o")[0] if name.split("_o")[0] in GROWN_ARMS else None

    scores: dict[str, dict[int, list]] = {}
    logs: dict[str, dict[str, list[float]]] = {}
    for p in runs:
        run, origin = json.loads(p.read_text()), int(p.stem.split("_o")[1][0])
        for r in run["rows"]:
            if a := arm(r["forecaster"]):
                cell = (r["mase_vs_snaive"], r["wql_vs_snaive"])
                scores.setdefault(a, {}).setdefault(origin, []).append(cell)
        for sid, v in run["per_series"].items():
            for f, m in v.items():
                if a := arm(f):
                    logs.setdefault(a, {}).setdefault(sid, []).append(math.log(m))

    def gmean(cells: list, i: int) -> str:
        return f"{math.exp(np.mean([math.log(c[i]) for c in cells])):.3f}"

    base = {k: float(np.mean(v)) for k, v in logs["general"].items()}
    rows = []
    for a, (label, text) in GROWN_ARMS.items():
        if a not in scores:
            continue
        every = [c for cells in scores[a].values() for c in cells]
        mine = {k: float(np.mean(v)) for k, v in logs[a].items()}
        keys = sorted(set(mine) & set(base))
        versus = (
            "–"
            if a == "general"
            else _ratio_versus(np.array([mine[k] for k in keys]), np.array([base[k] for k in keys]))
        )
        per_origin = " / ".join(gmean(scores[a][o], 0) for o in sorted(scores[a]))
        rows.append([label, text, str(len(every)), per_origin, gmean(every, 0), gmean(every, 1),
                     versus])  # fmt: skip
    head = ["arm", "what", "runs", "MASE / seasonal naive, origin 1 / 2", "MASE, all runs",
            "WQL, all runs", "MASE against general, paired over series [95 %]"]  # fmt: skip
    (out / "grown_table.inc").write_text(_table(head, rows))


def recipe_levers(src: Path, out: Path) -> None:
    """The equal-time lever table (``recipe_levers.json``, from ``scripts/recipe_levers.py``):
    speed, steps and tokens in the reference's wall-clock time, validation MAE and the paired
    difference; the attention implementations; greedy against sampled medians."""
    path = src / "recipe_levers.json"
    if not path.is_file():
        (out / "levers_table.inc").write_text("(not measured yet)\n")
        return
    data = json.loads(path.read_text())
    body = []
    for r in data["levers"]:
        cmp = r.get("vs_reference")
        body.append(
            [
                r["name"],
                f"{r['tokens_per_s']:.0f}",
                f"{r['speed_ratio']:.2f}",
                str(r["steps"]),
                f"{r['tokens']:,}",
                f"{r['mae']:.3f}",
                _versus(cmp) if cmp else "(reference)",
            ]
        )
    head = ["recipe", "training tokens/s", "speed vs reference", "steps in equal time",
            "tokens seen", "val MAE 80 → 20", "difference to reference [95 %]"]  # fmt: skip
    text = _table(head, body)
    att = data.get("attention")
    if att:
        text += f"\nAttention implementations (``{att['command']}``, {att['machine']}):\n\n"
        text += _table(
            ["implementation", "training tokens/s", "speed vs sdpa", "loss on the same batch"],
            [
                [
                    k,
                    f"{v['tokens_per_s']:.0f}",
                    f"{v['ratio_to_sdpa']:.2f}",
                    f"{v['loss_on_the_same_batch']:.4f}",
                ]
                for k, v in att["implementations"].items()
            ],
        )
    smp = data.get("sampled", {}).get("comparison")
    if smp:
        k1, k2 = [k for k in data["sampled"] if k != "comparison"]
        text += (
            f"\nSampled medians at 80 → 20 (validation, the same final model): greedy MAE "
            f"{data['sampled'][k1]['mae']:.3f}, median of {k2} paths "
            f"{data['sampled'][k2]['mae']:.3f}; difference {_versus(smp)}; generation time "
            f"{smp['time_ratio']:.2f}× greedy's.\n"
        )
    text += f"\nCommand: ``{data['command']}``.\n"
    (out / "levers_table.inc").write_text(text)


def format_study(src: Path, out: Path) -> None:
    """The text-format table (``format_study.json``, from ``scripts/format_study.py``):
    tokens per step, speeds, validation MAE along the curve and the paired difference
    against the reference format at each point."""
    path = src / "format_study.json"
    if not path.is_file():
        (out / "format_table.inc").write_text("(not measured yet)\n")
        return
    data = json.loads(path.read_text())
    rows = []
    for f in data["formats"]:
        trained = [p for p in f["points"] if p["step"] > 0]
        end = trained[-1]
        rows.append(
            [
                f["name"] + (" (reference)" if f["name"] == data["reference"] else ""),
                f"{f['prompt_tokens_per_step']:.2f} / {f['generated_tokens_per_step']:.2f}",
                f"{512 / f['prompt_tokens_per_step']:.0f}",
                f"{f['train_flops_per_step']:.3e}",
                f"{f['train_tokens_per_s']:.0f}" if f.get("train_tokens_per_s") else "–",
                f"{f['seconds_per_generated_step']:.3f}",
                " · ".join(f"{p['tokens'] / 1000:.0f}k: {p['mae']:.3f}" for p in trained)
                + f" (persistence {end['persistence_mae']:.3f})",
                " · ".join(
                    f"{p['tokens'] / 1000:.0f}k: " + _versus(p.get("vs_reference"))
                    for p in trained
                    if p.get("vs_reference")
                )
                or "–",
            ]
        )
    head = [
        "format",
        "tokens per step (prompt / generated)",
        "steps per 512-token window",
        "training FLOPs per step",
        "training tokens/s",
        "s per generated step (50 rows)",
        "val MAE, 80 → 20 (training tokens: MAE)",
        "Δ vs the reference [95 % CI]",
    ]
    (out / "format_table.inc").write_text(_table(head, rows))


def context_map(src: Path, out: Path, name: str = "context_map") -> None:
    """The context map (``<name>.json``, from ``scripts/context_map.py``): MAE against
    context length per forecaster (a figure and a table) and the fine-tuned model's paired
    verdicts against VAR (with the win rate)."""
    from lmcast.compare.plots import pyplot, save_figure

    data = _record(src, f"{name}.json", out / f"{name}.inc")
    if data is None:
        return
    rows = data["rows"]
    names = list(rows[0]["mae"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for n in names:
        ax.plot(
            [r["context_steps"] for r in rows], [r["mae"][n] for r in rows], marker="o", label=n
        )
    ax.set_xlabel(f"context steps (horizon {rows[0]['horizon']})")
    ax.set_ylabel("test MAE (original units)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, out / f"{name}.png")
    head = ["context → horizon", *names, "fine-tuned − VAR [95 % CI], win rate",
            "fine-tuned − ODE oracle"]  # fmt: skip
    table = [
        [
            f"{r['context_steps']} → {r['horizon']}",
            *[f"{r['mae'][n]:.3f}" for n in names],
            _versus_won(r["fine_tuned_vs"].get("VAR")),
            _versus_won(r["fine_tuned_vs"].get("ODE oracle")),
        ]
        for r in rows
    ]
    (out / f"{name}.inc").write_text(_table(head, table))


def _versus_won(c: dict | None, digits: int = 3) -> str:
    """:func:`_versus` (to ``digits`` decimals) with the share of trajectories the first
    forecaster wins."""
    if not c:
        return "–"
    return f"{_versus(c, digits)}; better on {c['win_rate']:.0%}"


def many_series(src: Path, out: Path) -> None:
    """The many-series table (``cpu_many_series.json``, from benchmarks/bench_many_series.py)."""
    r = _record(src, "cpu_many_series.json", out / "performance_many_series.inc")
    if r is None:
        return
    head = ["machine", "series × steps → horizon", "batched: s (series/s)",
            "one per call: s for N (series/s)", "speed-up", "batched = one per call"]  # fmt: skip
    row = [
        _machine(r["machine"]),
        f"{r['series']} × {r['steps']} → {r['horizon']}",
        f"{r['batched_seconds']:.1f} ({r['batched_series_per_s']:.1f})",
        f"{r['single_seconds']:.1f} for {r['single_series']} ({r['single_series_per_s']:.2f})",
        f"{r['speedup']:.1f}×",
        f"{r['share_same_as_single']:.0%} of {r['single_series']}",
    ]
    (out / "performance_many_series.inc").write_text(_table(head, [row]))


def simulator_check(src: Path, out: Path) -> None:
    """The simulator check (``simulator_check.json``): models trained on each simulator and
    on the reference half, scored on the reference half's test split."""
    data = _record(src, "simulator_check.json", out / "simulator_check.inc")
    if data is None:
        return
    head = ["trained on", "MAE on the reference", "vs the reference-trained [95 % CI], win rate",
            "vs VAR [95 % CI], win rate"]  # fmt: skip
    rows = [
        [
            r["trained_on"],
            f"{r['mae']:.4f}",
            _versus_won(r["vs_reference_trained"]),
            _versus_won(r["vs_var"]),
        ]
        for r in data["rows"]
    ]
    rows.append(["VAR (fitted to each context)", f"{data['var_mae']:.4f}", "", ""])
    (out / "simulator_check.inc").write_text(_table(head, rows))


def simulator_noise(src: Path, out: Path) -> None:
    """The check's noise arms (``simulator_noise.json``): each simulator's model on the
    reference half's test split, paired with the noise-free simulator's and with VAR."""
    data = _record(src, "simulator_noise.json", out / "simulator_noise.inc")
    if data is None:
        return
    head = ["trained on", "rate noise", "MAE on the reference",
            "vs noise-free [95 % CI], win rate", "vs VAR [95 % CI], win rate"]  # fmt: skip
    rows = [
        [
            r["trained_on"],
            r["noise"],
            f"{r['mae']:.4f}",
            _versus_won(r["vs_noise_free"]) if r["vs_noise_free"] else "",
            _versus_won(r["vs_var"]),
        ]
        for r in data["rows"]
    ]
    rows.append(["VAR (fitted to each context)", "", f"{data['var_mae']:.4f}", "", ""])
    (out / "simulator_noise.inc").write_text(_table(head, rows))


def reference_combination(src: Path, out: Path) -> None:
    """The model averaged with VAR (``reference_combination.json``, from
    scripts/combination_check.py): validation and test sets of the reference half."""
    data = _record(src, "reference_combination.json", out / "reference_combination.inc")
    if data is None:
        return
    head = ["set", "model", "VAR", "model+VAR", "model+VAR vs model [95 % CI], win rate",
            "model+VAR vs VAR [95 % CI], win rate"]  # fmt: skip
    rows = [
        [
            r["set"],
            f"{r['model']:.4f}",
            f"{r['var']:.4f}",
            f"{r['model_var']:.4f}",
            _versus_won(r["model_var_vs_model"]),
            _versus_won(r["model_var_vs_var"]),
        ]
        for r in data["rows"]
    ]
    (out / "reference_combination.inc").write_text(_table(head, rows))


def reference_study(src: Path, out: Path) -> None:
    """The data study (``reference_study.json``, from ``scripts/reference_study.py``): the
    reference half beside the default simulator and the noise-free one."""
    record = _record(src, "reference_study.json", out / "reference_study.inc")
    if record is None:
        return
    sets = record["sets"]
    names = list(sets)

    def trio(v: list[float], digits: int = 3) -> str:
        return " / ".join(f"{x:.{digits}f}" for x in v)

    def row(label: str, get) -> list[str]:
        return [label, *[get(sets[n]) for n in names]]

    rates = ["a", "b", "d", "g", "inv_k"]
    dyn = ["persistence_mae_80_20", "persistence_mae_50_50", "late_std", "early_std",
           "prey_mean_crossings"]  # fmt: skip
    table = [
        row("trajectories", lambda d: str(d["n"])),
        row(
            "steps × spacing (spread)",
            lambda d: (
                f"{d['sampling']['steps']} × "
                f"{d['sampling']['dt']:.4f} ({d['sampling']['dt_spread']:.1e})"
            ),
        ),
        row(
            "whole-trajectory LV fit RMSE, 10/25/50/75/90 %",
            lambda d: trio(d["fit_rmse_percentiles_10_25_50_75_90"], 4),
        ),
        row("share fitted to RMSE < 0.05", lambda d: f"{d['good_fit_share']:.0%}"),
        *[
            row(f"fitted {k}, 10/50/90 %", lambda d, k=k: trio(d["fitted_rates_10_50_90"][k]))
            for k in rates
        ],
        row("share of good fits with 1/K < 0.005", lambda d: f"{d['inv_k_zero_share']:.0%}"),
        row(
            "a / b / d / g fitted to steps 0–34 against 65–99, median relative difference",
            lambda d: (
                " / ".join(
                    f"{v:.3f}" for v in d.get("rate_drift_first_last_35_median", {}).values()
                )
                or "–"
            ),
        ),
        row(
            "prey growth-rate residual s.d., 10/50/90 %",
            lambda d: trio(d["growth_residual_sd_10_50_90"]["prey"], 4),
        ),
        row(
            "predator growth-rate residual s.d., 10/50/90 %",
            lambda d: trio(d["growth_residual_sd_10_50_90"]["predator"], 4),
        ),
        row(
            "its lag-1 autocorrelation (prey, predator)",
            lambda d: " / ".join(f"{x:.2f}" for x in d["growth_residual_lag1"]),
        ),
        *[row(k, lambda d, k=k: f"{d['dynamics'][k]:.3f}") for k in dyn],
        row("ODE oracle MAE, 80 → 20", lambda d: f"{d['oracle_mae_80_20']:.4f}"),
    ]
    (out / "reference_study.inc").write_text(_table(["statistic", *names], table))


def reference_levers(src: Path, out: Path) -> None:
    """The lever table on the reference half (``reference_levers.json``, from
    ``scripts/reference_levers.py``): each arm's validation MAE, its paired difference
    from today's recipe and from VAR (interval, win rate, verdict), and its generation
    cost."""
    data = _record(src, "reference_levers.json", out / "reference_levers.inc")
    if data is None:
        return
    first = data["rows"][0]
    head = ["arm", "MAE", f"vs {first['arm']} [95 % CI], win rate",
            "vs VAR [95 % CI], win rate", "generation FLOPs", "generation s"]  # fmt: skip
    rows = [
        [
            r["arm"],
            f"{r['mae']:.4f}",
            "–" if r is first else _versus_won(r["vs_first"], 4),
            _versus_won(r["vs_var"], 4),
            f"{r['generation_flops']:.3g}",
            f"{r['generation_seconds']:.0f}",
        ]
        for r in data["rows"]
    ]
    rows.append(["VAR", f"{data['var_mae']:.4f}", "", "", "", ""])
    (out / "reference_levers.inc").write_text(_table(head, rows))


def suites_combination(src: Path, out: Path) -> None:
    """Issue 42's study (``suites_combination.json``, from ``scripts/combination_study.py``):
    the choice on validation, the test scores on both suites, the paired comparisons, and
    the 80 % coverage with and without ``--calibrate``."""
    inc = out / "suites_combination.inc"
    data = _record(src, "suites_combination.json", inc)
    if data is None:
        return
    val, test = data["validation_relative_mase"], data.get("test")
    chosen = {data["best_classical"]: "best classical", data["best_with_lm"]: "best with the LM"}
    names = sorted(val, key=val.get)
    head = ["forecaster", "validation, both suites", "test: classics", "test: R suite",
            "test: both", "80 % holds (val / val calibrated / test / test calibrated)"]  # fmt: skip
    rows = []
    for n in names:
        cells = [f"{n} ({chosen[n]})" if n in chosen else n, f"{val[n]:.3f}"]
        if test:
            rel = test["relative_mase"]
            cells += [f"{rel[s].get(n, float('nan')):.3f}" for s in ("classics", "rdatasets")]
            cells.append(f"{test['pooled_relative_mase'][n]:.3f}")
            cov = test["coverage_80"]
            parts = []
            for s in ("classics", "rdatasets"):
                keys = (f"{s}_validation", f"{s}_validation_calibrated", f"{s}_test",
                        f"{s}_test_calibrated")  # fmt: skip
                parts.append(" / ".join(_pct0(cov.get(k, {}).get(n)) for k in keys))
            cells.append("classics " + parts[0] + "; R " + parts[1])
        else:
            cells += ["–"] * 4
        rows.append(cells)
    text = "MASE relative to seasonal naive (geometric mean over series; below 1: better).\n\n"
    text += _table(head, rows)
    if test:
        head = ["series", "forecaster", "against", "n", "MASE ratio [95 % CI]", "share better",
                "verdict"]  # fmt: skip
        lines = [
            [where, c["a"], c["b"], str(c["n"]), f"{c['ratio']:.3f} [{c['ci95'][0]:.3f}, "
             f"{c['ci95'][1]:.3f}]", f"{c['win_rate']:.0%}", c["verdict"]]
            for where, cs in test["comparisons"].items()
            for c in cs
        ]  # fmt: skip
        text += "\nPaired over the test series (below 1: the first is better):\n\n"
        text += _table(head, lines)
    inc.write_text(text)


def suites_intervals(src: Path, out: Path) -> None:
    """Issue 42's interval study (``suites_intervals.json``, from
    ``scripts/interval_study.py``): the general adapter's and the chosen combination's
    coverage, MSIS and WQL with no calibration, ``series`` and ``pooled``, validation and
    test, on both suites."""
    inc = out / "suites_intervals.inc"
    data = _record(src, "suites_intervals.json", inc)
    if data is None:
        return
    lm, combo = "adapter:general", "adapter:general+ets+arima+theta"
    head = ["suite", "split", "calibration", "adapter: 50 / 80 / 95 % hold", "adapter MSIS",
            "adapter WQL", "adapter+ETS+ARIMA+Theta: 80 % hold", "its WQL"]  # fmt: skip
    rows = []
    for suite, phases in data["suites"].items():
        for phase, methods in phases.items():
            for method, f in methods.items():
                a, c = f[lm], f[combo]
                rows.append([
                    "classics" if suite == "classics" else "R suite", phase, method,
                    " / ".join(_pct0(a[k]) for k in ("coverage_50", "coverage_80", "coverage_95")),
                    f"{a['msis']:.2f}", f"{a['wql_vs_snaive']:.3f}", _pct0(c["coverage_80"]),
                    f"{c['wql_vs_snaive']:.3f}",
                ])  # fmt: skip
    rule = data["rule"]
    scores = ", ".join(f"{m} {v:.1%}" for m, v in rule["validation_coverage_80"].items())
    text = (
        f"Validation (60 series, the adapter's mean 80 % coverage): {scores}; chosen: "
        f"**{rule['chosen']}**. WQL relative to seasonal naive; MSIS of the 95 % interval.\n\n"
    )
    inc.write_text(text + _table(head, rows))


def _pct0(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def reference_curve(src: Path, out: Path, name: str = "reference_curve") -> None:
    """Issue 41's learning-curve arm (``reference_curve.json``, from
    ``scripts/reference_curve.sh``): validation MAE at 110, 220 and 330 steps, paired with
    the cpu profile's final model and with VAR; ``reference_layers.json``
    (``scripts/reference_layers.sh``) the same way."""
    data = _record(src, f"{name}.json", out / f"{name}.inc")
    if data is None:
        return
    head = ["model", "MAE", "vs the cpu profile's model [95 % CI], win rate",
            "vs VAR [95 % CI], win rate"]  # fmt: skip
    rows = [
        [r["arm"], f"{r['mae']:.4f}", _versus_won(r.get("vs_baseline"), 4),
         _versus_won(r.get("vs_var"), 4)]
        for r in data["rows"]
    ]  # fmt: skip
    var = next((r["var_mae"] for r in data["rows"] if r.get("var_mae")), None)
    if var is not None:
        rows.append(["VAR", f"{var:.4f}", "", ""])
    text = _table(head, rows)
    if data.get("test"):
        head = ["test split", "model MAE", "VAR MAE", "model vs VAR [95 % CI], win rate"]
        text += "\n" + _table(head, [
            [t["protocol"], f"{t['mae']:.4f}", f"{t['var_mae']:.4f}", _versus_won(t["vs_var"], 4)]
            for t in data["test"]
        ])  # fmt: skip
    (out / f"{name}.inc").write_text(text)


def main(argv: list[str]) -> None:
    src, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    curve(src, out)
    recipes(src, out)
    format_study(src, out)
    recipe_levers(src, out)
    context_map(src, out)
    context_map(src, out, "context_map_reference")
    reference_study(src, out)
    reference_levers(src, out)
    reference_curve(src, out)
    reference_curve(src, out, "reference_layers")
    simulator_check(src, out)
    simulator_noise(src, out)
    reference_combination(src, out)
    suites_combination(src, out)
    suites_intervals(src, out)
    ablations(src, out)
    gpu_training(src, out)
    gpu_ablation_training(src, out)
    performance(src.parent / "performance", out)
    many_series(src.parent / "performance", out)
    profile_run(src, out)
    classics(src, out)
    sampling_study(src, out)
    mixture_study(src, out)
    grown_study(src, out)


if __name__ == "__main__":
    main(sys.argv[1:])
