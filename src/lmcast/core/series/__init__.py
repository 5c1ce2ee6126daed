"""Data and simulation: data files (``data``) and collections of series (``collection``),
time axes (``timeaxis``), training windows (``windows``), the predator–prey simulator
(``lotka_volterra``), synthetic collections (``synth``) and real public series
(``real_series``)."""
