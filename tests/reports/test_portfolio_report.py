"""Reports of a stored portfolio run through the real CLI: text, JSON and the HTML page in Chromium.

The run is saved by hand (save_run with a trades frame carrying a symbol column and
metrics["portfolio"] from portfolio_metrics), so these tests do not depend on the portfolio
engine. Its account is simulated here from a list of fills on three symbols' mock bars; the
expected per-symbol P&L comes from that simulation's cash flows, not from the trades table.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.data import Period, load_bars, parse_bar_size
from ntrader.db.runs import NewRun, get_run, save_run
from ntrader.metrics import compute_metrics
from ntrader.metrics.portfolio import portfolio_metrics
from ntrader.metrics.summary import NONE_MARK
from ntrader.reports import RUN_EXPORT_SCHEMA, validate
from ntrader.reports import portfolio as portfolio_module
from ntrader.reports.portfolio_html import chart_id
from tests.reports import browse, make_run

SYMBOLS = ("AAPL", "MSFT", "SPY")
CAPITAL = 100_000.0
END = date(2023, 6, 30)
COMMISSION = 1.0
# (symbol, bar number, signed shares): filled at that bar's close. MSFT's last entry stays open,
# SPY is a short round trip.
FILLS = [
    ("AAPL", 5, 100),
    ("MSFT", 10, 50),
    ("SPY", 20, -20),
    ("MSFT", 30, -50),
    ("AAPL", 40, -100),
    ("MSFT", 60, 50),
    ("SPY", 70, 20),
]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def account(
    url: str, fills: list[tuple[str, int, int]] = FILLS, symbols: tuple[str, ...] = SYMBOLS, end: date = END
) -> dict:
    """The mock closes of the symbols and the account the fills make of them."""
    size = parse_bar_size("1-DAY")
    period = Period(date(2023, 1, 1) if end == END else date(end.year - 2, 1, 1), end)
    series = {}
    for symbol in symbols:
        bars = load_bars(symbol, period, data_source="mock", bar_size=size, database_url=url)
        index = size.close_times(pd.DatetimeIndex(bars.index))
        series[symbol] = pd.Series(bars["close"].to_numpy(dtype="float64"), index=index)
    closes = pd.DataFrame(series).sort_index().ffill()
    flows = pd.DataFrame(0.0, index=closes.index, columns=list(symbols))
    trades_in = pd.DataFrame(0.0, index=closes.index, columns=list(symbols))
    for symbol, bar, qty in fills:
        trades_in.iloc[bar, symbols.index(symbol)] += qty
        flows.iloc[bar, symbols.index(symbol)] -= qty * closes[symbol].iloc[bar] + COMMISSION
    positions = trades_in.cumsum()
    equity = CAPITAL + flows.cumsum().sum(axis=1) + (positions * closes).sum(axis=1)
    # Each symbol's P&L from the account alone: its cash flows plus what it still holds.
    pnl = {s: float(flows[s].sum() + positions[s].iloc[-1] * closes[s].iloc[-1]) for s in symbols}
    return {"closes": closes, "positions": positions, "equity": equity, "pnl": pnl}


def round_trips(closes: pd.DataFrame) -> pd.DataFrame:
    t, c = closes.index, closes
    rows = [
        ("AAPL", "LONG", 100.0, 5, 40),
        ("MSFT", "LONG", 50.0, 10, 30),
        ("SPY", "SHORT", 20.0, 20, 70),
        ("MSFT", "LONG", 50.0, 60, None),
    ]
    out = []
    for symbol, side, qty, entry, exit_ in rows:
        sign = 1.0 if side == "LONG" else -1.0
        entry_px = c[symbol].iloc[entry]
        exit_px = c[symbol].iloc[-1 if exit_ is None else exit_]
        commission = COMMISSION if exit_ is None else 2 * COMMISSION
        out.append(
            {
                "symbol": symbol,
                "side": side,
                "quantity": qty,
                "entry_time": t[entry],
                "entry_price": entry_px,
                "exit_time": None if exit_ is None else t[exit_],
                "exit_price": None if exit_ is None else exit_px,
                "pnl": sign * (exit_px - entry_px) * qty - commission,
                "commission": commission,
            }
        )
    frame = pd.DataFrame(out)
    frame["exit_time"] = pd.to_datetime(frame["exit_time"], utc=True)
    return frame


def save_portfolio_run(url: str, *, symbols_in_settings: bool) -> tuple[int, dict, pd.DataFrame]:
    book = account(url)
    closes, equity = book["closes"], book["equity"]
    trades = round_trips(closes)
    block = portfolio_metrics(
        trades=trades,
        equity=equity,
        closes=closes,
        positions=book["positions"],
        capital=CAPITAL,
        periods_per_year=252,
    )
    metrics = compute_metrics(equity, trades, capital=CAPITAL, periods_per_year=252).to_json_dict()
    settings: dict = {"bar_size": "1-DAY", "fill_at": "close"}
    if symbols_in_settings:
        settings["symbols"] = list(SYMBOLS)
    run_id = save_run(
        NewRun(
            strategy="sma",
            params={"fast_period": 5},
            symbol=SYMBOLS[0],
            bar_type="AAPL.NASDAQ-1-DAY-LAST-EXTERNAL",
            data_source="mock",
            start=datetime(2023, 1, 1, tzinfo=UTC),
            end=datetime(2023, 6, 30, tzinfo=UTC),
            bars=len(closes),
            capital=CAPITAL,
            final_equity=float(equity.iloc[-1]),
            settings=settings,
            metrics={**metrics, "portfolio": block},
            engine_version="test",
            trades=trades,
            equity=equity,
            symbols=SYMBOLS,
        ),
        url=url,
    )
    return run_id, book, trades


def table_row(text: str, symbol: str) -> list[str]:
    """The cells of the per-symbol table's row for ``symbol`` (box-drawn rich table)."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == symbol and len(cells) == 8:
            return cells
    raise AssertionError(f"no per-symbol row for {symbol} in:\n{text}")


def test_block_is_consistent_with_the_simulated_account(sqlite_url: str) -> None:
    _, book, _ = save_portfolio_run(sqlite_url, symbols_in_settings=True)
    block = get_run(1, sqlite_url).metrics["portfolio"]
    for row in block["per_symbol"]:
        assert row["pnl"] == pytest.approx(book["pnl"][row["symbol"]], abs=1e-6)
    assert sum(book["pnl"].values()) == pytest.approx(book["equity"].iloc[-1] - CAPITAL, abs=1e-6)
    assert portfolio_module.NONE_MARK == NONE_MARK


@pytest.mark.parametrize("symbols_in_settings", [True, False], ids=["settings", "run_symbols"])
def test_summary_and_show_print_the_per_symbol_table(database_url: str, symbols_in_settings: bool) -> None:
    run_id, book, trades = save_portfolio_run(database_url, symbols_in_settings=symbols_in_settings)
    summary = invoke("report", "summary", str(run_id))
    assert "Symbols" in summary and "AAPL, MSFT, SPY" in summary
    shown = invoke("report", "show", str(run_id), "--trades")
    assert "Backtest #1: sma on AAPL, MSFT, SPY" in shown
    for text in (summary, shown):
        for symbol in SYMBOLS:
            cells = table_row(text, symbol)
            held = trades[trades["symbol"] == symbol]
            closed = held[held["exit_time"].notna()]
            assert cells[1] == f"{book['pnl'][symbol]:,.2f}"
            assert cells[2] == f"{book['pnl'][symbol] / CAPITAL * 100:.2f}%"
            exposure = np.count_nonzero(book["positions"][symbol].to_numpy()) / len(book["positions"])
            assert cells[4] == f"{exposure * 100:.2f}%"
            assert cells[5] == str(len(closed)) and cells[6] == str(len(held) - len(closed))
            wins = int((closed["pnl"] > 0).sum())
            assert cells[7] == (f"{wins / len(closed) * 100:.2f}%" if len(closed) else NONE_MARK)
    for label in ("Correlation of daily returns", "Equal-weight buy & hold return", "Turnover (annualized)"):
        assert label in shown
    # The trade list names each trade's symbol, in the stored order.
    listed = [
        cells[1]
        for line in shown.splitlines()
        if (cells := [c.strip() for c in re.split(r"[│┃]", line) if c.strip()])
        and cells[0].isdigit()
        and len(cells) == 10
    ]
    assert listed == trades["symbol"].tolist()


def test_json_exports_carry_the_portfolio_block(database_url: str, tmp_path: Path) -> None:
    run_id, book, trades = save_portfolio_run(database_url, symbols_in_settings=False)
    stored = get_run(run_id, database_url).metrics["portfolio"]
    summary = json.loads(invoke("report", "summary", str(run_id), "--json"))
    assert summary["metrics"]["portfolio"] == stored
    out = tmp_path / "run.json"
    invoke("report", "export", str(run_id), "--format", "json", "-o", str(out))
    doc = json.loads(out.read_text())
    assert validate(doc, RUN_EXPORT_SCHEMA) == []
    assert json.loads(invoke("report", "show", str(run_id), "--json"))["portfolio"] == doc["portfolio"]
    block = doc["portfolio"]
    assert block["symbols"] == list(SYMBOLS)
    assert {row["symbol"]: row["pnl"] for row in block["per_symbol"]} == pytest.approx(book["pnl"], abs=1e-6)
    assert [t["symbol"] for t in doc["trades"]] == trades["symbol"].tolist()
    assert set(block) >= {"per_symbol", "correlation", "turnover", "benchmark", "allocation", "conventions"}
    assert len(block["allocation"]["dates"]) == len(book["equity"])
    # The allocation's values and cash add up to the equity at each day's end.
    total = np.sum([block["allocation"]["values"][s] for s in SYMBOLS], axis=0) + block["allocation"]["cash"]
    assert total == pytest.approx(book["equity"].to_numpy(), abs=0.02)


def test_single_symbol_reports_have_no_portfolio_part(database_url: str) -> None:
    run_id = make_run(database_url)
    shown = invoke("report", "show", str(run_id), "--trades")
    summary = invoke("report", "summary", str(run_id))
    for text in (shown, summary):
        assert "Per symbol" not in text and "Symbols" not in text and "Correlation" not in text
    assert "sma on AAPL\n" in shown or "sma on AAPL " in shown
    doc = json.loads(invoke("report", "show", str(run_id), "--json"))
    assert "portfolio" not in doc and all("symbol" not in t for t in doc["trades"])


def test_html_report_draws_the_portfolio_charts_in_chromium(sqlite_url: str, tmp_path: Path) -> None:
    run_id, book, trades = save_portfolio_run(sqlite_url, symbols_in_settings=True)
    page = tmp_path / "portfolio.html"
    invoke("report", "export", str(run_id), "--format", "html", "-o", str(page))
    dom = browse(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom)
    # The main chart, four tearsheet charts, allocation, contribution, correlation, three prices.
    charts = 1 + 4 + 3 + len(SYMBOLS)
    assert body and 'data-report-status="rendered"' in body.group(0), body
    assert f'data-charts-expected="{charts}"' in body.group(0)
    assert f'data-charts-rendered="{charts}"' in body.group(0)
    table = re.search(r'<table class="wide" id="per-symbol">.*?</table>', dom, re.S)
    assert table
    rows = re.findall(r"<tr><td>(\w+)</td><td[^>]*>([^<]+)</td>", table.group(0))
    assert rows == [(s, f"{book['pnl'][s]:,.2f}") for s in SYMBOLS]

    def chart(div_id: str) -> str:
        found = re.search(
            rf'<div id="{div_id}"[^>]*class="plotly-graph-div.*?(?=<div id="|</main>)', dom, re.S
        )
        assert found and 'class="main-svg"' in found.group(0), f"chart {div_id} not drawn"
        return found.group(0)

    allocation = chart("allocation")
    # A stacked area per symbol and one for cash drawn in the plot (legend swatches are js-fill too).
    fills = re.findall(r'<path class="js-fill" d="([^"]*)"', allocation)
    assert len([d for d in fills if not d.startswith("M5,-2h30")]) == len(SYMBOLS) + 1
    assert sorted(re.findall(r'class="legendtext"[^>]*>([^<]*)<', allocation)) == sorted([*SYMBOLS, "Cash"])
    contribution = chart("contribution")
    assert len(re.findall(r'<g class="point">', contribution)) == len(SYMBOLS)
    for symbol in SYMBOLS:
        own = trades[trades["symbol"] == symbol]
        markers = len(own) + int(own["exit_time"].notna().sum())
        price = chart(chart_id(symbol))
        assert f"{symbol} price with its entries and exits ({len(own)} trades)" in price
        assert len(re.findall(r'<path class="point[ "]', price)) == markers
    # The equity chart draws the equal-weight buy & hold; the KPI shows its return.
    main = chart("report-chart")
    assert ">Equal-weight buy &amp; hold</text>" in main and ">Buy &amp; hold</text>" not in main
    equal = doc_block(sqlite_url, run_id)["benchmark"]["equal_weight"]["total_return"]
    kpi = re.search(r'Equal-weight buy &amp; hold</div><div class="value[^"]*">([^<]+)<', dom)
    assert kpi and kpi.group(1) == f"{equal * 100:.2f}%"
    # The trade table names each trade's symbol, after "#".
    listed = re.search(r'<table class="wide" id="trades">.*?</table>', dom, re.S)
    assert listed and re.findall(r"<tr><td[^>]*>\d+</td><td[^>]*>(\w+)</td>", listed.group(0)) == (
        trades["symbol"].tolist()
    )
    assert "Per symbol" in dom and 'id="portfolio-conventions"' in dom
    assert "No price chart" not in dom


def doc_block(url: str, run_id: int) -> dict:
    return get_run(run_id, url).metrics["portfolio"]


@pytest.fixture
def sqlite_url(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """One SQLite database (the browser test runs once, not per backend), used by the CLI too."""
    from ntrader.config import get_settings

    url = f"sqlite:///{isolated_home / 'portfolio.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def test_recompute_keeps_the_portfolio_block(database_url: str) -> None:
    run_id, _, _ = save_portfolio_run(database_url, symbols_in_settings=True)
    before = get_run(run_id, database_url).metrics
    invoke("report", "recompute", str(run_id), "--risk-free-rate", "0.04")
    after = get_run(run_id, database_url).metrics
    # The account's figures are recomputed (a new risk-free rate moves the Sharpe ratio) ...
    assert after["conventions"]["risk_free_rate"] == 0.04 and after["sharpe"] != before["sharpe"]
    # ... and the portfolio block, which needs every symbol's closes and positions, is kept as stored.
    assert after["portfolio"] == before["portfolio"]
    assert "Per symbol" in invoke("report", "summary", str(run_id))


# Runs after the page's scripts: zoom AAPL's price chart into a few days, note what it shows.
PROBE = """<script>
setTimeout(function () {
  var gd = document.getElementById("price-AAPL");
  var body = document.body;
  body.setAttribute("data-probe-before", gd.getAttribute("data-trade-markers"));
  var x0 = new Date(gd.data[0].x[0]).getTime();
  Plotly.relayout(gd, {"xaxis.range": [new Date(x0), new Date(x0 + 6 * 86400000)]}).then(function () {
    body.setAttribute("data-probe-after", gd.getAttribute("data-trade-markers"));
  });
}, 1500);
</script>"""


def test_a_symbol_with_many_trades_groups_its_markers_until_zoomed(sqlite_url: str, tmp_path: Path) -> None:
    from ntrader.reports import load_report, render_run_html
    from ntrader.reports.trades_html import MAX_TRADE_MARKERS

    symbols = ("AAPL", "MSFT")
    count = MAX_TRADE_MARKERS + 60
    fills = [("AAPL", bar, qty) for i in range(count) for bar, qty in ((2 * i, 10), (2 * i + 1, -10))]
    fills += [("MSFT", 3, 5), ("MSFT", 100, -5)]
    book = account(sqlite_url, sorted(fills, key=lambda f: f[1]), symbols, date(2023, 12, 31))
    closes, equity = book["closes"], book["equity"]
    t = closes.index
    rows = [("AAPL", 2 * i, 2 * i + 1, 10.0) for i in range(count)] + [("MSFT", 3, 100, 5.0)]
    trades = pd.DataFrame(
        [
            {
                "symbol": s,
                "side": "LONG",
                "quantity": q,
                "entry_time": t[a],
                "entry_price": closes[s].iloc[a],
                "exit_time": t[b],
                "exit_price": closes[s].iloc[b],
                "pnl": (closes[s].iloc[b] - closes[s].iloc[a]) * q - 2 * COMMISSION,
                "commission": 2 * COMMISSION,
            }
            for s, a, b, q in rows
        ]
    ).sort_values("entry_time", kind="stable", ignore_index=True)
    block = portfolio_metrics(
        trades=trades,
        equity=equity,
        closes=closes,
        positions=book["positions"],
        capital=CAPITAL,
        periods_per_year=252,
    )
    assert {r["symbol"]: r["pnl"] for r in block["per_symbol"]} == pytest.approx(book["pnl"], abs=1e-6)
    run_id = save_run(
        NewRun(
            strategy="sma",
            params={},
            symbol="AAPL,MSFT",
            bar_type="AAPL.NASDAQ-1-DAY-LAST-EXTERNAL",
            data_source="mock",
            start=datetime(2021, 1, 1, tzinfo=UTC),
            end=datetime(2023, 12, 31, tzinfo=UTC),
            bars=len(closes),
            capital=CAPITAL,
            final_equity=float(equity.iloc[-1]),
            settings={"bar_size": "1-DAY"},
            metrics={**compute_metrics(equity, trades, capital=CAPITAL).to_json_dict(), "portfolio": block},
            engine_version="test",
            trades=trades,
            equity=equity,
            symbols=symbols,
        ),
        url=sqlite_url,
    )
    page = tmp_path / "busy.html"
    page.write_text(
        render_run_html(load_report(run_id, url=sqlite_url)).replace("</main>", PROBE + "</main>")
    )
    dom = browse(page, tmp_path)
    tag = re.search(r"<body[^>]*>", dom)
    assert tag and 'data-report-status="rendered"' in tag.group(0), tag
    # AAPL's chart starts with grouped markers and shows each trade once zoomed in; MSFT's has two.
    assert 'data-probe-before="grouped"' in tag.group(0) and 'data-probe-after="each"' in tag.group(0)
    assert f"AAPL price with its entries and exits ({count} trades)" in dom
    assert "MSFT price with its entries and exits (1 trades)" in dom
