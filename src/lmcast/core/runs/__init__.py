"""Run-folder plumbing: atomic writes, output checks and run metadata (``runinfo``), host
memory and disk room (``resources``)."""
