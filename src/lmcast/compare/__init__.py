"""Comparison: metrics with paired intervals, the reference forecasters (persistence, the
ODE oracle, statsforecast/statsmodels classics) and figures. Built on :mod:`lmcast.core`.
"""
