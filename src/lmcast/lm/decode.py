"""The decoding engine: batched, grammar-constrained LLMTIME sample paths with a KV cache.

The prompt is the LLMTIME text of the context window followed by ``;``.
Prompts are left-padded into batches; each step masks the logits to the tokens
:class:`~lmcast.core.codec.grammar.TokenAutomaton` allows in each sequence's state, so
every forecast parses, and a batch stops as soon as every sequence has
completed ``horizon`` steps.

The loop is written here rather than with ``model.generate`` plus a logits
processor because it needs per-sequence grammar state, sampling strictly
*after* masking (Hugging Face applies temperature/top-p warpers in an order a
custom processor does not control, which can leave no allowed token), an exact
stop at the horizon, and exact token counts for the FLOP ledger.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmcast.accounting import flops
from lmcast.core.codec import encoding as codec
from lmcast.core.codec.grammar import Grammar, TokenAutomaton
from lmcast.core.codec.scheme import Encoding
from lmcast.core.logs import get_logger
from lmcast.errors import BudgetExceededError
from lmcast.lm import memory, prefix_attention
from lmcast.lm.models import LoadedModel, decoder_and_head

log = get_logger("decode")

#: how generated numbers are read (:class:`Sampling`)
READOUTS = ("argmax", "expected")


@dataclass(frozen=True)
class Sampling:
    """How sample paths are drawn (one value, where 13–16 keyword arguments travelled).

    Attributes:
        samples: K paths per series (a :class:`GenerationPlan` decodes one greedily).
        temperature, top_p: the sampling distribution (0: greedy).
        seed: the random streams' seed (:func:`row_keys`).
        batch_size: most sequences decoded together (lowered further to fit memory).
        readout: ``"argmax"`` reads the numbers as written; ``"expected"`` reads each
            number's last digit as its expected value under the model's distribution at that
            position (:func:`lmcast.core.codec.encoding.refine_last_digits`): below the grid
            the text writes, at no extra model cost. The texts stay as written.
        jump_forward: feed grammar-forced tokens without a pass of their own
            (:func:`generate_texts`; ``None``: :func:`default_jump_forward`).
        shared_attention: keep each prompt's keys once for all its samples
            (:mod:`lmcast.lm.prefix_attention`) where the model allows it.
        scale_ensemble: a ratio r > 1 writes each series three times, at its alpha / r,
            alpha and alpha × r (:func:`lmcast.core.codec.encoding.ensemble_scales`), and
            the forecast is the mean of the three greedy ones (the same dynamics on other
            grids, so the rounding falls elsewhere; three times the generation). 1: off.
            Greedy only (``samples`` 1): averaging sampled paths would narrow their spread.
    """

    samples: int = 1
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    batch_size: int = 64
    readout: str = "argmax"
    jump_forward: bool | None = None
    shared_attention: bool = True
    scale_ensemble: float = 1.0

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not (math.isfinite(self.scale_ensemble) and self.scale_ensemble >= 1):
            raise ValueError(f"scale_ensemble must be a ratio >= 1, got {self.scale_ensemble}")
        if self.scale_ensemble > 1 and self.samples > 1:
            raise ValueError(
                "a scale ensemble averages greedy forecasts: it takes samples 1, got "
                f"{self.samples} (sampled paths give their own median)"
            )
        if self.samples < 1 or self.batch_size < 1:
            raise ValueError(
                f"samples and batch_size must be >= 1, got {self.samples} and {self.batch_size}"
            )


@dataclass
class GenerationStats:
    """What a generation run processed, for the FLOP ledger.

    ``flops`` grows as the work runs — the prefill when it is done, then every decode pass —
    so a run interrupted mid-batch knows what it computed; ``listener`` (if set) is told the
    new total each time (the forecasting path writes it to the ledger, throttled).
    """

    flops: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    batches: list[tuple[int, int, int]] = field(default_factory=list)  # (batch, padded prompt, new)
    # decode passes that fed one token per row, and two (a forced token jumped forward)
    decode_passes: list[int] = field(default_factory=lambda: [0, 0])
    listener: Callable[[int], Any] | None = field(default=None, repr=False, compare=False)

    def add(self, flops: int) -> None:
        """Charge ``flops`` of work that has just run."""
        self.flops += int(flops)
        if self.listener is not None:
            self.listener(self.flops)


@dataclass
class Forecast:
    """Forecasts for N windows with S samples each.

    Attributes:
        samples: ``(N, S, H, V)`` forecasts in original units; NaN where a step
            did not parse.
        parsed_steps: ``(N, S)`` steps parsed per sample.
        texts: ``N × S`` generated texts.
        stats: token and FLOP counts.
    """

    samples: np.ndarray
    parsed_steps: np.ndarray
    texts: list[list[str]]
    stats: GenerationStats

    @property
    def point(self) -> np.ndarray:
        """``(N, H, V)`` per-step median over samples (the point forecast)."""
        if self.samples.shape[1] == 1:
            return self.samples[:, 0]
        with np.errstate(all="ignore"):
            return np.nanmedian(self.samples, axis=1)

    def quantiles(self, qs: tuple[float, ...] = (0.1, 0.9)) -> np.ndarray:
        """``(len(qs), N, H, V)`` per-step sample quantiles."""
        with np.errstate(all="ignore"):
            return np.nanquantile(self.samples, qs, axis=1)

    @property
    def parse_success(self) -> np.ndarray:
        """``(N,)`` fraction of samples that gave all H steps."""
        return (self.parsed_steps >= self.samples.shape[2]).mean(axis=1)


@dataclass
class _Tables:
    """The automaton re-indexed to the sub-vocabulary of tokens it can ever emit.

    ``token_ids[k]`` is the vocabulary id of sub-token ``k``; ``mask``,
    ``nxt`` and ``stp`` are ``(states, K)`` tensors: allowed, next state row
    (−1 when not allowed) and ``;`` count. ``forced`` ``(states,)`` is the
    sub-token a state allows alone (−1 where it allows several): the ``,`` after
    a number's last decimal, the ``.`` after a leading ``0``, the ``;`` ending a step.
    ``digit_sub`` ``(D,)`` are the sub-tokens that are one digit, ``digit_val`` ``(D,)``
    their values (the expected-digit readout, :func:`generate_texts`).
    """

    auto: TokenAutomaton
    strings: list[str]
    token_ids: Any
    mask: Any
    nxt: Any
    stp: Any
    forced: Any
    digit_sub: Any = None
    digit_val: Any = None


def grammar_tables(lm: LoadedModel, grammar: Grammar) -> _Tables:
    """The grammar's tables for this model, built once and cached on the loaded model."""
    key = ("grammar_tables", grammar, str(lm.device))
    if key not in lm.cache:
        lm.cache[key] = _build_tables(lm, grammar)
    return lm.cache[key]


def _build_tables(lm: LoadedModel, grammar: Grammar) -> _Tables:
    import torch

    strings = [lm.tokenizer.decode([i]) for i in range(len(lm.tokenizer))]
    auto = TokenAutomaton(grammar, strings)
    union = sorted({t for ok in auto.allowed for t in ok})
    col = {t: k for k, t in enumerate(union)}
    S, K = len(auto.states), len(union)
    nxt = torch.full((S, K), -1, dtype=torch.long)
    stp = torch.zeros((S, K), dtype=torch.long)
    for s in range(S):
        for t in auto.allowed[s]:
            nxt[s, col[t]] = auto.next_state[s][t]
            stp[s, col[t]] = auto.steps_in[s][t]
    dev = lm.device
    mask = nxt >= 0
    forced = torch.where(mask.sum(-1) == 1, mask.long().argmax(-1), -1)
    digits = [(k, int(strings[t])) for k, t in enumerate(union) if len(strings[t]) == 1
              and strings[t].isdigit()]  # fmt: skip
    return _Tables(
        auto,
        strings,
        torch.tensor(union, device=dev),
        mask.to(dev),
        nxt.to(dev),
        stp.to(dev),
        forced.to(dev),
        torch.tensor([k for k, _ in digits], dtype=torch.long, device=dev),
        torch.tensor([v for _, v in digits], dtype=torch.float64, device=dev),
    )


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on ``uint64`` arrays (wrapping arithmetic): a counter-based
    hash whose outputs pass as independent uniform 64-bit words."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def row_keys(seed: int, prompts: Sequence[str], samples: Sequence[int]) -> np.ndarray:
    """The random stream of each generated row ``(B,)`` ``uint64``: a hash of the seed, the
    row's prompt text and its sample number. A row's draws depend on nothing else: not on
    the batch it is decoded in (which the free memory decides), the other series of the
    call, jump-forward or the KV-cache layout."""
    import hashlib

    words = [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "little")
             for p in prompts]  # fmt: skip
    x = _mix64(np.array(words, dtype=np.uint64) ^ _mix64(np.uint64(seed % 2**64)))
    return _mix64(x + np.asarray(samples, dtype=np.uint64))


def row_uniforms(keys: np.ndarray, position: int) -> np.ndarray:
    """One uniform in ``(0, 1)`` per row ``(B,)`` for its token at ``position``: the
    counter-based draw ``hash(key, position)``. (``torch.multinomial`` takes one generator
    for the whole batch, so its draws for a row change with the batch; one generator per
    row would cost a call per row per pass.)"""
    with np.errstate(over="ignore"):
        x = _mix64(keys + np.uint64(position) * np.uint64(0xD1B54A32D192ED03))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def _choose(logits: Any, temperature: float, top_p: float, u: Any = None) -> Any:
    """Greedy when ``temperature == 0``, else temperature + nucleus sampling → ``(B,)`` indices.

    Sampling inverts each row's cumulative distribution at its own uniform ``u`` ``(B,)``
    (:func:`row_uniforms`); a token of probability 0 is never chosen."""
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < top_p  # always keeps the top token
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
    cdf = probs.double().cumsum(-1)
    target = u.to(cdf.device, torch.float64)[:, None] * cdf[:, -1:]
    return (cdf < target).sum(-1).clamp(max=probs.shape[-1] - 1)


def _cache_kwarg(decoder: Any) -> str:
    """The keyword a decoder takes its KV cache by: ``cache`` in recent transformers 5
    releases, ``past_key_values`` before. Passing the wrong one is silently swallowed by
    ``**kwargs`` and every decode step would then see one token without its context."""
    import inspect

    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


@dataclass(frozen=True)
class _Job:
    """``rows`` samples of prompt ``prompt`` (its samples ``first … first + rows - 1``)."""

    prompt: int
    first: int
    rows: int


def plan_batches(lengths: Sequence[int], samples: int, rows_per_batch: int) -> list[list[_Job]]:
    """Group the ``len(lengths) × samples`` sequences into batches of at most ``rows_per_batch`` rows.

    Prompts are taken shortest first (less left padding). A prompt's samples that do not fit
    in one batch are split into the fewest chunks that fit, of equal sizes (to one row), so
    that batches hold equal row counts per prompt, as shared-prefix attention needs; chunks
    are packed in order. Every batch prefills each of its chunks' prompts once and decodes
    ``rows`` rows per chunk.
    """
    n_chunks = -(-samples // rows_per_batch)
    size, extra = divmod(samples, n_chunks)
    chunks = [
        (sum(size + (c < extra) for c in range(k)), size + (k < extra)) for k in range(n_chunks)
    ]
    batches: list[list[_Job]] = []
    current: list[_Job] = []
    used = 0
    for i in sorted(range(len(lengths)), key=lambda j: lengths[j]):
        for first, rows in chunks:
            if used + rows > rows_per_batch:
                batches.append(current)
                current, used = [], 0
            current.append(_Job(i, first, rows))
            used += rows
    if current:
        batches.append(current)
    return batches


def default_jump_forward(device: Any, shared_attention: bool) -> bool:
    """Whether jump-forward decoding is on by default: on CUDA, and for batches decoded with
    shared-prefix attention. Measured on the 2-core CPU (``docs/performance.rst``): with
    the prompt's KV copied to every row a two-token pass costs about two one-token passes
    (greedy 0.91×); with shared-prefix attention the window's prompt keys are read once
    for both tokens, and K = 10 at batch 20 ran 1.21× faster with it (0.97× at batch 200,
    where 200 sampled rows were all forced at once in 4 passes of 210)."""
    return str(device).startswith("cuda") or shared_attention


def generate_texts(
    lm: LoadedModel,
    prompts: list[str],
    grammar: Grammar,
    horizon: int,
    sampling: Sampling | None = None,
    *,
    progress: bool = True,
    stats: GenerationStats | None = None,
    flop_limit: int | None = None,
    number_means: list[list[float]] | None = None,
    lengths: Sequence[int] | None = None,
) -> tuple[list[str], GenerationStats]:
    """Generate ``sampling.samples`` constrained continuations of ``horizon`` steps for each
    prompt, at ``sampling.temperature`` (0: greedy; ``None``: one greedy continuation each).

    The samples of one prompt share its prefill: the prompt runs through the model once
    (the ledger charges the prefill once). With ``shared_attention`` (the default; used
    where :func:`lmcast.lm.prefix_attention.supported` and a batch's prompts have equal sample
    counts) its keys and values then stay one copy that all its samples attend to
    (:mod:`lmcast.lm.prefix_attention`); otherwise they are copied to each sample's row of a
    static cache. ``batch_size`` bounds the rows decoded together; it is lowered further
    so the batch's KV caches fit in memory (:mod:`lmcast.lm.memory`). With ``jump_forward``,
    a token the grammar forces (``,`` ``;`` or ``.`` where nothing else may follow) is not
    chosen by a pass of its own when every live row of the batch is forced: it is fed
    together with the chosen token (two tokens in one pass). The texts are the same either
    way, greedy or sampled: each row draws from its own random stream (:func:`row_keys`:
    the seed, its prompt and sample number), so its draws do not change with the batch its
    rows land in, the memory that decides it or the other series of the call. In float32
    the texts are then the same too; in bfloat16 the logits themselves differ in the last
    bits between batch shapes, and a draw near a boundary can still flip (measured on the
    general adapter, two monthly series × 20 samples: ``--batch-size`` 64 against 8 moved
    their MASE by 2 % and 18 %).
    ``None`` (the default) decides per batch (:func:`default_jump_forward`).
    ``lengths``: the prompts' token counts, when the caller has them
    (:class:`GenerationPlan`).
    ``flop_limit``: the FLOPs reserved for this call; a batch whose bound
    (:func:`batch_flops_bound`) would take the charge past it is not started
    (:class:`~lmcast.errors.BudgetExceededError`, ``stats`` holds what finished).
    ``number_means``: when a list, it receives one list per text (in the texts' order) with,
    for each number written, the expected value of its last digit under the model's
    distribution at that position (:func:`last_digit_means`; the readout of
    :func:`lmcast.core.codec.encoding.refine_last_digits`).

    Returns:
        The generated texts (without the prompt), prompt-major: prompt ``i``'s sample ``s``
        is at ``i * samples + s``; and the token/FLOP counts.
    """
    from tqdm.auto import tqdm

    sampling = sampling if sampling is not None else Sampling(temperature=0.0)
    samples, batch_size = sampling.samples, sampling.batch_size
    tab = grammar_tables(lm, grammar)
    max_new = max_new_tokens(tab, horizon)
    if lengths is None:
        lengths = token_lengths(lm, prompts)
    elem = lm.model.dtype.itemsize if hasattr(lm.model, "dtype") else 4
    longest = max(lengths, default=1)
    per_row = memory.generation_bytes(lm.arch, longest, longest + max_new, elem)
    rows_cap = memory.fit_batch(batch_size, per_row, lm.device, what="forecast sequence")
    if rows_cap < batch_size:
        log.info("batch of %d sequences split to %d to fit in memory", batch_size, rows_cap)
    # the caller's stats object fills batch by batch: an interrupted run still knows its FLOPs
    stats = stats if stats is not None else GenerationStats()
    spent_before = stats.flops
    out_texts: list[str] = [""] * (len(prompts) * samples)
    out_means: list[list[float]] = [[] for _ in out_texts]
    # counts series: each finished path is 1/samples of its series
    bar = tqdm(
        total=len(prompts), desc="forecasting", unit="series", disable=not progress, leave=False
    )

    def finished(rows: int) -> None:
        bar.update(rows / samples if samples > 1 else rows)

    for jobs in plan_batches(lengths, samples, rows_cap):
        if flop_limit is not None:
            bound = batch_flops_bound(lm, tab, lengths, jobs, max_new)
            _check_limit(bound, stats.flops - spent_before, flop_limit)
        streams = row_keys(
            sampling.seed,
            [prompts[j.prompt] for j in jobs for _ in range(j.rows)],
            [j.first + s for j in jobs for s in range(j.rows)],
        )
        gen_ids = _generate_batch(
            lm,
            tab,
            [prompts[j.prompt] for j in jobs],
            [j.rows for j in jobs],
            horizon,
            max_new,
            sampling.temperature,
            sampling.top_p,
            streams,
            stats,
            sampling.jump_forward,
            sampling.shared_attention,
            finished,
            row_means := ([] if number_means is not None else None),
        )
        r = 0
        for j in jobs:
            for s in range(j.rows):
                # join the exact strings the automaton validated (decode may add spaces)
                pieces = [tab.strings[t] for t in gen_ids[r] if t >= 0]
                out_texts[j.prompt * samples + j.first + s] = "".join(pieces)
                if row_means is not None:
                    out_means[j.prompt * samples + j.first + s] = last_digit_means(
                        pieces, row_means[r]
                    )
                r += 1
    bar.close()
    if number_means is not None:
        number_means.extend(out_means)
    return out_texts, stats


def last_digit_means(pieces: Sequence[str], means: Sequence[float]) -> list[float]:
    """For each number in the text ``"".join(pieces)``, the mean its last token carries:
    ``means[k]`` when the number ends with token ``pieces[k]`` and that token is one digit,
    else NaN. A number ends where the next token does not continue it (no digit, no
    ``.``) or the text ends."""
    out: list[float] = []
    for k, piece in enumerate(pieces):
        if not piece or not piece[-1].isdigit():
            continue
        nxt = pieces[k + 1] if k + 1 < len(pieces) else ""
        if nxt and (nxt[0].isdigit() or nxt[0] == "."):
            continue
        out.append(float(means[k]) if len(piece) == 1 and k < len(means) else float("nan"))
    return out


def _check_limit(bound: int, spent: int, flop_limit: int) -> None:
    """Refuse a batch that could take this call's charge past ``flop_limit`` (before it runs)."""
    if spent + bound > flop_limit:
        raise BudgetExceededError(
            f"generation stopped before a batch that could cost {bound:.3e} FLOPs: "
            f"{spent:.3e} of the {flop_limit:.3e} reserved are spent"
        )


def _generate_batch(
    lm: LoadedModel,
    tab: _Tables,
    prompts: list[str],
    rows: list[int],
    horizon: int,
    max_new: int,
    temperature: float,
    top_p: float,
    streams: np.ndarray,
    stats: GenerationStats,
    jump_forward: bool | None,
    shared_attention: bool,
    finished_rows: Callable[[int], Any] = lambda n: None,
    means: list[list[float]] | None = None,
) -> list[list[int]]:
    """Prefill ``prompts`` once, decode ``rows[i]`` rows from prompt ``i``'s cache (kept once
    with shared-prefix attention, else copied to each row), all rows in lock-step.

    ``streams`` ``(B,)``: each row's random stream (:func:`row_keys`); its token at
    position ``k`` is drawn with :func:`row_uniforms` ``(streams, k)``.
    ``finished_rows(k)`` is told as ``k`` more rows complete their horizon (progress).
    ``means``: when a list, it is extended with one list per row: at each position the
    expected value of a one-digit token under the model's distribution at that position
    (restricted to the digits the grammar allows; NaN where none is, or for a token that
    jump-forward appended without a pass).
    Returns one list of generated token ids per row (``-1`` after the row finished).
    """
    import torch

    decoder, head = decoder_and_head(lm.model)
    # Only the K tokens the grammar can ever emit get logits: the softmax over
    # them equals the masked softmax over the full vocabulary, at K/V the cost.
    w_sub = head.weight[tab.token_ids]
    b_sub = head.bias[tab.token_ids] if getattr(head, "bias", None) is not None else None
    enc = lm.tokenizer(prompts, add_special_tokens=False, padding=True, return_tensors="pt")
    ids = enc["input_ids"].to(lm.device)
    attn = enc["attention_mask"].to(lm.device)
    b, P = ids.shape
    expand = torch.repeat_interleave(
        torch.arange(b, device=lm.device), torch.tensor(rows, device=lm.device)
    )
    B = int(expand.numel())
    state = torch.full((B,), tab.auto.start, dtype=torch.long, device=lm.device)
    done_steps = torch.zeros(B, dtype=torch.long, device=lm.device)
    finished = torch.zeros(B, dtype=torch.bool, device=lm.device)
    produced: list[Any] = []
    expected: list[Any] = []
    want_means = means is not None and int(tab.digit_sub.numel()) > 0
    shared = (
        shared_attention and b != B and len(set(rows)) == 1 and prefix_attention.supported(lm.model)
    )
    if jump_forward is None:
        jump_forward = default_jump_forward(lm.device, shared)
    n_done = 0
    head_vocab = int(tab.token_ids.numel())
    pass_cost: dict[tuple[int, int], int] = {}

    def charge_pass(width: int, keys: int) -> None:
        """One decode pass ran: charge it now (an interrupt keeps what ran charged)."""
        if (width, keys) not in pass_cost:
            pass_cost[width, keys] = flops.decode_passes_flops(
                lm.arch, [(width, keys)], B, lora=lm.lora_cost, head_vocab=head_vocab
            )
        stats.decode_passes[width - 1] += 1
        stats.add(pass_cost[width, keys])

    with torch.inference_mode():
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        if shared:
            decode = SharedPrefixDecode(decoder, ids, attn, pos, expand, max_new)
        else:
            decode = StaticDecode(decoder, ids, attn, pos, expand, P + max_new)
        stats.prompt_tokens += int(b * P)
        # the prefill (one new token from it), charged as soon as it ran
        stats.add(flops.generation_flops(
            lm.arch, P, 1, batch=B, lora=lm.lora_cost, head_vocab=head_vocab,
            static_kv=decode.prefill_keys, prefill_batch=b,
        ))  # fmt: skip
        hidden = decode.hidden
        with prefix_attention.shared_prefix_decoding(lm.model) if shared else nullcontext():
            for _ in range(max_new):
                logits = torch.nn.functional.linear(hidden, w_sub, b_sub).float()
                logits = logits.masked_fill(~tab.mask[state], float("-inf"))
                # a row's k-th token is drawn at position k whether or not jump-forward
                # appended some of the tokens before it without a pass
                u = (
                    torch.from_numpy(row_uniforms(streams, len(produced)))
                    if temperature > 0
                    else None
                )
                sub = _choose(logits, temperature, top_p, u)
                if want_means:
                    expected.append(_expected_digit(tab, logits))
                state, done_steps, finished = _advance(
                    tab, sub, state, done_steps, finished, horizon, produced
                )
                n_done = _report_finished(finished, n_done, finished_rows)
                if n_done == B:
                    break
                feed = tab.token_ids[sub][:, None]
                if jump_forward:
                    # Jump-forward: when every live row's next token is forced, it is appended
                    # without a pass of its own and fed in the same pass as the chosen token.
                    nxt_sub = tab.forced[state]
                    if bool(((nxt_sub >= 0) | finished).all()):
                        nxt_sub = nxt_sub.clamp(min=0)
                        if want_means:
                            expected.append(torch.full((B,), float("nan"), dtype=torch.float64))
                        state, done_steps, finished = _advance(
                            tab, nxt_sub, state, done_steps, finished, horizon, produced
                        )
                        n_done = _report_finished(finished, n_done, finished_rows)
                        if n_done == B:
                            break
                        feed = torch.cat([feed, tab.token_ids[nxt_sub][:, None]], 1)
                hidden, keys = decode.step(feed)
                charge_pass(feed.shape[1], keys)
    finished_rows(B - n_done)  # rows stopped by the token cap count as done too
    n_new = len(produced)
    stats.generated_tokens += int(B * n_new)
    stats.batches.append((B, P, n_new))
    if means is not None:
        if want_means:
            means.extend(torch.stack(expected, 1).cpu().tolist())
        else:
            means.extend([[float("nan")] * n_new for _ in range(B)])
    return torch.stack(produced, 1).cpu().tolist()


def _expected_digit(tab: _Tables, logits: Any) -> Any:
    """``(B,)`` float64: the mean of the one-digit tokens' values under the softmax of the
    masked ``logits`` ``(B, K)`` restricted to them; NaN in rows where no digit is allowed."""
    import torch

    probs = torch.softmax(logits[:, tab.digit_sub].double(), dim=-1)
    return (probs * tab.digit_val).sum(-1).cpu()


def _report_finished(finished: Any, before: int, finished_rows: Callable[[int], Any]) -> int:
    """Rows finished now (one host sync, which the stop test needed anyway); tell the
    progress callback about the new ones."""
    now = int(finished.sum())
    if now > before:
        finished_rows(now - before)
    return now


def _prefill(decoder: Any, ids: Any, attn: Any, pos: Any, cache: Any) -> Any:
    """Run the ``(b, P)`` prompts through ``decoder`` into ``cache``; return the last
    position's hidden states ``(b, h)``. Raises if the cache was not filled (a model that
    ignored it would decode blind)."""
    out = decoder(
        input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True,
        **{_cache_kwarg(decoder): cache},
    )  # fmt: skip
    if cache.get_seq_length() != ids.shape[1]:
        raise RuntimeError(f"the KV cache was not filled ({type(decoder).__name__})")
    return out.last_hidden_state[:, -1, :]


class StaticDecode:
    """Decoding with a static KV cache of ``cache_len`` slots (prompt + every new token),
    the prompt's rows copied to their samples' rows after the prefill (``expand`` ``(B,)``).

    A static cache avoids re-concatenating the cache every step: measured 1.46× faster
    decode steps than the dynamic cache for SmolLM2 at batch 20 on the 2-core CPU.
    Attention then runs over all ``cache_len`` slots (masked), which the ledger charges.
    """

    def __init__(
        self, decoder: Any, ids: Any, attn: Any, pos: Any, expand: Any, cache_len: int
    ) -> None:
        from transformers import StaticCache

        self.decoder, self.prefill_keys = decoder, cache_len
        self.cache = StaticCache(config=decoder.config, max_cache_len=cache_len)
        self.kw = _cache_kwarg(decoder)
        self.hidden = _prefill(decoder, ids, attn, pos, self.cache)
        if ids.shape[0] != expand.numel():  # shared prefix: copy each prompt's cache to its rows
            self.cache.reorder_cache(expand)
            attn, pos, self.hidden = attn[expand], pos[expand], self.hidden[expand]
        self.attn, self.pos = attn, pos

    def step(self, feed: Any) -> tuple[Any, int]:
        """Feed ``(B, w)`` tokens; return the last position's hidden state ``(B, h)`` and
        the keys each query attended to."""
        import torch

        b, w = feed.shape
        self.attn = torch.cat([self.attn, self.attn.new_ones((b, w))], 1)
        self.pos = self.pos[:, -1:] + torch.arange(1, w + 1, device=self.pos.device)
        out = self.decoder(
            input_ids=feed, attention_mask=self.attn, position_ids=self.pos, use_cache=True,
            **{self.kw: self.cache},
        )  # fmt: skip
        return out.last_hidden_state[:, -1, :], self.prefill_keys


class SharedPrefixDecode:
    """Decoding the same number of samples per prompt (``expand`` ``(B,)``: each row's
    prompt, rows of a prompt adjacent) with the prompt's KV kept once
    (:mod:`lmcast.lm.prefix_attention`): each pass attends to the ``P`` prompt keys plus the
    row's generated tokens, and only those are charged."""

    def __init__(
        self, decoder: Any, ids: Any, attn: Any, pos: Any, expand: Any, max_new: int
    ) -> None:
        from transformers import DynamicCache

        self.decoder, self.prefill_keys = decoder, ids.shape[1]
        prefix = DynamicCache(config=decoder.config)
        self.hidden = _prefill(decoder, ids, attn, pos, prefix)[expand]
        rows = expand.numel() // ids.shape[0]
        self.cache = prefix_attention.SharedPrefixCache(prefix, attn, rows, max_new)
        self.kw = _cache_kwarg(decoder)
        self.pos = pos[expand]

    def step(self, feed: Any) -> tuple[Any, int]:
        """As :meth:`StaticDecode.step`."""
        import torch

        w = feed.shape[1]
        self.pos = self.pos[:, -1:] + torch.arange(1, w + 1, device=self.pos.device)
        out = self.decoder(
            input_ids=feed, position_ids=self.pos, use_cache=True, shared_prefix=self.cache,
            **{self.kw: self.cache},
        )  # fmt: skip
        self.cache.advance()
        return out.last_hidden_state[:, -1, :], self.cache.get_seq_length()


def _advance(
    tab: _Tables,
    sub: Any,
    state: Any,
    done_steps: Any,
    finished: Any,
    horizon: int,
    produced: list[Any],
) -> tuple[Any, Any, Any]:
    """Append sub-tokens ``sub`` ``(B,)`` to the live rows; return the new state, completed
    steps and finished flags (a row finishes once it has ``horizon`` steps)."""
    import torch

    live = ~finished
    choice = tab.token_ids[sub]
    produced.append(torch.where(live, choice, torch.full_like(choice, -1)))
    done_steps = done_steps + torch.where(live, tab.stp[state, sub], 0)
    state = torch.where(live, tab.nxt[state, sub], state)
    return state, done_steps, finished | (done_steps >= horizon)


def max_new_tokens(tab: _Tables, horizon: int) -> int:
    """The token cap of one sequence: ``horizon`` steps of the longest step the grammar can
    write (a token holds at least one character), plus the end."""
    return horizon * tab.auto.max_chars_per_step() + 1


def token_lengths(lm: LoadedModel, prompts: Sequence[str]) -> list[int]:
    """Each prompt's token count (one tokenizer call for all)."""
    return [len(t) for t in lm.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]


def batch_flops_bound(
    lm: LoadedModel, tab: _Tables, lengths: Sequence[int], jobs: Sequence[_Job], max_new: int
) -> int:
    """The most one batch of :func:`_generate_batch` can charge: its ``jobs``' prompts
    (``lengths[job.prompt]`` tokens, ``job.rows`` sequences each) padded to the longest,
    prefilled once each, then ``max_new`` one-token passes of every row attending to all
    ``P + max_new`` keys. A two-token (jump-forward) pass costs no more than two one-token
    passes, a pass with shared-prefix attention attends to fewer keys, and a batch feeds at
    most ``max_new`` tokens per row, so the charge never exceeds this."""
    P = max(lengths[j.prompt] for j in jobs)
    return flops.generation_flops(
        lm.arch,
        P,
        max_new + 1,
        batch=sum(j.rows for j in jobs),
        lora=lm.lora_cost,
        head_vocab=int(tab.token_ids.numel()),
        static_kv=P + max_new,
        prefill_batch=len(jobs),
    )


class GenerationPlan:
    """Everything one forecast needs, built once from ``(contexts, alphas, horizon,
    encoding, sampling)``: the prompts (each series encoded once), their token counts, the
    grammar and its tables, the token cap and the batches. The reservation reads
    :meth:`flops_bound`; :meth:`run` generates with the same plan.

    Attributes:
        contexts: N arrays ``(C_i, V)`` in original units.
        alphas: N scales (value = alpha × written number).
        horizon: steps to forecast.
        encoding: how the numbers are written.
        sampling: how paths are drawn.
        negative: whether the grammar allows a sign (any context holds a negative value,
            unless given).
        parts: a scale ensemble's (:attr:`Sampling.scale_ensemble`) three plans, the series
            at alpha / r, alpha and alpha × r; empty without one (:attr:`written`,
            :attr:`copies`).
        prompts, lengths: a prompt text and its token count per written series.
        grammar, tables: the format generated and its token tables for this model.
        max_new: the token cap of one sequence.
        batches: the sequences grouped at ``sampling.batch_size`` rows
            (:func:`plan_batches`; a run may split them further to fit memory).
    """

    def __init__(
        self,
        lm: LoadedModel,
        contexts: Sequence[np.ndarray],
        alphas: Sequence[float],
        horizon: int,
        encoding: Encoding,
        sampling: Sampling | None = None,
        negative: bool | None = None,
    ):
        if len(alphas) != len(contexts):
            raise ValueError(f"{len(alphas)} scales for {len(contexts)} contexts")
        self.lm = lm
        self.contexts = list(contexts)
        self.alphas = tuple(float(a) for a in alphas)
        self.horizon = int(horizon)
        self.encoding = encoding
        sampling = sampling if sampling is not None else Sampling()
        if sampling.samples == 1:  # one path: the greedy one
            sampling = dataclasses.replace(sampling, temperature=0.0)
        self.sampling = sampling
        self.negative = (
            any(bool(np.any(np.asarray(c) < 0)) for c in self.contexts)
            if negative is None
            else negative
        )
        r = sampling.scale_ensemble
        # each part its own grammar and batches: it forecasts as a plan at that scale alone
        self.parts: list[GenerationPlan] = []
        if r > 1:
            scales = [codec.ensemble_scales(a, r) for a in self.alphas]
            one = dataclasses.replace(sampling, scale_ensemble=1.0)
            self.parts = [
                GenerationPlan(lm, contexts, [sc[j] for sc in scales], horizon, encoding, one,
                               self.negative)
                for j in range(3)
            ]  # fmt: skip
            # the series at their own scale give the grammar and batches named here
            mid = self.parts[1]
            self.prompts = [t for p in self.parts for t in p.prompts]
            self.lengths = [n for p in self.parts for n in p.lengths]
            self.grammar, self.tables, self.max_new = mid.grammar, mid.tables, mid.max_new
            self.batches = mid.batches
            return
        self.prompts = encoding.prompts(self.contexts, self.alphas)
        self.lengths = token_lengths(lm, self.prompts)
        self.grammar = encoding.grammar(self.contexts, self.alphas, self.negative)
        self.tables = grammar_tables(lm, self.grammar)
        self.max_new = max_new_tokens(self.tables, self.horizon)
        self.batches = plan_batches(self.lengths, self.sampling.samples, self.sampling.batch_size)

    @property
    def samples(self) -> int:
        """K paths per series."""
        return self.sampling.samples

    @property
    def copies(self) -> int:
        """How many times each series is written (3 in a scale ensemble, else 1)."""
        return len(self.parts) or 1

    @property
    def written(self) -> tuple[list[np.ndarray], list[float]]:
        """``(contexts, alphas)`` as generated, one per prompt (:attr:`prompts`)."""
        parts = self.parts or [self]
        return [c for p in parts for c in p.contexts], [a for p in parts for a in p.alphas]

    def room(self) -> int:
        """The most steps the model's context window holds after the longest prompt (each
        step bounded by the longest a grammar allowing a sign can write: one token per
        character at most)."""
        if self.parts:
            return min(p.room() for p in self.parts)
        limit = getattr(self.lm.model.config, "max_position_embeddings", None) or 10**9
        per_step = dataclasses.replace(self.grammar, allow_negative=True).max_chars_per_step()
        return max(0, (limit - max(self.lengths) - 1) // per_step)

    def flops_bound(self) -> int:
        """An upper bound on the FLOPs :meth:`run` charges (a reservation): every batch
        bounded by :func:`batch_flops_bound`. A run whose batches are split further to fit
        memory is checked batch by batch against its reservation and stops before
        exceeding it."""
        if self.parts:
            return sum(p.flops_bound() for p in self.parts)
        return sum(
            batch_flops_bound(self.lm, self.tables, self.lengths, jobs, self.max_new)
            for jobs in self.batches
        )

    def run(
        self,
        progress: bool = False,
        stats: GenerationStats | None = None,
        flop_limit: int | None = None,
    ) -> Forecast:
        """Forecast :attr:`horizon` steps after each context.

        Args:
            progress: a bar over the series.
            stats: filled batch by batch (pass one to know the FLOPs of an interrupted run).
            flop_limit: FLOPs reserved for this call (e.g. :meth:`flops_bound`); no batch
                starts that could exceed it (:func:`generate_texts`).
        """
        if self.parts:
            return self._run_parts(progress, stats, flop_limit)
        n, v = len(self.contexts), int(np.shape(self.contexts[0])[-1])
        k, horizon = self.samples, self.horizon
        number_means: list[list[float]] | None = [] if self.sampling.readout == "expected" else None
        texts, stats = generate_texts(
            self.lm,
            self.prompts,
            self.grammar,
            horizon,
            self.sampling,
            progress=progress,
            stats=stats,
            flop_limit=flop_limit,
            number_means=number_means,
            lengths=self.lengths,
        )
        values = np.full((n, k, horizon, v), np.nan)
        parsed = np.zeros((n, k), dtype=np.int64)
        grouped: list[list[str]] = []
        for i in range(n):
            row = texts[i * k : (i + 1) * k]
            grouped.append(row)
            for s, text in enumerate(row):
                if number_means is not None:
                    text = codec.refine_last_digits(text, number_means[i * k + s])
                res = self.encoding.decode(text, n_vars=v, max_steps=horizon)
                parsed[i, s] = res.n_steps
                values[i, s, : res.n_steps] = res.values * self.alphas[i]
        log.debug(
            "forecast %d windows × %d samples: %d prompt + %d generated tokens, %.3e FLOPs",
            n,
            k,
            stats.prompt_tokens,
            stats.generated_tokens,
            stats.flops,
        )
        return Forecast(values, parsed, grouped, stats)

    def _run_parts(
        self, progress: bool, stats: GenerationStats | None, flop_limit: int | None
    ) -> Forecast:
        """A scale ensemble: each part's forecast (one ``stats``, the reservation shared),
        then the mean of each series' three (a step no part parsed stays NaN), the steps
        parsed by the part that parsed most, and the texts of the series at their own scale."""
        stats = stats if stats is not None else GenerationStats()
        start, runs = stats.flops, []
        for p in self.parts:
            left = None if flop_limit is None else flop_limit - (stats.flops - start)
            runs.append(p.run(progress, stats, left))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: NaN
            values = np.nanmean([f.samples for f in runs], axis=0)
        parsed = np.max([f.parsed_steps for f in runs], axis=0)
        return Forecast(values, parsed, runs[1].texts, stats)


def sample_paths(
    lm: LoadedModel,
    contexts: np.ndarray | Sequence[np.ndarray],
    horizon: int,
    alphas: float | Sequence[float],
    encoding: Encoding,
    sampling: Sampling | None = None,
    progress: bool = False,
    stats: GenerationStats | None = None,
    flop_limit: int | None = None,
) -> Forecast:
    """Forecast ``horizon`` steps after each ``(C_i, V)`` context (``(N, C, V)`` or N
    arrays): a :class:`GenerationPlan` built and run at once. ``alphas``: one scale for
    every context, or one each."""
    ctx = list(contexts)
    a = np.broadcast_to(np.asarray(alphas, dtype=np.float64), (len(ctx),))
    plan = GenerationPlan(lm, ctx, a.tolist(), horizon, encoding, sampling)
    return plan.run(progress, stats, flop_limit)
