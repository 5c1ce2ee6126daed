"""``lmcast run``: data → zero-shot baseline → sweep → context-length study → final model → test → report.

The study is a list of :class:`Stage` rows: a name, a done-check on the
workspace and a run function. Each stage writes into the
:class:`~lmcast.study.workspace.Workspace` and is skipped when its outputs
exist, so an interrupted run resumes where it stopped (an interrupted training
run resumes from its last checkpoint). Everything is charged to the
workspace's one ledger, whose budget comes from the profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmcast.accounting import flops as flopsmod
from lmcast.accounting.ledger import Ledger
from lmcast.configs import EvalConfig, ReportConfig, RunConfig, TrainConfig, TrialSpec
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import file_sha256, write_json
from lmcast.core.series.lotka_volterra import simulate_file
from lmcast.errors import BudgetExceededError, LmcastError
from lmcast.forecasting.evaluate import evaluate
from lmcast.lm.models import architecture_of
from lmcast.lm.train import train
from lmcast.study.context import run_context_study
from lmcast.study.plan import eval_flops, format_plan, plan
from lmcast.study.profile import Profile, load_profile
from lmcast.study.report import write_report
from lmcast.study.sweep import check_grid, grid_points, make_trial, run_sweep
from lmcast.study.workspace import Workspace

log = get_logger("pipeline")


@dataclass
class RunContext:
    """What the stages share: the run's config, its profile, workspace and data file."""

    cfg: RunConfig
    profile: Profile
    ws: Workspace
    model: str
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return Path(self.cfg.data) if self.cfg.data else self.ws.data_file

    def trial_spec(self, **kw: Any) -> TrialSpec:
        """What every sweep and context-study trial of this run shares; ``kw``: the stage's
        own budget (steps, batch, evaluations, validation trajectories)."""
        prot, recipe = self.profile.protocol, self.profile.recipe
        return TrialSpec(
            data=str(self.data),
            model=self.model,
            context_steps=prot.context_steps,
            horizon=prot.horizon,
            ledger=self.ws.ledger_url,
            progress=self.cfg.progress,
            target_modules=recipe.target_modules,
            lora_layers=recipe.lora_layers,
            decimal_point=recipe.decimal_point,
            warmup_steps=recipe.warmup_steps,
            # a trial the final model continues stays in the stable phase (no decay)
            schedule="constant" if self.profile.final.grow else "cosine",
            **kw,
        )

    def eval_config(self, **kw: Any) -> EvalConfig:
        """An evaluation on the profile's protocol and this study's ledger."""
        prot = self.profile.protocol
        fields: dict[str, Any] = {
            "model": self.model,
            "data": str(self.data),
            "context_steps": prot.context_steps,
            "horizon": prot.horizon,
            "trajectories": prot.trajectories,
            "batch_size": prot.batch_size,
            "season_length": prot.season_length,
            "readout": prot.readout,
            "ledger": self.ws.ledger_url,
            "split": "test",
        }
        fields.update(kw)
        zero_shot = fields.get("adapter") is None
        if "samples" not in kw:  # the decoding of this model at this protocol
            fields["samples"] = prot.samples_for(
                fields["context_steps"], fields["horizon"], zero_shot=zero_shot
            )
        return EvalConfig(**fields)


@dataclass(frozen=True)
class Stage:
    """One step of the study: skipped when ``done`` says its outputs exist."""

    name: str
    done: Callable[[RunContext], bool]
    run: Callable[[RunContext], None]
    applies: Callable[[RunContext], bool] = lambda ctx: True


def _simulate(ctx: RunContext) -> None:
    sim = ctx.profile.data.simulate
    simulate_file(ctx.ws.data_file, sim.n, sim.steps, sim.t_max, sim.seed)


def _baseline(ctx: RunContext) -> None:
    log.info("stage: zero-shot baseline")
    evaluate(
        # the ODE oracle is fit once, in the final test (same trajectories, same seed)
        ctx.eval_config(out=str(ctx.ws.baseline_dir), experiment="baseline", oracle=False),
        progress=ctx.cfg.progress,
    )


def _sweep(ctx: RunContext) -> None:
    sw = ctx.profile.sweep
    log.info("stage: sweep %s", sw.grid)
    spec = ctx.trial_spec(
        max_steps=sw.max_steps,
        context_length=sw.context_length,
        batch_size=sw.batch_size,
        eval_steps=sw.eval_steps,
        val_trajectories=sw.val_trajectories,
    )
    run_sweep(ctx.ws, sw.grid, spec)


def _context(ctx: RunContext) -> None:
    cs = ctx.profile.context_study
    log.info("stage: context-length study %s", cs.context_lengths)
    spec = ctx.trial_spec(
        max_steps=cs.max_steps,
        batch_size=cs.batch_size,
        eval_steps=cs.eval_every,
        val_trajectories=cs.val_trajectories,
    )
    defaults = TrainConfig(data="", out="")
    base = {"lr": defaults.lr, "rank": defaults.rank, "precision": defaults.precision}
    run_context_study(ctx.ws, cs.context_lengths, spec, base)


def _final(ctx: RunContext) -> None:
    """Train the chosen lr/rank/LoRA alpha/precision and context length on what remains of
    the budget; with ``final.grow``, continue the chosen trial's checkpoint (see
    :class:`FinalSpec`)."""
    keys = ("lr", "rank", "precision", "context_length")
    chosen = ctx.ws.read_choice(ctx.ws.context_results, keys)
    best = chosen["params"]
    # a context study written before lora_alpha was a parameter trained with the default
    lora_alpha = float(best.get("lora_alpha", TrainConfig.lora_alpha))
    prot, fin, recipe = ctx.profile.protocol, ctx.profile.final, ctx.profile.recipe
    precision, rank = int(best["precision"]), int(best["rank"])
    lora = flopsmod.LoraSpec(rank)
    # the tests still to run: the final model's, and both models' on further protocols
    tests = [(prot.context_steps, prot.horizon, False), *prot.extra_tests()]
    arch = arch_for(ctx.model)
    reserve = sum(
        eval_flops(arch, prot.rows(c, h, zs), c, h, precision, lora) for c, h, zs in tests
    )
    allot = Ledger(ctx.ws.ledger_url).remaining() - reserve
    if allot <= 0:
        raise BudgetExceededError(
            f"the budget left after the stages so far does not cover the final tests "
            f"({reserve:.3e} FLOPs): nothing remains to train the final model (raise budget)"
        )
    out = ctx.ws.final_dir
    cfg = TrainConfig(
        model=ctx.model,
        data=str(ctx.data),
        out=str(out),
        max_steps=fin.max_steps,
        batch_size=fin.batch_size,
        eval_steps=fin.eval_steps,
        save_steps=fin.eval_steps,
        ledger=ctx.ws.ledger_url,
        experiment="final",
        lr=float(best["lr"]),
        rank=rank,
        lora_alpha=lora_alpha,
        precision=precision,
        context_length=int(best["context_length"]),
        target_modules=recipe.target_modules,
        lora_layers=recipe.lora_layers,
        decimal_point=recipe.decimal_point,
        warmup_steps=recipe.warmup_steps,
        max_flops=allot,
        resume=(out / "checkpoints").is_dir(),
        progress=ctx.cfg.progress,
    )
    if fin.grow:
        trial = chosen.get("reused_from") or chosen["out"]
        cfg = replace(
            cfg,
            max_steps=int(chosen["steps"]) + fin.max_steps,
            # decay_fraction 0: the trial's constant rate to the end
            schedule="wsd" if fin.decay_fraction > 0 else "constant",
            decay_fraction=fin.decay_fraction or cfg.decay_fraction,
            init_from=None if cfg.resume else trial,
        )
        log.info("stage: final training grown from trial %s (+%d steps)", trial, fin.max_steps)
    log.info("stage: final training %s (allotment %.3e FLOPs)", best, allot)
    train(cfg)


def _final_test(ctx: RunContext) -> None:
    log.info("stage: final test evaluation")
    evaluate(
        ctx.eval_config(
            adapter=str(ctx.ws.final_dir),
            out=str(ctx.ws.final_test_dir),
            experiment="final",
            references=ctx.profile.protocol.reference_names(),  # fitted once, beside the final model
            combine=ctx.profile.protocol.combine_names(),
            scale_ensemble=ctx.profile.protocol.scale_ensemble,
        ),
        progress=ctx.cfg.progress,
    )


def _other_protocols(ctx: RunContext) -> None:
    """Test the zero-shot (unless ``protocol.zero_shot_also`` is false) and the final model
    on each of ``protocol.also``."""
    for c, h in ctx.profile.protocol.extra():
        d = ctx.ws.protocol_dir(c, h)
        for name, adapter in _extra_models(ctx):
            if ctx.ws.metrics_file(d / name).exists():
                continue
            log.info("stage: %s test at %d → %d", name, c, h)
            cfg = ctx.eval_config(
                adapter=adapter,
                out=str(d / name),
                experiment="baseline" if adapter is None else "final",
                oracle=adapter is not None,  # fit once per protocol
                references=ctx.profile.protocol.reference_names() if adapter else (),
                combine=ctx.profile.protocol.combine_names() if adapter else (),
                context_steps=c,
                horizon=h,
            )
            evaluate(cfg, progress=ctx.cfg.progress)


def _extra_models(ctx: RunContext) -> list[tuple[str, str | None]]:
    """``(folder name, adapter)`` of the models tested on each ``protocol.also``."""
    return [
        ("zero-shot", None) if zero_shot else ("final", str(ctx.ws.final_dir))
        for zero_shot in ctx.profile.protocol.extra_models()
    ]


def _protocols_done(ctx: RunContext) -> bool:
    return all(
        ctx.ws.metrics_file(ctx.ws.protocol_dir(c, h) / n).exists()
        for c, h in ctx.profile.protocol.extra()
        for n, _ in _extra_models(ctx)
    )


def _report(ctx: RunContext) -> None:
    ctx.outputs["report"] = str(
        write_report(ReportConfig(workspace=str(ctx.ws.root), ledger=ctx.ws.ledger_url))
    )


STAGES: tuple[Stage, ...] = (
    Stage("data", lambda c: c.ws.data_file.exists(), _simulate, lambda c: c.cfg.data is None),
    Stage("baseline", lambda c: c.ws.metrics_file(c.ws.baseline_dir).exists(), _baseline),
    Stage("sweep", lambda c: c.ws.sweep_results.exists(), _sweep),
    Stage("context-study", lambda c: c.ws.context_results.exists(), _context),
    Stage("final", lambda c: (c.ws.final_dir / "adapter").exists(), _final),
    Stage("final-test", lambda c: c.ws.metrics_file(c.ws.final_test_dir).exists(), _final_test),
    Stage("other-protocols", _protocols_done, _other_protocols),
    # always rewritten: cheap, and reflects the ledger now
    Stage("report", lambda c: False, _report),
)


def check_study(ctx: RunContext) -> None:
    """Build every config the stages will build — each checks itself when built — and check
    the recipe's LoRA targets against the model's architecture: the plan and the run refuse
    the same profiles, before any work (an unknown grid axis, rank 0, a negative learning
    rate, precision 20, a context length of 0, an unknown target or reference forecaster).

    Raises:
        LmcastError: the first value a stage would refuse, naming the profile key.
    """
    prof, source = ctx.profile, ctx.cfg.profile

    def where(key: str, build: Callable[[], Any]) -> Any:
        try:
            return build()
        except LmcastError as exc:
            raise LmcastError(f"profile {source}: {key}: {exc}") from None

    unknown = set(prof.recipe.target_modules) - set(flopsmod.module_shapes(arch_for(ctx.model)))
    if unknown:
        raise LmcastError(
            f"profile {source}: recipe.target_modules: {sorted(unknown)} are not modules of "
            f"{ctx.model} (choose from {', '.join(flopsmod.module_shapes(arch_for(ctx.model)))})"
        )
    where("protocol", lambda: ctx.eval_config(out="x", experiment="baseline"))
    where(
        "protocol.references",
        lambda: ctx.eval_config(
            references=prof.protocol.reference_names(), combine=prof.protocol.combine_names()
        ),
    )
    where(  # the final model's test at the main protocol (its samples, not the zero-shot's)
        "protocol.scale_ensemble",
        lambda: ctx.eval_config(adapter="final", scale_ensemble=prof.protocol.scale_ensemble),
    )
    for c, h in prof.protocol.extra():
        where("protocol.also", lambda c=c, h=h: ctx.eval_config(context_steps=c, horizon=h))
    sw, cs = prof.sweep, prof.context_study
    grid = where("sweep.grid", lambda: check_grid(sw.grid))
    spec = where("sweep", lambda: ctx.trial_spec(max_steps=sw.max_steps, batch_size=sw.batch_size,
                 context_length=sw.context_length, eval_steps=sw.eval_steps,
                 val_trajectories=sw.val_trajectories))  # fmt: skip
    for point in grid_points(grid):
        where("sweep.grid", lambda p=point: make_trial(ctx.ws, spec, p))
    for n in cs.context_lengths:
        where("context_study.context_lengths",
              lambda n=n: make_trial(ctx.ws, spec, {"context_length": n}))  # fmt: skip


def run_pipeline(cfg: RunConfig) -> dict:
    """Run (or, with ``dry_run``, plan) the whole study; returns stage outputs. Both first
    refuse what a stage would refuse (:func:`check_study`)."""
    profile = load_profile(cfg.profile)
    model = cfg.model or profile.model
    check_study(RunContext(cfg, profile, Workspace.at(cfg.workspace), model))
    if cfg.dry_run:
        rows = plan(profile, arch_for(model))
        return {
            "plan": [r.__dict__ for r in rows],
            "text": format_plan(cfg.profile, model, profile.budget, rows),
            "total": sum(r.flops for r in rows),
            "budget": profile.budget,
        }
    ws = Workspace.at(cfg.workspace)
    ws.root.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(ws.ledger_url)
    if not ledger.records():  # a new ledger takes the profile's budget
        ledger.set_budget(profile.budget)
    check_fingerprint(ws, fingerprint(profile, model, cfg.data), cfg.force_restage)
    ctx = RunContext(cfg, profile, ws, model)
    skipped = []
    for stage in STAGES:
        if not stage.applies(ctx):
            continue
        if stage.done(ctx):
            skipped.append(stage.name)
            continue
        stage.run(ctx)
    return {"workspace": str(ws.root), "skipped": skipped, **ctx.outputs}


def fingerprint(profile: Profile, model: str, data: str | None) -> dict[str, str]:
    """What decides a study's results: the profile (every resolved value, hashed), the
    model, and the data file (its SHA-256) or the profile's own simulation."""
    import hashlib
    import json
    from dataclasses import asdict

    prof = json.dumps(asdict(profile), sort_keys=True, default=str)
    if data is None:
        data_id = "simulated by the profile"
    else:
        data_id = f"{Path(data).name} sha256:{file_sha256(data)[:16]}"
    return {
        "profile": hashlib.sha256(prof.encode()).hexdigest()[:16],
        "model": model,
        "data": data_id,
    }


def check_fingerprint(ws: Workspace, now: dict[str, str], force: bool) -> None:
    """Refuse to continue a study whose profile, data or model changed (one line naming
    what); with ``force`` move the old stage outputs aside into ``restaged-<time>/``
    (nothing is deleted) and record ``now``.

    Raises:
        LmcastError: the recorded fingerprint differs and ``force`` is off.
    """
    import time

    if ws.fingerprint_file.exists() and not ws.fingerprint_file.is_file():
        raise LmcastError(
            f"{ws.fingerprint_file}: lmcast keeps the study's fingerprint there, and it is not "
            "a file (a folder?): move it away, or use another --workspace"
        )
    before = ws.read(ws.fingerprint_file)
    old_outputs = [d for d in ws.stage_dirs if d.exists()]
    if before is None and not old_outputs:
        write_json(ws.fingerprint_file, now)
        return
    if isinstance(before, dict) and before == now:
        return
    changed = (
        [k for k in now if before.get(k) != now[k]]
        if isinstance(before, dict)
        else ["unrecorded (a workspace from an older lmcast)"]
    )
    if not force:
        raise LmcastError(
            f"{ws.root}: its stages ran with another {', '.join(changed)}; "
            "use a new --workspace, or --force-restage to move the old stage outputs aside"
        )
    aside = ws.root / f"restaged-{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir()
    for d in old_outputs:
        d.rename(aside / d.name)
    log.info("moved the old stage outputs into %s (changed: %s)", aside, ", ".join(changed))
    write_json(ws.fingerprint_file, now)


def arch_for(model: str) -> flopsmod.Architecture:
    """Architecture numbers of a model name, without loading weights
    (:func:`lmcast.lm.models.architecture_of`)."""
    return architecture_of(model)
