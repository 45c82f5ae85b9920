"""One typed, validated backtest request: built once (CLI, YAML, Python), then passed whole.

After `BacktestRequest.build(...)` only typed objects cross a layer: the strategy's spec, typed
parameters merged over its defaults, upper-case symbols (one, or several for a portfolio), dates, a
`BarSize`, a `CommissionModel`, the fill and liquidity modes. Every error names the request field
it is about (`NtraderError.field`), so a YAML config can point at the line, and nothing has been
loaded or written yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

# How a basket of single-symbol strategies shares the account (see `ntrader.strategies.universe`).
from ntrader.backtest.choices import ALLOCATIONS
from ntrader.backtest.costs import DEFAULT_COMMISSION, CommissionModel, parse_commission
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE, parse_fill_at, parse_liquidity
from ntrader.config import get_settings
from ntrader.data.adjust import ADJUSTMENTS, DEFAULT_ADJUST
from ntrader.data.bars import BarSize, parse_bar_size
from ntrader.data.period import parse_date, parse_period
from ntrader.data.symbol import SYMBOL_PATTERN, parse_symbol
from ntrader.errors import InputError, NtraderError

if TYPE_CHECKING:
    from ntrader.strategies import StrategySpec

DATA_SOURCES = ("mock", "csv", "ibkr")


@contextmanager
def about(field_name: str) -> Iterator[None]:
    """Tag any ntrader error raised inside with the request field it concerns."""
    try:
        yield
    except NtraderError as exc:
        exc.field = exc.field or field_name
        raise


#: Starting cash at most: Nautilus money ends at MONEY_MAX ≈ 1.7e13, and equity must have room to grow.
CAPITAL_MAX = 1e12


def parse_capital(value: float | str | None) -> float:
    """Starting cash in USD: a finite number > 0 (default: NTRADER_DEFAULT_CAPITAL)."""
    if value is None:
        return float(get_settings().default_capital)
    try:
        capital = float(value)
    except (TypeError, ValueError):
        raise InputError(f"capital must be a number, got {value!r}") from None
    if not math.isfinite(capital) or capital <= 0:
        raise InputError(f"capital must be greater than 0 and finite, got {value}")
    if capital > CAPITAL_MAX:
        raise InputError(
            f"capital must be at most {CAPITAL_MAX:g} USD (the engine's money range ends at 1.7e13), "
            f"got {value}"
        )
    return capital


def parse_symbols(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`"AAPL,MSFT"` or `["AAPL", "MSFT"]` as upper-case symbols, each checked, none twice."""
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    symbols = tuple(parse_symbol(p) for p in parts)
    if not symbols:
        raise InputError("symbol must not be empty")
    twice = sorted({s for s in symbols if symbols.count(s) > 1})
    if twice:
        raise InputError(f"symbol {', '.join(twice)} given more than once")
    return symbols


def parse_allocation(value: str | None) -> str:
    key = str(value or "equal").strip().lower().replace("_", "-")
    if key not in ALLOCATIONS:
        raise InputError(f"unknown allocation {value!r}; use one of {', '.join(ALLOCATIONS)}")
    return key


def parse_adjust(value: str | None) -> str:
    """`raw`, `splits` or `total-return` (default: splits; see `ntrader.data.adjust`)."""
    key = str(value or DEFAULT_ADJUST).strip().lower().replace("_", "-")
    if key not in ADJUSTMENTS:
        raise InputError(f"unknown adjustment {value!r}; use one of {', '.join(ADJUSTMENTS)}")
    return key


def resolve_params(spec: StrategySpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Typed parameters (strings from the CLI are parsed) merged over the strategy's defaults."""
    from ntrader.strategies.spec import coerce_params, coerce_value

    raw = dict(params or {})
    strings = {k: v for k, v in raw.items() if isinstance(v, str)}
    typed = coerce_params(spec, strings)
    by_name = {p.name: p for p in spec.parameters}
    for key, value in raw.items():
        if key in typed:
            continue
        if key not in by_name:
            coerce_params(spec, {key: ""})  # raises the unknown-parameter error
        typed[key] = coerce_value(key, value, by_name[key].type)
    return {**spec.defaults(), **typed}


@dataclass(frozen=True)
class BacktestRequest:
    """Everything a backtest needs, validated. Build it with `BacktestRequest.build(...)`.

    `strategy` is the strategy's reference (a built-in's canonical name or a user's
    `file.py:Class`), so a request pickles to any worker; `spec` resolves it.
    """

    strategy: str
    #: The first symbol (the only one of a single-symbol run); `symbols` holds all of them.
    symbol: str
    params: Mapping[str, Any] = field(default_factory=dict)
    start: date | None = None
    end: date | None = None
    data_source: str = "mock"
    bar_size: BarSize = field(default_factory=lambda: parse_bar_size("1-DAY"))
    capital: float = 100_000.0
    commission: CommissionModel = field(default_factory=lambda: parse_commission(DEFAULT_COMMISSION))
    fill_at: str = FILL_CLOSE
    liquidity: str = DEFAULT_LIQUIDITY
    csv_file: Path | None = None
    no_fetch: bool = False
    database_url: str | None = None
    symbols: tuple[str, ...] = ()
    #: Basket mode: how single-symbol strategies share the account (`equal` or `inverse-vol`).
    allocation: str = "equal"
    #: A symbol whose closes a portfolio run is compared with (its alpha and beta).
    benchmark: str | None = None
    #: Split/dividend handling of stored bars: raw, splits (default) or total-return.
    adjust: str = DEFAULT_ADJUST

    def __post_init__(self) -> None:
        if not self.symbols:
            object.__setattr__(self, "symbols", (self.symbol,))

    @property
    def is_portfolio(self) -> bool:
        """Several symbols, or a portfolio strategy: the run goes through the portfolio engine."""
        return len(self.symbols) > 1 or self.spec.is_portfolio

    @classmethod
    def build(
        cls,
        strategy: str,
        symbol: str,
        start: str | date | None = None,
        end: str | date | None = None,
        **options: Any,
    ) -> BacktestRequest:
        """Validate every field; `symbol` is one symbol or several (`"AAPL,MSFT"` or a list: a
        portfolio run); `options` are the other field names (`bar_size="1-MINUTE"`,
        `commission="ibkr-tiered"`, `params={...}`, `csv_file=...`, ...), as text or typed."""
        unknown = sorted(set(options) - _OPTION_FIELDS)
        if unknown:
            raise InputError(f"unknown backtest option(s): {', '.join(unknown)}")
        from ntrader.strategies import get_strategy

        with about("strategy"):
            spec = get_strategy(strategy)
        with about("symbol"):
            tickers = parse_symbols(symbol)
        with about("allocation"):
            allocation = parse_allocation(options.get("allocation"))
        with about("benchmark"):
            raw_benchmark = options.get("benchmark")
            benchmark = parse_symbol(raw_benchmark) if raw_benchmark else None
        with about("data_source"):
            source = str(options.get("data_source", "mock")).strip().lower()
            if source not in DATA_SOURCES:
                raise InputError(f"unknown data source {source!r}; use one of {', '.join(DATA_SOURCES)}")
        csv_file = options.get("csv_file")
        with about("capital"):
            capital = parse_capital(options.get("capital"))
        with about("commission"):
            commission = parse_commission(options.get("commission", DEFAULT_COMMISSION))
        with about("adjust"):
            adjust = parse_adjust(options.get("adjust"))
        with about("fill_at"):
            fill_at = parse_fill_at(options.get("fill_at", FILL_CLOSE))
        with about("liquidity"):
            liquidity = parse_liquidity(options.get("liquidity", DEFAULT_LIQUIDITY))
        with about("bar_size"):
            raw_size = options.get("bar_size", "1-DAY")
            size = raw_size if isinstance(raw_size, BarSize) else parse_bar_size(raw_size)
        with about("start"):
            start_date = parse_date(start, "start") if start is not None else None
        with about("end"):
            end_date = parse_date(end, "end") if end is not None else None
        if start_date and end_date:
            with about("start"):
                parse_period(start_date, end_date)
        with about("params"):
            typed = resolve_params(spec, options.get("params"))
            spec.build_config(typed)
        return cls(
            strategy=spec.name,
            symbol=tickers[0],
            symbols=tickers,
            allocation=allocation,
            benchmark=benchmark,
            params=typed,
            start=start_date,
            end=end_date,
            data_source="csv" if csv_file is not None else source,
            bar_size=size,
            capital=capital,
            commission=commission,
            fill_at=fill_at,
            liquidity=liquidity,
            adjust=adjust,
            csv_file=_csv_path(csv_file, tickers),
            no_fetch=bool(options.get("no_fetch", False)),
            database_url=options.get("database_url"),
        )

    @property
    def spec(self) -> StrategySpec:
        from ntrader.strategies import get_strategy

        return get_strategy(self.strategy)

    def with_params(self, params: Mapping[str, Any]) -> BacktestRequest:
        """The same request with other (typed, complete) strategy parameters, checked."""
        typed = resolve_params(self.spec, params)
        with about("params"):
            self.spec.build_config(typed)
        return replace(self, params=typed)

    def with_capital(self, capital: float) -> BacktestRequest:
        return replace(self, capital=parse_capital(capital))


def _csv_path(csv_file: str | Path | None, symbols: tuple[str, ...]) -> Path | None:
    """The CSV file of a single-symbol run, or a directory of SYMBOL.csv files (several symbols;
    one symbol reads its own file from the directory)."""
    if csv_file is None:
        return None
    path = Path(csv_file)
    if path.is_dir() and len(symbols) == 1:
        from ntrader.backtest.portfolio_data import csv_for

        with about("csv_file"):
            return csv_for(path, symbols[0])
    return path


_OPTION_FIELDS = {
    "params",
    "data_source",
    "bar_size",
    "capital",
    "commission",
    "fill_at",
    "liquidity",
    "csv_file",
    "no_fetch",
    "database_url",
    "allocation",
    "benchmark",
    "adjust",
}

#: The option names `BacktestRequest.build` accepts besides strategy, symbol, start and end.
REQUEST_OPTIONS = frozenset(_OPTION_FIELDS)


def as_request(
    request: BacktestRequest | str, legacy: tuple[Any, ...], options: dict[str, Any]
) -> BacktestRequest:
    """A request, or one built from the keyword form `(strategy, symbol, start, end, **options)`
    that notebooks and scripts written against earlier versions use."""
    if isinstance(request, BacktestRequest):
        if legacy or options:
            raise InputError("pass either a BacktestRequest or strategy, symbol and options, not both")
        return request
    return BacktestRequest.build(request, *legacy, **options)


__all__ = [
    "ALLOCATIONS",
    "DATA_SOURCES",
    "REQUEST_OPTIONS",
    "SYMBOL_PATTERN",
    "BacktestRequest",
    "about",
    "as_request",
    "parse_adjust",
    "parse_allocation",
    "parse_capital",
    "parse_symbol",
    "parse_symbols",
    "resolve_params",
]
