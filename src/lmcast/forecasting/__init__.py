"""Forecasting: the :class:`~lmcast.forecasting.forecaster.Forecaster` API, the ``forecast``
command, ``evaluate``, ``export`` and ``benchmark`` — each a path of reserve → generate →
charge → score over :mod:`lmcast.lm`.
"""
