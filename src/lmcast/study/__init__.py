"""The study layer: a workspace that owns every stage's paths, typed profiles, the
stage list of ``lmcast run``, sweeps with their claim table, the context-length
study and the report. Built on :mod:`lmcast.lm.train` and :mod:`lmcast.forecasting.evaluate`;
nothing below this package imports it.
"""
