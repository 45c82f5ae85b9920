"""A strategy as ntrader sees it (`StrategySpec`), its typed parameters, and `key=value` coercion."""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

from ntrader.errors import InputError
from ntrader.strategies.bounds import bounds_text
from ntrader.strategies.signals import SignalFunction

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
    """A strategy's two faces: the Nautilus class (with its config) and, optionally, the
    vectorized signal function that lets it join vector sweeps and walk-forward."""

    name: str
    strategy_class: type[Strategy]
    config_class: type[StrategyConfig]
    description: str
    rule: str = ""
    aliases: tuple[str, ...] = ()
    #: (cache, params) → (entry bars, exit bars); None: Nautilus only (see `ntrader.strategies.signals`).
    signals: SignalFunction | None = None

    @property
    def parameters(self) -> list[Parameter]:
        return config_parameters(self.config_class)

    @property
    def bounds(self) -> dict[str, str]:
        """{parameter: "> 0, <= 1"}, derived from the config's typed fields."""
        return bounds_text(self.config_class)

    @property
    def is_portfolio(self) -> bool:
        """A strategy that sees every symbol at once (`ntrader.strategies.portfolio`)."""
        return bool(getattr(self.strategy_class, "is_portfolio", False))

    @property
    def has_vector(self) -> bool:
        return self.signals is not None

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
        try:
            # SignalStrategyConfig checks itself when built; a user's config may only have check_params.
            config = self.config_class(**framework, **params)
            check = getattr(config, "check_params", None)
            if callable(check):
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
