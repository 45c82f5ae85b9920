"""The top-level names a notebook uses resolve to the library's functions."""

from __future__ import annotations

import pytest

import ntrader
from ntrader.backtest import service


def test_every_export_resolves():
    for name in ntrader.__all__:
        assert callable(getattr(ntrader, name)), name
    assert ntrader.run_backtest is service.run_backtest
    with pytest.raises(AttributeError):
        _ = ntrader.nothing_here


def test_run_backtest_from_the_top_level(database_url):
    outcome = ntrader.run_backtest("sma", "AAPL", "2023-01-01", "2023-06-30")
    assert outcome.run_id is not None
    assert ntrader.get_run(outcome.run_id).bars == outcome.result.bars


def test_all_lists_exactly_the_lazy_exports():
    assert sorted(ntrader.__all__) == sorted(ntrader._EXPORTS)
