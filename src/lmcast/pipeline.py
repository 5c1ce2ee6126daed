"""``lmcast run``: data → zero-shot baseline → sweep → context-length study → final model → test → report.

Each stage writes into the workspace and is skipped when its outputs exist, so
an interrupted run resumes where it stopped (an interrupted training run
resumes from its last checkpoint). Everything is charged to one ledger whose
budget comes from the profile.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmcast import flops as flopsmod
from lmcast.configs import ContextStudyConfig, EvalConfig, RunConfig, SweepConfig, TrainConfig
from lmcast.errors import LmcastError
from lmcast.logs import get_logger

log = get_logger("pipeline")

PROFILE_DIR = Path(__file__).parent / "profiles"
# Tokens per LLMTIME timestep for digit-per-token tokenizers (Qwen2.5, SmolLM2):
# per variable sign-free "d.dd" = 2 + precision characters plus a separator.
TOKENS_PER_STEP = {1: 8, 2: 10, 3: 12}


def load_profile(name: str) -> dict:
    """A profile by name (``quick``, ``seed``) or YAML path."""
    import yaml

    path = Path(name)
    if not path.suffix:
        path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in PROFILE_DIR.glob("*.yaml"))
        raise LmcastError(f"profile {name!r} not found (built in: {known}; or give a YAML path)")
    return yaml.safe_load(path.read_text())


@dataclass
class Planned:
    """One planned experiment and its projected FLOPs."""

    experiment: str
    kind: str
    runs: int
    flops: float
    detail: str


def _eval_flops(
    arch: flopsmod.Architecture,
    n: int,
    context: int,
    horizon: int,
    precision: int,
    lora: flopsmod.LoraSpec | None,
) -> int:
    per_step = TOKENS_PER_STEP.get(precision, 2 * (precision + 3))
    prompt = context * per_step
    new = horizon * per_step
    return flopsmod.generation_flops(arch, prompt, new, batch=n, lora=lora)


def plan(profile: dict, arch: flopsmod.Architecture) -> list[Planned]:
    """Projected FLOPs of every experiment in the profile (before any run).

    The final training is capped by what remains of the budget after every
    other experiment and its own test evaluation, and by ``final.max_steps``;
    it is projected at the longest context length the study may choose.
    """
    prot = profile["protocol"]
    sw, cs, fin = profile["sweep"], profile["context_study"], profile["final"]
    grid = sw["grid"]
    precisions = grid.get("precision", [2])
    ranks = grid.get("rank", [8])
    max_rank = max(ranks)
    lora = flopsmod.LoraSpec(max_rank)
    n_trials = math.prod(len(v) for v in grid.values())
    out = [
        Planned(
            "baseline",
            "evaluate",
            1,
            _eval_flops(
                arch,
                prot["test_trajectories"],
                prot["context_steps"],
                prot["horizon"],
                max(precisions),
                None,
            ),
            f"zero-shot on {prot['test_trajectories']} test trajectories",
        )
    ]
    step = flopsmod.train_step_flops(arch, sw["context_length"], sw["batch_size"], lora)
    val = _eval_flops(
        arch, sw["val_trajectories"], prot["context_steps"], prot["horizon"], max(precisions), lora
    )
    out.append(
        Planned(
            "sweep",
            "train+evaluate",
            n_trials,
            n_trials * (sw["max_steps"] * step + val),
            f"{n_trials} trials × {sw['max_steps']} steps of {sw['batch_size']}×{sw['context_length']} tokens",
        )
    )
    ctx_total = sum(
        cs["max_steps"] * flopsmod.train_step_flops(arch, L, cs["batch_size"], lora) + val
        for L in cs["context_lengths"]
    )
    out.append(
        Planned(
            "context-study",
            "train+evaluate",
            len(cs["context_lengths"]),
            ctx_total,
            f"lengths {cs['context_lengths']} × {cs['max_steps']} steps",
        )
    )
    test = _eval_flops(
        arch,
        prot["test_trajectories"],
        prot["context_steps"],
        prot["horizon"],
        max(precisions),
        lora,
    )
    used = sum(p.flops for p in out) + test
    Lmax = max(cs["context_lengths"])
    fstep = flopsmod.train_step_flops(arch, Lmax, fin["batch_size"], lora)
    left = profile["budget"] - used
    steps = max(0, min(fin["max_steps"], int(left // fstep)))
    out.append(
        Planned(
            "final",
            "train",
            1,
            steps * fstep,
            f"up to {fin['max_steps']} steps; {steps} fit at {Lmax} tokens",
        )
    )
    out.append(
        Planned("final", "evaluate", 1, test, f"test on {prot['test_trajectories']} trajectories")
    )
    return out


def format_plan(
    profile_name: str, profile: dict, arch: flopsmod.Architecture, rows: list[Planned]
) -> str:
    total = sum(r.flops for r in rows)
    lines = [
        f"profile {profile_name}: model {profile['model']}, budget {profile['budget']:.3e} FLOPs",
        f"{'experiment':<15}{'kind':<16}{'runs':>5}{'projected FLOPs':>17}{'% budget':>10}  detail",
    ]
    for r in rows:
        lines.append(
            f"{r.experiment:<15}{r.kind:<16}{r.runs:>5}{r.flops:>17.3e}"
            f"{100 * r.flops / profile['budget']:>9.2f}%  {r.detail}"
        )
    lines.append(
        f"{'total':<36}{total:>17.3e}{100 * total / profile['budget']:>9.2f}%  "
        f"{'fits' if total <= profile['budget'] else 'EXCEEDS'} the budget"
    )
    return "\n".join(lines)


def run_pipeline(cfg: RunConfig) -> dict:
    """Run (or, with ``dry_run``, plan) the whole study; returns stage outputs."""
    from lmcast.ledger import Ledger

    profile = load_profile(cfg.profile)
    model = cfg.model or profile["model"]
    ws = Path(cfg.workspace)
    prot, sw, cs, fin = (
        profile["protocol"],
        profile["sweep"],
        profile["context_study"],
        profile["final"],
    )
    if cfg.dry_run:
        arch = _arch_for(model)
        rows = plan(profile, arch)
        text = format_plan(cfg.profile, {**profile, "model": model}, arch, rows)
        return {
            "plan": [r.__dict__ for r in rows],
            "text": text,
            "total": sum(r.flops for r in rows),
            "budget": profile["budget"],
        }

    ws.mkdir(parents=True, exist_ok=True)
    ledger_url = f"sqlite:///{ws / 'ledger.db'}"
    ledger = Ledger(ledger_url)
    if not ledger.records():  # a new ledger takes the profile's budget
        ledger.set_budget(profile["budget"])
    done: dict[str, Any] = {"workspace": str(ws), "skipped": []}

    # 1. data
    data = Path(cfg.data) if cfg.data else ws / "data" / "lv.h5"
    if cfg.data is None and not data.exists():
        from lmcast.commands.data_cmds import simulate_command
        from lmcast.configs import SimulateConfig

        simulate_command(SimulateConfig(out=str(data), **profile["data"]["simulate"]))
    elif cfg.data is None:
        done["skipped"].append("data")

    common_eval = dict(
        model=model,
        data=str(data),
        context_steps=prot["context_steps"],
        horizon=prot["horizon"],
        num_samples=prot["test_trajectories"],
        ledger=ledger_url,
    )
    # 2. zero-shot baseline on the test split
    base_out = ws / "baseline"
    if not (base_out / "metrics.json").exists():
        from lmcast.evaluate import evaluate

        log.info("stage: zero-shot baseline")
        evaluate(
            EvalConfig(**common_eval, split="test", out=str(base_out), experiment="baseline"),
            progress=cfg.progress,
        )
    else:
        done["skipped"].append("baseline")

    # 3. sweep
    grid_specs = [f"{k}={','.join(str(v) for v in vals)}" for k, vals in sw["grid"].items()]
    scfg = SweepConfig(
        data=str(data),
        model=model,
        grid=grid_specs,
        workspace=str(ws),
        max_steps=sw["max_steps"],
        context_length=sw["context_length"],
        batch_size=sw["batch_size"],
        eval_steps=sw["eval_steps"],
        val_trajectories=sw["val_trajectories"],
        context_steps=prot["context_steps"],
        horizon=prot["horizon"],
        ledger=ledger_url,
        progress=cfg.progress,
    )
    if not (ws / "sweep" / "results.json").exists():
        from lmcast.sweep import run_sweep

        log.info("stage: sweep (%s)", ", ".join(grid_specs))
        run_sweep(scfg)
    else:
        done["skipped"].append("sweep")

    # 4. context-length study from the best sweep configuration
    if not (ws / "context" / "results.json").exists():
        from lmcast.context_study import run_context_study

        log.info("stage: context-length study %s", cs["context_lengths"])
        run_context_study(
            ContextStudyConfig(
                data=str(data),
                model=model,
                context_lengths=",".join(str(v) for v in cs["context_lengths"]),
                workspace=str(ws),
                max_steps=cs["max_steps"],
                batch_size=cs["batch_size"],
                eval_steps=cs.get("eval_steps", cs["max_steps"]),
                val_trajectories=cs["val_trajectories"],
                context_steps=prot["context_steps"],
                horizon=prot["horizon"],
                ledger=ledger_url,
                progress=cfg.progress,
            )
        )
    else:
        done["skipped"].append("context-study")

    # 5. final model: best lr/rank/precision and context length, the remaining budget
    best = json.loads((ws / "context" / "results.json").read_text())["best"]["params"]
    final_out = ws / "final"
    if not (final_out / "adapter").exists():
        from lmcast.train import train

        arch = _arch_for(model)
        reserve = _eval_flops(
            arch,
            prot["test_trajectories"],
            prot["context_steps"],
            prot["horizon"],
            int(best.get("precision", 2)),
            flopsmod.LoraSpec(int(best.get("rank", 8))),
        )
        allot = ledger.remaining() - reserve
        log.info("stage: final training %s (allotment %.3e FLOPs)", best, allot)
        train(
            TrainConfig(
                model=model,
                data=str(data),
                out=str(final_out),
                max_steps=fin["max_steps"],
                batch_size=fin["batch_size"],
                eval_steps=fin["eval_steps"],
                save_steps=fin["eval_steps"],
                ledger=ledger_url,
                experiment="final",
                lr=float(best["lr"]),
                rank=int(best.get("rank", 8)),
                precision=int(best.get("precision", 2)),
                context_length=int(best["context_length"]),
                max_flops=allot,
                resume=(final_out / "checkpoints").is_dir(),
                progress=cfg.progress,
            )
        )
    else:
        done["skipped"].append("final")

    # 6. test evaluation of the final model, same trajectories as the baseline
    if not (final_out / "test" / "metrics.json").exists():
        from lmcast.evaluate import evaluate

        log.info("stage: final test evaluation")
        evaluate(
            EvalConfig(
                **common_eval,
                split="test",
                adapter=str(final_out),
                out=str(final_out / "test"),
                experiment="final",
            ),
            progress=cfg.progress,
        )
    else:
        done["skipped"].append("final-test")

    # 7. report (always rewritten: cheap, and reflects the ledger now)
    from lmcast.configs import ReportConfig
    from lmcast.report import write_report

    done["report"] = str(write_report(ReportConfig(workspace=str(ws), ledger=ledger_url)))
    return done


def _arch_for(model: str) -> flopsmod.Architecture:
    if model in flopsmod.ARCHITECTURES:
        return flopsmod.ARCHITECTURES[model]
    try:
        return flopsmod.resolve_architecture(model)
    except KeyError:
        from lmcast.models import load_model

        return load_model(model).arch
