"""ntrader's `run_backtest` end to end against a raw Nautilus script, on the same minute bars.

All run SMA 10/20 on the same 200 000 one-minute mock bars in one process. The raw baselines build
their own `BacktestEngine` (venue, instrument, bars, strategy) and stop after `engine.run()`: once with
Nautilus's default configuration (`run_analysis=True`: the run ends with its own post-run statistics)
and once with `run_analysis=False`, as ntrader runs it. They build the bars with Nautilus's
`Bar.from_raw_arrays_to_list` (`BarDataWrangler.process` fails under pandas 3, also on 1.231).
ntrader's figure covers everything a user waits for: generating the bars, the engine, metrics and saving
the run (trades plus 200 000 equity points) to a fresh SQLite database.

Each round runs the three one after the other; the best of `--rounds` rounds is reported (the
machine may be shared: compare the ratios, measured in one run, rather than the rates).

    uv run python benchmarks/bench_backtest.py [--bars 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import BacktestEngineConfig, LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money

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


def raw_bars(bars: pd.DataFrame, bar_type: BarType, instrument) -> list[Bar]:
    """Nautilus's bulk bar constructor, stamped at the bars' close."""
    stamps = (bars.index + pd.Timedelta(minutes=1)).as_unit("ns").asi8.astype(np.uint64)
    columns = [np.array(bars[c], dtype="float64") for c in ("open", "high", "low", "close", "volume")]
    return Bar.from_raw_arrays_to_list(
        bar_type, instrument.price_precision, instrument.size_precision, *columns, stamps, stamps.copy()
    )


def raw_nautilus(bars: pd.DataFrame, run_analysis: bool) -> tuple[float, int]:
    instrument = make_equity("AAPL")
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("RAW-001"),
            logging=LoggingConfig(bypass_logging=True),
            run_analysis=run_analysis,
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
    engine.add_data(raw_bars(bars, bar_type, instrument))
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
    import nautilus_trader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["NTRADER_HOME"] = tempfile.mkdtemp(prefix="ntrader-bench-")
    os.environ.pop("DATABASE_URL", None)
    start, end = period_for(args.bars)
    bars = generate_bars("AAPL", start, end, "1-MINUTE")
    n = len(bars)
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.rounds):
        for name, run in (
            ("default", lambda: raw_nautilus(bars, run_analysis=True)),
            ("no_analysis", lambda: raw_nautilus(bars, run_analysis=False)),
            ("ntrader", lambda: ntrader_run(start, end)),
        ):
            seconds, fills = run()
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, fills)
    rate = {name: n / seconds for name, (seconds, _) in best.items()}
    print(f"nautilus_trader {nautilus_trader.__version__}, pandas {pd.__version__}; "
          f"bars: {n:,} one-minute bars ({start} → {end}), SMA 10/20; best of {args.rounds}")  # fmt: skip
    labels = {
        "default": "raw Nautilus, default config (run_analysis=True)",
        "no_analysis": "raw Nautilus, run_analysis=False",
        "ntrader": "ntrader run_backtest, end to end incl. save",
    }
    for name, label in labels.items():
        seconds, fills = best[name]
        print(f"{label:<50} {rate[name]:>10,.0f} bars/s  ({seconds:.2f} s, {fills} fills)")
    print(f"ratio ntrader / raw default:     {rate['ntrader'] / rate['default']:.2f} (target >= 1.00)")
    print(f"ratio ntrader / raw no-analysis: {rate['ntrader'] / rate['no_analysis']:.2f} (target >= 0.95)")


if __name__ == "__main__":
    main()
