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


def test_bounds_shown_are_derived_from_the_typed_fields():
    # The text `strategy show` printed when it was written by hand beside check_params.
    assert get_strategy("sma").bounds == {
        "position_pct": "> 0, <= 1",
        "fast_period": ">= 1, < slow_period",
        "slow_period": ">= 1",
    }
    assert get_strategy("bollinger").bounds == {
        "position_pct": "> 0, <= 1",
        "lookback": ">= 2",
        "num_std": "> 0",
    }
    assert get_strategy("rsi").bounds == {
        "position_pct": "> 0, <= 1",
        "rsi_period": ">= 2",
        "oversold": "> 0, < overbought",
        "overbought": "< 100",
    }


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("sma", {"fast_period": 30}, r"fast_period \(30\) must be less than slow_period \(20\)"),
        ("sma", {"fast_period": 0}, "fast_period must be >= 1"),
        ("sma", {"position_pct": float("nan")}, "position_pct must be > 0 and <= 1"),
        ("rsi", {"oversold": 80.0}, r"need 0 < oversold \(80\) < overbought \(70\) < 100"),
        ("rsi", {"overbought": 100.0}, r"need 0 < oversold \(30\) < overbought \(100\) < 100"),
        ("bollinger", {"num_std": -1.0}, "num_std must be > 0"),
    ],
)
def test_configs_check_their_bounds_whenever_built(name, params, message):
    import msgspec

    config_class = get_strategy(name).config_class
    # Built directly, not through StrategySpec.build_config.
    with pytest.raises(ValueError, match=message):
        config_class(**params)
    # Decoded as Nautilus decodes configs (msgspec): the same check.
    with pytest.raises(msgspec.ValidationError):
        config_class.parse(msgspec.json.encode(params).decode())
    assert config_class.parse("{}") == config_class()


def test_no_import_circle_in_the_strategies_package():
    import ast
    from pathlib import Path

    import ntrader.strategies

    package = Path(ntrader.strategies.__file__).parent
    edges: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ntrader.strategies."):
                found.add(node.module.rsplit(".", 1)[1])
        edges[path.stem] = found

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(
            n == target or (n not in seen and reaches(n, target, seen | {n})) for n in edges.get(start, ())
        )

    assert [m for m in edges if reaches(m, m, set())] == []
