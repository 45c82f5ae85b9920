"""ntrader's `run_backtest` end to end against a raw Nautilus script, on the same minute bars.

Both run SMA 10/20 on the same 200 000 one-minute mock bars in one process. The raw baseline
builds its own `BacktestEngine` (venue, instrument, wrangled bars, strategy) with
`run_analysis=False`, as ntrader does, and stops after `engine.run()`. ntrader's figure covers
everything a user waits for: generating the bars, the engine, metrics and saving the run
(trades plus 200 000 equity points) to a fresh SQLite database.

    uv run python benchmarks/bench_backtest.py [--bars 200000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler

from ntrader.backtest.engine import make_equity
from ntrader.data.calendar import sessions
from ntrader.data.mock import generate_bars
from ntrader.strategies import SMACrossover, SMACrossoverConfig


def period_for(n_bars: int) -> tuple[str, str]:
    """The first NYSE sessions from 2020-01-02 holding at least ``n_bars`` one-minute bars."""
    return "2020-01-02", last_session_for("2020-01-02", n_bars)


def last_session_for(start: str, n_bars: int) -> str:
    table = sessions(start, "2040-12-31")
    minutes = ((table["close"] - table["open"]) // pd.Timedelta(minutes=1)).cumsum()
    return table.index[int(minutes.searchsorted(n_bars))].strftime("%Y-%m-%d")


def raw_nautilus(bars: pd.DataFrame) -> tuple[float, int]:
    instrument = make_equity("AAPL")
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("RAW-001"),
            logging=LoggingConfig(bypass_logging=True),
            run_analysis=False,
        )
    )
    started = time.perf_counter()
    engine.add_venue(
        venue=Venue("NASDAQ"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(100_000, USD)],
    )
    engine.add_instrument(instrument)
    data = bars.copy()
    data.index = data.index + pd.Timedelta(minutes=1)  # stamped at the bar's close
    engine.add_data(BarDataWrangler(bar_type, instrument).process(data))
    engine.add_strategy(
        SMACrossover(
            SMACrossoverConfig(instrument_id=instrument.id, bar_type=bar_type, fast_period=10, slow_period=20)
        )
    )
    engine.run()
    elapsed = time.perf_counter() - started
    fills = sum(isinstance(e, OrderFilled) for o in engine.cache.orders() for e in o.events)
    engine.dispose()
    return elapsed, fills


def ntrader_run(start: str, end: str) -> tuple[float, int]:
    from ntrader.backtest import run_backtest

    started = time.perf_counter()
    outcome = run_backtest(
        "sma",
        "AAPL",
        start,
        end,
        bar_size="1-MINUTE",
        params={"fast_period": 10, "slow_period": 20},
        commission="none",  # the raw baseline has no fee model either
    )
    return time.perf_counter() - started, len(outcome.result.fills)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    args = parser.parse_args()
    os.environ["NTRADER_HOME"] = tempfile.mkdtemp(prefix="ntrader-bench-")
    os.environ.pop("DATABASE_URL", None)
    start, end = period_for(args.bars)
    bars = generate_bars("AAPL", start, end, "1-MINUTE")
    n = len(bars)

    raw_seconds, raw_fills = raw_nautilus(bars)
    ours_seconds, our_fills = ntrader_run(start, end)
    raw_rate, our_rate = n / raw_seconds, n / ours_seconds
    print(f"bars: {n:,} one-minute bars ({start} → {end}), SMA 10/20")
    print(f"raw Nautilus BacktestEngine (run_analysis=False): {raw_rate:>10,.0f} bars/s  "
          f"({raw_seconds:.2f} s, {raw_fills} fills)")  # fmt: skip
    print(f"ntrader run_backtest, end to end incl. save:    {our_rate:>10,.0f} bars/s  "
          f"({ours_seconds:.2f} s, {our_fills} fills)")  # fmt: skip
    print(f"ratio ntrader / raw: {our_rate / raw_rate:.2f} (target >= 0.80)")


if __name__ == "__main__":
    main()
