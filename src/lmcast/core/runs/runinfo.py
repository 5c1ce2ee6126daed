"""Run folders: every run keeps its resolved config, seed, package version and git commit."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmcast.core.logs import get_logger
from lmcast.core.version import package_version
from lmcast.errors import LmcastError


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The current git commit of the source tree (``None`` outside a checkout)."""
    here = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


_URL_PASSWORD = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")


def mask_secrets(obj: Any) -> Any:
    """``obj`` with the password of every URL in it replaced by ``***``.

    ``postgresql://alice:S3cret@host/db`` → ``postgresql://alice:***@host/db``;
    walks dicts, lists and tuples; other values are returned as they are.
    """
    if isinstance(obj, str):
        return _URL_PASSWORD.sub(r"\1***@", obj)
    if isinstance(obj, dict):
        return {k: mask_secrets(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mask_secrets(v) for v in obj]
    return obj


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``) and core count, e.g. ``"AMD EPYC, 2 cores"``."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def package_versions() -> dict[str, str | None]:
    """Versions of the libraries a run's numbers depend on (``None`` where not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in ("torch", "transformers", "peft", "accelerate", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_info(config: dict, seed: int | None, kind: str) -> dict:
    """The metadata block stored beside a run's outputs."""
    return {
        "kind": kind,
        "config": config,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seed": seed,
        "lmcast_version": package_version(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "host": platform.node(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def check_output(path: str | os.PathLike, flag: str = "--out", folder: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written (one line).

    ``folder``: the path is a folder to create or fill (else a file to write).
    The nearest existing ancestor must be a writable folder; ``/proc``, ``/sys``
    and ``/dev`` are refused.

    Raises:
        LmcastError: empty, a file where a folder belongs (or the reverse), under
            a file, unwritable, or in a virtual file system.
    """
    text = str(path)
    if not text.strip():
        raise LmcastError(f"{flag}: empty path")
    p = Path(text).absolute()
    if any(p.is_relative_to(v) for v in ("/proc", "/sys", "/dev")):
        raise LmcastError(f"{flag} {text}: not a place for output files")
    if p.exists() and folder and not p.is_dir():
        raise LmcastError(f"{flag} {text}: exists and is not a folder")
    if p.exists() and not folder and p.is_dir():
        raise LmcastError(f"{flag} {text}: is a folder, not a file")
    parent = p if folder and p.exists() else p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise LmcastError(f"{flag} {text}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LmcastError(f"{flag} {text}: {parent} is not writable")
    return p


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Beside a file lmcast wrote, this log maps its name to the SHA-256 of what lmcast wrote.
# A file is lmcast's to replace only while its bytes still hash to that entry: a file a
# user wrote, or edited after lmcast wrote it, is refused without --overwrite.
WRITTEN_LOG = ".lmcast-written.json"


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (hard links and symlinks included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _written_entries(folder: Path) -> dict[str, str]:
    try:
        files = json.loads((folder / WRITTEN_LOG).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def written_by_lmcast(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds exactly the bytes lmcast last wrote there."""
    p = Path(path)
    digest = _written_entries(p.parent).get(p.name)
    try:
        return digest is not None and p.is_file() and file_sha256(p) == digest
    except OSError:
        return False


def record_written(path: str | os.PathLike) -> Path:
    """Note in the folder's :data:`WRITTEN_LOG` that lmcast wrote ``path`` (as it is now)."""
    p = Path(path)
    entries = _written_entries(p.parent)
    entries = {k: v for k, v in entries.items() if (p.parent / k).is_file()}
    entries[p.name] = file_sha256(p)
    write_text(p.parent / WRITTEN_LOG, json.dumps({"files": entries}, indent=1) + "\n")
    return p


def check_output_file(
    path: str | os.PathLike,
    flag: str = "--out",
    inputs: tuple[str | os.PathLike | None, ...] = (),
    overwrite: bool = False,
) -> Path:
    """Refuse, before any work, an output file that would destroy data (one line).

    An output is never one of the command's ``inputs`` (even with ``overwrite``), and an
    existing file that lmcast did not write (:func:`written_by_lmcast`) is replaced only
    with ``overwrite``.

    Raises:
        LmcastError: as :func:`check_output`; the path is an input; or it exists, lmcast
            did not write it and ``overwrite`` is off.
    """
    p = check_output(path, flag)
    for src in inputs:
        if src is not None and str(src) and Path(src).exists() and same_path(p, src):
            raise LmcastError(f"{flag} {path}: is this command's input {src}; choose another path")
    if p.exists() and not overwrite and not written_by_lmcast(p):
        raise LmcastError(
            f"{flag} {path}: exists and lmcast did not write it (--overwrite replaces it)"
        )
    return p


def check_output_files(
    folder: str | os.PathLike,
    names: tuple[str, ...],
    flag: str = "--out",
    inputs: tuple[str | os.PathLike | None, ...] = (),
    overwrite: bool = False,
) -> Path:
    """:func:`check_output_file` for each of the files ``names`` a command writes into
    ``folder`` (checked as a folder first)."""
    p = check_output(folder, flag, folder=True)
    for name in names:
        check_output_file(p / name, flag, inputs, overwrite)
    return p


OWNED_MANIFEST = ".lmcast-files.json"
# The files a run folder's stages write and others read, named once:
METRICS_FILE = "metrics.json"  # an evaluation's scores (written last: its done-marker)
SUMMARY_FILE = "summary.json"  # a training run's outcome
RECORD_FILE = "record.json"  # a sweep trial's record


def check_owned_folder(
    path: str | os.PathLike,
    flag: str,
    markers: tuple[str, ...] = (OWNED_MANIFEST,),
    overwrite: bool | None = None,
) -> Path:
    """Refuse, before any work, an output folder lmcast may not fill (one line).

    A folder is usable when it does not exist, is empty, or is lmcast's own: it holds one
    of ``markers`` — the manifest (:data:`OWNED_MANIFEST`) lmcast wrote when it filled it
    before, or for a run folder the ``run.json`` written first (:func:`check_run_folder`).
    A folder of anyone else's files is never emptied or overwritten; where a command
    offers ``--overwrite`` (``overwrite`` not ``None``), it writes into it when set.

    Raises:
        LmcastError: as :func:`check_output`, or the folder holds files lmcast did not write.
    """
    p = check_output(path, flag, folder=True)
    if (
        not overwrite
        and p.is_dir()
        and not any((p / m).is_file() for m in markers)
        and any(p.iterdir())
    ):
        offer = "; --overwrite writes into it" if overwrite is not None else ""
        raise LmcastError(
            f"{flag} {path}: exists and holds files lmcast did not write "
            f"(choose a new or empty folder{offer})"
        )
    return p


def check_run_folder(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False) -> Path:
    """:func:`check_owned_folder` for a run folder (``train``, ``evaluate``): new, empty, or
    holding the ``run.json`` lmcast writes first (or its manifest)."""
    return check_owned_folder(path, flag, ("run.json", OWNED_MANIFEST), overwrite)


def fill_owned_folder(tmp: Path, dest: Path) -> Path:
    """Move the files of the fresh folder ``tmp`` into ``dest`` and record them.

    ``dest`` must have passed :func:`check_owned_folder`. A missing ``dest`` becomes
    ``tmp`` renamed (atomic); in an existing one only the files lmcast listed in its
    manifest last time are replaced or removed, anything else there is left alone: a new
    file whose name is taken by a file lmcast did not write is not written (a warning
    names it). The manifest is written last.
    """
    import shutil

    names = sorted(f.name for f in tmp.iterdir() if f.is_file())
    if not dest.exists():
        write_json(tmp / OWNED_MANIFEST, {"files": names})
        os.replace(tmp, dest)
        return dest
    owned = _owned_files(dest)
    for old in owned:
        if old not in names:
            (dest / old).unlink(missing_ok=True)
    kept = [n for n in names if n in owned or not os.path.lexists(dest / n)]
    for name in kept:
        os.replace(tmp / name, dest / name)
    if skipped := sorted(set(names) - set(kept)):
        get_logger("runinfo").warning(
            "%s: %d file(s) lmcast did not write hold the names of new ones (%s%s); they "
            "were left as they are and those figures not written",
            dest, len(skipped), ", ".join(skipped[:3]), "…" if len(skipped) > 3 else "",
        )  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)
    write_json(dest / OWNED_MANIFEST, {"files": kept})
    return dest


def _owned_files(folder: Path) -> list[str]:
    """Plain file names the folder's manifest lists (nothing that leaves the folder)."""
    try:
        files = json.loads((folder / OWNED_MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [
        f
        for f in files
        if isinstance(f, str)
        and f
        and Path(f).name == f
        and f not in (".", "..")
        and (folder / f).is_file()
        and not (folder / f).is_symlink()
    ]


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (temp file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def csv_text(rows: list[dict]) -> str:
    """Rows of equal keys as CSV text: a header, then one ``\\n``-ended line per row (every
    CSV lmcast writes uses this, so they share one line ending)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (temp file + rename)."""
    return write_text(path, json.dumps(mask_secrets(obj), indent=2, default=_default) + "\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
