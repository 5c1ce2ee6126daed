"""``lmcast report``: a markdown study report with figures, from a workspace.

One function per section, in :data:`SECTIONS` order: data summary; zero-shot
baseline; sweep table and heat-maps (lr × rank per precision); context-length
study; final results against zero-shot, persistence and the ODE oracle (paired
bootstrap intervals); the same on further protocols;
trajectory figures and error distributions; the FLOP table per experiment
from the ledger. Each reads its stage's outputs through the
:class:`~lmcast.study.workspace.Workspace` and returns markdown lines.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from lmcast.accounting.ledger import Ledger
from lmcast.compare.metrics import headline_steps, paired_comparison
from lmcast.compare.plots import plot_heatmap
from lmcast.configs import ReportConfig
from lmcast.core.runs.runinfo import check_output_file, record_written, write_text
from lmcast.core.series.data import describe, load_dataset
from lmcast.errors import LmcastError
from lmcast.forecasting.evaluate import scored_forecasters
from lmcast.study.choice import format_choice
from lmcast.study.workspace import Workspace


def _fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _metrics_row(label: str, precision: str, m: dict, parse: float | None) -> str:
    o = m["original"]
    pv = o["per_variable"]
    names = list(pv)
    cells = [label, precision, _fmt(o["mae"]), _fmt(o["rmse"])]
    for n in names:
        cells += [_fmt(pv[n]["mae"]), _fmt(pv[n]["rmse"])]
    f = m.get("field", {})
    cells += [_fmt(f[k]) if f.get(k) is not None else "–" for k in ("mase", "smape", "wql")]
    cells.append("–" if parse is None else f"{parse:.2f}")
    return "| " + " | ".join(cells) + " |"


def _metrics_table(result: dict, label: str, precision: str, base: dict | None = None) -> list[str]:
    """Every forecaster of a ``metrics.json`` (the model, persistence, the ODE oracle, the
    classical references; the zero-shot model of ``base`` when given) with MAE/RMSE overall
    and per variable, MASE, sMAPE and WQL, then the MAE per step ahead."""
    names = list(result["model"]["original"]["per_variable"])
    head = (
        ["forecaster", "precision", "MAE", "RMSE"]
        + [f"{n} {m}" for n in names for m in ("MAE", "RMSE")]
        + ["MASE", "sMAPE %", "WQL", "parse"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    label = f"{label}, {decoding(result['model'])}"
    for name, entry in scored_forecasters(result):
        if name == "model":
            lines.append(_metrics_row(label, precision, entry, entry["parse_success"]))
        else:
            lines.append(_metrics_row(name, "–", entry, None))
    zero_shot = f"{base['model']['name']} (zero-shot), {decoding(base['model'])}" if base else ""
    if base:
        b = base["model"]
        lines.append(_metrics_row(zero_shot, _format_name(base["encoding"]), b, b["parse_success"]))
    if "metrics_note" in result:
        lines += ["", f"_{result['metrics_note']}._"]
    return [*lines, "", *per_step_table(result, label, base, zero_shot)]


def decoding(model: dict) -> str:
    """How a language model's test forecasts were decoded (its ``metrics.json`` entry)."""
    k = int(model.get("samples", 1))
    read = ", last digit read as its expected value" if model.get("readout") == "expected" else ""
    if k == 1:
        r = model.get("scale_ensemble")
        mean = f"mean of 3 greedy at alpha ÷ {r:g}, × 1 and × {r:g}" if r else "greedy"
        return f"{mean}{read}"
    how = f"median of {k} sampled paths"
    if "temperature" in model:
        how += f" (temperature {model['temperature']:g}, top-p {model['top_p']:g})"
    return how + read


def per_step_table(
    result: dict, label: str, base: dict | None = None, base_label: str = ""
) -> list[str]:
    """MAE at a few steps ahead (1, then every quarter of the horizon) for every forecaster
    of a ``metrics.json`` that reports it (and ``base``'s model, labelled ``base_label``)."""
    steps = headline_steps(result["protocol"]["horizon"])
    rows = [
        (label if name == "model" else name, e["field"]["per_step_mae"])
        for name, e in scored_forecasters(result)
        if "per_step_mae" in e.get("field", {})
    ]
    if base and "per_step_mae" in base["model"].get("field", {}):
        rows.append((base_label, base["model"]["field"]["per_step_mae"]))
    if not rows:
        return []
    head = ["MAE at step", *[str(s) for s in steps]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join([n, *[_fmt(v[s - 1]) for s in steps]]) + " |" for n, v in rows]
    return out


def _heatmaps(sweep: dict, fig_dir: Path) -> list[Path]:
    """One lr × rank heat-map of validation MAE per precision."""
    configs = [(r["train_config"], r["val_mae"]) for r in sweep["rows"]]
    lrs = sorted({tc["lr"] for tc, _ in configs})
    ranks = sorted({tc["rank"] for tc, _ in configs})
    out = []
    for p in sorted({tc["precision"] for tc, _ in configs}):
        grid = np.full((len(ranks), len(lrs)), np.nan)
        for tc, mae in configs:
            if tc["precision"] == p:
                grid[ranks.index(tc["rank"]), lrs.index(tc["lr"])] = mae
        out.append(
            plot_heatmap(
                fig_dir / f"sweep_heatmap_p{p}.png",
                grid,
                [f"{v:g}" for v in lrs],
                [str(v) for v in ranks],
                "learning rate",
                "LoRA rank",
                "validation MAE",
                title=f"sweep, precision {p}",
            )
        )
    return out


@dataclass(frozen=True)
class ReportContext:
    """What every section needs: the workspace, where the report goes, the stage outputs."""

    ws: Workspace
    out: Path

    @property
    def fig_dir(self) -> Path:
        return self.out.parent / "figures"

    def rel(self, path: Path) -> str:
        """``path`` relative to the report's folder (markdown image links)."""
        return Path(path).resolve().relative_to(self.out.parent.resolve()).as_posix()

    def copy_fig(self, src: Path, name: str) -> str | None:
        """Copy a stage's figure next to the report; its relative link, or None when absent."""
        if not src.exists():
            return None
        dst = self.fig_dir / name
        shutil.copyfile(src, dst)
        return self.rel(dst)

    @cached_property
    def baseline(self) -> dict | None:
        """The zero-shot baseline's ``metrics.json`` (read once; two sections use it)."""
        return self.ws.metrics(self.ws.baseline_dir)

    @cached_property
    def final_run(self) -> dict | None:
        """The final training's ``run.json`` (read once; two sections use it)."""
        return self.ws.read(self.ws.final_dir / "run.json")


def data_section(ctx: ReportContext) -> list[str]:
    L = ["## Data", ""]
    final_run = ctx.final_run
    recorded = final_run["config"].get("data") if final_run else None
    data = Path(recorded) if isinstance(recorded, str) and recorded else ctx.ws.data_file
    if not data.exists():
        return [*L, "(data file not found)", ""]
    info = describe(load_dataset(data))
    n, t, v = info["shape"]
    L += [
        f"`{data}`: {n} trajectories × {t} steps × {v} variables, time {info['time']['start']:g}–"
        f"{info['time']['end']:g}.",
        "",
        "| variable | min | p1 | p50 | p99 | max | mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in info["variables"].items():
        p = s["percentiles"]
        L.append(
            f"| {name} | {s['min']:.3f} | {p['p1']:.3f} | {p['p50']:.3f} | {p['p99']:.3f} | "
            f"{s['max']:.3f} | {s['mean']:.3f} |"
        )
    return [*L, ""]


def baseline_section(ctx: ReportContext) -> list[str]:
    L = ["## Zero-shot baseline", ""]
    base = ctx.baseline
    if not base:
        return [*L, "(not run)", ""]
    pr = base["protocol"]
    L += [
        f"{pr['n_trajectories']} {pr['split']} trajectories, {pr['context_steps']} → {pr['horizon']} steps, "
        f"alpha {base['encoding']['alpha']:g}, precision {base['encoding']['precision']}. "
        "MAE / RMSE in original units.",
        "",
    ]
    L += _metrics_table(
        base, f"{base['model']['name']} (zero-shot)", _format_name(base["encoding"])
    )
    return [*L, ""]


def sweep_section(ctx: ReportContext) -> list[str]:
    L = ["## Hyper-parameter sweep", ""]
    sweep = ctx.ws.read(ctx.ws.sweep_results)
    if not (sweep and sweep["rows"]):
        return [*L, "(not run)", ""]
    L += [
        "Each trial trains LoRA and is scored on the validation split (forecast MAE, original units).",
        "",
        "| lr | rank | LoRA alpha | precision | val MAE | val loss (start → end) | steps | train FLOPs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(sweep["rows"], key=lambda r: r["val_mae"]):
        tc = r["train_config"]
        L.append(
            f"| {tc['lr']:g} | {tc['rank']} | {tc['lora_alpha']:g} | {tc['precision']} | "
            f"{r['val_mae']:.4f} | "
            f"{_fmt(r['val_loss_initial'])} → {_fmt(r['val_loss'])} | {r['steps']} | {r['train_flops']:.3e} |"
        )
    if len(sweep["rows"]) == 1:  # no heat map of one cell, no "chosen by" of one option
        return [*L, "", ONE_OPTION, ""]
    L += ["", *_choice_lines(sweep, "best"), ""]
    for p in _heatmaps(sweep, ctx.fig_dir):
        L += [f"![sweep heat-map]({ctx.rel(p)})", ""]
    return L


ONE_OPTION = "One option (the profile names one); nothing to choose."


def _choice_lines(res: dict, best: str) -> list[str]:
    """How a stage chose: its rule and paired intervals (older results: the best key)."""
    if res.get("choice"):
        return format_choice(res["choice"])
    return [f"Best: `{res[best]['key']}`."]


def context_section(ctx: ReportContext) -> list[str]:
    L = ["## Context-length study", ""]
    res = ctx.ws.read(ctx.ws.context_results)
    if not res:
        return [*L, "(not run)", ""]
    L += [
        f"From the best sweep configuration {res['base']}.",
        "",
        "| context length | val MAE | val loss | steps | train FLOPs |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        L.append(
            f"| {r['params']['context_length']} | {r['val_mae']:.4f} | {_fmt(r['val_loss'])} | "
            f"{r['steps']} | {r['train_flops']:.3e} |"
        )
    if len(res["rows"]) == 1:
        reused = res["rows"][0].get("reused_from")
        note = f" It is the sweep's trial `{Path(reused).name}`, reused." if reused else ""
        return [*L, "", ONE_OPTION + note, ""]
    L += ["", *_choice_lines(res, "best")]
    f = ctx.copy_fig(ctx.ws.context_figure, "context_length.png")
    if f:
        L += ["", f"![context-length study]({f})"]
    return [*L, ""]


def _comparison(final: dict, base: dict | None) -> list[str]:
    """The final model against zero-shot (when ``base`` is given), persistence and the
    oracle: paired bootstrap table."""
    rows: list[str] = [""]
    comps = dict(final.get("comparisons", {}))
    if base is None:
        rows += ["The zero-shot model was not tested at this protocol.", ""]
    elif (
        "per_trajectory_mae" in final
        and "per_trajectory_mae" in base
        and base["protocol"]["indices"] == final["protocol"]["indices"]
    ):
        mine = final["per_trajectory_mae"]["model"]
        comps = {
            "zero-shot": paired_comparison(mine, base["per_trajectory_mae"]["model"]),
            **comps,
        }
    else:
        rows += [
            "The zero-shot baseline ran on DIFFERENT test trajectories: no paired comparison.",
            "",
        ]
    rows += [
        "Paired over test trajectories: mean of (fine-tuned − other) per-trajectory MAE, its 95 % "
        "bootstrap interval (BCa, `scipy.stats.bootstrap`), and the share of trajectories the "
        'fine-tuned model forecasts better (win rate). "Beats" / "loses to": the interval '
        'excludes zero and the win rate does not favour the other side; "level" only when '
        "neither measure favours either side (the interval holds zero and a sign test of the "
        'win rate against one half gives p ≥ 0.05); "level on the mean, better/worse on '
        'most": only the win rate favours a side; "mixed": the two favour opposite sides.',
        "",
        "| fine-tuned vs | MAE difference | 95 % interval | win rate | verdict |",
        "|---|---|---|---|---|",
    ]
    rows += _comparison_rows(comps)
    if "combined" in final:
        c = final["combined"]
        rows += [
            "",
            f"Combined: `{c['label']}`, the {c['rule']} (no model FLOPs of its own):",
            "",
            f"| {c['label']} vs | MAE difference | 95 % interval | win rate | verdict |",
            "|---|---|---|---|---|",
            *_comparison_rows(c["comparisons"]),
        ]
    return rows


def _comparison_rows(comps: dict) -> list[str]:
    """One table row per paired comparison: difference, interval, win rate, verdict."""
    rows = []
    for name, c in comps.items():
        lo, hi = c["ci95"]
        rows.append(
            f"| {name} | {c['mean_difference']:+.4f} | [{lo:+.4f}, {hi:+.4f}] | "
            f"{c['win_rate']:.0%} of {c['n']} | **{c['verdict']}** |"
        )
    return rows


def final_section(ctx: ReportContext) -> list[str]:
    L = ["## Final results", ""]
    final = ctx.ws.metrics(ctx.ws.final_test_dir)
    if not final:
        return [*L, "(not run)", ""]
    fsum = ctx.ws.read(ctx.ws.summary_file(ctx.ws.final_dir))
    final_run = ctx.final_run
    tc = final_run["config"] if final_run else {}
    L += [
        f"Final model: LoRA r={tc.get('rank')} alpha={tc.get('lora_alpha')} lr={tc.get('lr')} "
        f"context {tc.get('context_length')} "
        f"tokens, {fsum['steps'] if fsum else '?'} steps ({fsum['stopped'] if fsum else '?'}). "
        f"Test: {final['protocol']['n_trajectories']} trajectories, "
        f"{final['protocol']['context_steps']} → {final['protocol']['horizon']} steps.",
        "",
    ]
    if tc.get("init_from"):
        L += [
            f"Grown from trial `{Path(tc['init_from']).name}`: it continued that trial's "
            f"checkpoint (the trial's FLOPs are charged to its own experiment, once), "
            + (
                f"{tc.get('schedule')} schedule, the last {tc.get('decay_fraction', 0):.0%} "
                "decaying; "
                if tc.get("schedule") == "wsd"
                else f"{tc.get('schedule')} schedule (no decay); "
            )
            + f"LoRA on {_names(tc.get('target_modules'))}.",
            "",
        ]
    base = ctx.baseline
    L += _metrics_table(
        final, f"{final['model']['name']} + LoRA", _format_name(final["encoding"]), base
    )
    if base:
        L += _comparison(final, base)
    f = ctx.copy_fig(ctx.ws.final_test_dir / "figures" / "per_step_mae.png", "per_step_mae.png")
    if f:
        L += ["", f"![error against steps ahead, every forecaster]({f})"]
    f = ctx.copy_fig(ctx.ws.final_dir / "loss_curve.png", "final_loss_curve.png")
    if f:
        L += ["", f"![final training loss]({f})"]
    return [*L, ""]


def protocols_section(ctx: ReportContext) -> list[str]:
    """The zero-shot and final models on the profile's further protocols (``protocol.also``)."""
    root = ctx.ws.root / "protocols"
    if not root.is_dir():
        return []
    L = ["## Other protocols", ""]
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        final = ctx.ws.metrics(d / "final")
        base = ctx.ws.metrics(d / "zero-shot")  # None: protocol.zero_shot_also false
        if not final:
            L += [f"### {d.name}", "", "(not run)", ""]
            continue
        pr = final["protocol"]
        L += [
            f"### {pr['context_steps']} → {pr['horizon']}",
            "",
            f"{pr['n_trajectories']} {pr['split']} trajectories.",
            "",
        ]
        L += _metrics_table(
            final, f"{final['model']['name']} + LoRA", _format_name(final["encoding"]), base
        )
        L += [*_comparison(final, base), ""]
    return L


def figures_section(ctx: ReportContext) -> list[str]:
    L = ["## Forecast figures", ""]
    for label, d in (
        ("final model", ctx.ws.final_test_dir / "figures"),
        ("zero-shot", ctx.ws.baseline_dir / "figures"),
    ):
        if not d.is_dir():
            continue
        stem = label.replace(" ", "_")
        for p in sorted(d.glob("trajectory_*.png"))[:3]:
            L += [f"![{label} {p.stem}]({ctx.copy_fig(p, f'{stem}_{p.name}')})", ""]
        f = ctx.copy_fig(d / "error_hist.png", f"{stem}_error_hist.png")
        if f:
            L += [f"Error distribution ({label}):", "", f"![{label} errors]({f})", ""]
    return L


def flops_section(ctx: ReportContext) -> list[str]:
    tab = Ledger(ctx.ws.ledger_url).table()
    L = [
        "## FLOP budget",
        "",
        "| experiment | kind | runs | FLOPs | % of budget |",
        "|---|---|---|---|---|",
    ]
    for r in tab["rows"]:
        L.append(
            f"| {r['experiment']} | {r['kind']} | {r['runs']} | {r['flops']:.4e} | {r['percent_of_budget']:.4f} |"
        )
    t = tab["total"]
    return [
        *L,
        f"| **total** | | {t['runs']} | **{t['flops']:.4e}** | {t['percent_of_budget']:.4f} |",
        "",
        f"Budget {tab['budget']:.3e} FLOPs; remaining {tab['remaining']:.3e}. Exact total: {t['flops']} FLOPs.",
        "FLOPs follow the rules in `lmcast.accounting.flops` (matmul m·p·(2n−1), backward = 2 × forward).",
    ]


SECTIONS: tuple[Callable[[ReportContext], list[str]], ...] = (
    data_section,
    baseline_section,
    sweep_section,
    context_section,
    final_section,
    protocols_section,
    figures_section,
    flops_section,
)


def write_report(cfg: ReportConfig) -> Path:
    """Write the report markdown (and its figures beside it); return its path."""
    ws = Workspace.at(cfg.workspace, ledger=cfg.ledger)
    if not ws.root.is_dir():
        raise LmcastError(f"{ws.root}: no such workspace")
    out = check_output_file(cfg.out, overwrite=cfg.overwrite) if cfg.out else ws.report_path
    ctx = ReportContext(ws, out)
    ctx.fig_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# lmcast study report", "", f"Workspace: `{ws.root}`", ""]
    for section in SECTIONS:
        lines += section(ctx)
    write_text(ctx.out, "\n".join(lines) + "\n")
    return record_written(ctx.out) if cfg.out else ctx.out


def _names(value: object) -> str:
    """A list of names as ``a,b`` (run records before 0.2 kept them as one string)."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _format_name(enc: dict) -> str:
    """The precision column: the format's name where recorded, else the decimals."""
    return str(enc.get("format", enc["precision"]))
