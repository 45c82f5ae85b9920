"""IB error codes in one place: what each means to a user, and which ntrader error it becomes."""

from __future__ import annotations

from ntrader.errors import GatewayUnavailable, NtraderError, PacingError

__all__ = [
    "INFO_CODES",
    "MESSAGES",
    "AdjustmentChanged",
    "ConnectionLost",
    "IBError",
    "NoData",
    "NoPermission",
    "PacingViolation",
    "QueryCancelled",
    "RequestTimeout",
    "WindowTooLong",
    "classify",
    "describe",
    "troubleshooting",
]

#: What each code means, in words a user can act on. IB's own text is appended where it adds detail.
MESSAGES: dict[int, str] = {
    162: "historical data request failed",
    200: "no security definition: IB does not know this contract (check the symbol, --exchange, "
    "--currency and --sec-type, or pass --con-id)",
    321: "IB rejected the request as invalid",
    322: "IB could not process the request (often: too many requests at once)",
    326: "the client id is already in use by another API connection (use --client-id)",
    354: "no market data subscription for this contract (historical data needs one, or use a "
    "paper account that shares the live account's subscriptions)",
    366: "no historical data query found for this request id (it was already finished or cancelled)",
    502: "cannot connect to IB Gateway/TWS",
    504: "not connected to IB Gateway/TWS",
    1100: "IB Gateway/TWS lost its connection to IB's servers",
    1101: "connection to IB's servers restored; data subscriptions were lost",
    1102: "connection to IB's servers restored; data kept",
    2174: "time-zone warning from IB (harmless: ntrader sends explicit UTC times)",
    10314: "end date/time format rejected by IB",
}

#: Status notices (farm connections, restored links, warnings) that need no action from anyone.
INFO_CODES: frozenset[int] = frozenset(
    {1101, 1102, 2103, 2104, 2105, 2106, 2107, 2108, 2119, 2157, 2158, 2174, 2176}
)


class IBError(NtraderError):
    """An error IB answered to one request (or to the connection, request id -1)."""

    def __init__(self, code: int, text: str, req_id: int = -1) -> None:
        self.code, self.text, self.req_id = code, text, req_id
        super().__init__(describe(code, text))


class PacingViolation(IBError, PacingError):
    """162 "pacing violation": wait and ask again."""


class NoData(IBError):
    """162 "HMDS query returned no data": the window is empty (weekend, holiday, before listing)."""


class NoPermission(IBError):
    """162 "No market data permissions for ..." or 354: the account lacks the data subscription.

    Every window of the contract would fail the same way, so a fetch stops at the first.
    """

    def __init__(self, code: int, text: str, req_id: int = -1) -> None:
        super().__init__(code, text, req_id)
        ib = " ".join(text.split()).removeprefix("Historical Market Data Service error message:")
        self.args = (
            f"IB says: {ib.strip() or 'no market data subscription'} — historical data needs the "
            "exchange's market data subscription on the live account (Client Portal → Settings → "
            "Market Data Subscriptions, e.g. the US Securities Snapshot and Futures Value Bundle); "
            "a paper account shares the live account's subscriptions once that is enabled",
        )


class AdjustmentChanged(NtraderError):
    """IB's prices for bars already stored differ from the stored ones (a split since they were
    fetched): joining new bars to them would mix two price bases in one series."""

    factor: float | None = None  # IB's price now / the stored price


class WindowTooLong(IBError):
    """162 "Time length exceed max": the request spans more than this gateway accepts for its bar size."""


class QueryCancelled(IBError):
    """162 "query cancelled" without a pacing reason: IB gave up on the request; asking again may work."""


class RequestTimeout(IBError):
    """No answer to a request within the request timeout."""

    def __init__(self, seconds: float, req_id: int = -1) -> None:
        super().__init__(0, f"no answer within {seconds:g} s", req_id)
        self.args = (f"no answer from IB within {seconds:g} s",)


class ConnectionLost(IBError, GatewayUnavailable):
    """The socket to IB Gateway/TWS closed, or IB reported 1100/504: reconnect and resume."""


def describe(code: int, text: str) -> str:
    """One line for the user: our explanation, then IB's own words when they add something."""
    meaning = MESSAGES.get(code)
    text = " ".join(text.split())
    if meaning is None:
        return f"IB error {code}: {text}" if text else f"IB error {code}"
    return f"IB error {code}: {meaning}" + (f" ({text})" if text and code != 2174 else "")


def classify(code: int, text: str, req_id: int = -1) -> IBError:
    """The ntrader exception for an IB error; 162 is split by its text, as IB gives no sub-code."""
    lowered = text.lower()
    if code == 162:
        if "pacing violation" in lowered:
            return PacingViolation(code, text, req_id)
        if "time length exceed" in lowered:
            return WindowTooLong(code, text, req_id)
        if "permission" in lowered:
            return NoPermission(code, text, req_id)
        if "no data" in lowered:
            return NoData(code, text, req_id)
        if "cancelled" in lowered:
            return QueryCancelled(code, text, req_id)
    if code == 354:
        return NoPermission(code, text, req_id)
    if code in (504, 1100):
        return ConnectionLost(code, text, req_id)
    return IBError(code, text, req_id)


def troubleshooting(host: str, port: int) -> list[str]:
    """What to check when nothing answers at host:port, most common cause first."""
    return [
        "Is TWS or IB Gateway running and logged in? (docker compose up -d ib-gateway starts one)",
        "Is the API enabled? TWS/Gateway: Configure → Settings → API → Settings → "
        "'Enable ActiveX and Socket Clients'.",
        f"Is {port} the API port? TWS uses 7497 (paper) / 7496 (live); IB Gateway 4002 (paper) / "
        "4001 (live); the docker-compose ib-gateway maps 4002 and 4001 on 127.0.0.1.",
        f"Is {host} allowed? Add it under 'Trusted IPs' (or uncheck 'Allow connections from "
        "localhost only' for a remote host).",
        "Is the client id already used by another program? Try another with --client-id.",
        "No account? Try the whole path with the fake gateway: ntrader ibkr fake-gateway --port 4002",
    ]
