"""The errors tankerwatch raises on bad input: each names the source and what is wrong."""


class TankerwatchError(Exception):
    """Base of every error tankerwatch raises on purpose."""


class SourcesFileError(TankerwatchError):
    """The sources file is missing, unreadable or names an unknown kind."""


class DataDirUnusable(TankerwatchError):
    """The data directory is missing its parent, is a file, or cannot be written; the message says which."""


class FetchError(TankerwatchError):
    """A source could not be fetched, or what came back is not usable data.

    ``transient`` is True only when another attempt later may succeed: the publisher kept answering 429 or 5xx,
    or the connection failed or timed out, through all of the fetch layer's own retries. A 404, an HTML page,
    a bad or oversized body, a refused URL or a missing file are not transient: they will not heal by waiting.
    """

    def __init__(self, message: str = "", *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self):  # keeps the flag across pickling (e.g. a run's subprocess)
        return (_rebuild_fetch_error, (type(self), str(self), self.transient))


def _rebuild_fetch_error(cls: type, message: str, transient: bool) -> "FetchError":
    return cls(message, transient=transient)


class ParseError(TankerwatchError):
    """A landed file does not have the structure its kind requires (e.g. a missing column)."""


class GateFailed(TankerwatchError):
    """A Great Expectations suite failed; nothing downstream may run or publish."""
