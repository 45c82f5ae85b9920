"""The top-level names a notebook uses: one list, cheap to import, typed, results that print well."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import ntrader
from ntrader.backtest import service

INIT = Path(ntrader.__file__)


def test_every_export_resolves():
    for name in ntrader.__all__:
        assert callable(getattr(ntrader, name)), name
    assert ntrader.run_backtest is service.run_backtest
    with pytest.raises(AttributeError):
        _ = ntrader.nothing_here


def test_all_lists_exactly_the_lazy_exports():
    assert sorted(ntrader.__all__) == sorted(ntrader._EXPORTS)


def test_the_typing_imports_mirror_the_one_export_table():
    """The TYPE_CHECKING imports (for type checkers) name the same names from the same modules."""
    tree = ast.parse(INIT.read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    )
    typed = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == ntrader._EXPORTS


def test_the_public_api_names_what_a_user_needs():
    for name in (
        "BacktestRequest", "BacktestOutcome", "Metrics", "RunRecord", "walk_forward", "run_sweep",
        "run_backtest", "SignalStrategy", "SignalStrategyConfig", "write_run_html", "NtraderError",
    ):  # fmt: skip
        assert name in ntrader.__all__, name
    errors = [getattr(ntrader, n) for n in ntrader.__all__ if ntrader._EXPORTS[n] == "ntrader.errors"]
    assert len(errors) >= 8 and all(issubclass(e, ntrader.NtraderError) for e in errors)


def test_import_ntrader_loads_neither_nautilus_nor_pandas():
    code = "import sys, ntrader; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("pandas", "nautilus_trader", "numpy", "sqlalchemy", "rich"):
        assert f"'{heavy}'" not in loaded, heavy


def test_the_package_is_marked_typed():
    assert (INIT.parent / "py.typed").is_file()


def test_run_backtest_from_the_top_level(database_url):
    outcome = ntrader.run_backtest("sma", "AAPL", "2023-01-01", "2023-06-30")
    assert outcome.run_id is not None
    run = ntrader.get_run(outcome.run_id)
    assert isinstance(run, ntrader.RunRecord) and run.bars == outcome.result.bars
    trades, equity = run.trades(), run.equity()
    assert isinstance(trades, pd.DataFrame) and len(trades) == len(outcome.result.trades)
    assert isinstance(equity, pd.Series) and len(equity) == len(outcome.result.equity)
    assert equity.iloc[-1] == pytest.approx(run.final_equity)
    path = ntrader.write_run_html(run.id)
    assert path.is_file() and "<html" in path.read_text()[:500].lower()


def test_metrics_print_as_a_labelled_table_and_as_html(database_url):
    outcome = ntrader.run_backtest("sma", "AAPL", "2023-01-01", "2023-12-31", save=False)
    text = repr(outcome.metrics)
    lines = text.splitlines()
    assert lines[0] == "Returns:" and "Risk:" in lines and "Trades:" in lines
    sharpe = next(line for line in lines if "Sharpe ratio" in line)
    assert sharpe.split()[-1] == f"{outcome.metrics.sharpe:.2f}"
    page = outcome.metrics._repr_html_()
    assert page.startswith("<table") and "Sharpe ratio" in page and "Max drawdown" in page
    assert "Sharpe ratio" in outcome._repr_html_()
