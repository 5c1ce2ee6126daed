"""Training windows: encoded trajectories tokenized once and cut into fixed-length windows.

The texts of a split are tokenized once and joined into one token stream, each
trajectory followed by the tokenizer's end-of-sequence token. Windows of
``length`` tokens are cut every ``stride`` tokens (default ``length // 2``),
each start snapped back to the nearest timestep boundary (just after a ``;``
or an end-of-sequence token) so a window begins with a whole number as
prompts do; no token is padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def token_stream(texts: Sequence[str], tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize ``texts`` once → ``(ids (T,), boundary (T,) bool)``.

    ``boundary[i]`` is true where a window may start (the first token of a
    trajectory or the token after a ``;``).
    """
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    starts: list[bool] = []
    for text in texts:
        steps = text.split(";")
        for k, step in enumerate(steps):
            piece = step + (";" if k < len(steps) - 1 else "")
            toks = tokenizer(piece, add_special_tokens=False)["input_ids"]
            ids.extend(toks)
            starts.extend([True] + [False] * (len(toks) - 1))
        ids.append(eos)
        starts.append(False)
    return np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=bool)


def window_starts(boundary: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Start offsets of windows of ``length`` tokens, one per ``stride``, snapped to boundaries.

    Returns a sorted array of unique starts ``s`` with ``s + length <= len(boundary)``.
    """
    n = boundary.size
    if n < length:
        return np.zeros(0, dtype=np.int64)
    ok = np.flatnonzero(boundary)
    targets = np.arange(0, n - length + 1, max(1, stride))
    pos = np.searchsorted(ok, targets, side="right") - 1
    snapped = np.where(pos >= 0, ok[np.clip(pos, 0, None)], targets)
    snapped = snapped[snapped + length <= n]
    return np.unique(snapped)


def make_windows(
    texts: Sequence[str], tokenizer: Any, length: int, stride: int | None = None
) -> np.ndarray:
    """``(W, length)`` int64 token windows of the given texts."""
    ids, boundary = token_stream(texts, tokenizer)
    starts = window_starts(boundary, length, stride or max(1, length // 2))
    if starts.size == 0:
        return np.zeros((0, length), dtype=np.int64)
    return np.stack([ids[s : s + length] for s in starts])


def batch_order(n_windows: int, step: int, batch: int, seed: int) -> np.ndarray:
    """Window indices of global batch ``step`` (0-based): seeded epoch permutations, no repeats within an epoch.

    A pure function of its arguments, so a resumed run sees exactly the batches
    an uninterrupted one would.
    """
    per_epoch = max(1, n_windows // batch)
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n_windows)
    return perm[k * batch : (k + 1) * batch] if n_windows >= batch else np.resize(perm, batch)
