"""The pure core, one room per job:

* :mod:`lmcast.core.series` — data and simulation: data files and splits, collections of
  series, time axes, training windows, the predator–prey simulator, synthetic and real
  public series;
* :mod:`lmcast.core.codec` — the LLMTIME codec: the text (``encoding``), its grammar, the
  :class:`~lmcast.core.codec.scheme.Encoding` an adapter writes numbers with and its
  ``encoding.json``, and the encoded training texts (``prepare``);
* :mod:`lmcast.core.runs` — run-folder plumbing: atomic writes, output checks, run
  metadata, host memory and disk room;

and two modules every room uses: the namespaced logger (``logs``) and the version.

numpy, h5py, pandas and the standard library at most: nothing here knows a model
(import-linter contract "the core knows no models", ``make lint``).
"""
