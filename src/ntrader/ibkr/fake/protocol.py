"""TWS API wire format, server side: handshake, request parsing and reply encoding (ibapi 10.30)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ibapi.message import IN
from ibapi.server_versions import (
    MIN_SERVER_VER_ADVANCED_ORDER_REJECT,
    MIN_SERVER_VER_BOND_ISSUERID,
    MIN_SERVER_VER_INELIGIBILITY_REASONS,
    MIN_SERVER_VER_LAST_TRADE_DATE,
    MIN_SERVER_VER_SIZE_RULES,
)

#: Every connection starts with this prefix, then a length-prefixed "v{min}..{max}[ options]".
API_PREFIX = b"API\0"

#: The newest server version we speak: what ibapi 10.30.1 (the one Nautilus 1.221 uses) asks for.
SERVER_VERSION = 187
#: The oldest we speak. From 164 on, contract data carries no message version and size rules;
#: supporting older clients would mean a second encoding of every reply.
MIN_SERVER_VERSION = MIN_SERVER_VER_SIZE_RULES

# IB's message texts; clients recognise a pacing violation or an empty answer by the phrases
# "pacing violation" and "returned no data", so keep those words intact.
NO_SECURITY_TEXT = "No security definition has been found for the request"
_HMDS = "Historical Market Data Service error message:"
PACING_VIOLATION_TEXT = _HMDS + "API historical data query cancelled: pacing violation"
NO_DATA_TEXT = _HMDS + "HMDS query returned no data"
TOO_LONG_TEXT = _HMDS + "Time length exceed max."
NO_PERMISSION_TEXT = _HMDS + "No market data permissions for {exchange} STK"
QUERY_CANCELLED_TEXT = _HMDS + "API historical data query cancelled"
BAD_END_DATE_TEXT = (
    "End Date/Time: The date, time, or time-zone entered is invalid. The correct format is "
    "yyyymmdd hh:mm:ss xx/xxxx where yyyymmdd and xx/xxxx are optional. E.g.: 20031126 15:59:00 "
    "US/Eastern  Note that there is a space between the date and time, and between the time and "
    "time-zone."
)
BAD_BAR_SIZE_TEXT = "Error validating request.-'bP' : cause - Historical data bar size setting is invalid."
BAD_REQUEST_TEXT = "Error validating request.-'bX' : cause - The API request could not be parsed."

ERR_HISTORICAL = 162
ERR_NO_SECURITY = 200
ERR_INVALID_REQUEST = 321
ERR_BAD_END_DATE = 10314

#: Status lines a real Gateway sends on every connect (harmless warnings, request id -1).
FARM_STATUS: tuple[tuple[int, str], ...] = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)


class ProtocolError(Exception):
    """A client sent something this server cannot parse."""


def encode_fields(fields: Iterable[object]) -> bytes:
    """One framed message: a 4-byte big-endian length, then each field NUL-terminated."""
    parts = []
    for value in fields:
        if isinstance(value, bool):
            value = int(value)  # ibapi sends and reads booleans as 0/1
        parts.append(f"{value}\0")
    payload = "".join(parts).encode("ascii", errors="backslashreplace")
    return struct.pack("!I", len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """Fields of one message payload (without its length prefix)."""
    return [f.decode("utf-8", errors="replace") for f in payload.split(b"\0")[:-1]]


def parse_version_range(text: str) -> tuple[int, int, str]:
    """(min, max, connect options) from the client's "v100..187 +PACEAPI"-style greeting."""
    head, _, options = text.partition(" ")
    if not head.startswith("v"):
        raise ProtocolError(f"bad version greeting {text!r}")
    lo, sep, hi = head[1:].partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError as exc:
        raise ProtocolError(f"bad version greeting {text!r}") from exc
    return low, high, options


def negotiate(client_min: int, client_max: int) -> int | None:
    """The server version to use with this client, or None when no version fits."""
    version = min(client_max, SERVER_VERSION)
    if version < max(client_min, MIN_SERVER_VERSION):
        return None
    return version


# -- client requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractSpec:
    """The contract fields a client sends with a request."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: str = ""
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""
    issuer_id: str = ""


@dataclass(frozen=True)
class ContractDetailsRequest:
    req_id: int
    contract: ContractSpec


@dataclass(frozen=True)
class HistoricalDataRequest:
    req_id: int
    contract: ContractSpec
    end_datetime: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def _take(it: Iterator[str]) -> str:
    try:
        return next(it)
    except StopIteration as exc:
        raise ProtocolError("message ended early") from exc


def _int(text: str) -> int:
    return int(text) if text.strip() else 0


def _bool(text: str) -> bool:
    return _int(text) != 0


def parse_contract_details_request(fields: Sequence[str], version: int) -> ContractDetailsRequest:
    """REQ_CONTRACT_DATA as ibapi's ``reqContractDetails`` writes it for ``version`` >= 164."""
    it = iter(fields[1:])
    _take(it)  # message version (8)
    req_id = _int(_take(it))
    con_id = _int(_take(it))
    symbol, sec_type, last, strike, right, mult = (_take(it) for _ in range(6))
    exchange, primary = _take(it), _take(it)
    currency, local, trading_class = _take(it), _take(it), _take(it)
    include_expired = _bool(_take(it))
    sec_id_type, sec_id = _take(it), _take(it)
    issuer = _take(it) if version >= MIN_SERVER_VER_BOND_ISSUERID else ""
    spec = ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date=last,
        strike=strike,
        right=right,
        multiplier=mult,
        exchange=exchange,
        primary_exchange=primary,
        currency=currency,
        local_symbol=local,
        trading_class=trading_class,
        include_expired=include_expired,
        sec_id_type=sec_id_type,
        sec_id=sec_id,
        issuer_id=issuer,
    )
    return ContractDetailsRequest(req_id, spec)


def parse_historical_data_request(fields: Sequence[str], version: int) -> HistoricalDataRequest:
    """REQ_HISTORICAL_DATA as ibapi's ``reqHistoricalData`` writes it for ``version`` >= 164."""
    it = iter(fields[1:])
    req_id = _int(_take(it))
    con_id = _int(_take(it))
    symbol, sec_type, last, strike, right, mult = (_take(it) for _ in range(6))
    exchange, primary, currency, local, trading_class = (_take(it) for _ in range(5))
    include_expired = _bool(_take(it))
    end, bar_size, duration = _take(it), _take(it), _take(it)
    use_rth = _bool(_take(it))
    what_to_show = _take(it)
    format_date = _int(_take(it))
    if sec_type == "BAG":
        for _ in range(_int(_take(it)) * 4):
            _take(it)
    keep_up_to_date = _bool(_take(it))
    spec = ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date=last,
        strike=strike,
        right=right,
        multiplier=mult,
        exchange=exchange,
        primary_exchange=primary,
        currency=currency,
        local_symbol=local,
        trading_class=trading_class,
        include_expired=include_expired,
    )
    return HistoricalDataRequest(
        req_id=req_id,
        contract=spec,
        end_datetime=end,
        bar_size=bar_size,
        duration=duration,
        use_rth=use_rth,
        what_to_show=what_to_show,
        format_date=format_date or 1,
        keep_up_to_date=keep_up_to_date,
    )


@dataclass(frozen=True)
class HeadTimestampRequest:
    req_id: int
    contract: ContractSpec
    use_rth: bool
    what_to_show: str
    format_date: int


def parse_head_timestamp_request(fields: Sequence[str]) -> HeadTimestampRequest:
    """REQ_HEAD_TIMESTAMP as ibapi's ``reqHeadTimeStamp`` writes it."""
    it = iter(fields[1:])
    req_id = _int(_take(it))
    con_id = _int(_take(it))
    symbol, sec_type, last, strike, right, mult = (_take(it) for _ in range(6))
    exchange, primary, currency, local, trading_class = (_take(it) for _ in range(5))
    include_expired = _bool(_take(it))
    use_rth = _bool(_take(it))
    what_to_show = _take(it)
    format_date = _int(_take(it))
    spec = ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date=last,
        strike=strike,
        right=right,
        multiplier=mult,
        exchange=exchange,
        primary_exchange=primary,
        currency=currency,
        local_symbol=local,
        trading_class=trading_class,
        include_expired=include_expired,
    )
    return HeadTimestampRequest(req_id, spec, use_rth, what_to_show, format_date or 1)


def head_timestamp(req_id: int, text: str) -> bytes:
    """HEAD_TIMESTAMP: the earliest data IB has for a contract (epoch seconds for formatDate 2)."""
    return encode_fields((IN.HEAD_TIMESTAMP, req_id, text))


def parse_cancel(fields: Sequence[str]) -> int:
    """The request id of a CANCEL_HISTORICAL_DATA (or any "id, version, reqId" cancel)."""
    return _int(fields[2]) if len(fields) > 2 else -1


# -- server replies --------------------------------------------------------------------------


def server_hello(version: int, connection_time: str) -> bytes:
    return encode_fields((version, connection_time))


def next_valid_id(order_id: int) -> bytes:
    return encode_fields((IN.NEXT_VALID_ID, 1, order_id))


def managed_accounts(accounts: Sequence[str]) -> bytes:
    return encode_fields((IN.MANAGED_ACCTS, 1, ",".join(accounts)))


def current_time(epoch_seconds: int) -> bytes:
    return encode_fields((IN.CURRENT_TIME, 1, epoch_seconds))


def error(version: int, req_id: int, code: int, text: str) -> bytes:
    fields: list[object] = [IN.ERR_MSG, 2, req_id, code, text]
    if version >= MIN_SERVER_VER_ADVANCED_ORDER_REJECT:
        fields.append("")  # advancedOrderRejectJson
    return encode_fields(fields)


@dataclass(frozen=True)
class StockInfo:
    """What the fake gateway knows about one US stock."""

    symbol: str
    con_id: int
    primary_exchange: str
    long_name: str
    isin: str
    industry: str = "Technology"
    category: str = "Computers"
    subcategory: str = "Computers"
    currency: str = "USD"
    min_tick: float = 0.01
    time_zone_id: str = "US/Eastern"
    stock_type: str = "COMMON"
    valid_exchanges: tuple[str, ...] = field(
        default=("SMART", "AMEX", "NYSE", "CBOE", "ARCA", "ISLAND", "NASDAQ", "IEX")
    )
    # Beyond stocks (futures, forex): the fields IB fills in for them.
    sec_type: str = "STK"
    local_symbol: str = ""
    last_trade: str = ""  # lastTradeDateOrContractMonth
    multiplier: str = ""
    trading_class: str = "NMS"
    contract_month: str = ""
    under_symbol: str = ""
    under_sec_type: str = ""
    min_size: float = 1


def contract_details(
    version: int,
    req_id: int,
    stock: StockInfo,
    trading_hours: str,
    liquid_hours: str,
    exchange: str = "SMART",
) -> bytes:
    """CONTRACT_DATA for a stock on ``exchange``, in the field order of ibapi's decoder."""
    fields: list[object] = [IN.CONTRACT_DATA]
    if version < MIN_SERVER_VER_SIZE_RULES:
        fields.append(8)
    fields += [req_id, stock.symbol, stock.sec_type, stock.last_trade]  # lastTradeDateOrContractMonth
    if version >= MIN_SERVER_VER_LAST_TRADE_DATE:
        fields.append(stock.last_trade)  # lastTradeDate
    fields += [
        0.0,  # strike
        "",  # right
        exchange,
        stock.currency,
        stock.local_symbol or stock.symbol,  # localSymbol
        stock.trading_class,  # marketName
        stock.trading_class,  # tradingClass
        stock.con_id,
        stock.min_tick,
        stock.multiplier,
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,GAT,GTC,LIT,LMT,MKT,MOC,STP",
        ",".join(stock.valid_exchanges),
        1,  # priceMagnifier
        0,  # underConId
        stock.long_name,
        stock.primary_exchange,
        stock.contract_month,  # contractMonth
        stock.industry,
        stock.category,
        stock.subcategory,
        stock.time_zone_id,
        trading_hours,
        liquid_hours,
        "",  # evRule
        0,  # evMultiplier
        *((1, "ISIN", stock.isin) if stock.isin else (0,)),  # secIdList
        1,  # aggGroup
        stock.under_symbol,  # underSymbol
        stock.under_sec_type,  # underSecType
        "26,26,26,26,26,26,26,26",  # marketRuleIds
        stock.last_trade,  # realExpirationDate
        stock.stock_type,
        stock.min_size,  # minSize
        1,  # sizeIncrement
        100,  # suggestedSizeIncrement
    ]
    if version >= MIN_SERVER_VER_INELIGIBILITY_REASONS:
        fields.append(0)
    return encode_fields(fields)


def contract_details_end(req_id: int) -> bytes:
    return encode_fields((IN.CONTRACT_DATA_END, 1, req_id))


@dataclass(frozen=True)
class WireBar:
    """One bar as it goes on the wire (``date`` already formatted for the request)."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: int
    wap: float
    bar_count: int


def historical_data(req_id: int, start: str, end: str, bars: Sequence[WireBar]) -> bytes:
    """HISTORICAL_DATA: all bars and the end marker in one message (versions >= 124)."""
    fields: list[object] = [IN.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for bar in bars:
        fields += [
            bar.date,
            f"{bar.open:.2f}",
            f"{bar.high:.2f}",
            f"{bar.low:.2f}",
            f"{bar.close:.2f}",
            bar.volume,
            f"{bar.wap:.4f}",
            bar.bar_count,
        ]
    return encode_fields(fields)
