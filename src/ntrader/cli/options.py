"""Options several commands share, defined once: what to trade and how, sweep grids, `--json`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from ntrader.backtest.choices import (
    ADJUST_MODES,
    ALLOCATIONS,
    DATA_SOURCES,
    DEFAULT_ADJUST,
    DEFAULT_COMMISSION,
    DEFAULT_LIQUIDITY,
    FILL_CLOSE,
    FILL_MODES,
    LIQUIDITY_MODES,
    SCREEN_METRICS,
)

# The light flags live in cli/flags.py (commands that need nothing heavy import them from there);
# re-exported here for the commands that import them with the market options.
from ntrader.cli.flags import RECORD_ID as RECORD_ID
from ntrader.cli.flags import Decorator
from ntrader.cli.flags import apply_options as _apply
from ntrader.cli.flags import format_options as format_options
from ntrader.cli.flags import json_option as json_option
from ntrader.cli.flags import verbose_option as verbose_option


@dataclass(frozen=True)
class MarketOptions:
    """The market options of one command line, as the service functions take them."""

    strategy: str
    symbol: str
    start: str | None = None
    end: str | None = None
    data_source: str = "mock"
    bar_size: str = "1-DAY"
    csv_file: str | None = None
    no_fetch: bool = False
    capital: float | None = None
    commission: str = DEFAULT_COMMISSION
    fill_at: str = FILL_CLOSE
    liquidity: str = DEFAULT_LIQUIDITY
    adjust: str = DEFAULT_ADJUST
    params: dict[str, Any] = field(default_factory=dict)
    allocation: str = "equal"

    def keywords(self) -> dict[str, Any]:
        """Everything but strategy, symbol and period, as keywords of `run_backtest`/`run_sweep`."""
        return {
            "data_source": self.data_source,
            "bar_size": self.bar_size,
            "capital": self.capital,
            "params": self.params,
            "commission": self.commission,
            "fill_at": self.fill_at,
            "liquidity": self.liquidity,
            "adjust": self.adjust,
            "csv_file": self.csv_file,
            "no_fetch": self.no_fetch,
            "allocation": self.allocation,
        }


@dataclass(frozen=True)
class GridOptions:
    """The grid, constraints and ranking metric of a sweep or walk-forward."""

    grids: tuple[str, ...]
    constraints: tuple[str, ...]
    metric: str


_MARKET_FIELDS = (
    "strategy",
    "symbol",
    "start",
    "end",
    "data_source",
    "bar_size",
    "csv_file",
    "no_fetch",
    "capital",
    "commission",
    "fill_at",
    "liquidity",
    "adjust",
    "params",
    "allocation",
)

MARKET_OPTIONS: list[Decorator] = [
    click.option(
        "--strategy",
        "-s",
        required=True,
        help="Strategy name or alias (see `strategy list`), or file.py:Class.",
    ),
    click.option(
        "--symbol",
        required=True,
        help="Ticker, e.g. AAPL; several separated by commas (AAPL,MSFT,SPY): a portfolio on one account.",
    ),
    click.option(
        "--start", help="First day, YYYY-MM-DD (default: 365 days before --end; csv: first stored bar)."
    ),
    click.option("--end", help="Last day, YYYY-MM-DD, inclusive (default: yesterday; csv: last stored bar)."),
    click.option(
        "--data-source",
        type=click.Choice(DATA_SOURCES, case_sensitive=False),
        default="mock",
        show_default=True,
        help="Where the bars come from.",
    ),
    click.option("--bar-size", default="1-DAY", show_default=True, help="1-DAY, 1-HOUR, 5-MINUTE, 1-MINUTE."),
    click.option(
        "--csv",
        "csv_file",
        type=click.Path(),
        help="Run on this CSV file's bars without importing them (timestamps without offset are UTC); "
        "several symbols: a directory holding SYMBOL.csv for each.",
    ),
    click.option(
        "--no-fetch",
        is_flag=True,
        help="ibkr: use stored bars only; fail instead of fetching what is missing from IB.",
    ),
    click.option("--capital", type=float, help="Starting cash in USD (default: 100000)."),
    click.option(
        "--commission",
        default=DEFAULT_COMMISSION,
        show_default=True,
        metavar="MODEL",
        help="ibkr-fixed (USD 0.005/share, min 1.00, max 1% of value, plus SEC/FINRA TAF on sales and "
        "FINRA CAT), ibkr-tiered (IBKR's monthly-volume tiers applied marginally, min 0.35, plus exchange, "
        "clearing, pass-through and the same regulatory fees), none, per-share:X (USD X a share) or bps:X "
        "(X basis points of trade value). Modifiers after a colon: ibkr-fixed:no-reg-fees, "
        "ibkr-tiered:commission-only, LINE=RATE (e.g. ibkr-tiered:exchange=0.001); see the README.",
    ),
    click.option(
        "--fill-at",
        type=click.Choice(FILL_MODES, case_sensitive=False),
        default=FILL_CLOSE,
        show_default=True,
        help="When market orders fill: close = the signal bar's close; next-open = the next bar's open "
        "(decided at the signal bar's close, sized from that open; a decision on the last bar is unfilled).",
    ),
    click.option(
        "--liquidity",
        type=click.Choice(LIQUIDITY_MODES, case_sensitive=False),
        default=DEFAULT_LIQUIDITY,
        show_default=True,
        help="bar-volume = Nautilus's bar execution (a quarter of a bar's volume fills at the close, the "
        "bar's volume at the open, the rest one tick worse); unlimited = every order fills whole.",
    ),
    click.option(
        "--adjust",
        type=click.Choice(ADJUST_MODES, case_sensitive=False),
        default=DEFAULT_ADJUST,
        show_default=True,
        help="Stored splits and dividends: splits = prices and volumes back-adjusted for splits "
        "(dividends ignored); total-return = also back-adjusted for dividends; raw = prices as traded, "
        "dividends credited as cash on the ex-date (a split inside the period is refused).",
    ),
    click.option(
        "--allocation",
        type=click.Choice(ALLOCATIONS, case_sensitive=False),
        default="equal",
        show_default=True,
        help="Several symbols with a single-symbol strategy (basket mode): each symbol may use "
        "position_pct/N of equity (equal) or position_pct x weight, weights proportional to 1/volatility "
        "of the last 63 returns (inverse-vol).",
    ),
    click.option(
        "--param",
        "-p",
        "params",
        multiple=True,
        metavar="KEY=VALUE",
        help="Strategy parameter (repeatable); in a sweep, one held fixed.",
    ),
]


def market_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the market options and hand the command one `market: MarketOptions` instead of 13 values."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _MARKET_FIELDS}
        from ntrader.strategies import parse_param_pairs

        values["params"] = parse_param_pairs(values["params"])
        return command(market=MarketOptions(**values), **kwargs)

    return _apply(MARKET_OPTIONS, wrapper)


def grid_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --grid, --constraint and --metric and hand the command one `grid: GridOptions`."""
    options: list[Decorator] = [
        click.option(
            "--grid",
            "grids",
            multiple=True,
            required=True,
            metavar="NAME=START:STOP:STEP|A,B,C",
            help="Values of one parameter (repeatable); a range includes STOP when a step lands on it.",
        ),
        click.option(
            "--constraint",
            "constraints",
            multiple=True,
            metavar="EXPR",
            help="Keep combinations where EXPR holds, e.g. 'fast_period < slow_period' (repeatable).",
        ),
        click.option(
            "--metric",
            type=click.Choice(SCREEN_METRICS, case_sensitive=False),
            default="sharpe",
            show_default=True,
            help="What ranks the combinations.",
        ),
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        grid = GridOptions(kwargs.pop("grids"), kwargs.pop("constraints"), kwargs.pop("metric"))
        return command(grid=grid, **kwargs)

    return _apply(options, wrapper)
