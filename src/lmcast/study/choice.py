"""Choosing between study options on paired validation errors, with a stated rule for ties.

The option with the lowest validation MAE is compared with every other option on
the same validation trajectories (:func:`lmcast.compare.metrics.paired_comparison`). An
option whose difference from it is not significant (its 95 % interval includes
zero) is *tied* with it; among the tied options a stated :class:`Rule` decides,
never the noise in the point estimates. So with few validation trajectories a
context study cannot pick a window shorter than the prompt it must serve because
one run happened to score lower.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lmcast.compare.metrics import paired_comparison


@dataclass(frozen=True)
class Rule:
    """How tied options are ordered: ``key`` (lower first), described by ``text``."""

    name: str
    text: str
    key: Callable[[dict], float]


LOWEST_VAL_LOSS = Rule(
    "lowest validation loss",
    "among options not significantly different in validation MAE, the lowest final "
    "validation loss (teacher-forced, on held-out windows: less noisy than greedy forecasts)",
    lambda r: r["val_loss"] if r.get("val_loss") is not None else float("inf"),
)
LONGEST_WINDOW = Rule(
    "longest window",
    "among options not significantly different in validation MAE, the longest training "
    "window (the closest to the protocol's prompt, which is longer than every window tried)",
    lambda r: -r["params"]["context_length"],
)


def choose(rows: list[dict], rule: Rule, seed: int = 0) -> dict:
    """The chosen option of ``rows`` (trial records) and why.

    Each record needs ``key``, ``val_mae`` and ``val_per_trajectory`` (the per-trajectory
    validation MAE, the same trajectories in every record); records without the latter
    (written by an older lmcast) are decided by the lowest validation MAE alone.

    Returns:
        ``{"chosen", "lowest_mae", "tied", "rule", "comparisons"}``: the chosen key, the
        key with the lowest validation MAE, the keys tied with it, the rule that decided
        (its text), and per other key the paired comparison against the lowest
        (``mean_difference`` > 0: worse than it).
    """
    lowest = min(rows, key=lambda r: (r["val_mae"], r.get("val_loss") or 0.0))
    per = {r["key"]: r.get("val_per_trajectory") for r in rows}
    if len(rows) == 1 or any(v is None for v in per.values()):
        return {
            "chosen": lowest["key"],
            "lowest_mae": lowest["key"],
            "tied": [lowest["key"]],
            "rule": "the lowest validation MAE",
            "comparisons": {},
        }
    comparisons = {
        r["key"]: paired_comparison(per[r["key"]], per[lowest["key"]], seed=seed)
        for r in rows
        if r is not lowest
    }
    tied = [lowest] + [
        r for r in rows if r is not lowest and comparisons[r["key"]]["verdict"] != "loses to"
    ]
    chosen = min(tied, key=rule.key) if len(tied) > 1 else lowest
    return {
        "chosen": chosen["key"],
        "lowest_mae": lowest["key"],
        "tied": [r["key"] for r in tied],
        "rule": rule.text if len(tied) > 1 else "the lowest validation MAE, significantly",
        "comparisons": comparisons,
    }


def chosen_row(rows: list[dict], choice: dict) -> dict:
    """The record :func:`choose` chose."""
    return next(r for r in rows if r["key"] == choice["chosen"])


def format_choice(choice: dict) -> list[str]:
    """Markdown lines: what was chosen, the intervals, and the rule that decided."""
    lines = [f"Chosen: `{choice['chosen']}` by {choice['rule']}."]
    if choice["comparisons"]:
        lines += [
            "",
            f"| option | val MAE difference vs `{choice['lowest_mae']}` | 95 % interval | verdict |",
            "|---|---|---|---|",
        ]
        for key, c in choice["comparisons"].items():
            lo, hi = c["ci95"]
            verdict = "worse" if c["verdict"] == "loses to" else "tied"
            lines.append(
                f"| `{key}` | {c['mean_difference']:+.4f} | [{lo:+.4f}, {hi:+.4f}] | {verdict} |"
            )
    return lines
