"""lmcast: small language models as numerical time-series forecasters."""

__version__ = "0.1.0"
