"""The house's map beyond import-linter's contracts (``make lint``): few top-level rooms,
and no module below the package root imports the root (the one upward arrow there was)."""

from __future__ import annotations

import ast
from pathlib import Path

import lmcast

SRC = Path(lmcast.__file__).resolve().parent


def test_the_top_level_holds_at_most_twelve_entries():
    entries = [p.name for p in SRC.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(entries)


def test_no_module_imports_the_package_root():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "lmcast" and node.level == 0:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name == "lmcast" for a in node.names):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_the_version_comes_from_the_installed_metadata():
    from importlib import metadata

    assert lmcast.__version__ == metadata.version("lmcast")


def test_the_core_holds_at_most_six_modules_beside_its_rooms():
    core = SRC / "core"
    modules = sorted(p.name for p in core.glob("*.py"))
    rooms = sorted(p.name for p in core.iterdir() if (p / "__init__.py").is_file())
    assert len(modules) <= 6, modules
    assert rooms == ["codec", "runs", "series"]


def test_the_encoding_record_is_read_in_one_module():
    """Issue 43: the record's format keys appear in the Encoding module alone."""
    keys = ('"scale_target"', '"decimals"', '"decimal_point"')
    found = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if any(k in p.read_text() for k in keys)
    )
    assert found == ["core/codec/scheme.py"]


def test_the_top_level_imports_contract_finds_an_import_inside_a_function():
    """The import-linter contract of ``make lint`` (tools/import_contracts.py) flags lmcast
    imports inside functions and leaves top-level, TYPE_CHECKING and third-party ones."""
    import importlib.util

    path = SRC.parent.parent / "tools" / "import_contracts.py"
    spec = importlib.util.spec_from_file_location("import_contracts", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    source = (
        "from typing import TYPE_CHECKING\nfrom lmcast.errors import LmcastError\n"
        "if TYPE_CHECKING:\n    from lmcast.configs import EvalConfig\n"
        "def f():\n    import torch\n    from lmcast.core import logs\n    return logs\n"
    )
    assert mod._inside_functions(source, {"lmcast"}) == [(7, "from lmcast.core import logs")]


def test_the_developer_guide_lists_every_module():
    """Issue 43: the contributing page's table names every module of the package."""
    guide = (SRC.parent.parent / "docs" / "contributing.rst").read_text()
    missing = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "__init__.py" and f"``{p.stem}``" not in guide
    ]
    assert missing == []
