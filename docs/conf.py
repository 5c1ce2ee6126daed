"""Sphinx configuration for the lmcast documentation (`make docs`)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))

project = "lmcast"
author = "lmcast developers"
copyright = "2026, lmcast developers"
from lmcast import __version__  # noqa: E402

release = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "lmcast_command"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_mock_imports = []
napoleon_google_docstring = True
napoleon_use_ivar = True
html_theme = "alabaster"
exclude_patterns = ["_build", "_generated", "findings", "performance"]
nitpicky = False
