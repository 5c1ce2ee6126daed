"""lmcast: small language models as numerical time-series forecasters."""

from lmcast.core.version import package_version

__version__ = package_version()


def __getattr__(name: str):
    """``from lmcast import Forecaster`` without importing it on every ``import lmcast``."""
    if name in ("Forecaster", "Prediction"):
        from lmcast.forecasting import forecaster

        return getattr(forecaster, name)
    raise AttributeError(f"module 'lmcast' has no attribute {name!r}")
