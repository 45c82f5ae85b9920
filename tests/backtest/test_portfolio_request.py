"""A request carries its symbols: one stays exactly as before, several make a portfolio run."""

from __future__ import annotations

import pytest

from ntrader.backtest.request import BacktestRequest
from ntrader.errors import InputError


def test_one_symbol_is_as_before() -> None:
    request = BacktestRequest.build("sma", " aapl ")
    assert request.symbol == "AAPL"
    assert request.symbols == ("AAPL",)
    assert not request.is_portfolio
    assert request.allocation == "equal"


def test_several_symbols_each_checked() -> None:
    request = BacktestRequest.build("sma", "aapl, msft,SPY", allocation="inverse_vol", benchmark="spy")
    assert request.symbols == ("AAPL", "MSFT", "SPY")
    assert request.symbol == "AAPL"
    assert request.is_portfolio
    assert request.allocation == "inverse-vol"
    assert request.benchmark == "SPY"
    assert BacktestRequest.build("sma", ["KO", "PEP"]).symbols == ("KO", "PEP")


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ("AAPL,MSFT,aapl", "AAPL given more than once"),
        ("AAPL,,MSFT", "symbol must not be empty"),
        ("AAPL,MS FT", "invalid symbol 'MS FT'"),
    ],
)
def test_bad_symbols_are_refused(symbols: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        BacktestRequest.build("sma", symbols)
    assert raised.value.field == "symbol"


def test_unknown_allocation_is_refused() -> None:
    with pytest.raises(InputError, match="unknown allocation 'half'") as raised:
        BacktestRequest.build("sma", "AAPL,MSFT", allocation="half")
    assert raised.value.field == "allocation"
