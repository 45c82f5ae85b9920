"""Screening an SMA grid: ntrader's vector screen against vectorbt and ntrader's Nautilus engine.

All three work on the same one-minute mock bars (1 000 000 by default) and the same grid (fast
5..50 step 5 × slow 60..240 step 20: 100 combinations), long-only, 95 % of equity in whole shares,
filled at the signal bar's close, 5 bps fees (a fee model every tool can express exactly). The
figure is combinations × bars per second, in one process, one after the other:

- ntrader vector: `screen()` end to end — rolling sums, crossings, the position/cash loop,
  mark-to-market equity, and the Sharpe/CAGR/Calmar figures of every combination.
- vectorbt 1.0: `Portfolio.from_signals` over all 100 columns (size 0.95 "percent", whole shares,
  fees 0.0005) plus `total_return()`/`sharpe_ratio()`; reported with and without building its
  entry/exit matrices (`MA.run` and crossings), warm (its first call compiles for seconds).
- Nautilus: `run_engine` (run_analysis=False) on a sample of combinations, extrapolated linearly
  to the grid; its trades are checked against the vector engine's.

    uv run --group bench python benchmarks/bench_sweep.py [--bars 1000000] [--nautilus-sample 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from ntrader.backtest.costs import parse_commission
from ntrader.backtest.engine import run_engine
from ntrader.backtest.vector import prepare_bars, run_vector, screen
from ntrader.data import parse_bar_size
from ntrader.data.calendar import sessions
from ntrader.data.mock import generate_bars
from ntrader.strategies import SMACrossover, get_strategy

FEES = "bps:5"
CAPITAL = 100_000.0
FASTS = list(range(5, 55, 5))
SLOWS = list(range(60, 260, 20))


def minute_bars(n_bars: int) -> pd.DataFrame:
    table = sessions("2016-01-04", "2040-12-31")  # NYSE sessions: holidays and half days included
    minutes = ((table["close"] - table["open"]) // pd.Timedelta(minutes=1)).cumsum()
    end = table.index[int(minutes.searchsorted(n_bars))]
    return generate_bars("SPY", "2016-01-04", end, "1-MINUTE").iloc[:n_bars]


def combos() -> list[dict]:
    defaults = get_strategy("sma").defaults()
    return [{**defaults, "fast_period": f, "slow_period": s} for f in FASTS for s in SLOWS]


def bench_vector(bars: pd.DataFrame, grid: list[dict]) -> tuple[float, list]:
    size = parse_bar_size("1-MINUTE")
    screen(prepare_bars(bars.iloc[:5000], size), "sma", grid[:2], commission=FEES)  # compile / load cache
    started = time.perf_counter()
    figures = screen(prepare_bars(bars, size), "sma", grid, commission=FEES)
    return time.perf_counter() - started, figures


def vectorbt_signals(vbt, close: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = vbt.MA.run(close, window=FASTS, short_name="fast").ma.to_numpy()
    slow = vbt.MA.run(close, window=SLOWS, short_name="slow").ma.to_numpy()
    n = len(close)
    entries = np.zeros((n, len(FASTS) * len(SLOWS)), dtype=bool)
    exits = np.zeros_like(entries)
    for i in range(len(FASTS)):
        for j in range(len(SLOWS)):
            above = fast[:, i] > slow[:, j]
            defined = ~np.isnan(slow[:, j])
            k = i * len(SLOWS) + j
            entries[1:, k] = above[1:] & ~above[:-1] & defined[:-1]
            exits[1:, k] = ~above[1:] & above[:-1] & defined[:-1]
    return pd.DataFrame(entries, index=close.index), pd.DataFrame(exits, index=close.index)


def bench_vectorbt(bars: pd.DataFrame) -> tuple[float, float, pd.Series] | None:
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    close = bars["close"]

    def portfolio(entries: pd.DataFrame, exits: pd.DataFrame, price: pd.Series):
        pf = vbt.Portfolio.from_signals(
            price,
            entries,
            exits,
            size=0.95,
            size_type="percent",
            size_granularity=1.0,
            fees=0.0005,
            init_cash=CAPITAL,
            freq="1min",
        )
        return pf.total_return(), pf.sharpe_ratio()

    small = close.iloc[:5000]
    portfolio(*vectorbt_signals(vbt, small), small)  # compile
    started = time.perf_counter()
    entries, exits = vectorbt_signals(vbt, close)
    signals = time.perf_counter() - started
    started = time.perf_counter()
    total, _ = portfolio(entries, exits, close)
    return signals, time.perf_counter() - started, total


def bench_nautilus(bars: pd.DataFrame, grid: list[dict], sample: int) -> tuple[float, list]:
    spec = get_strategy("sma")
    size = parse_bar_size("1-MINUTE")
    picks = [grid[k] for k in np.linspace(0, len(grid) - 1, sample).astype(int)]
    checks = []
    started = time.perf_counter()
    for params in picks:
        result = run_engine(
            bars,
            symbol="SPY",
            bar_size=size,
            strategy_class=SMACrossover,
            config_factory=lambda iid, bt, p=params: spec.build_config(p, instrument_id=iid, bar_type=bt),
            capital=CAPITAL,
            fee_model=parse_commission(FEES).fee_model(),
        )
        checks.append((params, result))
    return time.perf_counter() - started, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--nautilus-sample", type=int, default=1, help="combinations run in Nautilus")
    args = parser.parse_args()

    bars = minute_bars(args.bars)
    grid = combos()
    work = len(grid) * len(bars)
    print(f"{len(bars):,} one-minute bars, {len(grid)} SMA combinations, fees {FEES}, fills at the close\n")

    vector_s, figures = bench_vector(bars, grid)
    rows = [("ntrader vector screen (signals + simulation + metrics)", vector_s, work)]
    vbt = bench_vectorbt(bars)
    if vbt is not None:
        signals_s, portfolio_s, vbt_total = bench_vectorbt_result = vbt
        rows.append(("vectorbt from_signals (portfolio + metrics only)", portfolio_s, work))
        rows.append(("vectorbt incl. building its signal matrices", signals_s + portfolio_s, work))
        ours = np.array([f.total_return for f in figures])
        close_enough = np.mean(np.isclose(ours, vbt_total.to_numpy(), rtol=1e-3, atol=1e-4))
        del bench_vectorbt_result
    nautilus_s, checks = bench_nautilus(bars, grid, args.nautilus_sample)
    per_combo = nautilus_s / len(checks)
    rows.append(
        (f"ntrader Nautilus engine ({len(checks)} combination(s), extrapolated)", per_combo * len(grid), work)
    )

    print(f"{'engine':<66}{'seconds':>10}{'combos×bars/s':>16}{'vs Nautilus':>13}")
    nautilus_rate = work / (per_combo * len(grid))
    for name, seconds, amount in rows:
        rate = amount / seconds
        print(f"{name:<66}{seconds:>10.2f}{rate / 1e6:>14.1f} M{rate / nautilus_rate:>12,.0f}×")
    if vbt is not None:
        print(f"\nvectorbt total returns within 0.1 % of ntrader's for {close_enough:.0%} of combinations")
    size = parse_bar_size("1-MINUTE")
    for params, result in checks:
        vector = run_vector(bars, "sma", params, bar_size=size, commission=FEES, symbol="SPY")
        same = [(f.timestamp, f.quantity, f.price) for f in vector.fills] == [
            (f.timestamp, f.quantity, f.price) for f in result.fills
        ]
        print(
            f"Nautilus vs vector, fast {params['fast_period']} slow {params['slow_period']}: "
            f"{len(result.fills):,} fills, identical: {same}, final equity {result.final_equity:,.2f} "
            f"vs {vector.final_equity:,.2f}"
        )


if __name__ == "__main__":
    main()
