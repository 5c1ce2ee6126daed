"""Error types that the CLI turns into a one-line message and a non-zero exit (2 for bad input, 3 for a refused budget)."""


class LmcastError(Exception):
    """A user-facing error: bad input, missing file, refused run.

    The CLI prints ``lmcast: error: <message>`` and exits with :attr:`exit_code`
    without a traceback.
    """

    exit_code = 2


class DataError(LmcastError):
    """The input data file is missing, malformed or inconsistent."""


class ModelNotFoundError(LmcastError):
    """A model id is neither cached locally nor reachable."""


class BudgetExceededError(LmcastError):
    """A run's projected FLOPs exceed what remains of the budget."""

    exit_code = 3
