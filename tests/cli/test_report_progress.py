"""Report commands that take seconds (an HTML report redraws every chart, validation resamples) say
so at once on a terminal, on stderr (issue 14 §4); piped or with --json they print only the result."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.db.runs import list_runs
from tests.cli.test_errors_progress import ANSI, run_on_a_terminal


def _saved_run() -> int:
    saved = CliRunner().invoke(cli, ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--json"])
    assert saved.exit_code == 0, saved.output
    return list_runs()[0].id


def test_an_html_export_says_what_it_is_doing_at_once_on_a_terminal(database_url, tmp_path):
    run_id = _saved_run()
    page = tmp_path / "run.html"
    code, out, terminal = run_on_a_terminal(
        "report", "export", str(run_id), "--format", "html", "-o", str(page)
    )
    assert code == 0, terminal
    frames = ANSI.sub("", terminal)
    assert f"Building the HTML report of run {run_id}" in frames
    assert out.strip() == f"Wrote {page}" and page.stat().st_size > 0
    assert "Building" not in out


def test_validate_says_so_on_a_terminal_and_json_stays_clean(database_url):
    run_id = _saved_run()
    code, out, terminal = run_on_a_terminal("report", "validate", str(run_id))
    assert code == 0, terminal
    assert f"Validating run {run_id}" in ANSI.sub("", terminal) and "Validating" not in out
    code, out, terminal = run_on_a_terminal("report", "validate", str(run_id), "--json")
    assert code == 0, terminal
    assert "psr" in json.dumps(json.loads(out)).lower()
    assert "Validating" not in terminal


def test_a_sweep_report_in_html_says_so_at_once_on_a_terminal(database_url, tmp_path):
    from ntrader.db.sweeps import list_sweeps

    swept = CliRunner().invoke(
        cli,
        ["backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", "--grid", "fast_period=5:10:5",
         "--grid", "slow_period=20:30:10", "--no-confirm", "--json"],
    )  # fmt: skip
    assert swept.exit_code == 0, swept.output
    (sweep,) = list_sweeps()
    page = tmp_path / "sweep.html"
    code, out, terminal = run_on_a_terminal(
        "report", "sweep", str(sweep.id), "--format", "html", "-o", str(page)
    )
    assert code == 0, terminal
    assert f"Building the HTML report of sweep {sweep.id}" in ANSI.sub("", terminal)
    assert out.strip() == f"Wrote {page}" and page.stat().st_size > 0
