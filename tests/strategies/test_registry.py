"""Strategy lookup and `--param` parsing."""

from __future__ import annotations

import pytest

from ntrader.backtest.service import resolve_params
from ntrader.errors import InputError, NotFoundError
from ntrader.strategies import get_strategy, parse_param_pairs


def test_lookup_by_name_and_alias_case_insensitive():
    assert get_strategy("SMA_Crossover").name == "sma"
    with pytest.raises(NotFoundError, match="known strategies: sma"):
        get_strategy("macd")


def test_params_are_typed_and_merged_over_defaults():
    spec = get_strategy("sma")
    params = resolve_params(spec, {"fast_period": "5", "allow_short": "yes", "position_pct": 1})
    assert params == {"fast_period": 5, "slow_period": 20, "allow_short": True, "position_pct": 1.0}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast_period": "5.5"}, "fast_period must be an integer"),
        ({"allow_short": "maybe"}, "allow_short must be true or false"),
        ({"position_pct": "lots"}, "position_pct must be a number"),
        ({"speed": 3}, "unknown parameter 'speed'"),
    ],
)
def test_bad_params(params, message):
    with pytest.raises(InputError, match=message):
        resolve_params(get_strategy("sma"), params)


def test_config_checks_bounds():
    spec = get_strategy("sma")
    with pytest.raises(InputError, match="position_pct"):
        spec.build_config({"position_pct": 1.5})
    config = spec.build_config({"fast_period": 3, "slow_period": 4})
    assert config.fast_period == 3


def test_param_pairs():
    assert parse_param_pairs(["a=1", "b = x=y"]) == {"a": "1", "b": " x=y"}
    assert parse_param_pairs(["a=1"]) == {"a": "1"}
    with pytest.raises(InputError, match="key=value"):
        parse_param_pairs(["=3"])
