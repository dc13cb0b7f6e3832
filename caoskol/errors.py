"""Errors that retrying cannot fix (bad data, missing tools): the DAG fails them at once."""


class PermanentError(RuntimeError):
    """A failure that a retry would only repeat, e.g. an empty source table."""
