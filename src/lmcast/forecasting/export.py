"""``lmcast export``: a training run as a self-contained, shareable forecaster folder.

:func:`export_run` copies the adapter safetensors and config, the encoding record and
the base model's name and revision into a new folder, with a model card
(``README.md``, the Hugging Face Hub's YAML header first) that ``Forecaster.load
(adapter=...)`` and ``lmcast forecast --adapter`` read; nothing in it is executable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from lmcast.configs import ExportConfig
from lmcast.core.codec import scheme
from lmcast.core.codec.scheme import Encoding
from lmcast.core.logs import get_logger
from lmcast.core.runs.runinfo import (
    METRICS_FILE,
    SUMMARY_FILE,
    check_output,
    write_json,
    write_text,
)
from lmcast.core.series.data import load_dataset
from lmcast.errors import LmcastError
from lmcast.forecasting.forecaster import EXPORT_FILE
from lmcast.forecasting.ship import ship
from lmcast.lm.models import license_of, model_revision

log = get_logger("export")


def export_run(cfg: ExportConfig) -> Path:
    """Write the self-contained forecaster folder of a training run (see module docstring).

    Raises:
        LmcastError: not a finished run (no adapter or encoding), or ``--out`` exists.
    """
    run, out = Path(cfg.run), Path(cfg.out)
    adapter = run / "adapter"
    need = [adapter / "adapter_config.json", adapter / "adapter_model.safetensors"]
    need += [run / "encoding.json", run / "run.json"]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        raise LmcastError(f"{run}: not a finished training run (missing {missing[0]})")
    if out.exists():
        raise LmcastError(f"--out {out}: already exists")
    check_output(out, folder=True)  # writable, not under a file; missing parents are made
    info = _read_json(run / "run.json")
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise LmcastError(f"{run / 'run.json'}: not a training run record (no config object)")
    tcfg = info["config"]
    if not isinstance(tcfg.get("model"), str):
        raise LmcastError(f"{run / 'run.json'}: config.model must be a model name")
    enc = scheme.read(run)  # checked; present (``need`` above)
    assert enc is not None
    meta = _export_meta(run, info, tcfg)
    if cfg.max_context_steps is not None:
        meta["max_context_steps"] = cfg.max_context_steps
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        for p in need[:3]:
            shutil.copyfile(p, tmp / p.name)
        write_json(tmp / EXPORT_FILE, meta)
        write_text(tmp / "README.md", model_card(meta, enc))
        if cfg.ship:
            ship(tmp, run, cfg.card)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # lmcast's own temporary folder
        raise
    return out


def _export_meta(run: Path, info: dict, tcfg: dict) -> dict:
    """``lmcast_export.json``'s content; malformed optional parts (test metrics, the FLOP
    count) are left out rather than trusted."""
    test = _read_json(run / "test" / METRICS_FILE)
    summary = _read_json(run / SUMMARY_FILE)
    flops = summary.get("flops") if isinstance(summary, dict) else None
    try:
        test_metrics = {k: test[k] for k in ("protocol", "model", "persistence", "comparisons")}
        _test_lines(test_metrics)  # the card can be written from them
    except (TypeError, KeyError, ValueError, AttributeError):
        test_metrics = None
    return {
        "base_model": tcfg.get("model"),
        "base_revision": model_revision(tcfg.get("model") or ""),
        "variables": _variables(tcfg.get("data")),
        "lora": {k: tcfg.get(k) for k in ("rank", "lora_alpha", "target_modules", "lora_layers")},
        "training": {
            k: tcfg.get(k) for k in ("data", "max_steps", "batch_size", "context_length", "lr")
        },
        "train_flops": flops
        if isinstance(flops, (int, float)) and not isinstance(flops, bool)
        else None,
        "test_metrics": test_metrics,
        "command": info.get("command") if isinstance(info.get("command"), str) else None,
    }


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _variables(data: object) -> list[str]:
    """The variable names of the run's data file, when it still reads (else none)."""
    if not data or not isinstance(data, str):  # a record edited by hand: config.data = 5
        return []
    try:
        return list(load_dataset(data).variables)
    except (LmcastError, OSError):
        return []


def model_card(meta: dict, enc: Encoding) -> str:
    """The export's ``README.md``: the Hub's YAML header, what the forecaster is, how it was
    made, how well it does. Text from run metadata is escaped: one line always (a newline
    could start a heading or a link), no HTML, no markdown markup (:func:`_esc`), and in
    code spans no backtick (:func:`_code`)."""
    t, e, c = meta["training"], _esc, _code
    license_ = license_of(str(meta["base_model"]))
    lines = [
        "---",
        "library_name: peft",
        f"base_model: {json.dumps(str(meta['base_model']))}",
        *([f"license: {license_}"] if license_ else []),  # the base model's; unknown: left out
        "pipeline_tag: time-series-forecasting",
        "tags: [lmcast, lora, llmtime, time-series]",
        "---",
        "",
        "# lmcast forecaster",
        "",
        f"LoRA adapter for `{c(meta['base_model'])}` (revision `{c(meta['base_revision'])}`), "
        f"forecasting {e(', '.join(meta['variables'])) or 'series'} as LLMTIME text "
        + ("(each series scaled on its own, " if enc.alpha is None else f"(alpha {enc.alpha:g}, ")
        + f"precision {enc.digits}"
        + ("" if enc.decimal_point else f": {enc.precision} decimals, no point")
        + ").",
        "",
        "```python",
        "from lmcast import Forecaster",
        "",
        f'fc = Forecaster.load(model={json.dumps(str(meta["base_model"]))}, adapter="THIS_FOLDER")',
        "pred = fc.predict(context, horizon=20)  # context: (steps, variables)",
        "```",
        "",
        *(
            [
                f"Every forecast (`lmcast forecast`, `benchmark`, `evaluate`, "
                f"`Forecaster.predict`) gives it the last {e(meta['max_context_steps'])} steps "
                "of each series at most (`max_context_steps`).",
                "",
            ]
            if meta.get("max_context_steps")
            else []
        ),
        "## Training",
        "",
        f"- data: `{c(t.get('data'))}`; {e(t.get('max_steps'))} steps × {e(t.get('batch_size'))} "
        f"windows × {e(t.get('context_length'))} tokens, lr {e(t.get('lr'))}",
        f"- LoRA: {e(meta['lora'])}",
        f"- FLOPs spent training: {meta['train_flops']:.3e}"
        if meta["train_flops"]
        else "- FLOPs: not recorded",
        f"- command: `{c(meta['command'])}`" if meta.get("command") else "- command: not recorded",
        "",
        "## Test metrics",
        "",
    ]
    tm = meta["test_metrics"]
    if not tm:
        lines.append("Not evaluated on a test split (run `lmcast evaluate --adapter RUN`).")
    else:
        lines += _test_lines(tm)
    lines += [
        "",
        "Files: `adapter_model.safetensors`, `adapter_config.json`, `encoding.json`, "
        f"`{EXPORT_FILE}`; nothing here is executable (no pickle).",
    ]
    return "\n".join(lines) + "\n"


def _code(value: object) -> str:
    """Text for inside a code span: one line (white space runs collapsed), HTML escaped
    (renderers that pass HTML through), no backtick (one would end the span)."""
    import html

    return html.escape(" ".join(str(value).split()), quote=False).replace("`", "'")


def _esc(value: object) -> str:
    """Text for running markdown: :func:`_code`'s escaping, and markdown's markup
    characters backslash-escaped (no emphasis, link, image, heading or table)."""
    import re

    text = _code(value)
    return re.sub(r"([\\*_\[\]()#!|~{}+-])", r"\\\1", text)


def _test_lines(tm: dict) -> list[str]:
    """The card's test-metric lines (raises on malformed metrics, which are then left out)."""
    p = tm["protocol"]
    lines = [
        f"{int(p['n_trajectories'])} {_esc(p['split'])} trajectories, "
        f"{int(p['context_steps'])} → {int(p['horizon'])} steps: "
        f"MAE {float(tm['model']['original']['mae']):.4f} "
        f"(persistence {float(tm['persistence']['original']['mae']):.4f}).",
        "",
    ]
    for name, c in (tm.get("comparisons") or {}).items():
        lo, hi = (float(v) for v in c["ci95"])
        lines.append(
            f"- vs {_esc(name)}: {_esc(c['verdict'])} (MAE difference "
            f"{float(c['mean_difference']):+.4f}, 95 % CI [{lo:+.4f}, {hi:+.4f}], "
            f"wins {float(c['win_rate']):.0%})"
        )
    return lines
