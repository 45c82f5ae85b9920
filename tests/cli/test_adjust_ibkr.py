"""`--adjust` on IBKR data: dividends fetched from the fake gateway's ADJUSTED_LAST over TCP, then buy &
hold in raw mode (dividends credited) equals buy & hold on total-return prices, to the cent."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.data.store import read_events
from ntrader.ibkr.fake import FakeGateway, Market
from tests.cli.test_adjust_cli import BUY_HOLD
from tests.ibkr.test_events import DIVIDENDS, fetch


def run(*args: str) -> dict:
    result = CliRunner().invoke(
        cli, ["backtest", "run", "--data-source", "ibkr", "--no-fetch", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_raw_with_ib_dividends_equals_total_return_on_ib_bars(
    make_gateway: Callable[..., FakeGateway], database_url: str, tmp_path: Path
) -> None:
    gateway = make_gateway(market=Market(splits={"AAPL": 4.0}, dividends={"AAPL": DIVIDENDS}))
    fetched = fetch(gateway, "--start", "2023-01-03", "--end", "2024-06-28", "--events")
    assert fetched.exit_code == 0, fetched.output
    events = read_events("AAPL", "1-DAY", "ibkr", url=database_url)
    assert len(events) == 6
    strategy = tmp_path / "buy_hold.py"
    strategy.write_text(textwrap.dedent(BUY_HOLD))
    common = ("-s", f"{strategy}:BuyHold", "--symbol", "AAPL", "--start", "2023-01-03", "--end", "2024-06-28",
              "--commission", "none", "--liquidity", "unlimited")  # fmt: skip
    raw = run(*common, "--adjust", "raw")
    total = run(*common, "--adjust", "total-return")
    splits = run(*common)
    assert raw["status"] == total["status"] == splits["status"] == "completed"
    # Bought at the first close, so every dividend in the period is paid on 100 shares (in cents).
    cash = round(100 * events["value"].sum(), 2)
    assert raw["settings"]["dividends"] == {"paid": 6, "cash": cash}
    assert round(raw["final_equity"] - splits["final_equity"], 2) == cash
    # Dividends inferred from IB's cent prices are not whole cents (0.2279 for 0.23), and the engine
    # keeps prices in cents: the total-return entry price is rounded, by at most half a cent a share
    # (the last bar is as traded). With whole-cent dividends (a CSV's) the two agree to the cent.
    assert abs(raw["final_equity"] - total["final_equity"]) <= 100 * 0.005 + 1e-9
    offset = 100 * events["value"].sum()  # total-return's entry price is lower by the dividends' sum
    entry_rounding = round(offset, 2) - (total["final_equity"] - splits["final_equity"])
    assert abs(entry_rounding) <= 0.5 + 1e-9
