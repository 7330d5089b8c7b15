"""The errors tankerwatch raises on bad input: each names the source and what is wrong."""


class TankerwatchError(Exception):
    """Base of every error tankerwatch raises on purpose."""


class SourcesFileError(TankerwatchError):
    """The sources file is missing, unreadable or names an unknown kind."""


class FetchError(TankerwatchError):
    """A source could not be fetched, or what came back is not usable data."""


class ParseError(TankerwatchError):
    """A landed file does not have the structure its kind requires (e.g. a missing column)."""


class GateFailed(TankerwatchError):
    """A Great Expectations suite failed; nothing downstream may run or publish."""
