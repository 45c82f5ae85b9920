"""Instruments for the IB fetch: what the user asked for, and the Nautilus instrument IB's answer makes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ibapi.contract import Contract, ContractDetails

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
]

#: US exchanges that are a stock's primary listing (as opposed to OTC venues such as PINK).
PRIMARY_EXCHANGES = frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "NYSENAT", "ISLAND"})

#: The keywords of ``parse_queries`` besides the symbols: the contract fields of a query.
CONTRACT_FIELDS = ("sec_type", "exchange", "currency", "con_id")


@dataclass(frozen=True)
class InstrumentQuery:
    """What the user asked for: a symbol with its contract fields, or a contract id."""

    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    con_id: int | None = None

    @property
    def key(self) -> str:
        if self.con_id:
            return f"conid:{self.con_id}"
        return (
            f"{self.symbol.upper()}|{self.sec_type.upper()}|{self.exchange.upper()}|{self.currency.upper()}"
        )

    def contract(self) -> Contract:
        return make_contract(
            self.symbol,
            sec_type=self.sec_type,
            exchange=self.exchange,
            currency=self.currency,
            con_id=self.con_id,
        )

    def resolved_contract(self, entry: dict[str, Any]) -> Contract:
        """The exact contract of a resolved instrument (a manifest entry), for history requests."""
        contract = make_contract(
            entry["symbol"],
            sec_type=entry["sec_type"] or self.sec_type,
            exchange=self.exchange,
            currency=entry["currency"] or self.currency,
        )
        contract.conId = entry["con_id"]
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
    entry = {
        "instrument_id": instrument.id.value,
        "symbol": (c.symbol or query.symbol).upper(),
        "con_id": int(c.conId),
        "sec_type": c.secType,
        "exchange": query.exchange.upper(),
        "primary_exchange": c.primaryExchange,
        "currency": c.currency,
        "local_symbol": c.localSymbol,
        "last_trade_date": c.lastTradeDateOrContractMonth,
        "matches": matches,
    }
    return entry


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
) -> list[InstrumentQuery]:
    """Queries for symbols given as "AAPL,MSFT" strings or lists; duplicates dropped, order kept."""
    names: list[str] = []
    for item in symbols:
        for part in str(item).split(","):
            name = part.strip().upper()
            if name and name not in names:
                names.append(name)
    if con_id:
        if len(names) > 1:
            raise InputError("--con-id names one contract; give at most one symbol with it")
        return [InstrumentQuery(names[0] if names else str(con_id), sec_type, exchange, currency, con_id)]
    if not names:
        raise InputError("no instruments given; e.g. --instruments AAPL,MSFT")
    make_contract(names[0], sec_type=sec_type)  # validates the sec type before anything connects
    return [InstrumentQuery(n, sec_type.upper(), exchange.upper(), currency.upper()) for n in names]
