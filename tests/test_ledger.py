"""FLOP ledger: records, budget enforcement, concurrent writers, the CLI."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from lmcast.errors import BudgetExceededError
from lmcast.ledger import Ledger


def _charge_many(url: str, worker: int, n: int) -> None:
    ledger = Ledger(url)
    for i in range(n):
        ledger.charge("concurrency", f"w{worker}-{i}", "evaluate", 1000 + i)


def test_two_processes_lose_no_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url)  # create tables first
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_charge_many, args=(url, w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    recs = Ledger(url).records()
    assert len(recs) == 80
    assert len({r.name for r in recs}) == 80
    assert Ledger(url).used() == 2 * sum(1000 + i for i in range(40))


def test_budget_refuses_and_table(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", budget=1e6)
    ledger.charge("baseline", "zs", "evaluate", 400_000)
    rid = ledger.start("sweep", "t0", "train", projected=100_000)
    ledger.update(rid, 300_000, status="done")
    assert ledger.used() == 700_000
    ledger.check(300_000)
    with pytest.raises(BudgetExceededError, match=r"projected 3\.500e\+05"):
        ledger.check(350_000)
    tab = ledger.table()
    assert [(r["experiment"], r["runs"], r["flops"]) for r in tab["rows"]] == [
        ("baseline", 1, 400_000),
        ("sweep", 1, 300_000),
    ]
    assert tab["total"]["flops"] == 700_000 and tab["total"]["percent_of_budget"] == pytest.approx(
        70.0
    )


def test_exact_integers_beyond_float_precision(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    big = 12_345_678_901_234_567  # > 2**53
    ledger.charge("x", "r", "train", big)
    ledger.charge("x", "r2", "train", 1)
    assert ledger.used() == big + 1


def test_cli_budget_lists_and_sets(tmp_path, run_cli):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger(url).charge("baseline", "zero-shot", "evaluate", 5e12)
    code, out, _ = run_cli("budget", "--ledger", url, "--set", "1e15", "--json")
    tab = json.loads(out)
    assert code == 0 and tab["budget"] == 1e15
    assert tab["rows"][0]["experiment"] == "baseline" and tab["rows"][0]["percent_of_budget"] == 0.5
    code, out, _ = run_cli("budget", "--ledger", url)
    assert code == 0 and "baseline" in out and "total" in out
