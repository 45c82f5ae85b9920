"""`ntrader data …` and CSV backtests end to end through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ntrader.cli import cli
from tests.conftest import count_rows

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "data" / "AAPL.csv")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_import_list_and_reimport(database_url, tmp_path):
    result = invoke("data", "import-csv", EXAMPLE, "--symbol", "aapl")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Read 502 1-DAY bars for AAPL from {EXAMPLE} (2023-01-03 → 2024-12-31 UTC).",
        "Inserted 502 bars (source 'csv').",
        "Quality: no problems in 502 bars over 502 sessions.",
    ]
    again = invoke("data", "import-csv", EXAMPLE, "--symbol", "AAPL")
    assert "Inserted 0 bars: all 502 were already stored (source 'csv')." in again.output
    assert count_rows(database_url, "market_data") == 502

    part = tmp_path / "part.csv"
    lines = Path(EXAMPLE).read_text().splitlines()
    part.write_text("\n".join([lines[0], *lines[1:11]]) + "\n")
    other = invoke("data", "import-csv", str(part), "--symbol", "AAPL", "--source-name", "ibkr", "--json")
    assert json.loads(other.output)["inserted"] == 10

    table = invoke("data", "list")
    assert table.exit_code == 0
    csv_row = next(line for line in table.output.splitlines() if " csv " in line)
    ibkr_row = next(line for line in table.output.splitlines() if " ibkr " in line)
    for text in ("AAPL", "1-DAY", "2023-01-03", "2024-12-31", "502"):
        assert text in csv_row
    assert "2023-01-17" in ibkr_row and "10" in ibkr_row
    listed = json.loads(invoke("data", "list", "--symbol", "AAPL", "--json").output)
    assert [(s["source"], s["rows"]) for s in listed] == [("csv", 502), ("ibkr", 10)]
    empty = invoke("data", "list", "--symbol", "MSFT")
    assert empty.output.strip() == (
        "No bars stored for MSFT. Import the bundled example: "
        "ntrader data import-csv examples/data/AAPL.csv --symbol AAPL"
    )


def test_bad_csv_is_one_line_exit_1_and_nothing_written(database_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n2024-01-02,1,0.5,0.9,1,10\n")
    result = CliRunner().invoke(cli, ["data", "import-csv", str(bad), "--symbol", "AAPL"])
    assert result.exit_code == 1
    assert result.output == (f"Error: {bad}, row 2, column 'high': high 0.5 is below max(open, close) = 1\n")
    assert count_rows(database_url, "market_data") == 0


def test_backtest_on_stored_csv_bars_with_and_without_dates(database_url):
    missing = CliRunner().invoke(
        cli, ["backtest", "run", "-s", "sma", "--symbol", "AAPL", "--data-source", "csv"]
    )
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: no 1-DAY bars stored for AAPL from csv; import a CSV first, e.g. "
        "`ntrader data import-csv examples/data/AAPL.csv --symbol AAPL`\n"
    )
    assert invoke("data", "import-csv", EXAMPLE, "--symbol", "AAPL").exit_code == 0
    whole = invoke("backtest", "run", "-s", "sma", "--symbol", "AAPL", "--data-source", "csv", "--json")
    assert whole.exit_code == 0, whole.output
    data = json.loads(whole.output)
    assert (data["start"], data["end"], data["bars"], data["data_source"]) == (
        "2023-01-03", "2024-12-31", 502, "csv"
    )  # fmt: skip
    part = invoke(
        "backtest", "run", "-s", "sma", "--symbol", "AAPL", "--data-source", "csv",
        "--start", "2024-01-01", "--end", "2024-06-30", "--json",
    )  # fmt: skip
    assert json.loads(part.output)["bars"] == 124
    assert count_rows(database_url, "backtest_runs") == 2


def test_backtest_straight_from_a_csv_file(database_url, tmp_path):
    result = invoke("backtest", "run", "-s", "sma", "--symbol", "AAPL", "--csv", EXAMPLE, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["bars"], data["data_source"], data["start"]) == (502, "csv", "2023-01-03")
    assert count_rows(database_url, "market_data") == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close\n2024-01-02,1,1,1,1\n")
    failed = CliRunner().invoke(cli, ["backtest", "run", "-s", "sma", "--symbol", "X", "--csv", str(bad)])
    assert failed.exit_code == 1
    assert failed.output.startswith(f"Error: {bad}, row 1, column 'volume': missing column")
    assert count_rows(database_url, "backtest_runs") == 1
