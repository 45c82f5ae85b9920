"""All backtest metrics in one frozen record, with JSON round-trip and grouped report formatting."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from ntrader.errors import InputError
from ntrader.metrics.constants import (
    DAYS_PER_YEAR,
    MIN_YEAR_DAYS,
    MONEY_DECIMALS,
    SQN_MAX_TRADES,
    TRADING_DAYS_PER_YEAR,
)

if TYPE_CHECKING:
    import pandas as pd

# The record, its JSON and its formatting need no pandas (a saved run's summary prints without it);
# compute_metrics imports the figures' modules (numpy, pandas) when it runs.

NONE_MARK = "–"
INFINITY_MARK = "∞"
#: How a figure that extrapolates a run shorter than a year to a year is shown (JSON keeps it).
SHORT_MARK = "n/a (< 1 year)"
#: Appended to annualized figures that are still shown for a run shorter than a year.
SHORT_SUFFIX = " (< 1 year)"
GIVEN = "given"


@dataclass(frozen=True)
class Conventions:
    """How the figures were computed, stored with them so a reader never has to guess."""

    annualization_factor: int = TRADING_DAYS_PER_YEAR
    risk_free_rate: float = 0.0
    cagr_day_count: float = DAYS_PER_YEAR
    drawdown_sign: str = "negative"
    daily_resampling: str = "last equity per calendar day with data"
    # How annualization_factor was found: "measured" from the bars' days (days_with_data over
    # span_days calendar days), a short-run fallback, or "given" by the caller.
    annualization_basis: str = GIVEN
    days_with_data: int | None = None
    span_days: int | None = None
    first_day_return: str = "from the starting capital"
    starting_capital: float | None = None
    exposure_basis: str = "share of bars at whose close a position was held"
    win_loss_decimals: int = MONEY_DECIMALS
    sqn_formula: str = (
        f"sqrt(n) × mean(pnl) / std(pnl, ddof=1) over closed trades; Van Tharp: n capped at {SQN_MAX_TRADES}"
    )
    buy_and_hold_basis: str = "first bar's close to last bar's close, no commissions or other costs"
    short_period_rule: str = (
        f"under {MIN_YEAR_DAYS} calendar days of data: CAGR, annualized return and Calmar shown as n/a, "
        "volatility, Sharpe and Sortino marked (< 1 year)"
    )

    def annualization_text(self, *, brief: bool = False) -> str:
        """E.g. "√252 (measured from the bars: 250 days with data over 361 calendar days)".

        ``brief`` leaves out the day counts: "√252 (measured from the bars)".
        """
        root = f"√{self.annualization_factor}"
        if self.annualization_basis == GIVEN:
            return f"{root} (given)"
        if brief:
            measured = self.annualization_basis == "measured"
            return f"{root} ({'measured from the bars' if measured else self.annualization_basis})"
        if self.annualization_basis == "measured":
            return (
                f"{root} (measured from the bars: {self.days_with_data} days with data over "
                f"{self.span_days} calendar days)"
            )
        return f"{root} ({self.annualization_basis}; {self.days_with_data} days with data)"


@dataclass(frozen=True)
class Metrics:
    """Every figure of one backtest by name; fractions (0.05 = 5 %), money, calendar days.

    None means undefined (see the conventions of returns.py, risk.py and trades.py); the only
    infinite value is ``profit_factor`` (wins and no losses).
    """

    # Returns
    start: datetime
    end: datetime
    starting_equity: float
    ending_equity: float
    total_return: float
    cagr: float | None
    annualized_return: float | None
    annualized_volatility: float | None
    buy_and_hold_return: float | None
    exposure: float
    # True when the run spans less than a year: CAGR, annualized return and Calmar extrapolate.
    short_period: bool
    # Risk: max_drawdown_* describe the deepest drawdown, longest_* the longest one.
    max_drawdown: float
    max_drawdown_peak: datetime | None
    max_drawdown_trough: datetime | None
    max_drawdown_recovery: datetime | None
    max_drawdown_duration_days: float
    longest_drawdown_duration_days: float
    avg_drawdown_duration_days: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    ruined: bool
    ruin_time: datetime | None
    # Trades: the fields of TradeStats, flattened so the JSON stays one level deep
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
    conventions: Conventions = field(default_factory=Conventions)

    _TIMESTAMPS: ClassVar[frozenset[str]] = frozenset(
        {
            "start",
            "end",
            "max_drawdown_peak",
            "max_drawdown_trough",
            "max_drawdown_recovery",
            "ruin_time",
        }
    )
    # Fields that can legitimately be infinite; each gets a "<name>_infinite" flag in JSON.
    _MAY_BE_INFINITE: ClassVar[tuple[str, ...]] = ("profit_factor",)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ISO-8601 times, None for inf/NaN, ``<name>_infinite`` flags."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "conventions":
                out[item.name] = dataclasses.asdict(value)
            elif item.name in self._TIMESTAMPS:
                out[item.name] = None if value is None else value.isoformat()
            elif isinstance(value, float) and not math.isfinite(value):
                out[item.name] = None
            else:
                out[item.name] = value
        for name in self._MAY_BE_INFINITE:
            value = getattr(self, name)
            out[f"{name}_infinite"] = value is not None and math.isinf(value)
        return out

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Metrics:
        """Rebuild Metrics from :meth:`to_json_dict` output (unknown keys are ignored)."""
        values: dict[str, Any] = {}
        try:
            for item in dataclasses.fields(cls):
                if item.name == "conventions":
                    values[item.name] = Conventions(**data.get(item.name, {}))
                    continue
                raw = data[item.name]
                if item.name in cls._TIMESTAMPS:
                    values[item.name] = None if raw is None else _parse_time(raw)
                elif item.name in cls._MAY_BE_INFINITE and data.get(f"{item.name}_infinite"):
                    values[item.name] = math.inf
                else:
                    values[item.name] = raw
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a metrics record: {exc!r}") from exc
        return cls(**values)

    def __repr__(self) -> str:
        """Every figure, labelled and grouped, as a two-column listing (like backtesting.py's Stats)."""
        from ntrader.reports.display import metrics_text

        return metrics_text(self)

    def _repr_html_(self) -> str:
        from ntrader.reports.display import metrics_html

        return metrics_html(self)

    def groups(self) -> dict[str, list[tuple[str, str]]]:
        """Labelled, formatted figures in the report groups "Returns", "Risk" and "Trades"."""
        recovery = (
            _time(self.max_drawdown_recovery)
            if self.max_drawdown_recovery is not None or self.max_drawdown == 0.0
            else "not recovered"
        )
        short = self.short_period

        def extrapolated(text: str) -> str:
            return SHORT_MARK if short else text

        def annualized(text: str) -> str:
            return text + SHORT_SUFFIX if short and text != NONE_MARK else text

        return {
            "Returns": [
                ("Start", _time(self.start)),
                ("End", _time(self.end)),
                ("Starting equity", _money(self.starting_equity)),
                ("Ending equity", _money(self.ending_equity)),
                ("Total return", _pct(self.total_return)),
                ("CAGR", extrapolated(_pct(self.cagr))),
                ("Annualized return", extrapolated(_pct(self.annualized_return))),
                ("Annualized volatility", annualized(_pct(self.annualized_volatility))),
                ("Buy & hold return", _pct(self.buy_and_hold_return)),
                ("Exposure (held at bar close)", _pct(self.exposure)),
            ],
            "Risk": [
                ("Max drawdown", _pct(self.max_drawdown)),
                ("Max drawdown peak", _time(self.max_drawdown_peak)),
                ("Max drawdown trough", _time(self.max_drawdown_trough)),
                ("Max drawdown recovery", recovery),
                ("Deepest drawdown duration", _days(self.max_drawdown_duration_days)),
                ("Longest drawdown duration", _days(self.longest_drawdown_duration_days)),
                ("Avg drawdown duration", _days(self.avg_drawdown_duration_days)),
                ("Sharpe ratio", annualized(_ratio(self.sharpe))),
                ("Sortino ratio", annualized(_ratio(self.sortino))),
                ("Calmar ratio", extrapolated(_ratio(self.calmar))),
                ("Ruin", _time(self.ruin_time) if self.ruined else "no"),
            ],
            "Trades": [
                ("Trades", str(self.trade_count)),
                ("Open trades", str(self.open_trade_count)),
                ("Win rate", _pct(self.win_rate)),
                ("Average win", _money(self.avg_win)),
                ("Average loss", _money(self.avg_loss)),
                ("Best trade", _money(self.best_trade)),
                ("Worst trade", _money(self.worst_trade)),
                ("Avg trade duration", _days(self.avg_trade_duration_days)),
                ("Profit factor", _ratio(self.profit_factor)),
                ("Expectancy", _money(self.expectancy)),
                ("SQN (√n·mean/std)", _ratio(self.sqn)),
                (f"SQN Van Tharp (n ≤ {SQN_MAX_TRADES})", _ratio(self.sqn_van_tharp)),
                ("Net P&L (closed)", _money(self.total_pnl)),
                ("Total commission", _money(self.total_commission)),
            ],
        }


def compute_metrics(
    equity: pd.Series,
    trades: pd.DataFrame | None,
    closes: pd.Series | None = None,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int | None = None,
    positions: pd.Series | None = None,
    capital: float | None = None,
    fills_at_open: bool = False,
) -> Metrics:
    """Compute every figure of a backtest.

    ``equity`` is the mark-to-market curve (one point per bar close), ``trades`` the trades
    table (None or empty for no trades), ``closes`` the symbol's bar closes for buy-and-hold
    over the equity's period. ``risk_free_rate`` is annual; ``periods_per_year`` annualizes
    daily figures (None: measured from the bars, see ``measure_annualization``). ``capital`` is
    the starting capital that the first day's return, total return and CAGR are measured from
    (None: the curve's first point). Exposure comes from ``positions`` (per bar, bool or
    quantity) when given, else from the trades, booked as the equity curve books fills
    (``fills_at_open`` for next-open fills).
    """
    import pandas as pd

    from ntrader.metrics.returns import (
        Annualization,
        annualized_return,
        annualized_volatility,
        buy_and_hold_return,
        cagr,
        exposure_time,
        measure_annualization,
        stop_at_ruin,
        total_return,
    )
    from ntrader.metrics.risk import (
        average_drawdown_duration,
        calmar_ratio,
        longest_drawdown_duration,
        max_drawdown,
        sharpe_ratio,
        sortino_ratio,
    )
    from ntrader.metrics.trades import trade_stats

    if periods_per_year is not None and periods_per_year <= 0:
        raise InputError(f"periods_per_year must be positive, got {periods_per_year}")
    if not math.isfinite(risk_free_rate):
        raise InputError(f"risk_free_rate must be finite, got {risk_free_rate}")
    cut, ruin_time = stop_at_ruin(equity)
    # The full curve sets the period, the bars and the calendar; return and risk figures stop at ruin.
    full_index = pd.DatetimeIndex(equity.index)
    start, end = pd.Timestamp(full_index[0]), pd.Timestamp(full_index[-1])
    calendar = measure_annualization(full_index)
    if periods_per_year is None:
        annual = calendar
    else:
        annual = Annualization(periods_per_year, GIVEN, calendar.days, calendar.span_days)
    factor = annual.factor
    base = float(cut.iloc[0]) if capital is None else float(capital)
    drawdown = max_drawdown(cut)
    stats = trade_stats(trades)
    return Metrics(
        start=start,
        end=end,
        starting_equity=float(cut.iloc[0]),
        ending_equity=float(cut.iloc[-1]),
        total_return=total_return(cut, capital),
        cagr=cagr(cut, capital),
        annualized_return=annualized_return(cut, factor, capital),
        annualized_volatility=annualized_volatility(cut, factor, capital),
        buy_and_hold_return=None if closes is None else buy_and_hold_return(closes, start, end),
        exposure=exposure_time(full_index, trades, positions=positions, fills_at_open=fills_at_open),
        short_period=calendar.short_period,
        max_drawdown=drawdown.depth,
        max_drawdown_peak=drawdown.peak,
        max_drawdown_trough=drawdown.trough,
        max_drawdown_recovery=drawdown.recovery,
        max_drawdown_duration_days=drawdown.duration_days,
        longest_drawdown_duration_days=longest_drawdown_duration(cut),
        avg_drawdown_duration_days=average_drawdown_duration(cut),
        sharpe=sharpe_ratio(cut, risk_free_rate, factor, capital),
        sortino=sortino_ratio(cut, risk_free_rate, factor, capital),
        calmar=calmar_ratio(cut, capital),
        ruined=ruin_time is not None,
        ruin_time=ruin_time,
        **dataclasses.asdict(stats),
        conventions=Conventions(
            annualization_factor=factor,
            risk_free_rate=risk_free_rate,
            annualization_basis=annual.basis,
            days_with_data=annual.days,
            span_days=annual.span_days,
            starting_capital=base,
        ),
    )


def _pct(value: float | None) -> str:
    return NONE_MARK if value is None else f"{value * 100:.2f}%"


def _ratio(value: float | None) -> str:
    if value is None:
        return NONE_MARK
    if math.isinf(value):
        return INFINITY_MARK if value > 0 else f"-{INFINITY_MARK}"
    return f"{value:.2f}"


def _money(value: float | None) -> str:
    return NONE_MARK if value is None else f"{value:,.2f}"


def _parse_time(raw: Any) -> datetime:
    """A stored ISO-8601 time (as `to_json_dict` writes it); nanoseconds beyond microseconds are cut."""
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        raise TypeError(f"not a time: {raw!r}")
    return datetime.fromisoformat(raw)


def _time(value: datetime | None) -> str:
    if value is None:
        return NONE_MARK
    # Daily bars stamped at midnight read better as plain dates.
    midnight = (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)
    if midnight and not getattr(value, "nanosecond", 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M %Z").strip()


def _days(value: float | None) -> str:
    if value is None:
        return NONE_MARK
    # Intraday spans are clearer in hours and minutes than in fractions of a day.
    if value < 1.0:
        minutes = round(value * 24 * 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
    return f"{value:.1f} days"
