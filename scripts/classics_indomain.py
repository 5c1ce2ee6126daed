"""The in-domain adapter of the findings page: LoRA trained on the contexts of the 24
classics (every series but its last 12 steps), as a user adapts lmcast to their own series.

    python scripts/classics_indomain.py WORKDIR

Writes WORKDIR/classics (``lmcast data classics``), WORKDIR/classics_contexts.csv (the four
files' series in one long CSV, ``id,t,y`` with t the step number: training needs no dates)
and trains WORKDIR/indomain with ``lmcast train --holdout 12``; ``lmcast benchmark
--horizon 12`` then scores it on exactly the 12 steps it never saw (and would refuse it
otherwise).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FILES = ("monthly", "weekly", "quarterly", "yearly")
TRAIN = (
    "--holdout 12 --precision 2 --no-decimal-point --alpha series "
    "--target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --rank 8 "
    "--lr 1e-3 --batch-size 4 --context-length 512 --max-steps 60 --eval-steps 20 "
    "--save-steps 0 --seed 0 --split-seed 0 --no-progress"
)


def main(argv: list[str]) -> None:
    from lmcast.core.collection import read_series

    work = Path(argv[0])
    work.mkdir(parents=True, exist_ok=True)
    lmcast = [sys.executable, "-m", "lmcast"]
    classics = work / "classics"
    if not classics.is_dir():
        subprocess.run([*lmcast, "data", "classics", "--out", str(classics)], check=True)
    lines = ["id,t,y"]
    for f in FILES:
        ls = read_series(classics / f"{f}.csv")
        for sid, v in zip(ls.ids, ls.values, strict=True):
            lines += [f"{f}_{sid},{t},{x!r}" for t, x in enumerate(v[:, 0].tolist())]
    data = work / "classics_contexts.csv"
    data.write_text("\n".join(lines) + "\n")
    cmd = [*lmcast, "train", "--data", str(data), "--out", str(work / "indomain"), *TRAIN.split()]
    cmd += ["--ledger", f"sqlite:///{work / 'ledger.db'}", "--experiment", "indomain"]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
