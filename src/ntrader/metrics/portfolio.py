"""Portfolio figures of a many-symbol run: per-symbol P&L, correlation, turnover, benchmark, allocation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ntrader.errors import InputError
from ntrader.metrics.returns import buy_and_hold_return, daily_returns, validate_equity
from ntrader.metrics.trades import MONEY_DECIMALS, trade_stats, validate_trades

# Conventions (also returned as strings under "conventions", so a report states them):
# * The clock is the union of the symbols' bar times (the index of ``closes``, ``positions`` and
#   ``equity``); each symbol's close is forward-filled over it and NaN before its first bar.
# * A symbol's P&L is the sum of its trades' P&L, net of both sides' commissions: closed trades
#   as booked, a trade still open at the end marked at the symbol's last close (minus the
#   commission already paid). So the symbols' P&L sum to the account's gain when commissions
#   are the only costs. Contribution is that P&L over the starting capital.
# * A symbol's return is its P&L over the average capital deployed in it: the mean of
#   |shares × close| over the bars at whose close it held a position (None if it never did).
# * Exposure is the share of the run's bars (the union clock) at whose close a position was
#   held, like the single-symbol exposure.
# * Correlation: Pearson, of each symbol's daily close-to-close returns (last close of each UTC
#   day, simple returns), over the days both symbols have a return (pairwise).
# * Turnover: traded notional (|quantity| × price of every fill: each trade's entry, and its exit
#   when closed) over the mean equity; annualized by periods_per_year over the number of days
#   with data.
# * Equal-weight benchmark: the starting capital split equally among the symbols, each share
#   bought at the symbol's first close (kept in cash until then), never rebalanced, no costs.
# * An outside benchmark's total return runs from its first to its last daily close (last close
#   of each UTC day) within the run's days; its daily returns are close-to-close.
# * Alpha and beta: OLS of the portfolio's daily returns (first day from the starting capital)
#   on the benchmark's over their common days, risk-free rate 0; alpha is the daily intercept
#   times periods_per_year.
# * Allocation: at the last bar of each UTC day, each symbol's position value (shares × close,
#   negative when short), cash (equity minus the position values) and the equal-weight benchmark.

RISK_FREE_RATE = 0.0

#: A portfolio run's buy & hold basis (the account's "Buy & hold return" is this benchmark's).
EQUAL_WEIGHT_BASIS = (
    "equal weight of the symbols: the starting capital split equally, each part bought at the "
    "symbol's first close (cash until then), never rebalanced, no costs"
)


def portfolio_metrics(
    *,
    trades: pd.DataFrame,
    equity: pd.Series,
    closes: pd.DataFrame,
    positions: pd.DataFrame,
    capital: float,
    periods_per_year: float,
    benchmark: pd.Series | None = None,
) -> dict[str, Any]:
    """Every portfolio figure as a JSON-able dict (plain floats, strings and lists; NaN → None).

    ``trades`` are round trips (TRADE_COLUMNS plus ``symbol``), ``equity`` the account's
    mark-to-market equity after each bar, ``closes`` and ``positions`` one column per symbol on
    the union clock (forward-filled closes, signed shares after each bar), ``benchmark`` the
    closes of an outside benchmark (e.g. SPY). See the conventions above.
    """
    if not math.isfinite(capital) or capital <= 0:
        raise InputError(f"capital must be a number above zero, got {capital}")
    if not math.isfinite(periods_per_year) or periods_per_year <= 0:
        raise InputError(f"periods_per_year must be positive, got {periods_per_year}")
    eq = validate_equity(equity)
    eq.index = _utc(pd.DatetimeIndex(eq.index))
    closes, positions = _frames(closes, positions, pd.DatetimeIndex(eq.index))
    symbols = [str(s) for s in closes.columns]
    frame = _symbol_trades(trades)
    returns = daily_returns(eq, capital)
    bench_curve = equal_weight_curve(closes, capital)
    out: dict[str, Any] = {
        "symbols": symbols,
        "per_symbol": _per_symbol(frame, closes, positions, capital),
        "correlation": _correlation(closes),
        "turnover": _turnover(frame, eq, periods_per_year, len(returns)),
        "benchmark": {
            "equal_weight": {
                "total_return": _num(bench_curve.iloc[-1] / capital - 1.0),
                **ols_alpha_beta(returns, daily_returns(bench_curve, capital), periods_per_year),
            },
            "external": None if benchmark is None else _external(benchmark, returns, eq, periods_per_year),
        },
        "allocation": _allocation(eq, closes, positions, bench_curve),
        "conventions": conventions(periods_per_year),
    }
    return out


def conventions(periods_per_year: float) -> dict[str, str]:
    """The definitions behind :func:`portfolio_metrics`, one sentence each."""
    factor = f"{periods_per_year:g}"
    return {
        "clock": "union of the symbols' bar times; closes forward-filled, none before a symbol's first bar",
        "pnl": "sum of the symbol's trades' P&L net of commissions; an open trade marked at the last close",
        "contribution": "symbol P&L / starting capital",
        "return": "symbol P&L / mean |shares × close| over the bars at whose close it held a position",
        "exposure": "share of the run's bars at whose close the symbol had a position",
        "win_rate": f"closed trades whose P&L rounds (to {MONEY_DECIMALS} decimals) above zero",
        "correlation": "Pearson, of daily close-to-close returns (last close of each UTC day), pairwise days",
        "turnover": (
            f"traded notional (|qty| × price of every entry and exit) / mean equity; annualized × {factor} "
            "/ days with data"
        ),
        "benchmark": (
            "equal weight: starting capital split equally, each part bought at the symbol's first close "
            "(cash until then), never rebalanced, no costs; an outside benchmark: its first to last daily "
            "close within the run's days"
        ),
        "alpha_beta": (
            f"OLS of the portfolio's daily returns on the benchmark's over common days; risk-free rate "
            f"{RISK_FREE_RATE:g}; alpha = daily intercept × {factor}"
        ),
        "annualization_factor": factor,
        "risk_free_rate": f"{RISK_FREE_RATE:g}",
        "allocation": (
            "last bar of each UTC day: shares × close per symbol (negative when short), "
            "cash = equity - their sum"
        ),
    }


def equal_weight_curve(closes: pd.DataFrame, capital: float) -> pd.Series:
    """Value of the equal-weight buy & hold of ``closes``' symbols on their clock (see conventions)."""
    first = closes.bfill().iloc[0] if len(closes) else pd.Series(dtype="float64")
    growth = (closes / first).fillna(1.0)
    return pd.Series(capital * growth.mean(axis=1).to_numpy(), index=closes.index, name="benchmark")


def ols_alpha_beta(
    portfolio: pd.Series, benchmark: pd.Series, periods_per_year: float
) -> dict[str, float | int | None]:
    """Alpha (annualized intercept), beta and R² of ``portfolio`` on ``benchmark`` daily returns."""
    joined = pd.concat([portfolio.rename("p"), benchmark.rename("b")], axis=1, join="inner").dropna()
    y, x = joined["p"].to_numpy(), joined["b"].to_numpy()
    result: dict[str, float | int | None] = {"alpha": None, "beta": None, "r_squared": None, "days": len(x)}
    if len(x) < 2:
        return result
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    if sxx <= 1e-24:
        return result
    beta = float(dx @ dy) / sxx
    alpha = float(y.mean() - beta * x.mean())
    syy = float(dy @ dy)
    result.update(
        alpha=alpha * periods_per_year,
        beta=beta,
        r_squared=None if syy <= 1e-24 else float(dx @ dy) ** 2 / (sxx * syy),
    )
    return result


def _utc(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")


def _frames(
    closes: pd.DataFrame, positions: pd.DataFrame, index: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Closes and positions on the equity's clock, same columns, float."""
    for name, frame in (("closes", closes), ("positions", positions)):
        if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
            raise InputError(f"{name} must be a DataFrame with a DatetimeIndex")
    if list(closes.columns) != list(positions.columns):
        raise InputError("closes and positions must have the same symbol columns")
    aligned = []
    for frame in (closes, positions):
        copy = frame.astype("float64")
        copy.index = _utc(pd.DatetimeIndex(copy.index))
        if not copy.index.equals(index):
            copy = copy.sort_index().reindex(index, method="ffill")
        aligned.append(copy)
    return aligned[0], aligned[1].fillna(0.0)


def _symbol_trades(trades: pd.DataFrame | None) -> pd.DataFrame:
    frame = validate_trades(trades)
    if "symbol" not in frame.columns:
        if len(frame):
            raise InputError("portfolio trades need a symbol column")
        frame["symbol"] = pd.Series(dtype="object")
    return frame


def _trade_pnl(frame: pd.DataFrame, closes: pd.DataFrame) -> np.ndarray:
    """Each trade's P&L; an open trade marked at its symbol's last close."""
    pnl = frame["pnl"].to_numpy(dtype="float64").copy()
    open_ = frame["exit_time"].isna().to_numpy()
    if open_.any():
        last = closes.ffill().iloc[-1]
        mark = frame.loc[open_, "symbol"].map(last).to_numpy(dtype="float64")
        direction = np.where(frame.loc[open_, "side"].to_numpy() == "SHORT", -1.0, 1.0)
        qty = frame.loc[open_, "quantity"].abs().to_numpy()
        entry = frame.loc[open_, "entry_price"].to_numpy()
        pnl[open_] = direction * (mark - entry) * qty - frame.loc[open_, "commission"].fillna(0.0).to_numpy()
    return pnl


def _per_symbol(
    frame: pd.DataFrame, closes: pd.DataFrame, positions: pd.DataFrame, capital: float
) -> list[dict[str, Any]]:
    pnl = pd.Series(_trade_pnl(frame, closes), index=frame.index)
    by_symbol = pnl.groupby(frame["symbol"].astype(str)).sum()
    values = (positions * closes.fillna(0.0)).abs()
    held = positions.to_numpy() != 0
    deployed = values.where(held).mean()
    exposure = held.sum(axis=0) / max(len(positions), 1)
    first = closes.apply(lambda column: column.first_valid_index())
    rows = []
    for i, symbol in enumerate(closes.columns):
        name = str(symbol)
        stats = trade_stats(frame[frame["symbol"].astype(str) == name])
        total = float(by_symbol.get(name, 0.0))
        base = deployed.iloc[i]
        rows.append(
            {
                "symbol": name,
                "pnl": _num(total),
                "contribution": _num(total / capital),
                "return": _num(total / base) if pd.notna(base) and base > 0 else None,
                "avg_deployed": _num(base),
                "exposure": _num(exposure[i]),
                "trades": stats.trade_count,
                "open_trades": stats.open_trade_count,
                "win_rate": _num(stats.win_rate),
                "commission": _num(stats.total_commission),
                "first_bar": None if first.iloc[i] is None else pd.Timestamp(first.iloc[i]).isoformat(),
            }
        )
    return rows


def _daily_closes(closes: pd.DataFrame | pd.Series) -> Any:
    index = pd.DatetimeIndex(closes.index)
    return closes.groupby(index.normalize()).last()


def _correlation(closes: pd.DataFrame) -> dict[str, Any]:
    returns = _daily_closes(closes).pct_change(fill_method=None)
    matrix = returns.corr()
    return {
        "symbols": [str(s) for s in closes.columns],
        "matrix": [[_num(v) for v in row] for row in matrix.to_numpy().tolist()],
        "days": int(returns.notna().any(axis=1).sum()),
    }


def _turnover(frame: pd.DataFrame, eq: pd.Series, periods_per_year: float, days: int) -> dict[str, Any]:
    qty = frame["quantity"].abs()
    notional = float((qty * frame["entry_price"]).sum() + (qty * frame["exit_price"]).fillna(0.0).sum())
    mean_equity = float(eq.mean())
    total = notional / mean_equity if mean_equity > 0 else None
    return {
        "traded_notional": _num(notional),
        "mean_equity": _num(mean_equity),
        "total": _num(total),
        "annualized": None if total is None or days == 0 else _num(total * periods_per_year / days),
        "days": days,
    }


def _external(
    benchmark: pd.Series, returns: pd.Series, eq: pd.Series, periods_per_year: float
) -> dict[str, Any]:
    if not isinstance(benchmark, pd.Series) or not isinstance(benchmark.index, pd.DatetimeIndex):
        raise InputError("benchmark must be a Series of closes with a DatetimeIndex")
    closes = benchmark.astype("float64").copy()
    closes.index = _utc(pd.DatetimeIndex(closes.index))
    closes = closes.sort_index().dropna()
    last = _daily_closes(closes)
    daily = last.pct_change(fill_method=None)
    # Days, not instants: a daily benchmark stamped after the run's last bar still closes that day.
    days = pd.DatetimeIndex(eq.index).normalize()
    return {
        "name": None if benchmark.name is None else str(benchmark.name),
        "total_return": _num(buy_and_hold_return(last, days[0], days[-1])),
        **ols_alpha_beta(returns, daily, periods_per_year),
    }


def _allocation(
    eq: pd.Series, closes: pd.DataFrame, positions: pd.DataFrame, benchmark: pd.Series
) -> dict[str, Any]:
    index = pd.DatetimeIndex(eq.index)
    last = ~index.normalize().duplicated(keep="last")
    values = (positions * closes.fillna(0.0))[last]
    cash = eq[last] - values.sum(axis=1)
    return {
        "dates": [d.strftime("%Y-%m-%d") for d in index[last]],
        "symbols": [str(s) for s in closes.columns],
        "values": {str(s): _money_list(values[s]) for s in closes.columns},
        "cash": _money_list(cash),
        # The equal-weight buy & hold's value on the same days, for the equity chart.
        "benchmark": _money_list(benchmark[last]),
    }


def _money_list(series: pd.Series) -> list[float | None]:
    return [_num(v) for v in series.round(MONEY_DECIMALS).to_numpy().tolist()]


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
