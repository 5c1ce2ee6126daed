"""lmcast: small language models as numerical time-series forecasters."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``from lmcast import Forecaster`` without importing it on every ``import lmcast``."""
    if name in ("Forecaster", "Prediction"):
        from lmcast import forecaster

        return getattr(forecaster, name)
    raise AttributeError(f"module 'lmcast' has no attribute {name!r}")
