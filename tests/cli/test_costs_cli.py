"""The cost breakdown end to end: `backtest run` stores it, the summary and every report show it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.db.runs import get_run, load_trades
from ntrader.reports.model import costs_text


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run(commission: str) -> str:
    result = invoke(
        "backtest", "run", "--strategy", "sma", "--symbol", "AAPL",
        "--start", "2022-01-01", "--end", "2023-12-31",
        "--param", "fast_period=5", "--param", "slow_period=30", "--commission", commission,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("commission", "groups"),
    [
        ("ibkr-fixed", {"commission", "regulatory"}),
        ("ibkr-tiered", {"commission", "exchange", "clearing", "regulatory"}),
        ("ibkr-fixed:no-reg-fees", {"commission"}),
    ],
)
def test_every_run_stores_and_shows_its_cost_breakdown(database_url, tmp_path, commission, groups):
    out = run(commission)
    assert "Costs" in out and "USD" in out and "regulatory" in out
    record = get_run(1, url=database_url)
    costs = record.settings["costs"]
    assert set(costs) == {"commission", "exchange", "clearing", "pass_through", "regulatory", "total"}
    assert {k for k, v in costs.items() if v > 0 and k != "total"} >= groups
    assert {k for k, v in costs.items() if v > 0 and k not in ("total", "pass_through")} == groups
    parts = sum(v for k, v in costs.items() if k != "total")
    assert costs["total"] == pytest.approx(parts, abs=1e-9)
    # The breakdown adds up to what the trades were charged (open trades included).
    assert costs["total"] == pytest.approx(
        float(load_trades(1, url=database_url)["commission"].sum()), abs=1e-6
    )

    line = costs_text(record.settings)
    assert line is not None and line.startswith(f"USD {costs['total']:,.2f} = commission ")
    summary = invoke("report", "summary", "1").output
    assert "Costs" in summary and f"USD {costs['total']:,.2f}" in summary
    assert f"USD {costs['total']:,.2f}" in out
    assert "Costs" in invoke("report", "show", "1").output
    document = json.loads(invoke("report", "export", "1", "--format", "json").output)
    assert document["settings"]["costs"] == costs
    html = tmp_path / "run.html"
    invoke("report", "export", "1", "--format", "html", "--output", str(html))
    assert "Costs" in html.read_text() and f"{costs['total']:,.2f}" in html.read_text()


def test_the_run_states_the_fee_lines(database_url):
    out = run("ibkr-tiered")
    assert "IBKR tiered" in out
    described = get_run(1, url=database_url).settings["commission"]
    for part in (
        "marginally",
        "exchange fee",
        "clearing",
        "pass-through",
        "SEC fee",
        "FINRA TAF",
        "FINRA CAT",
    ):
        assert part in described
