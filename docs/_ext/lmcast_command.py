"""A Sphinx directive that runs an lmcast command at build time and shows its output.

    .. lmcast-command:: lmcast flops --model qwen2.5-0.5b --seq-len 512

Every number a page quotes from the tool therefore comes from the command the
page shows, run against the code being documented. A failing command fails
the build.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives

BUILD_DIR = Path(__file__).resolve().parents[1] / "_build" / "cmd"


class LmcastCommand(Directive):
    has_content = False
    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict] = {"cwd": directives.unchanged, "head": directives.nonnegative_int}

    def run(self) -> list[nodes.Node]:
        cmd = self.arguments[0]
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        argv = shlex.split(cmd)
        if argv[0] == "lmcast":
            argv = [sys.executable, "-m", "lmcast", *argv[1:]]
        env = {
            **os.environ,
            "LMCAST_WORKSPACE": str(BUILD_DIR / "workspace"),
            "HF_HUB_OFFLINE": "1",
        }
        proc = subprocess.run(
            argv, cwd=BUILD_DIR, capture_output=True, text=True, env=env, timeout=600
        )
        if proc.returncode != 0:
            raise self.error(f"command failed ({proc.returncode}): {cmd}\n{proc.stderr[-2000:]}")
        out = proc.stdout.rstrip()
        if "head" in self.options:
            out = "\n".join([*out.splitlines()[: self.options["head"]], "…"])
        block = nodes.literal_block(text=f"$ {cmd}\n{out}")
        block["language"] = "console"
        return [block]


# The data file the pages use, made as the quick-start page shows.
SETUP_COMMAND = "lmcast data simulate --out lv.h5 --n 200 --seed 0"


def _fresh_workdir(app) -> None:
    import shutil

    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    BUILD_DIR.mkdir(parents=True)
    argv = [sys.executable, "-m", "lmcast", *shlex.split(SETUP_COMMAND)[1:]]
    subprocess.run(argv, cwd=BUILD_DIR, check=True, capture_output=True, timeout=300)


def _findings(app) -> None:
    """Render the findings page's figure and tables from the committed experiment outputs."""
    docs = Path(__file__).resolve().parents[1]
    script = docs.parent / "scripts" / "findings.py"
    argv = [sys.executable, str(script), str(docs / "findings"), str(docs / "_generated")]
    subprocess.run(argv, check=True, timeout=300)


def setup(app) -> dict:
    app.add_directive("lmcast-command", LmcastCommand)
    app.connect("builder-inited", _fresh_workdir)
    app.connect("builder-inited", _findings)
    return {"version": "1", "parallel_read_safe": True}
