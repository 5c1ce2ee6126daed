"""The installed package's version, from its metadata (nothing imports the package root)."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    """lmcast's version as installed (``"0+unknown"`` for a source tree not installed)."""
    try:
        return metadata.version("lmcast")
    except metadata.PackageNotFoundError:
        return "0+unknown"
