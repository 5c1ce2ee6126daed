"""A character automaton for well-formed LLMTIME continuations (pure Python).

Constrained decoding allows a token only if appending its characters keeps the
output a prefix of ``step ; step ; …`` where ``step`` is ``n_vars`` numbers
joined by ``,`` and every number is ``[-]int.frac`` with exactly ``precision``
decimals, an integer part of 1 to ``max_int_digits`` digits and no leading
zero (the encoder never writes one). The prompt ends with ``;``, so decoding
starts at the first number of a step.

States are small tuples; :class:`TokenAutomaton` precomputes, for every state,
which vocabulary tokens are allowed, the state each leads to, and how many
``;`` (completed steps) each contains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DIGITS = "0123456789"
ALPHABET = set(DIGITS + ".,;-")

# State kinds: ("start", v) before a number; ("sign", v) after "-";
# ("zero", v) after a leading 0; ("int", v, k) after k integer digits;
# ("dec", v, j) after the point and j decimals.
State = tuple


def alphabet_token_ids(token_strings: Sequence[str]) -> list[int]:
    """Ids of the tokens whose text is non-empty and made only of LLMTIME characters ``0-9 . , ; -``."""
    return [i for i, s in enumerate(token_strings) if s and set(s) <= ALPHABET]


@dataclass(frozen=True)
class Grammar:
    """The format being generated."""

    n_vars: int = 2
    precision: int = 2
    max_int_digits: int = 3
    allow_negative: bool = False

    def start(self) -> State:
        return ("start", 0)

    def max_chars_per_step(self) -> int:
        """The most characters one step can take (sign, integer digits, point, decimals and
        a separator per number); a token holds at least one, so it bounds tokens too."""
        per_number = int(self.allow_negative) + self.max_int_digits
        per_number += 1 + self.precision if self.precision else 0
        return self.n_vars * (per_number + 1)

    def _after_number(self, v: int, ch: str) -> State | None:
        if ch == "," and v < self.n_vars - 1:
            return ("start", v + 1)
        if ch == ";" and v == self.n_vars - 1:
            return ("start", 0)
        return None

    def step(self, state: State, ch: str) -> State | None:
        """The state after ``ch``, or ``None`` when ``ch`` is not allowed."""
        kind, v = state[0], state[1]
        p = self.precision
        if kind in ("start", "sign"):
            if ch == "-" and kind == "start" and self.allow_negative:
                return ("sign", v)
            if ch == "0":
                return ("zero", v)
            if ch in DIGITS:
                return ("int", v, 1)
            return None
        if kind in ("zero", "int"):
            k = 1 if kind == "zero" else state[2]
            if kind == "int" and ch in DIGITS and k < self.max_int_digits:
                return ("int", v, k + 1)
            if p > 0:
                return ("dec", v, 0) if ch == "." else None
            return self._after_number(v, ch)
        if kind == "dec":
            j = state[2]
            if j < p:
                return ("dec", v, j + 1) if ch in DIGITS else None
            return self._after_number(v, ch)
        return None  # pragma: no cover

    def states(self) -> list[State]:
        """Every reachable state."""
        out: list[State] = []
        for v in range(self.n_vars):
            out += [("start", v), ("zero", v)]
            if self.allow_negative:
                out.append(("sign", v))
            out += [("int", v, k) for k in range(1, self.max_int_digits + 1)]
            if self.precision > 0:
                out += [("dec", v, j) for j in range(self.precision + 1)]
        return out

    def run(self, state: State, text: str) -> tuple[State | None, int]:
        """Feed ``text``; return ``(state or None, number of ';' seen)``."""
        steps = 0
        for ch in text:
            after = self.step(state, ch)
            if after is None:
                return None, steps
            state = after
            steps += ch == ";"
        return state, steps


class TokenAutomaton:
    """Per-state allowed tokens, next states and step counts for a vocabulary.

    Args:
        grammar: the format.
        token_strings: decoded text of every token id (index = id).

    Attributes:
        states: list of states; ``index[state]`` is its row.
        allowed: per state, the list of allowed token ids.
        next_state: per state, ``{token id: next state row}``.
        steps_in: per state, ``{token id: ';' count in the token}``.
    """

    def __init__(self, grammar: Grammar, token_strings: Sequence[str]) -> None:
        self.grammar = grammar
        candidates = [(i, token_strings[i]) for i in alphabet_token_ids(token_strings)]
        self.states = grammar.states()
        self.index = {s: i for i, s in enumerate(self.states)}
        self.allowed: list[list[int]] = []
        self.next_state: list[dict[int, int]] = []
        self.steps_in: list[dict[int, int]] = []
        for st in self.states:
            ok, nxt, stp = [], {}, {}
            for tid, text in candidates:
                end, n = grammar.run(st, text)
                if end is not None:
                    ok.append(tid)
                    nxt[tid] = self.index[end]
                    stp[tid] = n
            self.allowed.append(ok)
            self.next_state.append(nxt)
            self.steps_in.append(stp)
        self.start = self.index[grammar.start()]
        if not self.allowed[self.start]:
            raise ValueError("the tokenizer has no token that can start a number")

    def max_chars_per_step(self) -> int:
        """An upper bound on characters in one step (:meth:`Grammar.max_chars_per_step`)."""
        return self.grammar.max_chars_per_step()
