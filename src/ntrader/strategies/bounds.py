"""Parameter bounds declared once, on the config's typed fields, then checked and printed from there.

A field's own bounds are `msgspec.Meta` constraints (`Annotated[int, Meta(ge=1)]`, Nautilus's
`PositiveInt`, …), which Nautilus's msgspec decoding also enforces. A bound between two fields is a
`less_than = (("fast_period", "slow_period"),)` class variable on the config. `check_bounds` raises
one `ValueError` per config; `bounds_text` is what `strategy show` prints.
"""

from __future__ import annotations

import operator
import typing
from collections.abc import Callable
from typing import Any

import msgspec

# Meta attribute → (symbol, test the value must pass); lower bounds first.
_BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "gt": (">", operator.gt),
    "ge": (">=", operator.ge),
    "lt": ("<", operator.lt),
    "le": ("<=", operator.le),
}
_LOWER = ("gt", "ge")
_UPPER = ("lt", "le")


def field_bounds(config_class: type) -> dict[str, list[tuple[str, Any]]]:
    """{field: [(meta attribute, bound), …]} from the fields' `Annotated[..., Meta(...)]` types.

    Only the strategy's own fields: those Nautilus's `StrategyConfig` declares for every strategy
    (e.g. 1.231's `market_exit_max_attempts`) are the engine's settings, not parameters.
    """
    from nautilus_trader.config import StrategyConfig

    engine_fields = set(StrategyConfig.__struct_fields__)
    hints = typing.get_type_hints(config_class, include_extras=True)
    out: dict[str, list[tuple[str, Any]]] = {}
    for name in getattr(config_class, "__struct_fields__", ()):
        if name in engine_fields:
            continue
        found = [
            (attr, getattr(meta, attr))
            for meta in _metas(hints.get(name))
            for attr in _BOUNDS
            if getattr(meta, attr) is not None
        ]
        if found:
            out[name] = found
    return out


def _metas(hint: Any) -> list[msgspec.Meta]:
    if hint is None:
        return []
    if typing.get_origin(hint) is typing.Annotated:
        args = typing.get_args(hint)
        return [m for m in args[1:] if isinstance(m, msgspec.Meta)] + _metas(args[0])
    # Optional[Annotated[...]]: the bounds of the non-None member.
    return [m for arg in typing.get_args(hint) for m in _metas(arg)]


def relations(config_class: type) -> tuple[tuple[str, str], ...]:
    """The config's `less_than` pairs: (a, b) means a < b."""
    return tuple(getattr(config_class, "less_than", ()))


def _word(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _chained(bounds: dict[str, list[tuple[str, Any]]], low: str, high: str) -> bool:
    """A pair reads as one chain (`need 0 < a < b < 100`) when a has a lower and b an upper bound."""
    return any(a in _LOWER for a, _ in bounds.get(low, [])) and any(
        a in _UPPER for a, _ in bounds.get(high, [])
    )


def check_bounds(config: Any) -> None:
    """Raise ValueError naming the first bound `config` breaks (fields in declaration order)."""
    cls = type(config)
    bounds = field_bounds(cls)
    pairs = relations(cls)
    # A chained pair checks its outer bounds itself, so its message shows the whole chain.
    in_chain = {(low, "lower") for low, high in pairs if _chained(bounds, low, high)} | {
        (high, "upper") for low, high in pairs if _chained(bounds, low, high)
    }
    for name, limits in bounds.items():
        value = getattr(config, name)
        if value is None:
            continue
        checked = [
            (attr, bound)
            for attr, bound in limits
            if (name, "lower" if attr in _LOWER else "upper") not in in_chain
        ]
        if not all(_BOUNDS[attr][1](value, bound) for attr, bound in checked):
            raise ValueError(
                f"{name} must be " + " and ".join(f"{_BOUNDS[a][0]} {_word(b)}" for a, b in checked)
            )
    for low, high in pairs:
        a, b = getattr(config, low), getattr(config, high)
        if a is None or b is None:
            continue
        if not _chained(bounds, low, high):
            if not a < b:
                raise ValueError(f"{low} ({_word(a)}) must be less than {high} ({_word(b)})")
            continue
        lower = [(x, v) for x, v in bounds[low] if x in _LOWER]
        upper = [(x, v) for x, v in bounds[high] if x in _UPPER]
        ok = all(_BOUNDS[x][1](a, v) for x, v in lower) and a < b
        ok = ok and all(_BOUNDS[x][1](b, v) for x, v in upper)
        if not ok:
            head = " ".join(f"{_word(v)} {_BOUNDS[x][0].replace('>', '<')}" for x, v in lower)
            tail = " ".join(f"{_BOUNDS[x][0]} {_word(v)}" for x, v in upper)
            raise ValueError(f"need {head} {low} ({_word(a)}) < {high} ({_word(b)}) {tail}")


def bounds_text(config_class: type) -> dict[str, str]:
    """{field: "> 0, <= 1"} for `strategy show`, from the same declarations `check_bounds` uses."""
    parts: dict[str, list[str]] = {
        name: [f"{_BOUNDS[a][0]} {_word(b)}" for a, b in limits]
        for name, limits in field_bounds(config_class).items()
    }
    for low, high in relations(config_class):
        parts.setdefault(low, []).append(f"< {high}")
    return {name: ", ".join(texts) for name, texts in parts.items()}
