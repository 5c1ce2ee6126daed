"""``lmcast report``: a markdown study report with figures, from a workspace.

Sections: data summary; zero-shot baseline; sweep table and heat-maps
(lr × rank per precision); context-length study; final results against
zero-shot, persistence and the ODE oracle; trajectory figures and error
distributions; the FLOP table per experiment from the ledger.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from lmcast.configs import ReportConfig
from lmcast.errors import LmcastError

SECTIONS = (
    "Data",
    "Zero-shot baseline",
    "Hyper-parameter sweep",
    "Context-length study",
    "Final results",
    "Forecast figures",
    "FLOP budget",
)


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _metrics_row(label: str, precision: str, m: dict, parse: float | None) -> str:
    o = m["original"]
    pv = o["per_variable"]
    names = list(pv)
    cells = [label, precision, _fmt(o["mae"]), _fmt(o["rmse"])]
    for n in names:
        cells += [_fmt(pv[n]["mae"]), _fmt(pv[n]["rmse"])]
    cells.append("–" if parse is None else f"{parse:.2f}")
    return "| " + " | ".join(cells) + " |"


def _metrics_table(result: dict, label: str, precision: str) -> list[str]:
    names = list(result["model"]["original"]["per_variable"])
    head = (
        ["forecaster", "precision", "MAE", "RMSE"]
        + [f"{n} {m}" for n in names for m in ("MAE", "RMSE")]
        + ["parse"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append(_metrics_row(label, precision, result["model"], result["model"]["parse_success"]))
    lines.append(_metrics_row("persistence", "–", result["persistence"], None))
    if "oracle" in result:
        lines.append(_metrics_row("ODE oracle", "–", result["oracle"], None))
    return lines


def _heatmaps(sweep: dict, fig_dir: Path) -> list[Path]:
    """One lr × rank heat-map of validation MAE per precision."""
    from lmcast.plots import plot_heatmap

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


def write_report(cfg: ReportConfig) -> Path:
    """Write the report markdown (and its figures beside it); return its path."""
    from lmcast.data import describe, load_dataset
    from lmcast.ledger import Ledger

    ws = Path(cfg.workspace)
    if not ws.is_dir():
        raise LmcastError(f"{ws}: no such workspace")
    out = Path(cfg.out) if cfg.out else ws / "report" / "report.md"
    fig_dir = out.parent / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    rel = lambda p: Path(p).resolve().relative_to(out.parent.resolve()).as_posix()  # noqa: E731

    def copy_fig(src: Path, name: str) -> str | None:
        if not src.exists():
            return None
        dst = fig_dir / name
        shutil.copyfile(src, dst)
        return rel(dst)

    L = ["# lmcast study report", "", f"Workspace: `{ws}`", ""]

    # Data
    L += ["## Data", ""]
    data = ws / "data" / "lv.h5"
    base = _load(ws / "baseline" / "metrics.json")
    final_run = _load(ws / "final" / "run.json")
    if final_run:
        data = Path(final_run["config"]["data"])
    if data.exists():
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
    else:
        L.append("(data file not found)")
    L.append("")

    # Baseline
    L += ["## Zero-shot baseline", ""]
    if base:
        pr = base["protocol"]
        L += [
            f"{pr['n_trajectories']} {pr['split']} trajectories, {pr['context_steps']} → {pr['horizon']} steps, "
            f"alpha {base['encoding']['alpha']:g}, precision {base['encoding']['precision']}. "
            "MAE / RMSE in original units.",
            "",
        ]
        L += _metrics_table(
            base, f"{base['model']['name']} (zero-shot)", str(base["encoding"]["precision"])
        )
    else:
        L.append("(not run)")
    L.append("")

    # Sweep
    L += ["## Hyper-parameter sweep", ""]
    sweep = _load(ws / "sweep" / "results.json")
    if sweep and sweep["rows"]:
        L += [
            "Each trial trains LoRA and is scored on the validation split (forecast MAE, original units).",
            "",
            "| lr | rank | precision | val MAE | val loss (start → end) | steps | train FLOPs |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in sorted(sweep["rows"], key=lambda r: r["val_mae"]):
            tc = r["train_config"]
            L.append(
                f"| {tc['lr']:g} | {tc['rank']} | {tc['precision']} | {r['val_mae']:.4f} | "
                f"{_fmt(r['val_loss_initial'])} → {_fmt(r['val_loss'])} | {r['steps']} | {r['train_flops']:.3e} |"
            )
        L += ["", f"Best: `{sweep['best']['key']}`.", ""]
        for p in _heatmaps(sweep, fig_dir):
            L += [f"![sweep heat-map]({rel(p)})", ""]
    else:
        L += ["(not run)", ""]

    # Context study
    L += ["## Context-length study", ""]
    ctx = _load(ws / "context" / "results.json")
    if ctx:
        L += [
            f"From the best sweep configuration {ctx['base']}.",
            "",
            "| context length | val MAE | val loss | steps | train FLOPs |",
            "|---|---|---|---|---|",
        ]
        for r in ctx["rows"]:
            L.append(
                f"| {r['params']['context_length']} | {r['val_mae']:.4f} | {_fmt(r['val_loss'])} | "
                f"{r['steps']} | {r['train_flops']:.3e} |"
            )
        f = copy_fig(ws / "context" / "context_length.png", "context_length.png")
        if f:
            L += ["", f"![context-length study]({f})"]
    else:
        L.append("(not run)")
    L.append("")

    # Final
    L += ["## Final results", ""]
    final = _load(ws / "final" / "test" / "metrics.json")
    fsum = _load(ws / "final" / "summary.json")
    if final:
        enc = final["encoding"]
        tc = final_run["config"] if final_run else {}
        L += [
            f"Final model: LoRA r={tc.get('rank')} lr={tc.get('lr')} context {tc.get('context_length')} "
            f"tokens, {fsum['steps'] if fsum else '?'} steps ({fsum['stopped'] if fsum else '?'}). "
            f"Test: {final['protocol']['n_trajectories']} trajectories, "
            f"{final['protocol']['context_steps']} → {final['protocol']['horizon']} steps.",
            "",
        ]
        L += _metrics_table(final, f"{final['model']['name']} + LoRA", str(enc["precision"]))
        if base:
            b = base["model"]
            L.append(
                _metrics_row(
                    f"{b['name']} (zero-shot)",
                    str(base["encoding"]["precision"]),
                    b,
                    b["parse_success"],
                )
            )
            same = base["protocol"]["indices"] == final["protocol"]["indices"]
            fm, zm = final["model"]["original"]["mae"], b["original"]["mae"]
            pm = final["persistence"]["original"]["mae"]
            L += [
                "",
                f"On the {'same' if same else 'DIFFERENT'} test trajectories the fine-tuned model's MAE is "
                f"{fm:.4f} against {zm:.4f} zero-shot ({'better' if fm < zm else 'not better'}: "
                f"{100 * (zm - fm) / zm:+.1f} %) and {pm:.4f} for persistence "
                f"({'beats' if fm < pm else 'does not beat'} persistence"
                + (
                    f"; the ODE oracle reaches {final['oracle']['original']['mae']:.4f}"
                    if "oracle" in final
                    else ""
                )
                + ").",
            ]
        f = copy_fig(ws / "final" / "loss_curve.png", "final_loss_curve.png")
        if f:
            L += ["", f"![final training loss]({f})"]
    else:
        L.append("(not run)")
    L.append("")

    # Figures
    L += ["## Forecast figures", ""]
    for label, d in (
        ("final model", ws / "final" / "test" / "figures"),
        ("zero-shot", ws / "baseline" / "figures"),
    ):
        if d.is_dir():
            figs = sorted(d.glob("trajectory_*.png"))[:3]
            for p in figs:
                f = copy_fig(p, f"{label.replace(' ', '_')}_{p.name}")
                L += [f"![{label} {p.stem}]({f})", ""]
            f = copy_fig(d / "error_hist.png", f"{label.replace(' ', '_')}_error_hist.png")
            if f:
                L += [f"Error distribution ({label}):", "", f"![{label} errors]({f})", ""]

    # FLOPs
    L += ["## FLOP budget", ""]
    ledger = Ledger(cfg.ledger or f"sqlite:///{ws / 'ledger.db'}")
    tab = ledger.table()
    L += ["| experiment | kind | runs | FLOPs | % of budget |", "|---|---|---|---|---|"]
    for r in tab["rows"]:
        L.append(
            f"| {r['experiment']} | {r['kind']} | {r['runs']} | {r['flops']:.4e} | {r['percent_of_budget']:.4f} |"
        )
    t = tab["total"]
    L += [
        f"| **total** | | {t['runs']} | **{t['flops']:.4e}** | {t['percent_of_budget']:.4f} |",
        "",
        f"Budget {tab['budget']:.3e} FLOPs; remaining {tab['remaining']:.3e}. Exact total: {t['flops']} FLOPs.",
        "FLOPs follow the rules in `lmcast.flops` (matmul m·p·(2n−1), backward = 2 × forward).",
    ]
    out.write_text("\n".join(L) + "\n")
    return out
