"""Audit round 3, MEDIUM findings: one line and exit 2 before any charged work, never a
traceback (seasons longer than the context, ledgers that are not lmcast's, odd text)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _two_vars_csv(path, steps=20):
    lines = ["id,t,y,z"]
    for s in "ab":
        for k in range(steps):
            lines.append(f"{s},{k},{2 + np.sin(k / 2):.3f},{1 + np.cos(k / 3):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(code, err, needle):
    return code == 2 and "Traceback" not in err and err.count("\n") == 1 and needle in err


def test_a_context_no_longer_than_the_season_is_refused_before_any_work(tmp_path, run_cli):
    """MEDIUM 2: VAR (and the language model) ran, then MASE's scale crashed."""
    data = _two_vars_csv(tmp_path / "s.csv")
    code, _, err = run_cli(
        "benchmark", "--data", data, "--forecasters", "var", "--horizon", 4,
        "--season-length", 16, "--out", tmp_path / "b", "--ledger", f"sqlite:///{tmp_path}/l.db",
    )  # fmt: skip
    assert _one_line(code, err, "not longer than the season of 16"), err
    assert not (tmp_path / "b").exists()


def test_evaluate_refuses_a_season_as_long_as_the_context(tmp_path, lv_file, run_cli):
    code, _, err = run_cli(
        "evaluate", "--data", lv_file, "--context-steps", 10, "--horizon", 2,
        "--season-length", 10, "--out", tmp_path / "e", "--model", tmp_path / "no-model",
    )  # fmt: skip
    assert _one_line(code, err, "is not shorter than the 10-step context"), err


def test_ledgers_that_are_not_lmcasts_are_one_line(tmp_path, run_cli):
    """MEDIUM 3: a foreign runs table, a non-numeric budget, a config that is not JSON and
    a read-only SQLite URI were tracebacks; the URI left a stray 'file:' folder."""
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("create table runs (a int)")
    code, _, err = run_cli("budget", "--ledger", f"sqlite:///{foreign}")
    assert _one_line(code, err, "not an lmcast ledger"), err
    ok = tmp_path / "ok.db"
    assert run_cli("budget", "--ledger", f"sqlite:///{ok}", "--set", "1e15")[0] == 0
    with sqlite3.connect(ok) as c:
        c.execute("update settings set value='abc'")
    code, _, err = run_cli("budget", "--ledger", f"sqlite:///{ok}")
    assert _one_line(code, err, "'abc' is not a positive number of FLOPs"), err
    with sqlite3.connect(ok) as c:
        c.execute("update settings set value='1e15'")
        c.execute(
            "insert into runs (experiment, name, kind, flops, projected_flops, status, config,"
            " started, updated) values ('e', 'n', 'evaluate', 5, 5, 'done', '{oops', 0, 0)"
        )
    code, out, err = run_cli("budget", "--ledger", f"sqlite:///{ok}", "--json")
    assert code == 0 and "Traceback" not in err, err  # the row's bad config: still listed
    assert json.loads(out)["remaining"] == 1e15 - 5
    ro = f"sqlite:///file:{ok}?mode=ro&uri=true"
    code, _, err = run_cli("budget", "--ledger", ro, "--set", "1e16")
    assert _one_line(code, err, "readonly database"), err
    missing = f"sqlite:///file:{tmp_path}/nothere/x.db?mode=ro&uri=true"
    code, _, err = run_cli("budget", "--ledger", missing)
    assert _one_line(code, err, "unable to open database file"), err
    assert not any(p.name.startswith("file:") for p in tmp_path.iterdir())
    assert not (tmp_path / "nothere").exists()


def test_odd_text_in_ids_and_run_metadata_is_drawn_and_escaped(tmp_path):
    """MEDIUM 4: a series id with TeX specials ($\\USD$) crashed matplotlib after the
    forecast was charged; a newline or backtick in run metadata let the model card grow
    headings, links and images; config.data that is not a string was a TypeError."""
    from lmcast.compare.plots import plot_forecast
    from lmcast.forecasting.export import _code, _esc

    t = np.arange(12.0)
    path = plot_forecast(
        tmp_path / "f.png", t, np.ones((8, 1)), None, {"median": np.ones((4, 1))}, ("y",),
        title="series $\\USD$ ^_%: 8 context steps",
    )  # fmt: skip
    assert path.stat().st_size > 0
    evil = "x`\n# Owned\n[link](http://a) ![img](http://b/i.png) <b>"
    assert "\n" not in _esc(evil) and "\n" not in _code(evil) and "`" not in _code(evil)
    assert "[link](" not in _esc(evil) and "![img](" not in _esc(evil) and "<b>" not in _esc(evil)


def test_profile_keys_given_twice_are_refused(tmp_path, run_cli):
    """MEDIUM 8: duplicate YAML keys were silently taken (the last one won)."""
    from lmcast.study.profile import PROFILE_DIR

    text = (PROFILE_DIR / "quick.yaml").read_text() + "\nbudget: 1.0e+12\n"
    (tmp_path / "p.yaml").write_text(text)
    code, _, err = run_cli("run", "--profile", tmp_path / "p.yaml", "--dry-run")
    assert _one_line(code, err, "key 'budget' given twice"), err


def test_constant_series_print_no_numpy_warnings(tmp_path, run_cli):
    """MEDIUM 8: a constant series printed 'Mean of empty slice' warnings on stderr."""
    import warnings

    lines = ["id,t,y", *(f"c,{k},5.0" for k in range(20))]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings(record=True) as seen:  # what would reach stderr
        warnings.simplefilter("always")
        code, _, err = run_cli(
            "-q", "benchmark", "--data", tmp_path / "c.csv", "--forecasters", "naive,snaive",
            "--horizon", 4, "--out", tmp_path / "b",
        )  # fmt: skip
    assert code == 0, err
    assert [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)] == []


def test_time_zones_daylight_saving_and_mixes(tmp_path, run_cli):
    """MEDIUM 1: daylight-saving offsets and zoned times mixed with naive ones ended in
    AttributeError. A series across a DST change keeps its local, regular clock; a mix is
    refused in one line."""
    import datetime

    from lmcast.core.series.timeaxis import parse_times, split_zone

    assert split_zone("2026-03-29T00:00:00+02:00") == ("2026-03-29T00:00:00", "+02:00")
    assert split_zone("2026-03-29") == ("2026-03-29", "")
    assert split_zone("2026-03-29 10:00Z") == ("2026-03-29 10:00", "Z")
    days = [datetime.date(2026, 3, 20) + datetime.timedelta(days=k) for k in range(30)]
    dst = [f"{d}T00:00:00{'+01:00' if d < datetime.date(2026, 3, 29) else '+02:00'}" for d in days]
    _, stamps = parse_times(dst)
    assert (np.diff(stamps) == np.timedelta64(1, "D")).all()
    (tmp_path / "dst.csv").write_text(
        "unique_id,ds,y\n" + "".join(f"a,{t},{k % 7}\n" for k, t in enumerate(dst))
    )
    code, _, err = run_cli(
        "data", "import", "--csv", tmp_path / "dst.csv", "--out", tmp_path / "d.h5"
    )
    assert code == 0, err
    mixed = [t if k % 2 else t[:-6] for k, t in enumerate(dst)]
    (tmp_path / "mix.csv").write_text(
        "unique_id,ds,y\n" + "".join(f"a,{t},{k % 7}\n" for k, t in enumerate(mixed))
    )
    code, _, err = run_cli(
        "data", "import", "--csv", tmp_path / "mix.csv", "--out", tmp_path / "m.h5"
    )
    assert _one_line(code, err, "mixes times with a zone"), err
    # round 4: hourly times across the autumn change repeat a wall-clock hour ("time
    # twice") and skip one in spring; in UTC both are regular, and are read so
    start = datetime.datetime(2026, 10, 24, 20, tzinfo=datetime.timezone.utc)
    berlin = [start + datetime.timedelta(hours=k) for k in range(12)]
    texts = [
        (t + datetime.timedelta(hours=2 if t.hour < 1 or t.day == 24 else 1))
        .replace(tzinfo=None)
        .isoformat()
        + ("+02:00" if t.hour < 1 or t.day == 24 else "+01:00")
        for t in berlin
    ]
    assert len({x[:19] for x in texts}) == 11  # one wall-clock hour twice
    (tmp_path / "hourly.csv").write_text(
        "unique_id,ds,y\n" + "".join(f"a,{t},{k % 5}\n" for k, t in enumerate(texts))
    )
    code, _, err = run_cli(
        "data", "import", "--csv", tmp_path / "hourly.csv", "--out", tmp_path / "h.h5"
    )
    assert code == 0, err
    _, stamps = parse_times(texts)
    assert (np.diff(stamps) == np.timedelta64(1, "h")).all()


def test_a_large_csv_is_read_in_a_few_times_its_size_and_max_series_is_lazy(tmp_path):
    """MEDIUM 6: a 10^6-row, 26 MB CSV peaked at 778 MB (a dict per row); --max-series
    parsed every series first. Allocations now stay under 10x the file's size, and rows
    of series past the first N are neither parsed nor stored."""
    import tracemalloc

    from lmcast.core.series.data import read_long_csv

    rng = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("id,t,y\n")
        for s in range(200):
            f.writelines(f"series{s:04d},{k},{v:.6f}\n" for k, v in enumerate(rng.random(1000)))
    size = path.stat().st_size
    tracemalloc.start()
    ls = read_long_csv(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(ls.ids) == 200 and ls.values[0].shape == (1000, 1)
    assert peak < 10 * size, (peak, size)
    with path.open("a") as f:
        f.write("series0199,1000,not-a-number\n")  # a bad row in a series past the first
    assert read_long_csv(path, max_series=2).ids == ["series0000", "series0001"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        _json,
        st.text(max_size=40),
        st.fixed_dictionaries(
            {"forecaster": _json, "dataset": _json, "key": _json},
            optional={"per_series": _json, "per_step_mae": _json, "seconds": _json, "flops": _json},
        ),
    )
)
def test_any_benchmark_result_file_is_reused_only_when_it_is_ours(tmp_path, content):
    """Fuzz: any text as a stored benchmark result is reused only under its own key with
    the fields the leaderboard reads; anything else is recomputed, never a traceback."""
    from lmcast.forecasting.benchmark import read_result

    path = tmp_path / "r.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    res = read_result(path, "the-key")
    assert res is None or (res["key"] == "the-key" and isinstance(res["per_series"], dict))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=12), st.floats().map(repr), st.integers().map(str)))
def test_any_budget_setting_is_a_budget_or_one_line(tmp_path_factory, value):
    """Fuzz: any text in the ledger's budget setting is a positive finite budget or one
    LmcastError line, never a traceback."""
    import math

    from lmcast.accounting.ledger import Ledger
    from lmcast.errors import LmcastError

    db = tmp_path_factory.mktemp("l") / "l.db"
    Ledger(f"sqlite:///{db}").set_budget(1e15)
    with sqlite3.connect(db) as c:
        c.execute("update settings set value=? where key='budget'", (value,))
    try:
        budget = Ledger(f"sqlite:///{db}").budget()
    except LmcastError as exc:
        assert "\n" not in str(exc)
    else:
        assert budget > 0 and math.isfinite(budget)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda p: p["context_study"].update(context_lengths=[0]), "--context-length must be >= 8"),
        (lambda p: p["context_study"].update(context_lengths=[-512]), "got -512"),
        (lambda p: p["sweep"]["grid"].update(rank=[0]), "--rank must be >= 1"),
        (lambda p: p["sweep"]["grid"].update(lr=[-1e-3]), "--lr must be a positive"),
        (lambda p: p["sweep"]["grid"].update(precision=[20]), "--precision must be between"),
        (lambda p: p["sweep"]["grid"].update(depth=[2]), "grid axis 'depth'"),
        (lambda p: p["recipe"].update(target_modules=["zz_proj"]), "['zz_proj'] are not modules"),
    ],
)
def test_dry_run_refuses_what_the_run_refuses(tmp_path, run_cli, edit, needle):
    """MEDIUM 5: a context length of 0 was a ZeroDivisionError, -512 planned negative FLOPs
    and 'fits', and rank 0, a negative lr, precision 20, an unknown axis or target module
    passed --dry-run (the run charged the baseline before refusing). Both now build every
    stage's config first and refuse in one line."""
    import yaml

    from lmcast.study.profile import PROFILE_DIR

    prof = yaml.safe_load((PROFILE_DIR / "quick.yaml").read_text())
    edit(prof)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(prof))
    for extra in (["--dry-run"], ["--data", tmp_path / "none.h5"]):
        code, _, err = run_cli(
            "run", "--profile", tmp_path / "p.yaml", "--workspace", tmp_path / "ws", *extra
        )
        assert _one_line(code, err, needle), err
    assert not (tmp_path / "ws").exists()  # the run refused before any stage


def test_adapter_paths_are_checked_before_any_work(tmp_path, run_cli):
    """MEDIUM 7: `adapter:` (empty) and `adapter:../../x` were refused only after the
    classical forecasters and the model had run."""
    data = _two_vars_csv(tmp_path / "s.csv", steps=40)
    for spec, needle in (("adapter:", "adapter: needs a folder"), ("adapter:../../x", "no such")):
        code, _, err = run_cli(
            "benchmark", "--data", data, "--forecasters", f"ets,{spec}", "--horizon", 4,
            "--out", tmp_path / "b",
        )  # fmt: skip
        assert _one_line(code, err, needle), err
        assert not (tmp_path / "b").exists()
    for cmd in (["forecast", "--horizon", 2], ["evaluate", "--trajectories", 2]):
        code, _, err = run_cli(
            *cmd, "--data", data if cmd[0] == "forecast" else tmp_path / "none.h5",
            "--adapter", tmp_path / "no-adapter", "--out", tmp_path / "o",
        )  # fmt: skip
        assert _one_line(code, err, "no-adapter"), err


@pytest.mark.parametrize("kind", ["laughs", "nested", "huge"])
def test_hostile_profiles_are_refused_before_the_tree_is_built(tmp_path, run_cli, kind):
    """Round 4: a YAML alias bomb under model, protocol.also or budget (MemoryError under a
    4 GB limit) and 100,000 nested brackets (RecursionError) are one line, refused from the
    parser's events before any node is built."""
    from lmcast.study.profile import PROFILE_DIR

    base = (PROFILE_DIR / "quick.yaml").read_text()
    if kind == "laughs":
        levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        levels += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
        text, needle = (
            "\n".join(levels) + "\n" + base.replace("budget:", "budget: *a9\nx:"),
            "aliases",
        )
    elif kind == "nested":
        text, needle = base + "\nextra: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper"
    else:
        text, needle = base + "\n#" + "x" * 2_000_000 + "\n", "characters"
    (tmp_path / "p.yaml").write_text(text)
    code, _, err = run_cli("run", "--profile", tmp_path / "p.yaml", "--dry-run")
    assert _one_line(code, err, needle), err


def test_a_stored_result_naming_another_forecaster_is_recomputed(tmp_path):
    """Round 4: a result file under this run's key but naming a forecaster the run does not
    have reached the leaderboard (KeyError); it is now recomputed."""
    from lmcast.forecasting.benchmark import read_result

    good = {"forecaster": "ets", "dataset": "d", "key": "k", "per_series": {},
            "per_step_mae": [0.1], "seconds": 1.0, "flops": 0}  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(good))
    assert read_result(path, "k", "ets") == good
    path.write_text(json.dumps({**good, "forecaster": "lstm"}))
    assert read_result(path, "k", "ets") is None


def test_an_adapter_fingerprint_covers_the_encoding_record_beside_its_folder(tmp_path):
    """Round 4: editing a run's encoding.json did not change the fingerprint of its adapter/
    folder, so benchmark reused results scored under the old encoding."""
    from lmcast.forecasting.benchmark import adapter_fingerprint

    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text("{}")
    (run / "encoding.json").write_text('{"alpha": 0.5, "precision": 1}')
    before = adapter_fingerprint(run / "adapter"), adapter_fingerprint(run)
    (run / "encoding.json").write_text('{"alpha": 0.7, "precision": 1}')
    after = adapter_fingerprint(run / "adapter"), adapter_fingerprint(run)
    assert before[0] != after[0] and before[1] != after[1]


@settings(max_examples=40, deadline=None)
@given(
    n=st.one_of(st.integers(-3, 4), st.integers(10**7, 10**20)),
    seed=st.one_of(st.integers(-5, 50), st.integers(2**62, 2**80)),
    lengths=st.tuples(st.integers(-10, 300), st.integers(-10, 300)) | st.just((2 * 10**9,) * 2),
    shares=st.tuples(
        st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1, allow_nan=False)
    ),
)
def test_any_data_synth_options_are_a_corpus_or_one_line(n, seed, lengths, shares):
    """Fuzz (round 4): any data synth options build a valid config whose corpus is made, or
    are refused with one LmcastError line before anything is allocated."""
    from lmcast.configs import SynthConfig
    from lmcast.core.series.synth import synth_corpus
    from lmcast.errors import LmcastError

    kw = dict(out="x.h5", n=n, seed=seed, min_length=lengths[0], max_length=lengths[1],
              arima_share=shares[0], season_share=shares[1])  # fmt: skip
    try:
        cfg = SynthConfig(**kw)
    except LmcastError as exc:
        assert "\n" not in str(exc)
        return
    assert cfg.n >= 1 and 0 <= cfg.seed < 2**63 and 8 <= cfg.min_length <= cfg.max_length
    if cfg.n <= 4 and cfg.max_length <= 300:
        corpus = synth_corpus(cfg.n, cfg.seed, cfg.min_length, cfg.max_length,
                              cfg.arima_share, cfg.season_share)  # fmt: skip
        assert len(corpus) == cfg.n
        assert all(np.isfinite(s.values).all() for s in corpus)
