"""Splits and dividends through the real CLI: import a vendor CSV with split/dividend columns, then
backtest it in each `--adjust` mode; what is printed, and what is stored."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ntrader.cli import cli
from ntrader.db import get_engine
from tests.conftest import count_rows
from tests.data.test_adjust import raw_series
from tests.data.test_csv_events import event_csv

BUY_HOLD = '''
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.trading.strategy import Strategy


class BuyHoldConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId | None = None
    bar_type: BarType | None = None
    shares: int = 100


class BuyHold(Strategy):
    """Buys `shares` at the first bar's close and holds them."""

    config_class = BuyHoldConfig

    def on_start(self):
        self.subscribe_bars(self.config.bar_type)
        self.bought = False

    def on_bar(self, bar):
        if not self.bought:
            self.bought = True
            self.submit_order(self.order_factory.market(
                self.config.instrument_id, OrderSide.BUY, Quantity.from_int(self.config.shares)))
'''


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args: str) -> dict:
    return json.loads(invoke("backtest", "run", "--data-source", "csv", "--json", *args))


def trade_days(url: str, run_id: int) -> list[tuple[str, str | None]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            text("SELECT entry_time, exit_time FROM trades WHERE run_id = :r ORDER BY entry_time"),
            {"r": run_id},
        ).all()
    return [(str(a)[:10], None if b is None else str(b)[:10]) for a, b in rows]


@pytest.fixture
def imported(tmp_path: Path, database_url: str) -> Path:
    path = event_csv(tmp_path, "4:1")
    out = invoke("data", "import-csv", str(path), "--symbol", "ADJ")
    assert "Inserted 252 bars (source 'csv')." in out
    # The split the file declares is not reported as an unadjusted jump.
    assert "Quality: no problems in 252 bars over 252 sessions." in out
    assert (
        "Events: 5 split/dividend event(s) from its split/dividend columns; stored 5 new (0 already stored)."
        in out
    )
    again = invoke("data", "import-csv", str(path), "--symbol", "ADJ")
    assert "stored 0 new (5 already stored)." in again and "Inserted 0 bars" in again
    assert count_rows(database_url, "bar_events") == 5
    return path


def test_sma_does_not_trade_on_the_split_day_in_splits_mode(imported, database_url, tmp_path):
    run = run_json("-s", "sma", "--symbol", "ADJ")
    assert run["settings"]["adjust"] == "splits"  # the default
    days = trade_days(database_url, run["id"])
    assert days and all("2024-06-10" not in pair for pair in days)
    # The same bars without their split (a file that does not say): the 75 % drop is a sell signal.
    bars, _, _ = raw_series()
    plain = bars.set_axis(bars.index.strftime("%Y-%m-%d"))
    plain.to_csv(tmp_path / "plain.csv", index_label="date")
    blind_import = invoke("data", "import-csv", str(tmp_path / "plain.csv"), "--symbol", "NOEVENTS")
    assert "Quality: 1 jumps that look like an unadjusted split" in blind_import
    blind = run_json("-s", "sma", "--symbol", "NOEVENTS")
    assert ("2024-05-15", "2024-06-10") in trade_days(database_url, blind["id"])
    assert blind["final_equity"] < 0.5 * run["final_equity"]
    # raw with the split inside the period: one line, exit code 1, nothing saved.
    before = count_rows(database_url, "backtest_runs")
    args = ["backtest", "run", "-s", "sma", "--symbol", "ADJ", "--data-source", "csv", "--adjust", "raw"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert "ADJ has a 4:1 split on 2024-06-10 inside the period" in refused.output
    assert count_rows(database_url, "backtest_runs") == before


def test_raw_buy_and_hold_with_dividends_equals_total_return_to_the_cent(imported, database_url, tmp_path):
    strategy = tmp_path / "buy_hold.py"
    strategy.write_text(textwrap.dedent(BUY_HOLD))
    common = ("-s", f"{strategy}:BuyHold", "--symbol", "ADJ", "--start", "2024-06-11", "--commission", "none",
              "--liquidity", "unlimited")  # fmt: skip
    raw = run_json(*common, "--adjust", "raw")
    total = run_json(*common, "--adjust", "total-return")
    assert raw["status"] == total["status"] == "completed"
    assert raw["settings"]["adjust"] == "raw" and total["settings"]["adjust"] == "total-return"
    assert raw["settings"]["dividends"] == {"paid": 2, "cash": 40.0}  # 100 shares x 0.20, twice
    assert round(raw["final_equity"], 2) == round(total["final_equity"], 2)
    splits = run_json(*common)
    assert round(raw["final_equity"] - splits["final_equity"], 2) == 40.0
    # The reports say which prices the run used.
    shown = invoke("report", "show", str(raw["id"]))
    assert "raw: as traded; dividends credited as cash at the ex-date (2 paid, 40.00)" in shown
    assert "· prices: total-return" in invoke("report", "summary", str(total["id"]))
    exported = json.loads(invoke("report", "export", str(total["id"]), "--format", "json"))
    assert exported["conventions"]["adjust"] == "total-return"


def test_data_check_judges_a_stored_series_with_its_stored_splits_applied(imported, tmp_path):
    """A split stored in bar_events is a known event, not an unadjusted jump; the same bars stored
    without their split are still flagged."""
    checked = CliRunner().invoke(cli, ["data", "check", "ADJ", "--json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.output)
    assert {f["check"]: f["count"] for f in report["checks"]}.get("splits", 0) == 0

    blind = tmp_path / "blind.csv"
    lines = imported.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name.lower() not in ("split", "dividend")]
    blind.write_text("\n".join(",".join(row.split(",")[i] for i in keep) for row in lines) + "\n")
    invoke("data", "import-csv", str(blind), "--symbol", "BLIND")
    flagged = CliRunner().invoke(cli, ["data", "check", "BLIND", "--json"])
    assert flagged.exit_code == 1, flagged.output
    assert {f["check"]: f["count"] for f in json.loads(flagged.output)["checks"]}["splits"] == 1
