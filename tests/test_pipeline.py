"""The study pipeline end to end on a tiny random model; sweeps shared by two workers."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from lmcast.compare import metrics


def _profile(tmp_path, tiny_dir):
    prof = {
        "model": str(tiny_dir),
        "budget": 1.0e15,
        "data": {"simulate": {"n": 30, "steps": 40, "t_max": 80.0, "seed": 2}},
        "protocol": {
            "context_steps": 12,
            "horizon": 4,
            "trajectories": 2,
            "also": [[8, 6, 2]],  # sampled: the median of 2 paths at 8 → 6
            "batch_size": 2,
            "references": ["var", "theta"],
            "combine": ["var"],
        },
        "sweep": {
            "grid": {"lr": [0.001, 0.01], "rank": [2]},
            "max_steps": 2,
            "context_length": 48,
            "batch_size": 2,
            "eval_steps": 2,
            "val_trajectories": 2,
        },
        "context_study": {
            "context_lengths": [32, 48],
            "max_steps": 2,
            "batch_size": 2,
            "val_trajectories": 2,
        },
        "final": {"max_steps": 3, "batch_size": 2, "eval_steps": 3},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(prof))
    return path


def test_pipeline_end_to_end_and_resume(tmp_path, tiny_dir, run_cli):
    from lmcast.accounting.ledger import Ledger

    prof = _profile(tmp_path, tiny_dir)
    ws = tmp_path / "ws"
    code, out, err = run_cli("run", "--profile", prof, "--workspace", ws, "--no-progress")
    assert code == 0, err
    for f in (
        "data/lv.h5",
        "baseline/metrics.json",
        "sweep/results.json",
        "context/results.json",
        "context/context_length.png",
        "final/adapter/adapter_model.safetensors",
        "final/test/metrics.json",
        "protocols/8-6/zero-shot/metrics.json",
        "protocols/8-6/final/metrics.json",
        "report/report.md",
        "ledger.db",
        "sweep.db",
    ):
        assert (ws / f).exists(), f
    report = (ws / "report" / "report.md").read_text()
    for section in (
        "## Data",
        "## Zero-shot baseline",
        "## Hyper-parameter sweep",
        "## Context-length study",
        "## Final results",
        "## Other protocols",
        "### 8 → 6",
        "## Forecast figures",
        "## FLOP budget",
    ):
        assert section in report
    # the final section compares paired, with intervals, against every reference
    for name in ("zero-shot", "persistence", "ODE oracle", "VAR", "AutoTheta"):
        row = re.search(
            rf"^\| {name} \| [+-][\d.]+ \| \[[+-][\d.]+, [+-][\d.]+\] \| .*\*\*(.+)\*\* \|$",
            report,
            re.M,
        )
        assert row and row.group(1) in metrics.VERDICTS, name
    # protocol.combine: the model averaged with VAR, a metrics row and its own paired table
    assert "| model+VAR vs | MAE difference |" in report and "| model+VAR | – |" in report
    assert "per_step_mae.png" in report and "| MASE | sMAPE % | WQL |" in report
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (ws / "report" / img).exists(), img
    ledger = Ledger(f"sqlite:///{ws / 'ledger.db'}")
    total = int(re.search(r"Exact total: (\d+) FLOPs", report).group(1))
    assert total == ledger.used() > 0
    kinds = {(r["experiment"], r["kind"]) for r in ledger.table()["rows"]}
    assert {
        ("baseline", "evaluate"),
        ("sweep", "train"),
        ("sweep", "evaluate"),
        ("context-study", "train"),
        ("final", "train"),
        ("final", "evaluate"),
    } <= kinds
    n_runs = len(ledger.records())
    # same test trajectories for zero-shot and final
    base = json.loads((ws / "baseline/metrics.json").read_text())
    final = json.loads((ws / "final/test/metrics.json").read_text())
    assert base["protocol"]["indices"] == final["protocol"]["indices"]
    for name in ("zero-shot", "final"):  # the 8 → 6 entry's third number: 2 sampled paths
        m = json.loads((ws / f"protocols/8-6/{name}/metrics.json").read_text())
        assert m["model"]["samples"] == 2 and "probabilistic" in m["model"]
    assert final["model"]["samples"] == 1

    code, out, err = run_cli("run", "--profile", prof, "--workspace", ws, "--no-progress")
    assert code == 0, err
    assert (
        "skipped: data, baseline, sweep, context-study, final, final-test, other-protocols" in out
    )
    assert len(ledger.records()) == n_runs  # a second invocation does no work
    # another profile (a different rank) on the same workspace: refused, nothing run
    changed = yaml.safe_load(prof.read_text())
    changed["sweep"]["grid"]["rank"] = [4]
    prof.write_text(yaml.safe_dump(changed))
    code, out, err = run_cli("run", "--profile", prof, "--workspace", ws, "--no-progress")
    assert code == 2 and "ran with another profile" in err and "--force-restage" in err, err
    assert len(ledger.records()) == n_runs


def test_force_restage_moves_old_stage_outputs_aside_and_deletes_nothing(tmp_path):
    """Audit finding 7: a changed profile, data file or model is noticed; --force-restage
    keeps every old output (moved into restaged-*/) and records the new fingerprint."""
    from lmcast.errors import LmcastError
    from lmcast.study.pipeline import check_fingerprint
    from lmcast.study.workspace import Workspace

    ws = Workspace.at(tmp_path / "ws")
    old = {"profile": "p1", "model": "m", "data": "d"}
    check_fingerprint(ws, old, force=False)  # a new workspace records it
    (ws.sweep_dir / "t1").mkdir(parents=True)
    (ws.sweep_dir / "t1" / "record.json").write_text("{}")
    check_fingerprint(ws, old, force=False)  # unchanged: continues
    new = {**old, "model": "other", "data": "d2"}
    with pytest.raises(LmcastError, match="another model, data"):
        check_fingerprint(ws, new, force=False)
    check_fingerprint(ws, new, force=True)
    (aside,) = ws.root.glob("restaged-*")
    assert (aside / "sweep" / "t1" / "record.json").read_text() == "{}"
    assert not ws.sweep_dir.exists() and ws.read(ws.fingerprint_file) == new


@pytest.mark.parametrize("name", ["quick", "cpu", "gpu"])
def test_builtin_profiles_plan_within_budget(run_cli, name):
    code, out, _ = run_cli("run", "--profile", name, "--dry-run")
    assert code == 0 and "fits the budget" in out


def test_dry_run_plans_within_budget(run_cli):
    code, out, _ = run_cli("run", "--profile", "seed", "--dry-run")
    assert code == 0
    assert "fits the budget" in out
    for exp in ("baseline", "sweep", "context-study", "final"):
        assert exp in out
    from lmcast.accounting import flops
    from lmcast.study.plan import plan
    from lmcast.study.profile import load_profile

    rows = plan(load_profile("seed"), flops.ARCHITECTURES["qwen2.5-0.5b"])
    assert sum(r.flops for r in rows) <= 1e17


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_sweep_workers_share_one_store(tmp_path, tiny_dir, lv_file, run_cli, request, backend):
    """Two worker processes, one Optuna study, one claim table, one ledger: SQLite files in
    the workspace, or one real (throwaway) PostgreSQL database for all three."""
    import optuna

    from lmcast.accounting.ledger import Ledger

    ws = tmp_path / "ws"
    if backend == "postgres":
        db = request.getfixturevalue("fresh_pg_db")
        storage, ledger_url, extra = db, db, ["--storage", db, "--ledger", db]
    else:
        storage, ledger_url, extra = (
            f"sqlite:///{ws / 'sweep.db'}",
            f"sqlite:///{ws / 'ledger.db'}",
            [],
        )
    sweep_args = [
        "sweep",
        *extra,
        "--data",
        lv_file,
        "--model",
        tiny_dir,
        "--grid",  # three points for two workers: one of them must claim a second
        "lr=0.001,0.003,0.01",
        "--workspace",
        ws,
        "--max-steps",
        2,
        "--context-length",
        48,
        "--batch-size",
        2,
        "--eval-steps",
        2,
        "--val-trajectories",
        2,
        "--context-steps",
        12,
        "--horizon",
        3,
        "--no-progress",
    ]
    code, out, err = run_cli(*sweep_args, "--workers", 2)
    assert code == 0, err
    study = optuna.load_study(study_name="sweep", storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    keys = [t.user_attrs["key"] for t in complete]
    assert len(keys) == 3 and len(set(keys)) == 3  # no grid point run twice
    recs = Ledger(ledger_url).records()
    assert sorted(r.kind for r in recs) == ["evaluate"] * 3 + ["train"] * 3
    assert len({r.name for r in recs if r.kind == "train"}) == 3
    # rerun: finished trials are never rerun
    code, out, err = run_cli(*sweep_args)
    assert code == 0 and len(Ledger(ledger_url).records()) == 6
    assert "chosen:" in out and "rule:" in out


def test_sweep_rerun_redoes_trials_missing_their_markers(tmp_path, tiny_dir, lv_file, run_cli):
    """Kills between writes: an adapter without summary.json, a truncated record.json.
    A rerun redoes exactly those trials (from their checkpoints), with no traceback."""
    ws = tmp_path / "ws"
    argv = [
        "sweep",
        "--data",
        lv_file,
        "--model",
        tiny_dir,
        "--grid",
        "lr=0.001,0.01",
        "--workspace",
        ws,
        "--max-steps",
        2,
        "--context-length",
        48,
        "--batch-size",
        2,
        "--eval-steps",
        2,
        "--val-trajectories",
        2,
        "--context-steps",
        12,
        "--horizon",
        3,
        "--no-progress",
    ]
    assert run_cli(*argv)[0] == 0
    trials = sorted(p for p in (ws / "sweep").iterdir() if p.is_dir())
    assert len(trials) == 2
    (trials[0] / "summary.json").unlink()  # killed after the adapter, before its summary
    (trials[0] / "record.json").unlink()
    rec = trials[1] / "record.json"
    rec.write_text(rec.read_text()[:40])  # truncated by a crash
    code, _, err = run_cli(*argv)
    assert code == 0 and "Traceback" not in err, err
    res = json.loads((ws / "sweep" / "results.json").read_text())
    assert res["complete"] and len(res["rows"]) == 2
    for t in trials:
        json.loads((t / "record.json").read_text())
        assert (t / "summary.json").is_file()


def test_claim_lease_expires_unless_renewed(tmp_path):
    """A running claim from another host is retried once its lease lapses; a holder's
    heartbeat keeps it; a PID-reused claim on this host cannot outlive the lease."""
    import sqlalchemy as sa

    from lmcast.study.claims import Claims

    url = f"sqlite:///{tmp_path / 's.db'}"
    other = Claims(url, "s")
    other.me = ("another-host", 4242)
    assert other.claim("k")
    me = Claims(url, "s")
    assert not me.claim("k")  # fresh lease, remote host: not mine to take
    with me.engine.begin() as conn:  # the remote worker died 11 minutes ago
        conn.execute(sa.update(me.table).values(updated=time.time() - 660))
    assert me.claim("k") and not other.renew("k")  # taken; the old holder lost it
    # a holder renews from a background thread while its trial runs
    me.lease = 0.4
    with me.holding("k"):
        time.sleep(0.5)
        third = Claims(url, "s")
        third.me, third.lease = ("third-host", 1), 0.4
        assert not third.claim("k")
    time.sleep(0.5)
    assert third.claim("k")  # the heartbeat stopped with the block: the lease lapsed


def test_crashed_trial_is_retried(tmp_path):
    from lmcast.study.claims import Claims

    url = f"sqlite:///{tmp_path / 's.db'}"
    a = Claims(url, "s")
    assert a.claim("k1") and not a.claim("k1")
    a.set("k1", "failed")
    assert Claims(url, "s").claim("k1")  # a failed trial can be taken again
    a.set("k1", "done")
    assert not Claims(url, "s").claim("k1")


def test_pipeline_on_users_data_file_grows_the_final_model_from_a_trial(
    tmp_path, tiny_dir, lv_file, run_cli
):
    """``--data`` skips simulation and every stage uses the given file. With ``final.grow``
    the trials train at a constant rate and the final model continues the chosen one's
    checkpoint: its steps add to the trial's, its ledger row charges only its own."""
    from lmcast.accounting.ledger import Ledger

    prof = _profile(tmp_path, tiny_dir)
    raw = yaml.safe_load(prof.read_text())
    raw["final"].update(grow=True, decay_fraction=0.0)  # 0: the trial's constant rate to the end
    raw["recipe"] = {
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        "warmup_steps": 1,
        "lora_layers": 1,
    }
    # one option per stage: the context study reuses the sweep's trial, the report says so
    # (LoRA alpha 8: not the default 16, so a stage that drops it trains another scale)
    raw["sweep"]["grid"] = {"lr": [0.01], "rank": [2], "lora_alpha": [8.0]}
    raw["context_study"]["context_lengths"] = [raw["sweep"]["context_length"]]
    raw["protocol"]["zero_shot_also"] = False  # the zero-shot model at the main protocol only
    prof.write_text(yaml.safe_dump(raw))
    ws = tmp_path / "ws2"
    code, _out, err = run_cli(
        "run", "--profile", prof, "--workspace", ws, "--data", lv_file, "--no-progress"
    )
    assert code == 0, err
    assert not (ws / "data").exists()
    final = json.loads((ws / "final" / "run.json").read_text())["config"]
    assert final["data"] == str(lv_file)
    report = (ws / "report" / "report.md").read_text()
    assert str(lv_file) in report and "Grown from trial" in report
    assert report.count("One option (the profile names one); nothing to choose.") == 2
    assert "sweep_heatmap" not in report and "reused." in report
    chosen = json.loads((ws / "context" / "results.json").read_text())["best"]
    trial = json.loads((Path(chosen.get("reused_from") or chosen["out"]) / "run.json").read_text())
    assert trial["config"]["schedule"] == final["schedule"] == "constant"
    assert "constant schedule (no decay)" in report
    (c, h, _), *_ = raw["protocol"]["also"]
    assert (ws / "protocols" / f"{c}-{h}" / "final" / "metrics.json").exists()
    assert not (ws / "protocols" / f"{c}-{h}" / "zero-shot").exists()
    assert f"### {c} → {h}" in report and "not tested at this protocol" in report
    assert final["init_from"] in (chosen["out"], chosen.get("reused_from"))
    assert final["max_steps"] == chosen["steps"] + raw["final"]["max_steps"]
    assert (
        final["target_modules"]
        == trial["config"]["target_modules"]
        == ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    assert final["lora_layers"] == trial["config"]["lora_layers"] == 1  # the recipe's top layer
    assert final["lora_alpha"] == trial["config"]["lora_alpha"] == 8.0  # the grid's, kept
    assert "Final model: LoRA r=2 alpha=8.0" in report
    summary = json.loads((ws / "final" / "summary.json").read_text())
    (row,) = [
        r for r in Ledger(f"sqlite:///{ws / 'ledger.db'}").records() if r.name == str(ws / "final")
    ]
    assert row.flops < summary["flops"]  # the trial's FLOPs are not charged twice
    assert row.flops >= raw["final"]["max_steps"] * summary["step_flops"]


def test_unknown_profile_is_one_line_error(run_cli):
    code, _, err = run_cli("run", "--profile", "nope")
    assert code == 2 and "profile 'nope' not found" in err


@pytest.mark.parametrize(
    ("storage", "needle"),
    [
        ("garbage", "cannot open sweep storage 'garbage'"),
        ("sqlite:////no/such/dir/s.db", "unable to open database file"),
        ("postgresql://bob:S3cretPW@127.0.0.1:1/x", "cannot open sweep storage"),
    ],
)
def test_bad_sweep_storage_is_one_line_and_leaves_nothing(
    tmp_path, tiny_dir, lv_file, run_cli, storage, needle
):
    ws = tmp_path / "ws"
    code, _, err = run_cli(
        "sweep", "--storage", storage, "--workspace", ws, "--data", lv_file,
        "--model", tiny_dir, "--grid", "rank=2,4", "--max-steps", "1", "--no-progress",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert "S3cretPW" not in err and not ws.exists()


def test_gpu_profile_runs_end_to_end_on_cpu_shrunk_to_the_tiny_model(tmp_path, tiny_dir, run_cli):
    """The built-in gpu profile, every key as shipped, with the model swapped for the tiny
    one and the sizes scaled down: the whole study runs on the CPU (the GPU run itself is on
    the findings page when one was lent). Protocols, whole-split testing and batching are the
    profile's own."""
    from lmcast.study.profile import PROFILE_DIR

    prof = yaml.safe_load((PROFILE_DIR / "gpu.yaml").read_text())
    assert prof["protocol"]["also"] == [[50, 50]] and prof["protocol"]["trajectories"] == 100
    prof["model"] = str(tiny_dir)
    prof["data"]["simulate"].update(n=30, steps=40, t_max=80.0)
    prof["protocol"].update(context_steps=12, horizon=4, trajectories=2, also=[[20, 20]])
    for stage in ("sweep", "context_study", "final"):
        prof[stage].update(max_steps=2, batch_size=2)
    prof["sweep"].update(context_length=48, eval_steps=2, val_trajectories=2)
    prof["context_study"].update(context_lengths=[32, 48], val_trajectories=2)
    prof["final"]["eval_steps"] = 2
    path = tmp_path / "gpu_tiny.yaml"
    path.write_text(yaml.safe_dump(prof))
    ws = tmp_path / "ws"
    code, _, err = run_cli("run", "--profile", path, "--workspace", ws, "--no-progress")
    assert code == 0, err
    for f in ("final/test/metrics.json", "protocols/20-20/final/metrics.json", "report/report.md"):
        assert (ws / f).exists(), f
    assert "### 20 → 20" in (ws / "report" / "report.md").read_text()
