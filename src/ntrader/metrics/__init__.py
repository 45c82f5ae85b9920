"""Backtest performance metrics as pure functions over an equity curve and a trades table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntrader.lazy import lazy_exports

if TYPE_CHECKING:  # the same names as _EXPORTS, for type checkers and IDEs
    from ntrader.metrics.constants import CALENDAR_DAYS_PER_YEAR as CALENDAR_DAYS_PER_YEAR
    from ntrader.metrics.constants import DAYS_PER_YEAR as DAYS_PER_YEAR
    from ntrader.metrics.constants import MIN_YEAR_DAYS as MIN_YEAR_DAYS
    from ntrader.metrics.constants import MONEY_DECIMALS as MONEY_DECIMALS
    from ntrader.metrics.constants import SQN_MAX_TRADES as SQN_MAX_TRADES
    from ntrader.metrics.constants import TRADING_DAYS_PER_YEAR as TRADING_DAYS_PER_YEAR
    from ntrader.metrics.returns import Annualization as Annualization
    from ntrader.metrics.returns import annualized_return as annualized_return
    from ntrader.metrics.returns import annualized_volatility as annualized_volatility
    from ntrader.metrics.returns import buy_and_hold_return as buy_and_hold_return
    from ntrader.metrics.returns import cagr as cagr
    from ntrader.metrics.returns import daily_equity as daily_equity
    from ntrader.metrics.returns import daily_returns as daily_returns
    from ntrader.metrics.returns import exposure_time as exposure_time
    from ntrader.metrics.returns import measure_annualization as measure_annualization
    from ntrader.metrics.returns import stop_at_ruin as stop_at_ruin
    from ntrader.metrics.returns import total_return as total_return
    from ntrader.metrics.returns import validate_equity as validate_equity
    from ntrader.metrics.risk import Drawdown as Drawdown
    from ntrader.metrics.risk import average_drawdown_duration as average_drawdown_duration
    from ntrader.metrics.risk import calmar_ratio as calmar_ratio
    from ntrader.metrics.risk import drawdown_series as drawdown_series
    from ntrader.metrics.risk import drawdowns as drawdowns
    from ntrader.metrics.risk import longest_drawdown_duration as longest_drawdown_duration
    from ntrader.metrics.risk import max_drawdown as max_drawdown
    from ntrader.metrics.risk import sharpe_ratio as sharpe_ratio
    from ntrader.metrics.risk import sortino_ratio as sortino_ratio
    from ntrader.metrics.summary import Conventions as Conventions
    from ntrader.metrics.summary import Metrics as Metrics
    from ntrader.metrics.summary import compute_metrics as compute_metrics
    from ntrader.metrics.trades import TRADE_COLUMNS as TRADE_COLUMNS
    from ntrader.metrics.trades import TradeStats as TradeStats
    from ntrader.metrics.trades import closed_trades as closed_trades
    from ntrader.metrics.trades import expectancy as expectancy
    from ntrader.metrics.trades import outcome_sign as outcome_sign
    from ntrader.metrics.trades import profit_factor as profit_factor
    from ntrader.metrics.trades import profit_factor_from_json as profit_factor_from_json
    from ntrader.metrics.trades import profit_factor_to_json as profit_factor_to_json
    from ntrader.metrics.trades import sqn as sqn
    from ntrader.metrics.trades import sqn_van_tharp as sqn_van_tharp
    from ntrader.metrics.trades import trade_stats as trade_stats
    from ntrader.metrics.trades import validate_trades as validate_trades
    from ntrader.metrics.trades import win_rate as win_rate

# name -> module, imported on first use: reading a saved run's Metrics (metrics.summary) needs no
# numpy or pandas; computing figures loads them.
_EXPORTS = {
    "CALENDAR_DAYS_PER_YEAR": "ntrader.metrics.constants",
    "DAYS_PER_YEAR": "ntrader.metrics.constants",
    "MIN_YEAR_DAYS": "ntrader.metrics.constants",
    "TRADING_DAYS_PER_YEAR": "ntrader.metrics.constants",
    "Annualization": "ntrader.metrics.returns",
    "annualized_return": "ntrader.metrics.returns",
    "annualized_volatility": "ntrader.metrics.returns",
    "buy_and_hold_return": "ntrader.metrics.returns",
    "cagr": "ntrader.metrics.returns",
    "daily_equity": "ntrader.metrics.returns",
    "daily_returns": "ntrader.metrics.returns",
    "exposure_time": "ntrader.metrics.returns",
    "measure_annualization": "ntrader.metrics.returns",
    "stop_at_ruin": "ntrader.metrics.returns",
    "total_return": "ntrader.metrics.returns",
    "validate_equity": "ntrader.metrics.returns",
    "Drawdown": "ntrader.metrics.risk",
    "average_drawdown_duration": "ntrader.metrics.risk",
    "calmar_ratio": "ntrader.metrics.risk",
    "drawdown_series": "ntrader.metrics.risk",
    "drawdowns": "ntrader.metrics.risk",
    "longest_drawdown_duration": "ntrader.metrics.risk",
    "max_drawdown": "ntrader.metrics.risk",
    "sharpe_ratio": "ntrader.metrics.risk",
    "sortino_ratio": "ntrader.metrics.risk",
    "Conventions": "ntrader.metrics.summary",
    "Metrics": "ntrader.metrics.summary",
    "compute_metrics": "ntrader.metrics.summary",
    "MONEY_DECIMALS": "ntrader.metrics.constants",
    "SQN_MAX_TRADES": "ntrader.metrics.constants",
    "TRADE_COLUMNS": "ntrader.metrics.trades",
    "TradeStats": "ntrader.metrics.trades",
    "closed_trades": "ntrader.metrics.trades",
    "expectancy": "ntrader.metrics.trades",
    "outcome_sign": "ntrader.metrics.trades",
    "profit_factor": "ntrader.metrics.trades",
    "profit_factor_from_json": "ntrader.metrics.trades",
    "profit_factor_to_json": "ntrader.metrics.trades",
    "sqn": "ntrader.metrics.trades",
    "sqn_van_tharp": "ntrader.metrics.trades",
    "trade_stats": "ntrader.metrics.trades",
    "validate_trades": "ntrader.metrics.trades",
    "win_rate": "ntrader.metrics.trades",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
