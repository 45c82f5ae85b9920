"""Instruments for the IB fetch: what the user asked for, and the Nautilus instrument IB's answer makes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ibapi.contract import Contract, ContractDetails

from ntrader.data.calendar import TradingHours
from ntrader.errors import InputError
from ntrader.ibkr.client import make_contract

__all__ = [
    "CONTRACT_FIELDS",
    "PRIMARY_EXCHANGES",
    "InstrumentQuery",
    "choose_details",
    "manifest_entry",
    "parse_queries",
    "to_instrument",
    "trading_hours",
    "what_to_show_for",
]

#: US exchanges that are a stock's primary listing (as opposed to OTC venues such as PINK).
PRIMARY_EXCHANGES = frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "NYSENAT", "ISLAND"})

#: The keywords of ``parse_queries`` besides the symbols: the contract fields of a query.
CONTRACT_FIELDS = ("sec_type", "exchange", "currency", "con_id", "expiry")

_PAIR = re.compile(r"^([A-Z]{3})[./]([A-Z]{3})$")  # "EUR.USD" or "EUR/USD"
_EXPIRY = re.compile(r"^\d{6}(\d{2})?$")  # YYYYMM or YYYYMMDD
#: The exchange calendar whose dates an instrument trades on, by IB sec type (stocks: the NYSE's).
_CALENDARS = {"FUT": "CMES", "CONTFUT": "CMES", "CASH": "24/5"}


@dataclass(frozen=True)
class InstrumentQuery:
    """What the user asked for: a symbol with its contract fields, or a contract id."""

    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    con_id: int | None = None
    expiry: str = ""  # a future's contract month (YYYYMM) or last trading day (YYYYMMDD)

    @property
    def key(self) -> str:
        if self.con_id:
            return f"conid:{self.con_id}"
        key = f"{self.symbol.upper()}|{self.sec_type.upper()}|{self.exchange.upper()}|{self.currency.upper()}"
        return f"{key}|{self.expiry}" if self.expiry else key

    def contract(self) -> Contract:
        return make_contract(
            self.symbol,
            sec_type=self.sec_type,
            exchange=self.exchange,
            currency=self.currency,
            con_id=self.con_id,
            expiry=self.expiry,
        )

    def resolved_contract(self, entry: dict[str, Any]) -> Contract:
        """The exact contract of a resolved instrument (a manifest entry), for history requests."""
        contract = make_contract(
            entry.get("ib_symbol") or entry["symbol"],
            sec_type=entry["sec_type"] or self.sec_type,
            exchange=entry.get("exchange") or self.exchange,
            currency=entry["currency"] or self.currency,
        )
        contract.conId = entry["con_id"]
        if contract.secType != "CONTFUT":  # the continuous future is asked without an expiry
            contract.lastTradeDateOrContractMonth = entry.get("last_trade_date") or ""
        return contract


def choose_details(query: InstrumentQuery, details: list[ContractDetails]) -> ContractDetails:
    """The one contract a query means, or InputError listing the candidates.

    IB answers a symbol with every listing it knows (e.g. MSFT on NASDAQ and on PINK). An
    exchange other than SMART picks the listing on it; a stock on SMART takes its primary US
    listing when there is exactly one; anything else is refused rather than guessed.
    """
    if len(details) == 1:
        return details[0]
    exchange = query.exchange.upper()
    if exchange != "SMART":
        on_it = [
            d
            for d in details
            if exchange in (d.contract.primaryExchange.upper(), d.contract.exchange.upper())
        ]
        if len(on_it) == 1:
            return on_it[0]
    if query.sec_type.upper() in ("STK", "ETF"):
        primary = [d for d in details if d.contract.primaryExchange.upper() in PRIMARY_EXCHANGES]
        if len(primary) == 1:
            return primary[0]
    listed = "; ".join(
        f"{d.contract.symbol} {d.contract.secType} {d.contract.currency} on "
        f"{d.contract.primaryExchange or d.contract.exchange} (--con-id {d.contract.conId})"
        for d in details[:10]
    )
    raise InputError(f"{len(details)} IB contracts match: {listed}; choose one with --con-id or --exchange")


def manifest_entry(
    query: InstrumentQuery, chosen: ContractDetails, instrument: Any, matches: int
) -> dict[str, Any]:
    """What the manifest remembers of a resolved query, so a cached fetch needs no gateway."""
    c = chosen.contract
    ib_symbol = (c.symbol or query.symbol).upper()
    # Stocks are stored under their ticker; a future or a currency pair under its instrument's
    # symbol (ESU24, ES for the continuous future, EUR/USD), so contracts of one root stay apart.
    symbol = ib_symbol if c.secType in ("STK", "") else instrument.id.symbol.value.upper()
    hours = trading_hours(chosen)
    entry = {
        "instrument_id": instrument.id.value,
        "symbol": symbol,
        "ib_symbol": ib_symbol,
        "con_id": int(c.conId),
        "sec_type": c.secType,
        "exchange": query.exchange.upper(),
        "primary_exchange": c.primaryExchange,
        "currency": c.currency,
        "local_symbol": c.localSymbol,
        "last_trade_date": c.lastTradeDateOrContractMonth,
        "matches": matches,
    }
    if hours is not None:
        entry["hours"] = {"trading": hours[0].to_json(), "liquid": hours[1].to_json()}
    return entry


def trading_hours(details: ContractDetails) -> tuple[TradingHours, TradingHours] | None:
    """(all hours, regular hours) of a future or a currency pair from IB's contract details.

    Stocks keep the NYSE's calendar (None). IB's ``tradingHours``/``liquidHours`` give the daily
    session in the contract's time zone; the dates it trades on come from its exchange's calendar.
    """
    name = _CALENDARS.get(details.contract.secType)
    if name is None:
        return None
    tz = details.timeZoneId or ""
    trading = TradingHours.from_ib(details.tradingHours or "", tz, name)
    liquid = TradingHours.from_ib(details.liquidHours or "", tz, name) or trading
    if trading is None or liquid is None:
        return None
    return trading, liquid


def what_to_show_for(query: InstrumentQuery, what: str) -> str:
    """IB has no TRADES bars for currency pairs: forex asks for MIDPOINT instead."""
    return "MIDPOINT" if query.sec_type.upper() == "CASH" and what == "TRADES" else what


def to_instrument(details: ContractDetails) -> Any:
    """The Nautilus instrument for IB contract details (Nautilus's own parser where it works)."""
    from nautilus_trader.adapters.interactive_brokers.parsing.instruments import (
        contract_details_to_ib_contract_details,
        parse_instrument,
    )
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Currency, Price, Quantity

    contract = details.contract
    venue = contract.primaryExchange or contract.exchange or "SMART"
    try:
        # Nautilus's parser mutates its argument; give it a copy.
        copy = ContractDetails()
        copy.__dict__.update(details.__dict__)
        copy.contract = Contract()
        copy.contract.__dict__.update(contract.__dict__)
        return parse_instrument(contract_details_to_ib_contract_details(copy), venue)
    except Exception:
        if contract.secType != "STK":
            raise InputError(
                f"{contract.symbol}: cannot build an instrument for sec type {contract.secType}"
            ) from None
    # Equities without an ISIN (IB omits it without a data subscription) are still equities.
    tick = float(details.minTick or 0.01)
    precision = max(0, min(9, len(f"{tick:.9f}".rstrip("0").split(".")[1])))
    currency = Currency.from_str(contract.currency) if contract.currency else USD
    return Equity(
        instrument_id=InstrumentId(Symbol(contract.symbol), Venue(venue)),
        raw_symbol=Symbol(contract.localSymbol or contract.symbol),
        currency=currency,
        price_precision=precision,
        price_increment=Price(tick, precision),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )


def parse_queries(
    symbols: Iterable[str],
    *,
    sec_type: str = "STK",
    exchange: str = "SMART",
    currency: str = "USD",
    con_id: int | None = None,
    expiry: str | None = None,
) -> list[InstrumentQuery]:
    """Queries for symbols given as "AAPL,MSFT" strings or lists; duplicates dropped, order kept.

    Forex (``sec_type="CASH"``) takes pairs as "EUR.USD" (or "EUR/USD", or "EUR" with the
    currency), on IDEALPRO unless another exchange is named. A future (``FUT``) needs ``expiry``
    (or ``con_id``) and its exchange; ``CONTFUT`` is IB's continuous future (no expiry).
    """
    names: list[str] = []
    for item in symbols:
        for part in str(item).split(","):
            name = part.strip().upper()
            if name and name not in names:
                names.append(name)
    kind, expiry = sec_type.strip().upper(), (expiry or "").strip()
    if con_id:
        if len(names) > 1:
            raise InputError("--con-id names one contract; give at most one symbol with it")
        return [InstrumentQuery(names[0] if names else str(con_id), kind, exchange, currency, con_id)]
    if not names:
        raise InputError("no instruments given; e.g. --instruments AAPL,MSFT")
    make_contract(names[0], sec_type=sec_type)  # validates the sec type before anything connects
    exchange, currency = exchange.upper(), currency.upper()
    if kind == "CASH":
        return [_pair(n, exchange, currency) for n in names]
    if kind in ("FUT", "CONTFUT"):
        _check_future(kind, expiry, exchange)
    elif expiry:
        raise InputError(f"--expiry is for futures (--sec-type FUT), not {kind}")
    return [InstrumentQuery(n, kind, exchange, currency, expiry=expiry) for n in names]


def _pair(name: str, exchange: str, currency: str) -> InstrumentQuery:
    m = _PAIR.match(name)
    base, quote = (m.group(1), m.group(2)) if m else (name, currency)
    if not re.fullmatch(r"[A-Z]{3}", base):
        raise InputError(f"a currency pair is written like EUR.USD, got {name!r}")
    return InstrumentQuery(base, "CASH", "IDEALPRO" if exchange == "SMART" else exchange, quote)


def _check_future(kind: str, expiry: str, exchange: str) -> None:
    if exchange == "SMART":
        raise InputError(
            f"futures trade on their own exchange, not SMART: pass --exchange (e.g. --exchange CME for ES) "
            f"with --sec-type {kind}"
        )
    if kind == "CONTFUT":
        if expiry:
            raise InputError("IB's continuous future (--sec-type CONTFUT) has no expiry; drop --expiry")
        return
    if not expiry:
        raise InputError(
            "a future needs its contract month: pass --expiry YYYYMM (e.g. --expiry 202409) or --con-id, "
            "or --sec-type CONTFUT for IB's continuous contract"
        )
    if not _EXPIRY.match(expiry):
        raise InputError(f"bad --expiry {expiry!r}: use YYYYMM (contract month) or YYYYMMDD")
