"""The pure core: data files and time axes, the LLMTIME codec and its grammar, training
windows, the predator–prey simulator, real public series, split encodings, host memory,
and run folders (atomic writes, output checks, run metadata).

numpy, h5py, pandas and the standard library at most: nothing here knows a model
(import-linter contract "the core knows no models", ``make lint``).
"""
