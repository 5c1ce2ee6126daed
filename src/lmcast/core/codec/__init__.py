"""The LLMTIME codec: the text itself (``encoding``), the grammar generation is held to
(``grammar``), the :class:`~lmcast.core.codec.scheme.Encoding` an adapter writes numbers with
and its ``encoding.json`` (``scheme``), and the encoded training texts (``prepare``)."""
