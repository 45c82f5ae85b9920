"""Trade statistics from a trades table: counts, win rate, profit factor, expectancy, SQN."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ntrader.errors import InputError
from ntrader.metrics.constants import MONEY_DECIMALS as MONEY_DECIMALS
from ntrader.metrics.constants import SQN_MAX_TRADES as SQN_MAX_TRADES

#: The columns of a trades frame, in the order runs store them: one round trip a row, pnl net of
#: both sides' commissions, no exit for a position still open at the end.
TRADE_COLUMNS = (
    "side",
    "quantity",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "pnl",
    "commission",
)

_EMPTY_DTYPES = {
    "entry_time": "datetime64[ns, UTC]",
    "exit_time": "datetime64[ns, UTC]",
    "side": "object",
} | {name: "float64" for name in ("entry_price", "exit_price", "quantity", "pnl", "commission")}

# Conventions:
# * Statistics cover closed trades only (exit_time set): an open trade's pnl is not final.
#   Total commission counts every trade, open ones too, since that money is already spent.
# * Wins and losses are classified on the pnl rounded to the account's money precision
#   (MONEY_DECIMALS, cents): a win has rounded pnl > 0, a loss < 0; a break-even trade (rounds to
#   0.00, e.g. a float residue of 1e-12) is neither but still counts in the trade count, so it
#   lowers the win rate. Sums and means use the unrounded pnl of the trades so classified.
# * SQN = sqrt(n) * mean(pnl) / std(pnl, ddof=1) over the n closed trades; Van Tharp's variant
#   caps n at 100 (sqrt(min(n, 100))), so it does not grow with the number of trades alone.
# * Undefined figures are None: no closed trades gives counts 0 and every ratio None; SQN needs
#   two trades with differing pnl. Profit factor is math.inf when there are wins and no losses
#   (JSON cannot hold inf: see profit_factor_to_json).

PnL = Sequence[float] | np.ndarray | pd.Series


def validate_trades(trades: pd.DataFrame | None) -> pd.DataFrame:
    """Return the trades with UTC times and float money columns, or raise InputError.

    None or a frame with no rows (with or without columns) means no trades.
    """
    if trades is None or (isinstance(trades, pd.DataFrame) and len(trades) == 0):
        return pd.DataFrame({name: pd.Series(dtype=_EMPTY_DTYPES[name]) for name in TRADE_COLUMNS})
    if not isinstance(trades, pd.DataFrame):
        raise InputError(f"trades must be a pandas DataFrame, not {type(trades).__name__}")
    missing = [name for name in TRADE_COLUMNS if name not in trades.columns]
    if missing:
        raise InputError(f"trades lack column(s): {', '.join(missing)}")
    frame = trades.copy()
    try:
        for name in ("entry_time", "exit_time"):
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.as_unit("ns")  # pandas 3: us
        for name in ("entry_price", "exit_price", "quantity", "pnl", "commission"):
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
    except (TypeError, ValueError) as exc:
        raise InputError(f"trades have a malformed value: {exc}") from exc
    if frame["entry_time"].isna().any():
        raise InputError("every trade needs an entry_time")
    closed = frame["exit_time"].notna()
    if not np.isfinite(frame.loc[closed, "pnl"].to_numpy()).all():
        raise InputError("every closed trade needs a finite pnl")
    if (frame.loc[closed, "exit_time"] < frame.loc[closed, "entry_time"]).any():
        raise InputError("a trade exits before it enters")
    return frame


def closed_trades(trades: pd.DataFrame | None) -> pd.DataFrame:
    """The trades that have an exit_time, validated."""
    frame = validate_trades(trades)
    return frame[frame["exit_time"].notna()]


def _array(pnl: PnL) -> np.ndarray:
    return np.asarray(pnl, dtype="float64")


def outcome_sign(pnl: PnL, decimals: int = MONEY_DECIMALS) -> np.ndarray:
    """+1 win, -1 loss, 0 break-even per trade: the sign of the pnl rounded to ``decimals``."""
    return np.sign(np.round(_array(pnl), decimals)).astype(np.int8)


def win_rate(pnl: PnL, decimals: int = MONEY_DECIMALS) -> float | None:
    """Share of trades whose pnl rounds (to ``decimals``) above zero; None without trades."""
    signs = outcome_sign(pnl, decimals)
    return float(np.count_nonzero(signs > 0) / signs.size) if signs.size else None


def profit_factor(pnl: PnL, decimals: int = MONEY_DECIMALS) -> float | None:
    """Gross profit over gross loss; math.inf with wins and no losses; None if neither."""
    values = _array(pnl)
    signs = outcome_sign(values, decimals)
    gross_profit = float(values[signs > 0].sum())
    gross_loss = float(-values[signs < 0].sum())
    if gross_loss == 0.0:
        return math.inf if gross_profit > 0 else None
    return gross_profit / gross_loss


def expectancy(pnl: PnL) -> float | None:
    """Mean pnl per trade; None without trades."""
    values = _array(pnl)
    return float(values.mean()) if values.size else None


def sqn(pnl: PnL, max_trades: int | None = None) -> float | None:
    """System Quality Number sqrt(n) * mean / std (ddof=1); None under 2 trades or zero spread.

    ``max_trades`` caps n in the square root (Van Tharp's variant: :func:`sqn_van_tharp`).
    """
    values = _array(pnl)
    # Exact equality is right for money: identical pnl values have no spread at all.
    if values.size < 2 or values.max() == values.min():
        return None
    n = values.size if max_trades is None else min(values.size, max_trades)
    return float(math.sqrt(n) * values.mean() / values.std(ddof=1))


def sqn_van_tharp(pnl: PnL) -> float | None:
    """Van Tharp's SQN: sqrt(min(n, 100)) * mean / std (ddof=1)."""
    return sqn(pnl, SQN_MAX_TRADES)


def profit_factor_to_json(value: float | None) -> dict[str, float | bool | None]:
    """JSON-safe profit factor: inf becomes None with ``profit_factor_infinite`` set."""
    infinite = value is not None and math.isinf(value)
    return {"profit_factor": None if infinite else value, "profit_factor_infinite": infinite}


def profit_factor_from_json(data: dict[str, object]) -> float | None:
    """Inverse of :func:`profit_factor_to_json`."""
    if data.get("profit_factor_infinite"):
        return math.inf
    value = data.get("profit_factor")
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TradeStats:
    """Every trade figure at once; money in account currency, durations in calendar days."""

    trade_count: int
    open_trade_count: int
    winning_trades: int
    losing_trades: int
    win_rate: float | None
    avg_win: float | None
    avg_loss: float | None
    best_trade: float | None
    worst_trade: float | None
    avg_trade_duration_days: float | None
    profit_factor: float | None
    expectancy: float | None
    sqn: float | None
    sqn_van_tharp: float | None
    total_pnl: float
    total_commission: float


def trade_stats(trades: pd.DataFrame | None, decimals: int = MONEY_DECIMALS) -> TradeStats:
    """Compute :class:`TradeStats` from a trades table (closed trades; commission of all).

    Wins and losses are told apart on the pnl rounded to ``decimals`` (the money precision).
    """
    frame = validate_trades(trades)
    closed = frame[frame["exit_time"].notna()]
    pnl = closed["pnl"].to_numpy(dtype="float64")
    signs = outcome_sign(pnl, decimals)
    wins, losses = pnl[signs > 0], pnl[signs < 0]
    durations = (closed["exit_time"] - closed["entry_time"]).dt.total_seconds().to_numpy()
    return TradeStats(
        trade_count=int(pnl.size),
        open_trade_count=int(len(frame) - len(closed)),
        winning_trades=int(wins.size),
        losing_trades=int(losses.size),
        win_rate=win_rate(pnl, decimals),
        avg_win=float(wins.mean()) if wins.size else None,
        avg_loss=float(losses.mean()) if losses.size else None,
        best_trade=float(pnl.max()) if pnl.size else None,
        worst_trade=float(pnl.min()) if pnl.size else None,
        avg_trade_duration_days=float(durations.mean() / 86_400.0) if durations.size else None,
        profit_factor=profit_factor(pnl, decimals),
        expectancy=expectancy(pnl),
        sqn=sqn(pnl),
        sqn_van_tharp=sqn_van_tharp(pnl),
        total_pnl=float(pnl.sum()),
        total_commission=float(np.nansum(frame["commission"].to_numpy(dtype="float64"))),
    )
