"""One exception hierarchy for ntrader; each error knows the exit code the CLI returns."""

from __future__ import annotations


class NtraderError(Exception):
    """Base of every error ntrader raises on purpose; the CLI prints its message as one line."""

    exit_code = 1
    #: The request field the error is about (e.g. "capital"), so config files can point at its line.
    field: str | None = None


class InputError(NtraderError):
    """Bad input from the user: an option, a parameter, a file. Optionally names file, row, column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.row, self.column = file, row, column
        where = [
            part
            for part in (
                str(file) if file is not None else None,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        ]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class NotFoundError(NtraderError):
    """Something the user named does not exist: a run id, a strategy, stored bars."""


class ConnectionFailure(NtraderError):
    """A server ntrader needs cannot be reached (database, IB Gateway/TWS)."""

    exit_code = 3


class DatabaseUnavailable(ConnectionFailure):
    """The database in DATABASE_URL cannot be reached."""


class GatewayUnavailable(ConnectionFailure):
    """IB Gateway / TWS does not answer."""


class PacingError(NtraderError):
    """IB's historical-data pacing rules were violated more often than retries allow."""


class DataGapError(NtraderError):
    """A fetch ended with missing windows the user did not accept."""

    exit_code = 4


class RunHalted(NtraderError):
    """A backtest the engine stopped early (or whose equity disagrees with the account): it was
    saved with status halted/inconsistent, and its figures cover only what happened."""

    exit_code = 5


class StrategyFailed(NtraderError):
    """The strategy's own code raised before the run could start (e.g. in `__init__`); nothing saved."""

    exit_code = 5
