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
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmcast import flops as flopsmod
from lmcast.configs import TrainConfig
from lmcast.data import load_dataset
from lmcast.errors import BudgetExceededError, LmcastError
from lmcast.logs import get_logger
from lmcast.prepare import build_meta, check_precision
from lmcast.runinfo import run_info, write_json
from lmcast.windows import batch_order, make_windows

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
    def build(model: Any, token_ids: list[int] | None) -> Any:
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
                    return self.model(input_ids=input_ids, labels=input_ids).loss
                base = (
                    self.model.get_base_model()
                    if hasattr(self.model, "get_base_model")
                    else self.model
                )
                hidden = base.get_decoder()(input_ids=input_ids).last_hidden_state[:, :-1]
                head = base.get_output_embeddings()
                bias = head.bias[self.ids] if getattr(head, "bias", None) is not None else None
                logits = torch.nn.functional.linear(hidden, head.weight[self.ids], bias)
                target = self.lut[input_ids[:, 1:]]
                return torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),
                    target.reshape(-1),
                    ignore_index=-100,
                )

        return _Loss()


def restricted_token_ids(tokenizer: Any, windows: list[np.ndarray]) -> list[int]:
    """Token ids that LLMTIME text can contain: every token made of ``0-9 . , ; -`` plus EOS and any id in the windows."""
    from lmcast.grammar import alphabet_token_ids

    ids = set(alphabet_token_ids([tokenizer.decode([i]) for i in range(len(tokenizer))]))
    ids.add(int(tokenizer.eos_token_id))
    for w in windows:
        ids.update(int(t) for t in np.unique(w))
    return sorted(ids)


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in (" avx512_bf16", " amx_bf16"))


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
    name = {"constant": "constant_with_warmup"}.get(cfg.schedule, cfg.schedule)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=cfg.max_steps)


def _checkpoint_dir(out: Path) -> Path:
    return out / "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The highest-step checkpoint folder of a run, if any."""
    ck = _checkpoint_dir(out)
    if not ck.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("_")[1]), p) for p in ck.glob("step_*") if (p / "state.pt").is_file()
    )
    return steps[-1][1] if steps else None


def train(cfg: TrainConfig, ledger: Any = None) -> TrainResult:
    """Run LoRA fine-tuning as configured; see the module docstring."""
    import torch
    from accelerate import Accelerator
    from peft import (
        LoraConfig,
        get_peft_model,
        get_peft_model_state_dict,
        set_peft_model_state_dict,
    )
    from tqdm.auto import tqdm

    from lmcast import encoding
    from lmcast.ledger import Ledger
    from lmcast.models import load_model

    if cfg.max_steps < 1 or cfg.batch_size < 1 or cfg.grad_accum < 1 or cfg.context_length < 8:
        raise LmcastError(
            "--max-steps, --batch-size, --grad-accum must be >= 1 and --context-length >= 8"
        )
    if cfg.rank < 1:
        raise LmcastError("--rank must be >= 1")
    if not cfg.lr > 0:
        raise LmcastError(f"--lr must be positive, got {cfg.lr}")
    if cfg.stride is not None and cfg.stride < 1:
        raise LmcastError(f"--stride must be >= 1, got {cfg.stride}")
    check_precision(cfg.precision)
    if cfg.report_to != "none":
        import importlib.util

        pkg = {"tensorboard": "tensorboard", "wandb": "wandb"}[cfg.report_to]
        if importlib.util.find_spec(pkg) is None:
            raise LmcastError(
                f"--report-to {cfg.report_to} needs the {pkg} package: pip install {pkg}"
            )
    out = Path(cfg.out)
    ckpt = latest_checkpoint(out) if cfg.resume else None
    if cfg.resume and ckpt is None:
        raise LmcastError(f"{out}: --resume given but the run folder has no checkpoint")
    if not cfg.resume and (out / "adapter").exists():
        raise LmcastError(
            f"{out}: run folder already holds an adapter; use --resume or another --out"
        )

    accelerator = Accelerator(
        cpu=cfg.device == "cpu",
        log_with=None if cfg.report_to == "none" else cfg.report_to,
        project_dir=str(out),
    )
    dev = accelerator.device
    bf16 = use_bf16(cfg.autocast, dev.type)
    world = accelerator.num_processes
    main = accelerator.is_main_process

    # ---- data: encode splits, tokenize once, cut windows
    ds = load_dataset(cfg.data)
    meta = build_meta(ds, cfg.precision, cfg.alpha, cfg.split_seed)
    alpha = meta["alpha"]
    texts = {
        s: [encoding.encode(ds.trajectories[i], alpha, cfg.precision) for i in meta["splits"][s]]
        for s in ("train", "val")
    }
    lm = load_model(cfg.model, device=str(dev), dtype="float32")
    tok = lm.tokenizer
    train_w = make_windows(texts["train"], tok, cfg.context_length, cfg.stride)
    val_w = make_windows(texts["val"], tok, cfg.context_length, cfg.context_length)
    if len(train_w) == 0:
        raise LmcastError(
            f"{cfg.data}: training split yields no window of {cfg.context_length} tokens"
        )
    if cfg.eval_windows and len(val_w) > cfg.eval_windows:
        val_w = val_w[np.linspace(0, len(val_w) - 1, cfg.eval_windows).round().astype(int)]

    # ---- model: PEFT LoRA on the chosen modules
    torch.manual_seed(cfg.seed)
    targets = [t.strip() for t in cfg.target_modules.split(",") if t.strip()]
    lcfg = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(lm.model, lcfg)
    except ValueError as exc:
        raise LmcastError(f"cannot put LoRA on {targets}: {exc}") from None
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    log.info(
        "LoRA r=%d on %s: %s trainable parameters of %s (%.3f %%)",
        cfg.rank,
        ",".join(targets),
        f"{n_train:,}",
        f"{n_total:,}",
        100 * n_train / n_total,
    )
    head_ids = restricted_token_ids(tok, [train_w, val_w]) if cfg.restricted_head else None
    loss_mod = LossModule.build(model, head_ids)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    scheduler = _schedule(cfg, optimizer)
    loss_mod, optimizer = accelerator.prepare(loss_mod, optimizer)

    # ---- FLOPs per step and per validation pass
    lora = flopsmod.LoraSpec(cfg.rank, tuple(targets))
    L = cfg.context_length
    head_vocab = len(head_ids) if head_ids else None
    logit_pos = L - 1 if head_ids else None
    global_batch = cfg.batch_size * cfg.grad_accum * world
    step_flops = (
        3
        * flopsmod.forward_count(
            lm.arch,
            L,
            batch=global_batch,
            lora=lora,
            logits_positions=logit_pos,
            head_vocab=head_vocab,
        ).total
    )
    val_flops = flopsmod.forward_count(
        lm.arch, L, batch=len(val_w), lora=lora, logits_positions=logit_pos, head_vocab=head_vocab
    ).total
    val_flops *= world  # every process scores the same validation windows
    n_evals = 2 + cfg.max_steps // max(cfg.eval_steps, 1) if len(val_w) else 0
    ledger = ledger or Ledger(cfg.ledger)

    # ---- resume state
    step, used, history = 0, 0, []
    best_val, best_state, since_best = math.inf, None, 0
    if ckpt is not None:
        state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=False)
        set_peft_model_state_dict(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, used, history = state["step"], state["flops"], state["history"]
        best_val, since_best = state.get("best_val", math.inf), state.get("since_best", 0)
        log.info("resumed from %s (step %d, %.3e FLOPs used)", ckpt, step, used)

    remaining_steps = cfg.max_steps - step
    allot = min(cfg.max_flops or math.inf, used + ledger.remaining())
    projected = used + remaining_steps * step_flops + n_evals * val_flops
    first_cost = step_flops + (val_flops if step == 0 and len(val_w) else 0)
    if used + first_cost > allot:
        raise BudgetExceededError(
            f"training refused: one step costs {first_cost:.3e} FLOPs (with the first validation) but the "
            f"allotment leaves {allot - used:.3e} (--max-flops {cfg.max_flops}, ledger {ledger.url}); "
            f"projected for the whole run {projected:.3e}"
        )

    run_id = None
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "run.json", run_info(asdict(cfg), cfg.seed, "train"))
        write_json(
            out / "encoding.json",
            {
                "alpha": alpha,
                "alpha_rule": meta["alpha_rule"],
                "precision": cfg.precision,
                "split_seed": cfg.split_seed,
                "source_sha256": meta["source_sha256"],
            },
        )
        run_id = ledger.start(
            cfg.experiment,
            str(out),
            "train",
            projected=projected,
            config={**asdict(cfg), "alpha": alpha},
        )
        if cfg.report_to != "none":
            try:
                accelerator.init_trackers(
                    out.name,
                    config={
                        k: v
                        for k, v in asdict(cfg).items()
                        if isinstance(v, (int, float, str, bool))
                    },
                )
            except Exception as exc:
                raise LmcastError(f"--report-to {cfg.report_to} failed: {exc}") from None
    metrics_path = out / "metrics.jsonl"

    def log_row(row: dict) -> None:
        history.append(row)
        if main:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            if cfg.report_to != "none":
                accelerator.log(
                    {k: v for k, v in row.items() if isinstance(v, (int, float))}, step=row["step"]
                )

    def autocast() -> Any:
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16)

    def validate() -> float | None:
        nonlocal used
        if len(val_w) == 0:
            return None
        loss_mod.eval()
        losses = []
        with torch.no_grad(), autocast():
            for b in range(0, len(val_w), cfg.batch_size):
                ids = torch.as_tensor(val_w[b : b + cfg.batch_size], device=dev)
                losses.append(float(loss_mod(ids)) * len(ids))
        loss_mod.train()
        used += val_flops
        return sum(losses) / len(val_w)

    def save(tag: str) -> None:
        if not main:
            return
        d = _checkpoint_dir(out) / f"step_{step:06d}"
        d.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "lora": get_peft_model_state_dict(accelerator.unwrap_model(loss_mod).model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "flops": used,
                "history": history,
                "best_val": best_val,
                "since_best": since_best,
            },
            d / "state.pt",
        )
        for old in sorted(_checkpoint_dir(out).glob("step_*"))[:-2]:  # keep the last two
            shutil.rmtree(old, ignore_errors=True)
        ledger.update(run_id, used)
        log.debug("checkpoint %s (%s)", d, tag)

    val0 = None
    if step == 0:
        val0 = validate()
        log_row({"step": 0, "val_loss": val0, "flops": used})
        best_val = val0 if val0 is not None else math.inf
    else:
        val0 = next((r["val_loss"] for r in history if r["step"] == 0 and "val_loss" in r), None)

    stopped = "max_steps"
    tokens_done, t_start = 0, time.perf_counter()
    bar = tqdm(
        total=cfg.max_steps,
        initial=step,
        desc="training",
        unit="step",
        disable=not (cfg.progress and main),
        dynamic_ncols=True,
    )
    loss_mod.train()
    last_loss = None
    while step < cfg.max_steps:
        if used + step_flops > allot:
            stopped = "budget"
            log.warning(
                "FLOP allotment reached at step %d (%.3e of %.3e): stopping and saving",
                step,
                used,
                allot,
            )
            break
        idx = batch_order(len(train_w), step, global_batch, cfg.seed)
        mine = idx[accelerator.process_index :: world]
        total = 0.0
        for a in range(cfg.grad_accum):
            chunk = mine[a * cfg.batch_size : (a + 1) * cfg.batch_size]
            ids = torch.as_tensor(train_w[chunk], device=dev)
            ctx = (
                accelerator.no_sync(loss_mod)
                if a < cfg.grad_accum - 1
                else contextlib.nullcontext()
            )
            with ctx, autocast():
                loss = loss_mod(ids) / cfg.grad_accum
            accelerator.backward(loss)
            total += float(loss.detach())
        if cfg.max_grad_norm > 0:
            accelerator.clip_grad_norm_(loss_mod.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        used += step_flops
        tokens_done += global_batch * L
        last_loss = total
        elapsed = time.perf_counter() - t_start
        row = {
            "step": step,
            "loss": total,
            "lr": scheduler.get_last_lr()[0],
            "flops": used,
            "tokens_per_s": tokens_done / elapsed,
        }
        if step % max(cfg.eval_steps, 1) == 0 or step == cfg.max_steps:
            row["val_loss"] = validate()
            if row["val_loss"] is not None:
                if row["val_loss"] < best_val - 1e-6:
                    best_val, since_best = row["val_loss"], 0
                    if cfg.early_stopping:
                        best_state = {
                            k: v.detach().clone()
                            for k, v in get_peft_model_state_dict(
                                accelerator.unwrap_model(loss_mod).model
                            ).items()
                        }
                else:
                    since_best += 1
        log_row(row)
        bar.set_postfix(
            loss=f"{total:.4f}", tok_s=f"{row['tokens_per_s']:.0f}", flops=f"{used:.2e}"
        )
        bar.update(1)
        if cfg.save_steps and step % cfg.save_steps == 0 and step < cfg.max_steps:
            save("periodic")
        if cfg.early_stopping and since_best >= cfg.early_stopping:
            stopped = "early_stopping"
            break
    bar.close()
    elapsed = time.perf_counter() - t_start

    model_u = accelerator.unwrap_model(loss_mod).model
    if stopped == "early_stopping" and best_state is not None:
        set_peft_model_state_dict(model_u, best_state)
    val_final = next(
        (r["val_loss"] for r in reversed(history) if r.get("val_loss") is not None), None
    )
    summary = TrainResult(
        str(out),
        step,
        stopped,
        int(used),
        last_loss,
        val0,
        val_final,
        tokens_done / elapsed if elapsed > 0 else 0.0,
        n_train,
        n_total,
    )
    if main:
        save(stopped)
        model_u.save_pretrained(out / "adapter")
        ledger.update(run_id, used, status="done" if stopped != "budget" else "stopped")
        _plot_losses(out, history)
        write_json(
            out / "summary.json",
            {
                **asdict(summary),
                "bf16_autocast": bf16,
                "world_size": world,
                "train_windows": len(train_w),
                "val_windows": len(val_w),
                "step_flops": step_flops,
                "restricted_head_tokens": head_vocab,
            },
        )
    if cfg.report_to != "none":
        accelerator.end_training()
    accelerator.wait_for_everyone()
    return summary


def _plot_losses(out: Path, history: list[dict]) -> None:
    from lmcast.plots import plot_curves

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
