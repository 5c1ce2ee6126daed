"""``lmcast run --dry-run``: every planned experiment of a profile and its projected FLOPs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmcast.accounting import flops as flopsmod
from lmcast.study.profile import Profile

# Tokens per LLMTIME timestep for digit-per-token tokenizers (Qwen2.5, SmolLM2):
# per variable sign-free "d.dd" = 2 + precision characters plus a separator.
TOKENS_PER_STEP = {1: 8, 2: 10, 3: 12}


@dataclass
class Planned:
    """One planned experiment and its projected FLOPs."""

    experiment: str
    kind: str
    runs: int
    flops: float
    detail: str


def eval_flops(
    arch: flopsmod.Architecture,
    n: int,
    context: int,
    horizon: int,
    precision: int,
    lora: flopsmod.LoraSpec | None,
) -> int:
    """Projected FLOPs of forecasting ``n`` windows of ``context`` → ``horizon`` steps."""
    per_step = TOKENS_PER_STEP.get(precision, 2 * (precision + 3))
    return flopsmod.generation_flops(
        arch, context * per_step, horizon * per_step, batch=n, lora=lora
    )


def plan(profile: Profile, arch: flopsmod.Architecture) -> list[Planned]:
    """Projected FLOPs of every experiment in the profile (before any run).

    The final training is capped by what remains of the budget after every
    other experiment and its own test evaluation, and by ``final.max_steps``;
    it is projected at the longest context length the study may choose.
    """
    prot, sw, cs, fin = profile.protocol, profile.sweep, profile.context_study, profile.final
    precision = int(max(sw.grid.get("precision", [2])))
    rec = profile.recipe
    lora = flopsmod.LoraSpec(
        int(max(sw.grid.get("rank", [8]))), tuple(rec.target_modules), rec.lora_layers or None
    )
    n_trials = math.prod(len(v) for v in sw.grid.values())

    def protocol_eval(n: int, with_lora: flopsmod.LoraSpec | None) -> int:
        return eval_flops(arch, n, prot.context_steps, prot.horizon, precision, with_lora)

    step = flopsmod.train_step_flops(arch, sw.context_length, sw.batch_size, lora)
    val = protocol_eval(sw.val_trajectories, lora)
    ctx_total = sum(
        cs.max_steps * flopsmod.train_step_flops(arch, n, cs.batch_size, lora) + val
        for n in cs.context_lengths
    )
    # every test generates K paths per trajectory (the zero-shot model's K may differ)
    main = (prot.context_steps, prot.horizon)
    test = protocol_eval(prot.rows(*main), lora)
    out = [
        Planned(
            "baseline",
            "evaluate",
            1,
            protocol_eval(prot.rows(*main, zero_shot=True), None),
            f"zero-shot on {prot.trajectories} test trajectories",
        ),
        Planned(
            "sweep",
            "train+evaluate",
            n_trials,
            n_trials * (sw.max_steps * step + val),
            f"{n_trials} trials × {sw.max_steps} steps of {sw.batch_size}×{sw.context_length} tokens",
        ),
        Planned(
            "context-study",
            "train+evaluate",
            len(cs.context_lengths),
            ctx_total,
            f"lengths {cs.context_lengths} × {cs.max_steps} steps",
        ),
    ]
    longest = max(cs.context_lengths)
    fstep = flopsmod.train_step_flops(arch, longest, fin.batch_size, lora)
    extra = sum(
        eval_flops(arch, prot.rows(c, h, zs), c, h, precision, lora)
        for c, h, zs in prot.extra_tests()
    )
    left = profile.budget - sum(p.flops for p in out) - test - extra
    steps = max(0, min(fin.max_steps, int(left // fstep)))
    out.append(
        Planned(
            "final",
            "train",
            1,
            steps * fstep,
            f"up to {fin.max_steps} steps; {steps} fit at {longest} tokens",
        )
    )
    out.append(Planned("final", "evaluate", 1, test, f"test on {prot.trajectories} trajectories"))
    for c, h, zero_shot in prot.extra_tests():
        name, with_lora = ("baseline", None) if zero_shot else ("final", lora)
        flops = eval_flops(arch, prot.rows(c, h, zero_shot), c, h, precision, with_lora)
        detail = f"test at {c} → {h} on {prot.trajectories} trajectories"
        out.append(Planned(name, "evaluate", 1, flops, detail))
    return out


def format_plan(profile_name: str, model: str, budget: float, rows: list[Planned]) -> str:
    """Fixed-width text of :func:`plan`."""
    total = sum(r.flops for r in rows)
    lines = [
        f"profile {profile_name}: model {model}, budget {budget:.3e} FLOPs",
        f"{'experiment':<15}{'kind':<16}{'runs':>5}{'projected FLOPs':>17}{'% budget':>10}  detail",
    ]
    for r in rows:
        lines.append(
            f"{r.experiment:<15}{r.kind:<16}{r.runs:>5}{r.flops:>17.3e}"
            f"{100 * r.flops / budget:>9.2f}%  {r.detail}"
        )
    lines.append(
        f"{'total':<36}{total:>17.3e}{100 * total / budget:>9.2f}%  "
        f"{'fits' if total <= budget else 'EXCEEDS'} the budget"
    )
    return "\n".join(lines)
