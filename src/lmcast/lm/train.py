"""LoRA fine-tuning with a FLOP allotment, checkpoints and exact resume.

Why a hand-written loop on 🤗 Accelerate rather than ``transformers.Trainer``:
the FLOP budget must be checked *before* every optimizer step (a run stops
cleanly, saves, and charges the ledger the moment the next step would exceed
its allotment), the window order must be a pure function of (seed, step) so a
resumed run reproduces an uninterrupted one exactly, and checkpoints should
hold only the LoRA weights and optimizer state (a few MB), not the frozen base
model. Accelerate still provides device placement, DDP under ``accelerate
launch`` / ``torchrun``, and gradient synchronisation.

Per optimizer step the ledger is charged ``3 × forward(L tokens, global batch)``
(backward = 2 × forward), and every validation pass its forward FLOPs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmcast.accounting import flops as flopsmod
from lmcast.accounting.ledger import Ledger
from lmcast.compare.plots import plot_curves
from lmcast.configs import TrainConfig
from lmcast.core.codec.prepare import training_texts
from lmcast.core.codec.scheme import write_record
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import (
    SUMMARY_FILE,
    check_run_folder,
    run_info,
    write_json,
    write_text,
)
from lmcast.core.series.windows import batch_order, make_windows
from lmcast.errors import BudgetExceededError, LmcastError
from lmcast.lm import memory
from lmcast.lm.models import (
    LoadedModel,
    check_device,
    cpu_has_fast_bf16,
    llmtime_token_ids,
    load_model,
    lora_mismatch,
)
from lmcast.lm.warm_start import load_weights, prepare_meta, with_adapter_settings

log = get_logger("train")


@dataclass
class TrainResult:
    """What a training run did."""

    out: str
    steps: int
    stopped: str  # "max_steps", "budget", "early_stopping"
    flops: int
    train_loss: float | None
    val_loss_initial: float | None
    val_loss_final: float | None
    tokens_per_second: float
    trainable_parameters: int
    total_parameters: int


class LossModule:
    """Factory for the ``nn.Module`` that returns the mean next-token loss of ``(B, L)`` ids.

    With a restricted head, logits are computed only for the ``K`` token ids
    LLMTIME text can contain (the same set constrained decoding scores), so
    the softmax is over those K tokens; otherwise the model's full LM head and
    loss are used.
    """

    @staticmethod
    def build(model: Any, token_ids: list[int] | None, loss_from: int = 0) -> Any:
        import torch

        class _Loss(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model
                if token_ids is not None:
                    lut = torch.full((model.config.vocab_size + 1,), -100, dtype=torch.long)
                    lut[torch.tensor(token_ids)] = torch.arange(len(token_ids))
                    self.register_buffer("ids", torch.tensor(token_ids), persistent=False)
                    self.register_buffer("lut", lut, persistent=False)
                self.restricted = token_ids is not None

            def forward(self, input_ids: Any) -> Any:
                if not self.restricted:
                    labels = input_ids
                    if loss_from:
                        labels = input_ids.clone()
                        labels[:, :loss_from] = -100
                    return self.model(input_ids=input_ids, labels=labels).loss
                base = (
                    self.model.get_base_model()
                    if hasattr(self.model, "get_base_model")
                    else self.model
                )
                hidden = base.get_decoder()(input_ids=input_ids).last_hidden_state[:, :-1]
                head = base.get_output_embeddings()
                bias = head.bias[self.ids] if getattr(head, "bias", None) is not None else None
                logits = torch.nn.functional.linear(hidden, head.weight[self.ids], bias)
                target = self.lut[input_ids[:, 1:]]  # target j is token j + 1
                if loss_from:
                    target = target.clone()
                    target[:, : loss_from - 1] = -100
                return torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),
                    target.reshape(-1),
                    ignore_index=-100,
                )

        return _Loss()


def use_bf16(setting: str, device_type: str) -> bool:
    """Whether to autocast to bfloat16 for this setting and device."""
    if setting == "no":
        return False
    if setting == "bf16":
        return True
    return device_type == "cuda" or (device_type == "cpu" and cpu_has_fast_bf16())


def _schedule(cfg: TrainConfig, optimizer: Any) -> Any:
    from transformers import get_scheduler

    warmup = (
        cfg.warmup_steps if cfg.warmup_steps is not None else max(1, round(0.05 * cfg.max_steps))
    )
    if cfg.schedule == "wsd":
        decay = max(1, round(cfg.decay_fraction * cfg.max_steps))
        return get_scheduler(
            "warmup_stable_decay",
            optimizer,
            num_warmup_steps=warmup,
            num_training_steps=cfg.max_steps,
            scheduler_specific_kwargs={"num_decay_steps": decay},
        )
    name = {"constant": "constant_with_warmup"}.get(cfg.schedule, cfg.schedule)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=cfg.max_steps)


def _checkpoint_dir(out: Path) -> Path:
    return out / "checkpoints"


def checkpoints(out: Path) -> list[Path]:
    """A run's checkpoint folders holding a ``state.pt``, newest first."""
    ck = _checkpoint_dir(out)
    if not ck.is_dir():
        return []
    found = []
    for p in ck.glob("step_*"):
        step = p.name.split("_")[1]
        if step.isdigit() and (p / "state.pt").is_file():
            found.append((int(step), p))
    return [p for _, p in sorted(found, reverse=True)]


def latest_checkpoint(out: Path) -> Path | None:
    """The highest-step checkpoint folder of a run, if any."""
    found = checkpoints(out)
    return found[0] if found else None


def load_checkpoint(out: Path) -> tuple[Path, dict]:
    """The newest checkpoint that loads, as ``(folder, state)``.

    ``torch.load(weights_only=True)``: tensors and plain data only, so a
    crafted ``state.pt`` cannot run code. A corrupt or foreign newest
    checkpoint is skipped with a warning for the previous one.

    Raises:
        LmcastError: no checkpoint loads.
    """
    import pickle

    import torch

    found = [out] if (out / "state.pt").is_file() else checkpoints(out)
    for ckpt in found:
        try:
            state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
            if not (isinstance(state, dict) and {"lora", "optimizer", "step"} <= set(state)):
                raise ValueError("not an lmcast checkpoint")
            return ckpt, state
        except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            log.warning("skipping checkpoint %s: %s", ckpt, str(exc).splitlines()[0][:200])
    raise LmcastError(f"{out}: no loadable checkpoint to resume from")


def check_config(cfg: TrainConfig) -> None:
    """Refuse impossible settings with one line, before anything is loaded."""
    # ranges (steps, sizes, lr, rank, precision, …) are checked when the config is built
    # (lmcast.configs.Checked); here what needs more than one field or the file system
    if cfg.lora_layers:
        try:  # a known name or a local directory: refuse before loading anything
            n_layers = flopsmod.resolve_architecture(cfg.model).layers
        except KeyError:  # a hub id: checked once the model is loaded
            n_layers = cfg.lora_layers
        if cfg.lora_layers > n_layers:
            raise LmcastError(f"--lora-layers {cfg.lora_layers}: the model has {n_layers} layers")
    if cfg.loss_from >= cfg.context_length:
        raise LmcastError(
            f"--loss-from {cfg.loss_from} leaves no token of a {cfg.context_length}-token "
            "window to learn from"
        )
    if cfg.init_from is not None and cfg.resume:
        raise LmcastError("--init-from starts a new run; --resume continues this run's own")
    if cfg.init_from is not None and not Path(cfg.init_from).is_dir():
        raise LmcastError(f"--init-from {cfg.init_from}: no such run or checkpoint folder")
    if cfg.init_adapter is not None and cfg.init_from is not None:
        raise LmcastError(
            "--init-adapter starts from an adapter's weights, --init-from continues a run: give one"
        )
    check_device(cfg.device)
    check_run_folder(cfg.out, overwrite=cfg.overwrite)
    if cfg.report_to != "none":
        import importlib.util

        pkg = {"tensorboard": "tensorboard", "wandb": "wandb"}[cfg.report_to]
        if importlib.util.find_spec(pkg) is None:
            raise LmcastError(
                f"--report-to {cfg.report_to} needs the {pkg} package: pip install {pkg}"
            )


def checkpoint_to_resume(cfg: TrainConfig) -> Path | None:
    """The checkpoint ``--resume`` continues from (``None`` for a fresh run).

    Raises:
        LmcastError: ``--resume`` without a checkpoint, or a finished run without it.
    """
    out = Path(cfg.out)
    ckpt = latest_checkpoint(out) if cfg.resume else None
    if cfg.resume and ckpt is None:
        if not _checkpoint_dir(out).is_dir():
            raise LmcastError(f"{out}: --resume given but the run folder has no checkpoint")
        # killed while writing its first checkpoint: nothing to continue from
        log.warning("%s: no complete checkpoint; training starts again from step 0", out)
    if not cfg.resume and (out / "adapter").exists():
        raise LmcastError(
            f"{out}: run folder already holds an adapter; use --resume or another --out"
        )
    return ckpt


@dataclass
class TrainState:
    """What changes while training; saved in every checkpoint (but ``tokens_done``)."""

    step: int = 0
    used: int = 0
    history: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    since_best: int = 0
    best_state: dict | None = None
    last_loss: float | None = None
    tokens_done: int = 0
    inherited: int = 0  # FLOPs of the run this one continues (--init-from), charged there


@dataclass
class LedgerRun:
    """A training run's one ledger row: what it charged before this process, and since.

    A resumed run reuses its row (one run, one row): the FLOPs charged before
    the interruption stay charged (they were spent, even the steps after the
    last checkpoint), and this process adds only the work it does itself.
    """

    ledger: Ledger
    run_id: int | None
    base: int = 0  # the row's FLOPs when this process took it over
    start_used: int = 0  # the run's own counter at that moment
    beat: float = field(default_factory=time.monotonic)

    def charge(self, state: TrainState, status: str | None = None) -> None:
        """Set the row to what has been spent (and optionally its status)."""
        if self.run_id is None:
            return
        self.ledger.update(self.run_id, self.base + state.used - self.start_used, status=status)
        self.beat = time.monotonic()

    def heartbeat(self, state: TrainState, every: float = 60.0) -> None:
        """Charge at most every ``every`` seconds, which also keeps the reservation alive."""
        if time.monotonic() - self.beat >= every:
            self.charge(state)


@dataclass
class Setup:
    """Everything a run builds before its first step (fixed while it trains)."""

    cfg: TrainConfig
    accelerator: Any
    bf16: bool
    meta: dict
    lm: LoadedModel
    train_w: np.ndarray
    val_w: np.ndarray
    loss_mod: Any
    optimizer: Any
    scheduler: Any
    head_vocab: int | None
    step_flops: int
    val_flops: int
    n_train: int
    n_total: int
    micro: int  # sequences per forward/backward pass (<= batch_size, chosen to fit memory)

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)

    @property
    def dev(self) -> Any:
        return self.accelerator.device

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def global_batch(self) -> int:
        return self.cfg.batch_size * self.cfg.grad_accum * self.accelerator.num_processes

    @property
    def n_evals(self) -> int:
        return 2 + self.cfg.max_steps // max(self.cfg.eval_steps, 1) if len(self.val_w) else 0

    def autocast(self) -> Any:
        import torch

        return torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16, enabled=self.bf16)

    def peft_model(self) -> Any:
        return self.accelerator.unwrap_model(self.loss_mod).model


def _windows(
    cfg: TrainConfig, tok: Any, texts: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """``(train (W, L), val (W', L))`` token windows."""
    train_w = make_windows(texts["train"], tok, cfg.context_length, cfg.stride)
    val_w = make_windows(texts["val"], tok, cfg.context_length, cfg.context_length)
    if len(train_w) == 0:
        raise LmcastError(
            f"{cfg.data}: training split yields no window of {cfg.context_length} tokens"
        )
    if cfg.eval_windows and len(val_w) > cfg.eval_windows:
        val_w = val_w[np.linspace(0, len(val_w) - 1, cfg.eval_windows).round().astype(int)]
    return train_w, val_w


def lora_targets(cfg: TrainConfig) -> list[str]:
    """The module names of ``--target-modules``, in the order given."""
    return list(cfg.target_modules)


def _lora_model(cfg: TrainConfig, base: Any) -> Any:
    """PEFT LoRA on the configured modules (seeded)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(cfg.seed)
    targets = lora_targets(cfg)
    n_layers = base.config.num_hidden_layers
    if cfg.lora_layers > n_layers:
        raise LmcastError(f"--lora-layers {cfg.lora_layers}: the model has {n_layers} layers")
    top = list(range(n_layers - cfg.lora_layers, n_layers)) if cfg.lora_layers else None
    lcfg = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        layers_to_transform=top,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(base, lcfg)
    except ValueError as exc:
        raise LmcastError(f"cannot put LoRA on {targets}: {exc}") from None


def _flops(
    cfg: TrainConfig, arch: Any, head_vocab: int | None, n_val: int, world: int
) -> tuple[int, int]:
    """``(per optimizer step, per validation pass)`` FLOPs."""
    lora = flopsmod.LoraSpec(cfg.rank, tuple(lora_targets(cfg)), cfg.lora_layers or None)
    L = cfg.context_length
    logit_pos = L - 1 if head_vocab else None
    kw = {"lora": lora, "logits_positions": logit_pos, "head_vocab": head_vocab}
    global_batch = cfg.batch_size * cfg.grad_accum * world
    step = flopsmod.train_step_flops(arch, L, batch=global_batch, **kw)
    val = flopsmod.forward_count(arch, L, batch=n_val, **kw).total
    return step, val * world  # every process scores the same validation windows


def setup(cfg: TrainConfig) -> Setup:
    """Accelerator, encoded data, model with LoRA, loss, optimizer, schedule and FLOP costs."""
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(
        cpu=cfg.device == "cpu",
        log_with=None if cfg.report_to == "none" else cfg.report_to,
        project_dir=cfg.out,
    )
    meta, texts = training_texts(
        cfg.data,
        cfg.precision,
        cfg.alpha,
        cfg.split_seed,
        decimal_point=cfg.decimal_point,
        holdout=cfg.holdout,
        csv=cfg,
    )
    if cfg.init_adapter is not None:  # checked against the adapter before the model loads
        meta = prepare_meta(cfg, meta)
    lm = load_model(cfg.model, device=str(accelerator.device), dtype="float32")
    train_w, val_w = _windows(cfg, lm.tokenizer, texts)
    model = _lora_model(cfg, lm.model)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    log.info(
        "LoRA r=%d on %s: %s trainable parameters of %s (%.3f %%)",
        cfg.rank,
        ",".join(lora_targets(cfg)),
        f"{n_train:,}",
        f"{n_total:,}",
        100 * n_train / n_total,
    )
    head_ids = llmtime_token_ids(lm.tokenizer, [train_w, val_w]) if cfg.restricted_head else None
    loss_mod = LossModule.build(model, head_ids, cfg.loss_from)
    # CUDA: the fused kernel updates every LoRA tensor in one launch instead of a few per tensor
    adamw = {
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "fused": accelerator.device.type == "cuda",
    }
    if cfg.loraplus_ratio != 1.0:  # LoRA+: the B matrices in their own group at ratio x lr
        from peft.optimizers import create_loraplus_optimizer

        optimizer = create_loraplus_optimizer(
            model, torch.optim.AdamW, loraplus_lr_ratio=cfg.loraplus_ratio, **adamw
        )
    else:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], **adamw)
    scheduler = _schedule(cfg, optimizer)
    loss_mod, optimizer = accelerator.prepare(loss_mod, optimizer)
    head_vocab = len(head_ids) if head_ids else None
    step_flops, val_flops = _flops(cfg, lm.arch, head_vocab, len(val_w), accelerator.num_processes)
    bf16 = use_bf16(cfg.autocast, accelerator.device.type)
    micro = micro_batch(cfg, lm.arch, head_vocab, bf16, accelerator.device)
    return Setup(
        cfg, accelerator, bf16, meta, lm, train_w, val_w, loss_mod, optimizer, scheduler,
        head_vocab, step_flops, val_flops, n_train, n_total, micro,
    )  # fmt: skip


def micro_batch(
    cfg: TrainConfig, arch: Any, head_vocab: int | None, bf16: bool, device: Any
) -> int:
    """Sequences per forward/backward pass: ``--batch-size``, or fewer when that many
    would not fit in the device's memory (:mod:`lmcast.lm.memory`). The optimizer's batch
    stays as configured: the pieces' gradients accumulate before the step."""
    per_seq = memory.training_bytes(arch, cfg.context_length, head_vocab, 2 if bf16 else 4)
    micro = memory.fit_batch(cfg.batch_size, per_seq, device, what="training window")
    if micro < cfg.batch_size:
        log.info(
            "--batch-size %d runs as micro-batches of %d (gradients accumulate; same optimizer "
            "batch) to fit in memory",
            cfg.batch_size,
            micro,
        )
    return micro


def resume_state(s: Setup, source: Path | None = None) -> TrainState:
    """Load LoRA weights, optimizer, schedule and counters from the newest loadable checkpoint
    of this run, or of ``source`` (``--init-from``: the history restarts here, and the
    source's FLOPs are marked inherited, charged to its own run)."""
    from peft import set_peft_model_state_dict

    ckpt, state = load_checkpoint(source or s.out)
    # another --rank, --lora-targets or --lora-layers than the run had
    if (bad := lora_mismatch(s.peft_model(), state["lora"])) is not None:
        key, theirs, mine = bad
        raise LmcastError(
            f"{s.out}: --resume with LoRA settings other than the checkpoint's ({key}: "
            f"checkpoint {theirs}, now {mine}); resume with the run's own settings (see its "
            "run.json)"
        )
    groups = len(state["optimizer"]["param_groups"])
    if groups != len(s.optimizer.param_groups):  # LoRA+ keeps the B matrices apart
        raise LmcastError(
            f"{s.out}: the checkpoint's optimizer has {groups} parameter group(s), this run's "
            f"{len(s.optimizer.param_groups)}: --loraplus-ratio other than the checkpoint's "
            "(1 or not); resume with the run's own settings (see its run.json)"
        )
    set_peft_model_state_dict(s.peft_model(), state["lora"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.scheduler.load_state_dict(state["scheduler"])
    log.info("resumed from %s (step %d, %.3e FLOPs used)", ckpt, state["step"], state["flops"])
    if source is not None:  # a new run grown from another: its own history starts here
        return TrainState(step=state["step"], used=state["flops"], inherited=state["flops"])
    if s.main:  # rows logged after the checkpoint are redone: metrics.jsonl restarts from it
        rows = "".join(json.dumps(r) + "\n" for r in state["history"])
        write_text(s.out / "metrics.jsonl", rows)
    return TrainState(
        step=state["step"],
        used=state["flops"],
        history=state["history"],
        best_val=state.get("best_val", math.inf),
        since_best=state.get("since_best", 0),
        inherited=state.get("inherited", 0),
    )


def allotment(
    s: Setup, state: TrainState, ledger: Ledger, own_row: int | None = None
) -> tuple[float, float]:
    """``(allotment, projected)`` FLOPs of the run; refuses one whose first step does not fit.

    The allotment caps the run's own FLOP counter: ``--max-flops``, and what
    the ledger has left once other live runs' reservations are held back.
    """
    cfg = s.cfg
    # --max-flops caps this run's own work: FLOPs inherited from --init-from are not in it
    cap = cfg.max_flops + state.inherited if cfg.max_flops is not None else math.inf
    allot = min(cap, state.used + ledger.remaining(exclude=own_row))
    projected = state.used + (cfg.max_steps - state.step) * s.step_flops + s.n_evals * s.val_flops
    first_cost = s.step_flops + (s.val_flops if state.step == 0 and len(s.val_w) else 0)
    if state.used + first_cost > allot:
        raise BudgetExceededError(
            f"training refused: one step costs {first_cost:.3e} FLOPs (with the first validation) but the "
            f"allotment leaves {allot - state.used:.3e} (--max-flops {cfg.max_flops}, ledger {ledger.shown_url}); "
            f"projected for the whole run {projected:.3e}"
        )
    return allot, projected


def open_run(
    s: Setup,
    state: TrainState,
    ledger: Ledger,
    allot: float,
    projected: float,
    own_row: int | None = None,
) -> LedgerRun:
    """Write ``run.json`` and ``encoding.json``, reserve the budget on the run's ledger row
    (``own_row`` when resuming), start trackers (main process only)."""
    cfg = s.cfg
    if not s.main:
        return LedgerRun(ledger, None)
    s.out.mkdir(parents=True, exist_ok=True)
    write_json(s.out / "run.json", run_info(asdict(cfg), cfg.seed, "train"))
    write_record(s.out, s.meta)
    run_id = ledger.reserve(
        cfg.experiment,
        str(s.out),
        "train",
        projected=max(0.0, min(projected, allot) - state.used),
        config={**asdict(cfg), "alpha": s.meta["alpha"]},
        what="training",
        resume_id=own_row,
    )
    # The row holds at least the checkpoint's work: a row behind it (a ledger written by an
    # older lmcast, or edited) is raised to it, so no work done before the checkpoint goes unpaid.
    own = state.used - state.inherited  # work charged to another run is not this row's
    run = LedgerRun(ledger, run_id, max(ledger.run_flops(run_id) or 0, own), state.used)
    if cfg.report_to != "none":
        scalars = {k: v for k, v in asdict(cfg).items() if isinstance(v, (int, float, str, bool))}
        try:
            s.accelerator.init_trackers(s.out.name, config=scalars)
        except Exception as exc:
            run.charge(state, status="stopped")
            raise LmcastError(f"--report-to {cfg.report_to} failed: {exc}") from None
    return run


def log_row(s: Setup, state: TrainState, row: dict) -> None:
    """Append a metrics row to the history, ``metrics.jsonl`` and the tracker."""
    state.history.append(row)
    if not s.main:
        return
    with open(s.out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    if s.cfg.report_to != "none":
        scalars = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        s.accelerator.log(scalars, step=row["step"])


def validate(s: Setup, state: TrainState) -> float | None:
    """Mean validation loss (nats/token) over the validation windows; charges its FLOPs."""
    import torch

    if len(s.val_w) == 0:
        return None
    s.loss_mod.eval()
    losses = []
    with torch.no_grad(), s.autocast():
        for b in range(0, len(s.val_w), s.micro):
            ids = torch.as_tensor(s.val_w[b : b + s.micro], device=s.dev)
            losses.append(float(s.loss_mod(ids)) * len(ids))
    s.loss_mod.train()
    state.used += s.val_flops
    return sum(losses) / len(s.val_w)


def save_checkpoint(s: Setup, state: TrainState, run: LedgerRun, tag: str) -> None:
    """Checkpoint LoRA weights, optimizer, schedule and counters; keep the last
    ``keep_checkpoints``; update the ledger.

    Raises:
        LmcastError: the disk is full (one line; the partial folder is removed, the
            previous checkpoints are kept).
    """

    if not s.main:
        return
    d = _checkpoint_dir(s.out) / f"step_{state.step:06d}"
    try:
        _write_checkpoint(s, state, run, d)
    except (OSError, RuntimeError) as exc:
        if not disk_full(exc):
            raise
        shutil.rmtree(d, ignore_errors=True)  # never a half-written checkpoint
        raise LmcastError(
            f"{s.out}: the checkpoint of step {state.step} does not fit on the disk; the "
            "previous checkpoint and the work charged so far are kept: free space, then "
            "lmcast train --resume with the same options"
        ) from None
    keep = s.cfg.keep_checkpoints
    for old in sorted(_checkpoint_dir(s.out).glob("step_*"))[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)
    log.debug("checkpoint %s (%s)", d, tag)


def disk_full(exc: BaseException) -> bool:
    """Whether an error is a write that ran out of disk space (``ENOSPC``, or torch's
    ``file write failed`` from its archive writer, or a quota)."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "file write failed" in text or "disk quota" in text


def _write_checkpoint(s: Setup, state: TrainState, run: LedgerRun, d: Path) -> None:
    """The files of one checkpoint folder ``d``; ``state.pt`` last (its rename completes it)."""
    import torch
    from peft import get_peft_model_state_dict

    d.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "lora": get_peft_model_state_dict(s.peft_model()),
            "optimizer": s.optimizer.state_dict(),
            "scheduler": s.scheduler.state_dict(),
            "step": state.step,
            "flops": state.used,
            "history": state.history,
            "best_val": state.best_val,
            "since_best": state.since_best,
            "inherited": state.inherited,
        },
        d / ".state.pt.tmp",
    )
    # The adapter and its encoding first: a folder with state.pt is then complete,
    # and `evaluate --adapter RUN/checkpoints/step_N` scores the model as it was.
    s.peft_model().save_pretrained(d / "adapter")
    write_record(d, s.meta)
    # Charge before the checkpoint becomes visible: a kill in between leaves the ledger
    # ahead of the checkpoint (work spent, then redone), never behind it (work unpaid).
    run.charge(state)
    os.replace(d / ".state.pt.tmp", d / "state.pt")  # a half-written file is never state.pt


def train_step(s: Setup, state: TrainState) -> float:
    """One optimizer step over ``grad_accum`` batches, each run in pieces of ``s.micro``
    windows (weighted by their size, so the gradient is the whole batch's mean); returns
    the step's mean loss."""
    import torch

    cfg, acc, world = s.cfg, s.accelerator, s.accelerator.num_processes
    idx = batch_order(len(s.train_w), state.step, s.global_batch, cfg.seed)
    mine = idx[acc.process_index :: world]
    per = cfg.batch_size
    pieces = [
        mine[a * per + m : a * per + min(per, m + s.micro)]
        for a in range(cfg.grad_accum)
        for m in range(0, per, s.micro)
    ]
    total = 0.0
    for i, piece in enumerate(pieces):
        ids = torch.as_tensor(s.train_w[piece], device=s.dev)
        last = i == len(pieces) - 1
        weight = len(piece) / (cfg.batch_size * cfg.grad_accum)
        with contextlib.nullcontext() if last else acc.no_sync(s.loss_mod), s.autocast():
            loss = s.loss_mod(ids) * weight
        acc.backward(loss)
        total += float(loss.detach())
    if cfg.max_grad_norm > 0:
        acc.clip_grad_norm_(s.loss_mod.parameters(), cfg.max_grad_norm)
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.used += s.step_flops
    state.tokens_done += s.global_batch * cfg.context_length
    state.last_loss = total
    return total


def _track_validation(s: Setup, state: TrainState, val_loss: float | None) -> None:
    """Best validation loss so far, evaluations since it, and its weights under early stopping."""
    from peft import get_peft_model_state_dict

    if val_loss is None:
        return
    if val_loss < state.best_val - 1e-6:
        state.best_val, state.since_best = val_loss, 0
        if s.cfg.early_stopping:
            state.best_state = {
                k: v.detach().clone() for k, v in get_peft_model_state_dict(s.peft_model()).items()
            }
    else:
        state.since_best += 1


def training_loop(s: Setup, state: TrainState, allot: float, run: LedgerRun) -> str:
    """Step until ``max_steps``, the allotment, or early stopping; returns why it stopped."""
    from tqdm.auto import tqdm

    cfg = s.cfg
    stopped, t_start = "max_steps", time.perf_counter()
    bar = tqdm(
        total=cfg.max_steps,
        initial=state.step,
        desc="training",
        unit="step",
        disable=not (cfg.progress and s.main),
        dynamic_ncols=True,
    )
    s.loss_mod.train()
    while state.step < cfg.max_steps:
        if state.used + s.step_flops > allot:
            stopped = "budget"
            log.warning(
                "FLOP allotment reached at step %d (%.3e of %.3e): stopping and saving",
                state.step,
                state.used,
                allot,
            )
            break
        loss = train_step(s, state)
        if not math.isfinite(loss):
            raise LmcastError(
                f"step {state.step}: training loss is {loss} (diverged; try a lower --lr); "
                "no adapter saved, the FLOPs spent are charged"
            )
        row = {
            "step": state.step,
            "loss": loss,
            "lr": s.scheduler.get_last_lr()[0],
            "flops": state.used,
            "tokens_per_s": state.tokens_done / (time.perf_counter() - t_start),
        }
        if state.step % max(cfg.eval_steps, 1) == 0 or state.step == cfg.max_steps:
            row["val_loss"] = validate(s, state)
            _track_validation(s, state, row["val_loss"])
        log_row(s, state, row)
        bar.set_postfix(
            loss=f"{loss:.4f}", tok_s=f"{row['tokens_per_s']:.0f}", flops=f"{state.used:.2e}"
        )
        bar.update(1)
        if cfg.save_steps and state.step % cfg.save_steps == 0 and state.step < cfg.max_steps:
            save_checkpoint(s, state, run, "periodic")
        else:
            run.heartbeat(state)
        if cfg.early_stopping and state.since_best >= cfg.early_stopping:
            stopped = "early_stopping"
            break
    bar.close()
    return stopped


def finish(
    s: Setup,
    state: TrainState,
    stopped: str,
    run: LedgerRun,
    seconds: float,
    val0: float | None,
) -> TrainResult:
    """Save the adapter, the last checkpoint, the loss plot and ``summary.json``; close the ledger row."""
    from peft import set_peft_model_state_dict

    model_u = s.peft_model()
    if stopped == "early_stopping" and state.best_state is not None:
        set_peft_model_state_dict(model_u, state.best_state)
    val_final = next(
        (r["val_loss"] for r in reversed(state.history) if r.get("val_loss") is not None), None
    )
    summary = TrainResult(
        str(s.out),
        state.step,
        stopped,
        int(state.used),
        state.last_loss,
        val0,
        val_final,
        state.tokens_done / seconds if seconds > 0 else 0.0,
        s.n_train,
        s.n_total,
    )
    if s.main:
        save_checkpoint(s, state, run, stopped)
        # into a temporary folder, then renamed: "adapter/" exists only complete
        tmp = s.out / f".adapter.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model_u.save_pretrained(tmp)
        shutil.rmtree(s.out / "adapter", ignore_errors=True)
        os.replace(tmp, s.out / "adapter")
        run.charge(state, status="done" if stopped != "budget" else "stopped")
        _plot_losses(s.out, state.history)
        write_json(
            s.out / SUMMARY_FILE,
            {
                **asdict(summary),
                "bf16_autocast": s.bf16,
                "micro_batch": s.micro,
                "world_size": s.accelerator.num_processes,
                "train_windows": len(s.train_w),
                "val_windows": len(s.val_w),
                "step_flops": s.step_flops,
                "restricted_head_tokens": s.head_vocab,
            },
        )
    if s.cfg.report_to != "none":
        s.accelerator.end_training()
    s.accelerator.wait_for_everyone()
    return summary


def train(cfg: TrainConfig) -> TrainResult:
    """Run LoRA fine-tuning as configured; see the module docstring.

    A short driver over named steps: check the config, find the checkpoint to
    resume, :func:`setup`, :func:`resume_state`, :func:`allotment`,
    :func:`open_run`, the first validation, :func:`training_loop`, :func:`finish`.
    """
    cfg = with_adapter_settings(cfg)  # --init-adapter: its format and LoRA shape by default
    check_config(cfg)
    ckpt = checkpoint_to_resume(cfg)
    s = setup(cfg)
    ledger = Ledger(cfg.ledger)
    if ckpt is not None:
        state = resume_state(s)
    elif cfg.init_from is not None:
        state = resume_state(s, Path(cfg.init_from))
    else:
        state = TrainState()
        if cfg.init_adapter is not None:
            load_weights(s.peft_model(), cfg.init_adapter)
            log.info("LoRA weights from adapter %s; step 0, fresh optimizer", cfg.init_adapter)
    if ckpt is None and cfg.init_from is not None and state.step >= cfg.max_steps:
        raise LmcastError(
            f"--max-steps {cfg.max_steps}: the run continued with --init-from is already at "
            f"step {state.step}"
        )
    if ckpt is None and s.main:  # a fresh start: rows of an earlier, killed attempt go
        (s.out / "metrics.jsonl").unlink(missing_ok=True)
    own = ledger.find_run(str(s.out), "train") if cfg.resume else None
    allot, projected = allotment(s, state, ledger, own)
    run = open_run(s, state, ledger, allot, projected, own)
    try:
        if state.step == 0 or (state.inherited and not state.history):
            val0 = validate(s, state)
            log_row(s, state, {"step": state.step, "val_loss": val0, "flops": state.used})
            state.best_val = val0 if val0 is not None else math.inf
        else:
            val0 = next(
                (r["val_loss"] for r in state.history if r["step"] == 0 and "val_loss" in r), None
            )
        t_start = time.perf_counter()
        stopped = training_loop(s, state, allot, run)
        return finish(s, state, stopped, run, time.perf_counter() - t_start, val0)
    except BaseException:
        run.charge(state, status="stopped")  # what was done stays charged; the rest is released
        raise


def _plot_losses(out: Path, history: list[dict]) -> None:
    tr = [(r["step"], r["loss"]) for r in history if r.get("loss") is not None]
    va = [(r["step"], r["val_loss"]) for r in history if r.get("val_loss") is not None]
    series = {}
    if tr:
        series["train loss"] = ([s for s, _ in tr], [v for _, v in tr])
    if va:
        series["validation loss"] = ([s for s, _ in va], [v for _, v in va])
    if series:
        plot_curves(
            out / "loss_curve.png",
            series,
            "optimizer step",
            "cross-entropy (nats/token)",
            title=f"training {out.name}",
        )
