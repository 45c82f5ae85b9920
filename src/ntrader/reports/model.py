"""A saved run gathered for reporting: record, metrics, trades, equity, and (optionally) its bars."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ntrader.db.runs import RunRecord, get_run, load_equity, load_trades
from ntrader.errors import NtraderError
from ntrader.metrics.constants import MONEY_DECIMALS
from ntrader.metrics.summary import GIVEN, NONE_MARK, Metrics

if TYPE_CHECKING:
    import pandas as pd

    from ntrader.data import BarSize

# pandas, the bar loaders and the metric computations are imported where they run, so the summary
# panel (which uses only the record and the text helpers here) starts without them.
from ntrader.reports.portfolio import PortfolioView, load_portfolio, with_trade_symbols

STORED = "stored"
RECOMPUTED = "recomputed"

# How the fill and commission settings read in a report; unknown values are shown as stored.
FILL_MODES = {
    "close": "market orders fill at the close of the signal bar",
    "next_open": "market orders fill at the open of the bar after the signal",
    "next-open": "market orders fill at the open of the bar after the signal",
}


@dataclass(frozen=True)
class RunReport:
    """Everything a report shows about one run, read back without rerunning it.

    ``metrics_source`` is "stored" when the run's saved metrics were readable, "recomputed" when
    they were in an older format and were rebuilt from the stored equity and trades for this
    report only (``ntrader report recompute`` saves them). ``bars`` is the reloaded bar frame
    (indexed by bar open time) or None, with ``bars_note`` saying why.
    """

    record: RunRecord
    metrics: Metrics
    metrics_source: str
    trades: pd.DataFrame
    equity: pd.Series
    bars: pd.DataFrame | None = None
    bars_note: str | None = None
    #: A portfolio run's symbols, per-symbol metrics and bars (None for a single-symbol run).
    portfolio: PortfolioView | None = None

    @property
    def run_id(self) -> int:
        return self.record.id

    @property
    def symbols_text(self) -> str:
        """The run's symbol, or a portfolio's symbols as one text: AAPL, MSFT, SPY."""
        return self.record.symbol if self.portfolio is None else ", ".join(self.portfolio.symbols)

    @property
    def title(self) -> str:
        return f"Backtest #{self.record.id}: {self.record.strategy} on {self.symbols_text}"

    @property
    def bar_size(self) -> BarSize | None:
        return run_bar_size(self.record)

    @property
    def closes(self) -> pd.Series | None:
        """Bar closes stamped at bar close time (the equity curve's clock), or None without bars."""
        import pandas as pd

        size = self.bar_size
        if self.bars is None or size is None:
            return None
        index = size.close_times(pd.DatetimeIndex(self.bars.index))
        return pd.Series(self.bars["close"].to_numpy(dtype="float64"), index=index, name="close")

    def buy_and_hold(self) -> pd.Series | None:
        """Starting capital held in the symbol from the first bar's close, on the equity's clock."""
        closes = self.closes
        if closes is None or self.equity.empty:
            return None
        aligned = closes.reindex(self.equity.index).ffill().dropna()
        if aligned.empty or aligned.iloc[0] <= 0:
            return None
        return (self.equity.iloc[0] * aligned / aligned.iloc[0]).rename("buy_and_hold")

    def drawdown(self) -> pd.Series:
        import pandas as pd

        from ntrader.metrics.risk import drawdown_series

        return drawdown_series(self.equity) if not self.equity.empty else pd.Series(dtype="float64")

    def settings_rows(self) -> list[tuple[str, str]]:
        """What was run: strategy, parameters, data and every stored setting, as labelled text."""
        r = self.record
        params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "defaults"
        rows = [
            ("Run id", str(r.id)),
            ("Created", r.created_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("Strategy", r.strategy),
            ("Parameters", params),
            ("Symbols", self.symbols_text) if self.portfolio is not None else ("Symbol", r.symbol),
            ("Data source", r.data_source),
            ("Bar type", r.bar_type),
            ("Period", f"{r.start.date()} → {r.end.date()}"),
            ("Bars", f"{r.bars:,}"),
            ("Starting capital", f"{r.capital:,.2f}"),
            ("Final equity", f"{r.final_equity:,.2f}"),
            ("Engine", r.engine_version),
        ]
        # The validation block has its own section (`report validate`, the HTML tearsheet).
        shown = {
            "bar_size",
            "symbols",
            "fill_at",
            "adjust",
            "commission",
            "costs",
            "halt",
            "validation",
            *_ORDER_KEYS,
        }
        rows += [(_label(k), _text(v)) for k, v in r.settings.items() if k not in shown]
        costs = costs_text(r.settings)
        if costs is not None:
            rows.append(("Costs", costs))
        orders = orders_text(r.settings)
        if orders is not None:
            rows.append(("Orders", orders))
        halted = halt_text(r)
        if halted is not None:
            rows.insert(1, ("Status", halted))
        return rows

    def convention_rows(self) -> list[tuple[str, str]]:
        """How the figures were made, so nobody has to guess what a Sharpe ratio means here."""
        return conventions(self.record, self.metrics)

    def notes(self) -> list[str]:
        """Warnings a reader should see before trusting the figures."""
        out = []
        if self.metrics_source == RECOMPUTED:
            out.append(
                "The stored metrics are in an older format; these were recomputed from the stored "
                f"equity and trades. Run `ntrader report recompute {self.run_id}` to save them."
            )
        halted = halt_text(self.record)
        if halted is not None:
            out.append(halted)
        settings = self.record.settings
        split = settings.get("split_fills")
        if isinstance(split, int) and split > 0:
            out.append(
                f"{split} order(s) filled in two parts (more than the bar offered at one price); "
                "the rest filled one tick worse."
            )
        for key, text in (
            ("orders_denied", "order(s) were denied by the risk engine"),
            ("orders_rejected", "order(s) were rejected by the venue"),
            ("unfilled_at_end", "decision(s) were still waiting for a fill when the data ended"),
        ):
            count = settings.get(key)
            if isinstance(count, int) and count > 0:
                out.append(f"{count} {text}.")
        if self.bars_note:
            out.append(self.bars_note)
        if self.portfolio is not None:
            out += self.portfolio.notes
        return out


_ORDER_KEYS = (
    "orders",
    "orders_denied",
    "orders_rejected",
    "split_fills",
    "unfilled_at_end",
    "skipped_on_last_bar",
)


def conventions(record: RunRecord, metrics: Metrics) -> list[tuple[str, str]]:
    """The conventions of a run's figures, from its metrics and its stored settings."""
    c = metrics.conventions
    fill = str(record.settings.get("fill_at", "close"))
    commission = record.settings.get("commission", "none")
    return [
        ("Annualization", f"daily returns × {c.annualization_factor}, {c.annualization_text()} for ratios"),
        ("Risk-free rate", f"{c.risk_free_rate * 100:.2f}% a year"),
        ("Daily returns", f"{c.daily_resampling}; the first day {c.first_day_return}"),
        ("CAGR", f"years of {c.cagr_day_count:g} calendar days; {c.short_period_rule}"),
        (
            "Drawdowns",
            f"{c.drawdown_sign} fractions of the running peak, bar by bar; durations in calendar "
            "days of the deepest and of the longest drawdown",
        ),
        ("Exposure", c.exposure_basis),
        ("Wins and losses", f"P&L rounded to {c.win_loss_decimals} decimals: 0.00 is break-even"),
        ("SQN", c.sqn_formula),
        ("Buy & hold", c.buy_and_hold_basis),
        ("Fills", FILL_MODES.get(fill, fill)),
        ("Prices", adjust_text(record.settings)),
        ("Commission", _commission(commission)),
    ]


#: `--adjust` as the reports describe it (runs saved before the option existed ran on raw prices).
ADJUST_TEXT = {
    "raw": "raw: as traded; dividends credited as cash at the ex-date",
    "splits": "splits: back-adjusted for splits (prices and volumes); dividends not counted",
    "total-return": "total-return: back-adjusted for splits and dividends (subtracted from earlier prices)",
}


def adjust_text(settings: dict[str, Any]) -> str:
    mode = str(settings.get("adjust", "raw"))
    text = ADJUST_TEXT.get(mode, mode)
    paid = settings.get("dividends")
    if mode == "raw" and isinstance(paid, dict):
        text += f" ({paid.get('paid', 0)} paid, {paid.get('cash', 0):,.2f})"
    return text


def run_bar_size(record: RunRecord) -> BarSize | None:
    """The run's bar size from its settings, else from its bar type (``AAPL.SIM-1-DAY-LAST-…``)."""
    from ntrader.data import parse_bar_size

    name = record.settings.get("bar_size")
    candidates = [str(name)] if name else []
    # Counted from the end: a symbol may itself contain a dash (BRK-B).
    parts = record.bar_type.split("-")
    if len(parts) >= 4:
        candidates.append(f"{parts[-4]}-{parts[-3]}")
    for candidate in candidates:
        try:
            return parse_bar_size(candidate)
        except NtraderError:
            continue
    return None


def load_run_bars(record: RunRecord, url: str | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """Reload the bars a run used (stored bars from database ``url``); on failure None and why."""
    from ntrader.data import Period, load_bars

    size = run_bar_size(record)
    if size is None:
        return None, f"No price chart: the bar size of bar type {record.bar_type!r} is not known."
    period = Period(record.start.date(), record.end.date())
    try:
        bars = load_bars(
            record.symbol, period, data_source=record.data_source, bar_size=size, database_url=url
        )
    except Exception as exc:
        # The price chart is an extra: whatever stops the bars from loading (a missing CSV, no
        # gateway, a source added later) must not cost the user the rest of the report.
        return None, f"No price chart or buy & hold curve: the bars could not be reloaded ({exc})."
    if len(bars) != record.bars:
        note = (
            f"The reloaded {record.data_source} bars ({len(bars):,}) differ from the run's "
            f"({record.bars:,}); the price chart shows the bars available now."
        )
        return bars, note
    return bars, None


def load_report(run_id: int, *, with_bars: bool = True, url: str | None = None) -> RunReport:
    """Read run ``run_id`` with its trades and equity (and its bars when ``with_bars``)."""
    record = get_run(run_id, url)
    trades = load_trades(run_id, url)
    equity = load_equity(run_id, url)
    portfolio = load_portfolio(record, with_bars=with_bars, url=url)
    if portfolio is not None:
        # Each symbol's price chart has its own bars and trades (reports/portfolio_html.py).
        trades = with_trade_symbols(trades, run_id, url)
        bars, note = None, None
    else:
        bars, note = load_run_bars(record, url) if with_bars else (None, None)
    metrics, source = run_metrics(record, equity, trades)
    return RunReport(record, metrics, source, trades, equity, bars, note, portfolio)


def run_metrics(record: RunRecord, equity: pd.Series, trades: pd.DataFrame) -> tuple[Metrics, str]:
    """The stored metrics, or (older records) metrics rebuilt from the stored curve and trades."""
    try:
        return Metrics.from_json_dict(record.metrics), STORED
    except NtraderError:
        return recompute(record, equity, trades), RECOMPUTED


def recompute(
    record: RunRecord,
    equity: pd.Series,
    trades: pd.DataFrame,
    closes: pd.Series | None = None,
    risk_free_rate: float | None = None,
) -> Metrics:
    """Metrics from a run's stored equity and trades, with the run's own risk-free rate.

    As the run computed them: from its starting capital, with its fill mode for exposure, and
    annualized with the calendar measured from the stored curve (a factor stored as "given" is
    kept). Without ``closes`` the stored buy-and-hold return is kept: it needs the bars.
    """
    from ntrader.metrics.summary import compute_metrics

    stored = record.metrics.get("conventions") or {}
    rate = float(stored.get("risk_free_rate", 0.0)) if risk_free_rate is None else risk_free_rate
    given = stored.get("annualization_basis") == GIVEN and "annualization_factor" in stored
    factor = int(stored["annualization_factor"]) if given else None
    fills_at_open = str(record.settings.get("fill_at", "close")).replace("_", "-") == "next-open"
    metrics = compute_metrics(
        equity,
        trades,
        closes,
        risk_free_rate=rate,
        periods_per_year=factor,
        capital=record.capital,
        fills_at_open=fills_at_open,
    )
    if closes is None and isinstance(record.metrics.get("buy_and_hold_return"), int | float):
        metrics = replace(metrics, buy_and_hold_return=float(record.metrics["buy_and_hold_return"]))
        if isinstance(stored.get("buy_and_hold_basis"), str):  # e.g. a portfolio's equal weight
            basis = replace(metrics.conventions, buy_and_hold_basis=stored["buy_and_hold_basis"])
            metrics = replace(metrics, conventions=basis)
    return metrics


#: How a run's cost breakdown (settings["costs"], `ntrader.backtest.costs.cost_breakdown`) reads.
COST_LABELS = (
    ("commission", "commission"),
    ("exchange", "exchange"),
    ("clearing", "clearing"),
    ("pass_through", "pass-through"),
    ("regulatory", "regulatory"),
)


def orders_text(settings: dict[str, Any]) -> str | None:
    """What happened to a run's orders: "12 orders · 0 denied · 0 rejected · 1 split · …", or None
    for a run saved before these were counted. Nothing is dropped silently."""
    if "orders_denied" not in settings:
        return None
    parts = [
        f"{settings.get('orders', 0)} orders",
        f"{settings.get('orders_denied', 0)} denied",
        f"{settings.get('orders_rejected', 0)} rejected",
        f"{settings.get('split_fills', 0)} split fills",
        f"{settings.get('unfilled_at_end', 0)} unfilled at end",
    ]
    if settings.get("skipped_on_last_bar"):
        parts.append(f"{settings['skipped_on_last_bar']} entry on the last bar not opened")
    return " · ".join(parts)


def halt_text(record: RunRecord) -> str | None:
    """Why a run did not complete and where its figures stop, or None for a completed run."""
    if record.status == "completed":
        return None
    halt = record.settings.get("halt") or {}
    at = f" at {halt['at']}" if halt.get("at") else ""
    return (
        f"{record.status.upper()}{at}: {halt.get('reason', 'no reason stored')}. "
        "The figures cover only the bars before that."
    )


def costs_text(settings: dict[str, Any]) -> str | None:
    """A run's stored cost breakdown as "USD 12.34 = commission 10.00 + exchange 1.50 + …", or
    None for a run saved before breakdowns were stored."""
    costs = settings.get("costs")
    if not isinstance(costs, dict):
        return None
    parts = " + ".join(f"{label} {float(costs.get(key, 0.0)):,.2f}" for key, label in COST_LABELS)
    return f"USD {float(costs.get('total', 0.0)):,.2f} = {parts}"


def _commission(value: Any) -> str:
    if value in (None, "", "none"):
        return "none (no fees charged)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _text(value: Any) -> str:
    if value is None:
        return NONE_MARK
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


TRADE_HEADINGS = ("#", "Side", "Qty", "Entry (UTC)", "Entry px", "Exit (UTC)", "Exit px", "P&L", "Commission")
NUMERIC_HEADINGS = frozenset({"#", "Qty", "Entry px", "Exit px", "P&L", "Commission"})


@dataclass(frozen=True)
class TradeRow:
    """One trade formatted for a table (cells in TRADE_HEADINGS order) and its P&L for colouring."""

    cells: tuple[str, ...]
    pnl: float


def trade_rows(trades: pd.DataFrame, limit: int = 0) -> list[TradeRow]:
    """The first ``limit`` trades (0 = all) as formatted table rows."""
    import pandas as pd

    shown = trades if limit <= 0 else trades.head(limit)
    rows = []
    records: list[dict[str, Any]] = shown.to_dict("records")  # type: ignore[assignment]
    for number, t in enumerate(records, start=1):
        pnl = float(t["pnl"])
        open_ = pd.isna(t["exit_time"])
        cells = (
            str(number),
            str(t["side"]),
            f"{float(t['quantity']):,.0f}",
            _stamp(t["entry_time"]),
            _price(t["entry_price"]),
            "open" if open_ else _stamp(t["exit_time"]),
            _price(t["exit_price"]),
            f"{pnl:,.2f}",
            _price(t["commission"]),
        )
        # Coloured as the metrics classify it: on the P&L in cents (a 1e-12 residue is break-even).
        rows.append(TradeRow(cells, round(pnl, MONEY_DECIMALS) + 0.0))
    return rows


def _stamp(value: pd.Timestamp) -> str:
    return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M")


def _price(value: Any) -> str:
    """A fill price: cents, or as many decimals (up to 6) as an average of split fills needs, so
    that an entry and an exit at different average prices never read the same."""
    import pandas as pd

    if value is None or pd.isna(value):
        return NONE_MARK
    text = f"{float(value):,.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
