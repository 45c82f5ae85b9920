"""The strategies ntrader knows by name, and typed parameters parsed from `key=value` text."""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

from ntrader.errors import InputError, NotFoundError
from ntrader.strategies.mean_reversion import MeanReversion, MeanReversionConfig
from ntrader.strategies.momentum import Momentum, MomentumConfig
from ntrader.strategies.sma import SMACrossover, SMACrossoverConfig

# Fields ntrader sets itself; users never pass them as --param.
_FRAMEWORK_FIELDS = set(StrategyConfig.__struct_fields__) | {"instrument_id", "bar_type"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    default: Any
    description: str = ""


@dataclass(frozen=True)
class StrategySpec:
    """A strategy as the CLI and the registry see it."""

    name: str
    strategy_class: type[Strategy]
    config_class: type[StrategyConfig]
    description: str
    rule: str = ""
    aliases: tuple[str, ...] = ()
    bounds: dict[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> list[Parameter]:
        return config_parameters(self.config_class)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def build_config(self, params: dict[str, Any], **framework: Any) -> StrategyConfig:
        """The frozen config for `params` (already typed), checked by its `check_params()`."""
        known = {p.name for p in self.parameters}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(
                f"unknown parameter {unknown[0]!r} for strategy {self.name}; "
                f"known: {', '.join(sorted(known)) or 'none'}"
            )
        config = self.config_class(**framework, **params)
        check = getattr(config, "check_params", None)
        if callable(check):
            try:
                check()
            except ValueError as exc:
                raise InputError(f"invalid parameters for {self.name}: {exc}") from exc
        return config


def config_parameters(config_class: type[StrategyConfig]) -> list[Parameter]:
    """The user-settable fields of a StrategyConfig class, with their types and defaults."""
    hints = typing.get_type_hints(config_class)
    defaults = dict(
        zip(
            config_class.__struct_fields__[
                len(config_class.__struct_fields__) - len(config_class.__struct_defaults__) :
            ],
            config_class.__struct_defaults__,
            strict=True,
        )
    )
    out = []
    for name in config_class.__struct_fields__:
        if name in _FRAMEWORK_FIELDS or name.startswith("_"):
            continue
        out.append(Parameter(name, _plain_type(hints.get(name, str)), defaults.get(name)))
    return out


def _plain_type(hint: Any) -> type:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _plain_type(args[0]) if args else str
    return hint if inspect.isclass(hint) else str


def coerce_params(spec: StrategySpec, raw: dict[str, str]) -> dict[str, Any]:
    """Turn `key=value` strings into typed values, with one clear error per bad pair."""
    by_name = {p.name: p for p in spec.parameters}
    typed: dict[str, Any] = {}
    for key, text in raw.items():
        param = by_name.get(key)
        if param is None:
            raise InputError(
                f"unknown parameter {key!r} for strategy {spec.name}; "
                f"known: {', '.join(sorted(by_name)) or 'none'}"
            )
        typed[key] = coerce_value(key, text, param.type)
    return typed


def coerce_value(key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        value = str(value)
    text = value.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in {"true", "1", "yes", "on"}:
                return True
            if lowered in {"false", "0", "no", "off"}:
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise InputError(f"parameter {key} must be {_type_word(kind)}, got {value!r}") from None
    return text


def _type_word(kind: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false"}.get(kind, kind.__name__)


def parse_param_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`["fast_period=5", …]` into a dict; a pair without `=` is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param expects key=value, got {pair!r}")
        out[key.strip()] = value
    return out


BUILTINS: tuple[StrategySpec, ...] = (
    StrategySpec(
        name="sma",
        aliases=("sma_crossover",),
        strategy_class=SMACrossover,
        config_class=SMACrossoverConfig,
        description="Simple moving average crossover (trend following).",
        rule=(
            "Enter long when SMA(fast) > SMA(slow) on a bar after SMA(fast) <= SMA(slow) on the "
            "previous bar; close the position on the opposite cross (or, with allow_short=true, flip "
            "short on a 1x margin account). The averages are compared exactly, as sums of closes in "
            "cents (fast sum x slow > slow sum x fast): an exact tie counts as not above, never decided "
            "by floating-point rounding. Market orders, filled per --fill-at (default: the signal "
            "bar's close); an entry on the last bar is not opened."
        ),
        bounds={
            "fast_period": ">= 1, < slow_period",
            "slow_period": ">= 1",
            "position_pct": "> 0, <= 1",
        },
    ),
    StrategySpec(
        name="mean_reversion",
        aliases=("bollinger",),
        strategy_class=MeanReversion,
        config_class=MeanReversionConfig,
        description="Bollinger band mean reversion.",
        rule=(
            "Enter long when the close falls below SMA(lookback) − num_std·σ, σ being the population "
            "standard deviation of the last `lookback` closes; close the position when the close "
            "reaches the SMA (close >= SMA). Long only. Market orders."
        ),
        bounds={"lookback": ">= 2", "num_std": "> 0", "position_pct": "> 0, <= 1"},
    ),
    StrategySpec(
        name="momentum",
        aliases=("rsi",),
        strategy_class=Momentum,
        config_class=MomentumConfig,
        description="RSI momentum (Wilder's RSI).",
        rule=(
            "Enter long when Wilder's RSI(rsi_period) crosses up through `oversold` (previous bar <= "
            "oversold, this bar > oversold: momentum turning up); close the position when RSI "
            "crosses down through `overbought` (previous >= overbought, this bar < overbought: "
            "momentum fading). Long only. Market orders."
        ),
        bounds={
            "rsi_period": ">= 2",
            "oversold": "> 0, < overbought",
            "overbought": "< 100",
            "position_pct": "> 0, <= 1",
        },
    ),
)


def list_strategies() -> list[StrategySpec]:
    return list(BUILTINS)


def get_strategy(name: str) -> StrategySpec:
    """A built-in by name or alias (case-insensitive), or a user's `file.py:Class` / `module:Class`."""
    from ntrader.strategies.loader import is_user_reference, load_user_strategy

    if is_user_reference(name):
        return load_user_strategy(name.strip())
    key = name.strip().lower()
    for spec in BUILTINS:
        if key == spec.name or key in spec.aliases:
            return spec
    known = ", ".join(s.name for s in BUILTINS)
    raise NotFoundError(
        f"unknown strategy {name!r}; known strategies: {known} (or path/to/file.py:ClassName)"
    )
