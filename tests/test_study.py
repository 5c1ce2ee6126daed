"""The study layer's contracts: typed profiles, one ledger per workspace, the workspace paths."""

from __future__ import annotations

import pytest
import yaml

from lmcast.errors import LmcastError
from lmcast.study.profile import load_profile


def _quick() -> dict:
    from lmcast.study.profile import profile_path

    return yaml.safe_load(profile_path("quick").read_text())


def _broken(kind: str) -> tuple[object, str]:
    """A profile document broken in one way, and the words its error must contain."""
    prof = _quick()
    if kind == "typo":
        prof["sweep"]["max_stpes"] = prof["sweep"].pop("max_steps")
        return prof, "unknown key sweep.max_stpes"
    if kind == "missing":
        del prof["protocol"]["horizon"]
        return prof, "missing key protocol.horizon"
    if kind == "list-for-mapping":
        prof["final"] = [1, 2]
        return prof, "final must be a mapping, got a list"
    if kind == "wrong-type":
        prof["sweep"]["batch_size"] = "four"
        return prof, "sweep.batch_size must be an integer"
    if kind == "not-positive":
        prof["protocol"]["trajectories"] = 0
        return prof, "protocol.trajectories must be >= 1"
    if kind == "top-level-list":
        return [prof], "the top level must be a mapping"
    if kind == "renamed-key":
        prof["protocol"]["test_trajectories"] = prof["protocol"].pop("trajectories")
        return prof, "protocol.test_trajectories is now protocol.trajectories"
    if kind == "unknown-reference":
        prof["protocol"]["references"] = ["ets", "lstm"]
        return prof, "protocol.references: --references: unknown reference forecaster 'lstm'"
    if kind == "unknown-readout":  # choices were checked at the CLI only, not in a profile
        prof["protocol"]["readout"] = "mean"
        return prof, "protocol: --readout must be one of argmax, expected, got 'mean'"
    if kind == "ensemble-of-samples":  # the final model's test samples at the main protocol
        prof["protocol"].update(samples=5, scale_ensemble=1.15)
        return prof, "protocol.scale_ensemble: --scale-ensemble 1.15 averages greedy forecasts"
    if kind == "ensemble-below-one":
        prof["protocol"]["scale_ensemble"] = 0.9
        return prof, "protocol.scale_ensemble must be >= 1, got float 0.9"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "typo",
        "missing",
        "list-for-mapping",
        "wrong-type",
        "not-positive",
        "top-level-list",
        "unknown-reference",
        "renamed-key",
        "unknown-readout",
        "ensemble-of-samples",
        "ensemble-below-one",
    ],
)
def test_bad_profile_is_one_line_exit_2(tmp_path, run_cli, kind):
    doc, words = _broken(kind)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, _, err = run_cli("run", "--profile", path, "--dry-run", "--workspace", tmp_path / "ws")
    assert code == 2, err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "ws").exists()


def test_malformed_yaml_is_one_line_exit_2(tmp_path, run_cli):
    path = tmp_path / "p.yaml"
    path.write_text("model: [unclosed\nbudget: 1\n")
    code, _, err = run_cli("run", "--profile", path, "--dry-run")
    assert code == 2 and "not readable YAML" in err and err.count("\n") == 1


def test_built_in_profiles_are_typed():
    quick, seed = load_profile("quick"), load_profile("seed")
    assert quick.protocol.context_steps == 80 and quick.sweep.grid["rank"] == [8]
    assert isinstance(quick.sweep.grid["rank"][0], int)  # "rank=8", never "rank=8.0"
    assert quick.context_study.eval_every == quick.context_study.max_steps
    assert seed.budget == 1e17 and seed.final.max_steps == 30000


def _train_args(tiny_dir, lv_file, out):
    return [
        "train", "--model", tiny_dir, "--data", lv_file, "--out", out, "--max-steps", 1,
        "--context-length", 48, "--batch-size", 2, "--eval-windows", 2, "--autocast", "no",
        "--device", "cpu", "--no-progress",
    ]  # fmt: skip


def _sweep_args(tiny_dir, lv_file, *extra):
    return [
        "sweep", "--model", tiny_dir, "--data", lv_file, "--grid", "lr=0.001", "--grid", "rank=2",
        "--max-steps", 1, "--context-length", 48, "--batch-size", 2, "--eval-steps", 1,
        "--val-trajectories", 1, "--context-steps", 8, "--horizon", 2, "--no-progress", *extra,
    ]  # fmt: skip


def test_train_and_sweep_without_ledger_charge_one_ledger(
    tmp_path, tiny_dir, lv_file, run_cli, monkeypatch
):
    from lmcast.accounting.ledger import Ledger

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LMCAST_LEDGER", raising=False)
    monkeypatch.delenv("LMCAST_WORKSPACE", raising=False)
    code, _, err = run_cli(*_train_args(tiny_dir, lv_file, "runs/t1"))
    assert code == 0, err
    code, _, err = run_cli(*_sweep_args(tiny_dir, lv_file))
    assert code == 0, err
    recs = Ledger(f"sqlite:///{tmp_path / 'workspace' / 'ledger.db'}").records()
    assert {(r.experiment, r.kind) for r in recs} == {
        ("train", "train"),
        ("sweep", "train"),
        ("sweep", "evaluate"),
    }
    assert sorted(p.name for p in tmp_path.glob("**/*.db")) == ["ledger.db", "sweep.db"]

    # $LMCAST_LEDGER is the one ledger for every command, whatever the workspace
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("LMCAST_LEDGER", shared)
    code, _, err = run_cli(*_train_args(tiny_dir, lv_file, "runs/t2"))
    assert code == 0, err
    code, _, err = run_cli(*_sweep_args(tiny_dir, lv_file, "--workspace", "other"))
    assert code == 0, err
    assert len(Ledger(shared).records()) == 3
    assert not (tmp_path / "other" / "ledger.db").exists()


def test_trajectories_flag_and_its_alias():
    from lmcast.cli import build_parser

    p = build_parser()
    base = ["evaluate", "--data", "x.h5"]
    assert p.parse_args([*base, "--trajectories", "7"]).trajectories == 7
    assert p.parse_args([*base, "--num-samples", "7"]).trajectories == 7
    assert p.parse_args([*base, "--samples", "3"]).samples == 3


def test_workspace_owns_stage_paths(tmp_path, monkeypatch):
    from lmcast.errors import LmcastError
    from lmcast.study.workspace import Workspace

    monkeypatch.delenv("LMCAST_LEDGER", raising=False)
    ws = Workspace.at(tmp_path)
    assert ws.ledger_url == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert ws.sweep_results == tmp_path / "sweep" / "results.json"
    assert ws.read(ws.sweep_results) is None
    ws.sweep_results.parent.mkdir()
    ws.sweep_results.write_text('{"rows": [')  # a truncated stage output
    with pytest.raises(LmcastError, match="unreadable stage output"):
        ws.read(ws.sweep_results)


def test_the_study_api_takes_typed_values_and_only_the_cli_parses_strings():
    """`run_sweep`/`run_context_study` take a grid dict and a list of lengths; strings are
    the CLI's (`parse_grid`, the options' own list parsing), which give the same typed
    values; a config given a comma string instead of a list refuses it in one line."""
    from lmcast.cli import build_parser
    from lmcast.cli.args import config_from_args
    from lmcast.cli.study import parse_grid
    from lmcast.configs import ContextStudyConfig, TrainConfig
    from lmcast.errors import LmcastError
    from lmcast.study.context import check_lengths
    from lmcast.study.sweep import check_grid

    typed = check_grid({"lr": [0.003, 1e-3, 0.003], "rank": [8.0, 4]})
    assert typed == {"lr": [1e-3, 3e-3], "rank": [4, 8]}
    assert isinstance(typed["rank"][0], int)
    assert parse_grid(["lr=0.003,1e-3", "rank=8,4"]) == typed
    args = build_parser().parse_args(
        [
            "context-study",
            "--data",
            "x.h5",
            "--context-lengths",
            "512,256",
            "--context-lengths",
            "512",
        ]
    )
    from_cli = config_from_args(ContextStudyConfig, args).context_lengths
    from_api = ContextStudyConfig(data="x.h5", context_lengths=[512, 256, 512]).context_lengths
    assert from_cli == from_api == (256, 512)
    assert check_lengths([512, 256, 512]) == [256, 512]
    with pytest.raises(LmcastError, match="--target-modules must be a list"):
        TrainConfig(data="x.h5", out="o", target_modules="q_proj,v_proj")
    for bad in ({}, {"depth": [1]}, {"lr": []}, {"rank": [2.5]}, {"lr": ["1e-3"]}):
        with pytest.raises(LmcastError):
            check_grid(bad)
    for bad in ([], [4], [256.0], [True]):
        with pytest.raises(LmcastError):
            check_lengths(bad)


def test_tied_options_are_decided_by_the_stated_rule_not_by_noise():
    """A 256-token window that scores lower by noise (paired interval includes zero) is not
    chosen over 512; one that is significantly better is; records without per-trajectory
    errors fall back to the lowest MAE."""
    import numpy as np

    from lmcast.study.choice import LONGEST_WINDOW, LOWEST_VAL_LOSS, choose

    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, 50)

    def row(length, errs, loss=0.6):
        return {
            "key": f"context_length={length}",
            "params": {"context_length": length},
            "val_mae": float(np.mean(errs)),
            "val_loss": loss,
            "val_per_trajectory": list(errs),
        }

    noisy = [row(256, base + rng.normal(-0.01, 0.1, 50)), row(512, base)]
    c = choose(noisy, LONGEST_WINDOW)
    assert c["lowest_mae"] == "context_length=256" and c["chosen"] == "context_length=512"
    assert c["comparisons"]["context_length=512"]["verdict"] in ("level", "mixed") or c[
        "comparisons"
    ]["context_length=512"]["verdict"].startswith("level on the mean")
    assert "longest training window" in c["rule"]
    clear = [row(256, base - 0.15), row(512, base)]
    c = choose(clear, LONGEST_WINDOW)
    assert c["chosen"] == "context_length=256" and c["rule"].endswith("significantly")
    lr = [row(1, base + rng.normal(-0.005, 0.05, 50), loss=0.7), row(2, base, loss=0.5)]
    assert choose(lr, LOWEST_VAL_LOSS)["lowest_mae"] == "context_length=1"
    assert choose(lr, LOWEST_VAL_LOSS)["chosen"] == "context_length=2"
    old = [{**r, "val_per_trajectory": None} for r in noisy]
    assert choose(old, LONGEST_WINDOW)["chosen"] == "context_length=256"


@pytest.mark.parametrize(
    "text", ['{"best": null}', "[]", '{"best": {"params": [1]}}', '{"best": {"params": {"lr": 1}}}']
)
def test_a_stage_result_of_the_wrong_shape_is_one_line(tmp_path, run_cli, text):
    """Audit finding 9: `{"best": null}` in a stage's results.json gave a traceback."""
    from lmcast.errors import LmcastError
    from lmcast.study.workspace import Workspace

    ws = Workspace.at(tmp_path / "ws")
    ws.context_dir.mkdir(parents=True)
    ws.context_results.write_text(text)
    with pytest.raises(LmcastError, match="not a stage result with a chosen trial"):
        ws.read_choice(ws.context_results, ("lr", "rank", "precision", "context_length"))
    ws.sweep_dir.mkdir(parents=True)
    ws.sweep_results.write_text(text if "lr" not in text else "7")
    code, _, err = run_cli(
        "context-study", "--workspace", ws.root, "--data", "x.h5", "--no-progress"
    )
    assert code == 2 and "not a stage result" in err and "Traceback" not in err, err


def test_protocol_samples_reach_every_test_and_the_plan(tmp_path):
    """``protocol.samples``: the tests forecast the median of K sampled paths, and the plan
    projects K paths per test trajectory (the sweep's validation stays greedy)."""
    from lmcast.accounting import flops
    from lmcast.study.pipeline import RunContext
    from lmcast.study.plan import plan
    from lmcast.study.profile import parse_profile

    raw = _quick()
    one = parse_profile(raw)
    raw["protocol"]["samples"] = 3
    three = parse_profile(raw)
    arch = flops.resolve_architecture("smollm2-135m")
    a, b = ({(r.experiment, r.kind): r.flops for r in plan(p, arch)} for p in (one, three))
    assert b[("baseline", "evaluate")] > 2.5 * a[("baseline", "evaluate")]
    assert b[("sweep", "train+evaluate")] == a[("sweep", "train+evaluate")]
    from lmcast.configs import RunConfig
    from lmcast.study.workspace import Workspace

    ctx = RunContext(RunConfig(), three, Workspace.at(tmp_path / "ws"), "smollm2-135m")
    assert ctx.eval_config().samples == 3 and ctx.eval_config().trajectories == 50
    raw["protocol"].update(samples=1, also=[[50, 50, 5]])
    mixed = parse_profile(raw)
    assert mixed.protocol.samples_for(50, 50) == 5 and mixed.protocol.samples_for(80, 20) == 1
    c = {(r.experiment, r.detail): r.flops for r in plan(mixed, arch)}
    at_50 = c[("baseline", "test at 50 → 50 on 50 trajectories")]
    raw["protocol"]["also"] = [[50, 50]]
    greedy = {(r.experiment, r.detail): r.flops for r in plan(parse_profile(raw), arch)}
    assert at_50 == 5 * greedy[("baseline", "test at 50 → 50 on 50 trajectories")]
    # zero_shot_samples: the zero-shot model keeps its own decoding at every protocol
    raw["protocol"].update(also=[[50, 50, 5]], zero_shot_samples=1)
    own = parse_profile(raw)
    assert own.protocol.samples_for(50, 50, zero_shot=True) == 1
    assert own.protocol.samples_for(50, 50) == 5
    d = {(r.experiment, r.detail): r.flops for r in plan(own, arch)}
    assert d[("baseline", "test at 50 → 50 on 50 trajectories")] == at_50 // 5
    # zero_shot_also false: the plan (and the reservation) drops the zero-shot model's tests
    # on ``also``, the final model's stay
    raw["protocol"]["zero_shot_also"] = False
    rows = {(r.experiment, r.detail) for r in plan(parse_profile(raw), arch)}
    assert ("baseline", "test at 50 → 50 on 50 trajectories") not in rows
    assert ("final", "test at 50 → 50 on 50 trajectories") in rows
    assert (
        d[("final", "test at 50 → 50 on 50 trajectories")]
        == c[("final", "test at 50 → 50 on 50 trajectories")]
    )
    ctx = RunContext(RunConfig(), own, Workspace.at(tmp_path / "ws2"), "smollm2-135m")
    assert ctx.eval_config().samples == 1  # zero-shot (no adapter) at 80 → 20
    assert ctx.eval_config(context_steps=50, horizon=50).samples == 1
    assert ctx.eval_config(adapter="final", context_steps=50, horizon=50).samples == 5
    raw["protocol"]["zero_shot_samples"] = 0
    with pytest.raises(LmcastError, match="zero_shot_samples"):
        parse_profile(raw)


def test_a_trial_is_the_same_training_as_its_own_record_read_back(tmp_path):
    """The context study reuses an identical sweep trial by comparing training configs; a
    record read back from JSON holds lists where the config holds tuples (target modules),
    which made every trial look new and trained it twice."""
    import json
    from dataclasses import asdict, replace

    from lmcast.configs import TrialSpec
    from lmcast.study.sweep import make_trial
    from lmcast.study.workspace import Workspace

    spec = TrialSpec(data="x.h5", target_modules=("q_proj", "k_proj", "v_proj"))
    trial = make_trial(Workspace.at(tmp_path), spec, {"lr": 2e-3, "rank": 8})
    record = json.loads(json.dumps(asdict(trial.train)))
    assert isinstance(record["target_modules"], list)
    assert trial.same_training(record)
    assert not trial.same_training({**record, "lr": 1e-3})
    assert not replace(trial, train=replace(trial.train, rank=4)).same_training(record)


def test_a_fingerprint_that_is_a_folder_is_one_line(tmp_path, run_cli, lv_file):
    """Round 4: a marker that is a directory (the workspace's fingerprint.json) gave a raw
    '[Errno 21] Is a directory' line after the study had started."""
    ws = tmp_path / "ws"
    (ws / "fingerprint.json").mkdir(parents=True)
    code, _, err = run_cli("run", "--profile", "quick", "--workspace", ws, "--data", lv_file)
    assert code == 2 and err.count("\n") == 1 and "Errno" not in err, err
    assert "fingerprint.json: lmcast keeps the study's fingerprint there" in err
    assert {p.name for p in ws.iterdir()} <= {"fingerprint.json", "ledger.db"}  # no stage ran
