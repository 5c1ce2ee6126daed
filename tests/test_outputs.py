"""Outputs never replace inputs or users' files; each series gets its own scale.

Audit round 3, HIGH 1 (``--out`` over the input, over a user's file) and HIGH 2 (one
scale for a file of mixed-scale series forecast zeros).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest


def _series_csv(path, scales=(1.0, 1.0)):
    lines = ["id,t,y"]
    for sid, scale in zip("ab", scales, strict=True):
        for k in range(24):
            lines.append(f"{sid},{k},{scale * (2 + np.sin(k / 2)):.6g}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _refused(code, err, needle):
    last = err.strip().splitlines()[-1]
    return code == 2 and "Traceback" not in err and needle in last


def test_forecast_never_writes_over_its_input(tmp_path, tiny_dir, run_cli, monkeypatch):
    data = _series_csv(tmp_path / "forecast.csv")
    before = data.read_bytes()
    common = ["--model", tiny_dir, "--horizon", 2, "--samples", 1]
    common += ["--ledger", f"sqlite:///{tmp_path / 'l.db'}"]
    code, _, err = run_cli("forecast", "--data", data, "--out", data, *common, "--overwrite")
    assert _refused(code, err, "is this command's input"), err
    # the default --out is forecast.csv: the same file when run beside it
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("forecast", "--data", "forecast.csv", *common)
    assert _refused(code, err, "is this command's input"), err
    # a symlink to the input is the input too
    (tmp_path / "link.csv").symlink_to(data)
    code, _, err = run_cli("forecast", "--data", data, "--out", tmp_path / "link.csv", *common)
    assert _refused(code, err, "is this command's input"), err
    assert data.read_bytes() == before


def test_forecast_refuses_a_users_file_and_replaces_its_own(tmp_path, tiny_dir, run_cli):
    data = _series_csv(tmp_path / "s.csv")
    out = tmp_path / "mine.csv"
    out.write_text("my notes\n")
    common = ["--data", data, "--out", out, "--model", tiny_dir, "--horizon", 2]
    common += ["--samples", 1, "--ledger", f"sqlite:///{tmp_path / 'l.db'}"]
    code, _, err = run_cli("forecast", *common)
    assert _refused(code, err, "lmcast did not write it (--overwrite replaces it)"), err
    assert out.read_text() == "my notes\n"
    code, _, err = run_cli("forecast", *common, "--overwrite")
    assert code == 0, err
    assert code == 0 and out.read_text().startswith("series,")
    code, _, err = run_cli("forecast", *common)  # lmcast's own file: replaced again
    assert code == 0, err
    out.write_text(out.read_text() + "a user's edit\n")  # edited: the user's now
    code, _, err = run_cli("forecast", *common)
    assert _refused(code, err, "lmcast did not write it"), err


def test_data_import_and_simulate_refuse_users_files(tmp_path, run_cli):
    data = _series_csv(tmp_path / "s.csv")
    user = tmp_path / "u.h5"
    user.write_bytes(b"someone's file")
    code, _, err = run_cli("data", "import", "--csv", data, "--out", user)
    assert _refused(code, err, "lmcast did not write it"), err
    code, _, err = run_cli("data", "simulate", "--out", user, "--n", 2, "--steps", 10)
    assert _refused(code, err, "lmcast did not write it"), err
    assert user.read_bytes() == b"someone's file"
    code, _, err = run_cli("data", "import", "--csv", data, "--out", data, "--overwrite")
    assert _refused(code, err, "is this command's input"), err
    own = tmp_path / "own.h5"
    for _ in range(2):  # lmcast may replace what it wrote
        code, _, err = run_cli("data", "simulate", "--out", own, "--n", 2, "--steps", 10)
        assert code == 0, err
    code, _, err = run_cli("data", "import", "--csv", data, "--out", user, "--overwrite")
    assert code == 0, err


def test_folder_outputs_refuse_users_files(tmp_path, lv_file, run_cli):
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "meta.json").write_text('{"mine": true}')
    code, _, err = run_cli("data", "prepare", "--data", lv_file, "--out", folder)
    assert _refused(code, err, "lmcast did not write it"), err
    assert (folder / "meta.json").read_text() == '{"mine": true}'
    assert not (folder / "train_texts.txt").exists()
    code, _, err = run_cli("data", "prepare", "--data", lv_file, "--out", tmp_path / "enc2")
    assert code == 0, err
    code, _, err = run_cli("data", "prepare", "--data", lv_file, "--out", tmp_path / "enc2")
    assert code == 0, err  # its own files: replaced
    classics = tmp_path / "classics"
    classics.mkdir()
    (classics / "monthly.csv").write_text("mine\n")
    code, _, err = run_cli("data", "classics", "--out", classics)
    assert _refused(code, err, "lmcast did not write it"), err
    assert (classics / "monthly.csv").read_text() == "mine\n"
    runs = tmp_path / "docs"
    runs.mkdir()
    (runs / "thesis.tex").write_text("x")
    code, _, err = run_cli("train", "--data", lv_file, "--out", runs, "--max-steps", 1)
    assert _refused(code, err, "holds files lmcast did not write"), err
    code, _, err = run_cli("evaluate", "--data", lv_file, "--out", runs)
    assert _refused(code, err, "holds files lmcast did not write"), err
    assert sorted(p.name for p in runs.iterdir()) == ["thesis.tex"]


def test_report_out_refuses_a_users_file(tmp_path, run_cli):
    ws = tmp_path / "ws"
    ws.mkdir()
    out = tmp_path / "notes.md"
    out.write_text("mine")
    code, _, err = run_cli("report", "--workspace", ws, "--out", out)
    assert _refused(code, err, "lmcast did not write it"), err
    assert out.read_text() == "mine"


def test_mixed_scale_series_are_each_scaled_on_their_own(tmp_path, tiny_dir, run_cli):
    """A series near 1 beside one near 1e5: one scale for the file wrote the small one as
    0.00 at every step (forecast 0.0); each series now gets its own alpha, in the CSV."""
    from lmcast import Forecaster
    from lmcast.core.codec.encoding import auto_alpha

    data = _series_csv(tmp_path / "mixed.csv", scales=(1.0, 1e5))
    out = tmp_path / "f.csv"
    code, _, err = run_cli(
        "forecast", "--data", data, "--out", out, "--model", tiny_dir, "--horizon", 3,
        "--samples", 1, "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    alpha = {r["series"]: float(r["alpha"]) for r in rows}
    small = np.array([2 + np.sin(k / 2) for k in range(24)])
    assert alpha == {"a": auto_alpha(small), "b": pytest.approx(auto_alpha(1e5 * small))}
    assert alpha["b"] / alpha["a"] == pytest.approx(1e5)
    for r in rows:  # every value is the model's number times its series' own scale
        written = float(r["median"]) / alpha[r["series"]]
        assert written == pytest.approx(round(written, 2), abs=1e-4)
    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    ctx = [small[:, None], 1e5 * small[:, None]]
    prompts = fc.plan(ctx, 3).prompts
    assert prompts[0] == prompts[1]  # the same shape at two scales reads the same
    assert any(ch in prompts[0] for ch in "123456789")  # not 0.00 at every step
    with pytest.raises(Exception, match="needs an adapter"):
        fc.plan(ctx, 3, scale="adapter")


def test_generation_interrupted_mid_batch_is_charged_what_ran(tmp_path, tiny_dir, monkeypatch):
    """Audit HIGH 4: FLOPs were charged only when a whole batch finished, so an interrupt
    inside the one batch left the row 'stopped' at 0 FLOPs. Now the prefill and every decode
    pass are charged as they run; a heartbeat writes them to the ledger while running."""
    from lmcast import Forecaster
    from lmcast.accounting.ledger import Ledger
    from lmcast.forecasting import forecaster as fmod
    from lmcast.lm import decode

    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = Ledger(url)
    fc = Forecaster.load(model=str(tiny_dir), device="cpu")
    from lmcast.lm.decode import Sampling

    request = fc.plan([np.linspace(1, 3, 20)[:, None]] * 3, 6, Sampling(samples=2))
    monkeypatch.setattr(fmod, "HEARTBEAT_SECONDS", 0.0)
    real, seen = decode._choose, []

    def interrupted_at_the_fourth_pass(*a, **kw):
        (row,) = ledger.records()
        seen.append(row.flops)  # what the heartbeat wrote while the batch runs
        if len(seen) == 4:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(decode, "_choose", interrupted_at_the_fourth_pass)
    with pytest.raises(KeyboardInterrupt):
        fmod.charged_predict(fc, request, ledger, experiment="e", name="n", what="w", config={})
    (row,) = ledger.records()
    assert row.status == "stopped" and 0 < row.flops < row.projected_flops
    assert seen[0] > 0 and seen[1] < seen[2] < seen[3] <= row.flops  # charged as it ran
    assert ledger.reserved() == 0


def test_a_killed_owners_reservation_is_released_at_once(tmp_path):
    """Audit HIGH 4: a SIGKILLed run held its reservation for the whole lease (an hour).
    A running row whose owner process is gone from this host no longer holds one."""
    import subprocess
    import sys

    from lmcast.accounting.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'l.db'}"
    code = (
        "import os, signal, sys; from lmcast.accounting.ledger import Ledger; "
        f"l = Ledger({url!r}); l.set_budget(1e12); l.reserve('e', 'n', 'evaluate', 9e11); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    ledger = Ledger(url)
    assert ledger.reserved() == 9e11  # the row still says running
    ledger.reserve("e", "m", "evaluate", 5e11)  # fits only once the dead one is released
    rows = {r.name: r.status for r in ledger.records()}
    assert rows == {"n": "stopped", "m": "running"}


def test_failed_classical_fits_are_marked_never_named_as_the_model(tmp_path, tiny_dir, run_cli):
    """Audit HIGH 6: a failed fit fell back to the last value under the model's own name
    (VAR with a constant variable), and a benchmark where every fit failed showed equal
    scores with nothing said. Now: a 'failed' column and a distinct label in forecast CSVs,
    counts in the leaderboard (file and stdout) and in evaluate's labels."""
    from lmcast.compare import classical

    lines = ["id,t,a,b"]
    for k in range(30):
        lines.append(f"s,{k},{2 + np.sin(k / 2):.4f},1.0")  # b constant: VAR cannot fit
    data = tmp_path / "c.csv"
    data.write_text("\n".join(lines) + "\n")
    cf = classical.predict("var", [np.array([[2 + np.sin(k / 2), 1.0] for k in range(30)])], 3)
    assert cf.failed.all() and cf.label == "VAR (1 of 1 fits failed: last value)"
    out = tmp_path / "f.csv"
    code, _, err = run_cli(
        "forecast", "--data", data, "--out", out, "--model", tiny_dir, "--horizon", 3,
        "--samples", 1, "--references", "var", "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    var = [r for r in rows if r["forecaster"] != "lmcast"]
    assert var and {r["forecaster"] for r in var} == {"persistence (VAR failed)"}
    assert {r["failed"] for r in var} == {"1"}
    assert {r["failed"] for r in rows if r["forecaster"] == "lmcast"} == {"0"}
    code, stdout, err = run_cli(
        "benchmark", "--data", data, "--forecasters", "var,naive", "--horizon", 3,
        "--out", tmp_path / "b",
    )  # fmt: skip
    assert code == 0, err
    assert "VAR (1 of 1 fits failed: last value)" in stdout and "1 of 1" in stdout
    md = (tmp_path / "b" / "leaderboard.md").read_text()
    assert "failed fits" in md and "classical fit(s) failed" in md
