"""ntrader's portfolio run end to end against a raw Nautilus script: 10 symbols, one account.

All run SMA 10/20 in basket mode on the same one-minute mock bars (10 symbols × one NYSE year by
default: about 980 000 bars), in one process. ntrader's figure is `run_backtest` on a request with
ten symbols (equal allocation, no commission), as `ntrader backtest run --symbol A,B,...` runs it:
generating every symbol's bars, the engine, the portfolio metrics and saving the run (fills, trades
and the equity curve) to a fresh SQLite database — everything a user waits for.

The raw baselines build their own `BacktestEngine`: one venue with one cash account, the ten
instruments, their bars (Nautilus's `Bar.from_raw_arrays_to_list`, as bench_backtest.py) and one
`SMACrossover` (a Nautilus `Strategy`) per instrument, and stop after `engine.run()`; once with
Nautilus's default configuration (`run_analysis=True`) and once with `run_analysis=False`, as
ntrader runs it. So that both place the same orders, each raw strategy is sized as basket mode sizes
(95 % of the whole account's equity / 10, checked against the shared free cash) and skips an entry
on its symbol's last bar: without that each strategy would size on the cash alone and the first
symbols to cross would take most of it (the fill counts would differ for that reason only).

Each round runs the three one after the other; the best of `--rounds` rounds is reported (the
machine may be shared: compare the ratios, measured in one run, rather than the rates; the load
average is printed). The vector screen's combos × symbols × bars per second is printed only if
the screen accepts several symbols; today it refuses them, and the refusal is printed instead.

    uv run python benchmarks/bench_portfolio.py [--symbols 10] [--days 252] [--rounds 3]
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
from ntrader.errors import InputError
from ntrader.strategies import SMACrossover, SMACrossoverConfig
from ntrader.strategies.base import ExecutionRules
from ntrader.strategies.universe import Universe

SYMBOLS = ("AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "JPM", "XOM", "KO", "PEP", "WMT", "DIS")
START = "2020-01-02"
PARAMS = {"fast_period": 10, "slow_period": 20}


def period_for(days: int) -> tuple[str, str]:
    """The first ``days`` NYSE sessions from 2020-01-02 (252: one trading year)."""
    table = sessions(START, "2040-12-31")
    return START, table.index[days - 1].strftime("%Y-%m-%d")


def raw_bars(bars: pd.DataFrame, bar_type: BarType, instrument) -> list[Bar]:
    """Nautilus's bulk bar constructor, stamped at the bars' close."""
    stamps = (bars.index + pd.Timedelta(minutes=1)).as_unit("ns").asi8.astype(np.uint64)
    columns = [np.array(bars[c], dtype="float64") for c in ("open", "high", "low", "close", "volume")]
    return Bar.from_raw_arrays_to_list(
        bar_type, instrument.price_precision, instrument.size_precision, *columns, stamps, stamps.copy()
    )


def raw_nautilus(bars: dict[str, pd.DataFrame], run_analysis: bool) -> tuple[float, int]:
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
    instruments = [make_equity(s) for s in bars]
    bar_types = [BarType.from_str(f"{i.id}-1-MINUTE-LAST-EXTERNAL") for i in instruments]
    closes = {s: f["close"].set_axis(f.index + pd.Timedelta(minutes=1)) for s, f in bars.items()}
    universe = Universe.build(closes, [i.id for i in instruments], bar_types)  # equal allocation
    for slot, (frame, instrument, bar_type) in enumerate(
        zip(bars.values(), instruments, bar_types, strict=True)
    ):
        engine.add_instrument(instrument)
        data = raw_bars(frame, bar_type, instrument)
        engine.add_data(data)
        strategy = SMACrossover(
            SMACrossoverConfig(instrument_id=instrument.id, bar_type=bar_type, **PARAMS)  # type: ignore[arg-type]
        )
        strategy.execution = ExecutionRules(last_bar_ns=data[-1].ts_event, universe=universe, slot=slot)
        engine.add_strategy(strategy)
    engine.run()
    elapsed = time.perf_counter() - started
    fills = sum(isinstance(e, OrderFilled) for o in engine.cache.orders() for e in o.events)
    engine.dispose()
    return elapsed, fills


def ntrader_run(symbols: tuple[str, ...], start: str, end: str) -> tuple[float, int]:
    from ntrader.backtest import run_backtest

    started = time.perf_counter()
    outcome = run_backtest(
        "sma",
        ",".join(symbols),
        start,
        end,
        bar_size="1-MINUTE",
        params=PARAMS,
        allocation="equal",
        commission="none",  # the raw baseline has no fee model either
    )
    if outcome.result.status != "completed":
        raise SystemExit(f"ntrader's run is {outcome.result.status}: {outcome.result.halt_reason}")
    return time.perf_counter() - started, len(outcome.result.fills)


def vector_screen_line(symbols: tuple[str, ...], start: str, end: str, n_bars: int) -> str:
    """The screen's combos × symbols × bars per second on the run's symbols, or why there is none."""
    from ntrader.backtest import run_sweep

    grid = ["fast_period=5:50:5", "slow_period=60:240:20"]  # bench_sweep.py's 100 combinations
    started = time.perf_counter()
    try:
        outcome = run_sweep(
            "sma", ",".join(symbols), start, end, bar_size="1-MINUTE", commission="none",
            grid=grid, top=0, confirm=False, save=False,
        )  # fmt: skip
    except InputError as refused:
        return f"vector screen on {len(symbols)} symbols: not measured, it refuses them: {refused}"
    seconds = time.perf_counter() - started
    combos = len(outcome.rows)
    rate = combos * n_bars / seconds  # n_bars already counts every symbol's bars
    return (
        f"vector screen, {combos} combos × {len(symbols)} symbols: {rate:,.0f} combos × bars/s "
        f"({seconds:.2f} s end to end, incl. generating the bars)"
    )


def main() -> None:
    import nautilus_trader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10, help=f"how many symbols (at most {len(SYMBOLS)})")
    parser.add_argument("--days", type=int, default=252, help="NYSE sessions from 2020-01-02 (252: a year)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 2 <= args.symbols <= len(SYMBOLS):
        parser.error(f"--symbols must be 2..{len(SYMBOLS)}")
    os.environ["NTRADER_HOME"] = tempfile.mkdtemp(prefix="ntrader-bench-")
    os.environ.pop("DATABASE_URL", None)
    symbols = SYMBOLS[: args.symbols]
    start, end = period_for(args.days)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores before the runs", flush=True)
    bars = {s: generate_bars(s, start, end, "1-MINUTE") for s in symbols}
    n = sum(len(f) for f in bars.values())
    best: dict[str, tuple[float, int]] = {}
    for round_no in range(1, args.rounds + 1):
        for name, run in (
            ("default", lambda: raw_nautilus(bars, run_analysis=True)),
            ("no_analysis", lambda: raw_nautilus(bars, run_analysis=False)),
            ("ntrader", lambda: ntrader_run(symbols, start, end)),
        ):
            seconds, fills = run()
            print(f"  round {round_no}: {name:<12} {seconds:7.2f} s, {fills} fills", flush=True)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, fills)
    rate = {name: n / seconds for name, (seconds, _) in best.items()}
    print(f"nautilus_trader {nautilus_trader.__version__}, pandas {pd.__version__}; "
          f"bars: {n:,} one-minute bars, {len(symbols)} symbols ({', '.join(symbols)}), {start} → {end}; "
          f"SMA 10/20 per symbol, one cash account, equal allocation; best of {args.rounds}")  # fmt: skip
    labels = {
        "default": "raw Nautilus, default config (run_analysis=True)",
        "no_analysis": "raw Nautilus, run_analysis=False",
        "ntrader": "ntrader run_backtest (portfolio), end to end incl. save",
    }
    for name, label in labels.items():
        seconds, fills = best[name]
        print(f"{label:<56} {rate[name]:>10,.0f} bars/s  ({seconds:.2f} s, {fills} fills)")
    print(f"ratio ntrader / raw default:     {rate['ntrader'] / rate['default']:.2f} (target >= 0.90)")
    print(f"ratio ntrader / raw no-analysis: {rate['ntrader'] / rate['no_analysis']:.2f} (target >= 0.90)")
    fills = {name: f for name, (_, f) in best.items()}
    if len(set(fills.values())) == 1:
        print(f"fills: the same in all three ({fills['ntrader']})")
    else:
        print(f"fills DIFFER: {fills}")
    print(vector_screen_line(symbols, start, end, n))
    print(f"load average {os.getloadavg()[0]:.2f} after the runs")


if __name__ == "__main__":
    main()
