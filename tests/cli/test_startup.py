"""Commands load heavy packages only when they need them (issue 14 §3); timings: bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module

import pytest

from ntrader.cli import GROUPS
from ntrader.cli.catalog import BUILTIN_STRATEGIES

HEAVY = (
    "nautilus_trader",
    "pandas",
    "numpy",
    "sqlalchemy",
    "alembic",
    "pyarrow",
    "plotly",
    "numba",
    "pydantic",
)

# Runs the real CLI, then reports which heavy packages it had imported by the time it exited.
DRIVER = """
import atexit, json, sys
heavy = json.loads(sys.argv[1])
atexit.register(lambda: print("LOADED=" + json.dumps(sorted(h for h in heavy if h in sys.modules))))
from ntrader.cli import main
sys.argv = ["ntrader", *sys.argv[2:]]
main()
"""


def loaded_by(*args: str) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(HEAVY), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED="), done.stdout
    return json.loads(last.removeprefix("LOADED=")), done.stdout


@pytest.mark.parametrize(
    ("args", "shown"),
    [(("--help",), "strategy  List and inspect strategies."), (("strategy", "list"), "mean_reversion"),
     (("strategy", "list", "--json"), '"rsi_period": 14')],
)  # fmt: skip
def test_help_and_strategy_list_load_no_heavy_package(args, shown):
    loaded, output = loaded_by(*args)
    assert loaded == []
    assert shown in output


def test_the_registered_group_help_is_each_groups_own_first_line():
    for name, (target, short_help) in GROUPS.items():
        module, attribute = target.split(":")
        group = getattr(import_module(module), attribute)
        assert group.name == name
        assert short_help == (group.help or "").splitlines()[0], name


def test_the_strategy_catalog_is_what_the_registry_says():
    from ntrader.reports.tables import strategy_summary
    from ntrader.strategies import list_strategies

    assert [strategy_summary(spec) for spec in list_strategies()] == BUILTIN_STRATEGIES


def test_the_light_option_choices_are_the_librarys():
    from ntrader.backtest import choices, costs, fills, parallel, sweep
    from ntrader.cli import report
    from ntrader.cli.backtest import COMPARE_FORMATS
    from ntrader.data import DATA_SOURCES
    from ntrader.reports.compare import COMPARE_FORMATS as REPORT_FORMATS
    from ntrader.reports.export import EXPORT_FORMATS
    from ntrader.reports.sweep import SWEEP_FORMATS

    assert choices.DATA_SOURCES == DATA_SOURCES
    assert choices.ENGINES == sweep.ENGINES
    assert choices.SCREEN_METRICS == sweep.SCREEN_METRICS
    assert choices.RAY_ADDRESS_ENV == parallel.RAY_ADDRESS_ENV
    assert (choices.FILL_MODES, choices.LIQUIDITY_MODES) == (fills.FILL_MODES, fills.LIQUIDITY_MODES)
    assert choices.DEFAULT_COMMISSION == costs.DEFAULT_COMMISSION
    assert COMPARE_FORMATS == REPORT_FORMATS
    assert (report.EXPORT_FORMATS, report.SWEEP_FORMATS) == (EXPORT_FORMATS, SWEEP_FORMATS)


def test_backtest_list_results_loads_no_nautilus(database_url):
    from ntrader.db import get_engine

    get_engine(database_url)  # migrated: a database at head is checked without alembic
    loaded, output = loaded_by("backtest", "list-results")
    assert "nautilus_trader" not in loaded and "alembic" not in loaded
    assert "No saved runs yet" in output


# What reading saved runs back must not pay for: the engine, the data frames, the charts, migrations.
NOT_FOR_READING = ("nautilus_trader", "pandas", "numpy", "pyarrow", "plotly", "alembic")


def test_listing_and_summarising_a_saved_run_load_no_pandas_numpy_plotly_or_nautilus(database_url):
    from click.testing import CliRunner

    from ntrader.cli import cli
    from ntrader.db.runs import list_runs

    saved = CliRunner().invoke(cli, ["backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--json"])
    assert saved.exit_code == 0, saved.output
    (run,) = list_runs(url=database_url)
    cases = {
        ("backtest", "list-results"): [f"{run.id} ", "sma", "AAPL", f"{run.total_return:+.2%}"],
        ("backtest", "list-results", "--json"): [f'"id": {run.id}', '"strategy": "sma"'],
        ("report", "summary", str(run.id)): [
            f"Backtest #{run.id}",
            "Sharpe ratio",
            f"{run.final_equity:,.2f}",
        ],
        ("report", "summary", str(run.id), "--json"): [f'"final_equity": {run.final_equity}'],
    }
    for args, shown in cases.items():
        loaded, output = loaded_by(*args)
        assert [m for m in NOT_FOR_READING if m in loaded] == [], args
        for text in shown:
            assert text in output, (args, text, output)
