"""Sweep grids: `name=start:stop:step` / `name=a,b,c` values, constraints, and their expansion.

A constraint is a comparison between parameters given as text (`fast_period < slow_period`,
parsed with `ast` and never `eval`-ed) or a Python callable `(params) -> bool`, as
backtesting.py's `optimize(constraint=...)` takes it.
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ntrader.errors import InputError, NtraderError
from ntrader.strategies.spec import StrategySpec, coerce_value

# A grid larger than this is almost always a typo in a step; say so instead of running for hours.
MAX_COMBINATIONS = 1_000_000

#: A constraint as Python: the complete typed params of one combination → keep it?
ConstraintFunction = Callable[[Mapping[str, Any]], bool]


# Grid -----------------------------------------------------------------------------------------------


def _number(text: str, kind: type, what: str) -> Any:
    return coerce_value(what, text.strip(), kind)


def parse_grid_values(name: str, text: str, kind: type) -> list[Any]:
    """`start:stop:step` (stop included when a step lands on it) or `a,b,c`, typed as `kind`."""
    text = text.strip()
    if not text:
        raise InputError(f"--grid {name}= needs values: start:stop:step or a comma list")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3 or kind not in (int, float):
            raise InputError(
                f"--grid {name}={text}: a range is start:stop:step of numbers, e.g. {name}=5:50:5"
            )
        try:
            start, stop, step = (Decimal(p.strip()) for p in parts)
        except InvalidOperation:
            raise InputError(f"--grid {name}={text}: start, stop and step must be numbers") from None
        if step <= 0:
            raise InputError(f"--grid {name}={text}: step must be greater than 0")
        if stop < start:
            raise InputError(f"--grid {name}={text}: stop is below start")
        if kind is int and any(v != v.to_integral_value() for v in (start, stop, step)):
            raise InputError(f"--grid {name}={text}: {name} takes whole numbers")
        # Decimal steps: 0.1:0.5:0.1 ends on 0.5 exactly, as a person expects.
        count = int((stop - start) / step) + 1
        if count > MAX_COMBINATIONS:
            raise InputError(f"--grid {name}={text}: {count:,} values is too many")
        values = [start + k * step for k in range(count)]
        return [int(v) if kind is int else float(v) for v in values]
    values = [_number(part, kind, name) for part in text.split(",") if part.strip()]
    if not values:
        raise InputError(f"--grid {name}={text}: no values")
    return list(dict.fromkeys(values))


def parse_grid(spec: StrategySpec, items: Sequence[str] | Mapping[str, Any]) -> dict[str, list[Any]]:
    """`["fast_period=5:50:5", "slow_period=20,30"]` (or a mapping) into typed value lists."""
    by_name = {p.name: p for p in spec.parameters}
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"--grid expects name=start:stop:step or name=a,b,c, got {item!r}")
            pairs.append((key.strip(), value))
    grid: dict[str, list[Any]] = {}
    for name, value in pairs:
        if name not in by_name:
            raise InputError(
                f"unknown parameter {name!r} in --grid for strategy {spec.name}; "
                f"known: {', '.join(sorted(by_name)) or 'none'}"
            )
        if name in grid:
            raise InputError(f"--grid names {name} twice")
        kind = by_name[name].type
        if isinstance(value, str):
            grid[name] = parse_grid_values(name, value, kind)
        else:
            grid[name] = [coerce_value(name, v, kind) for v in value]
    if not grid:
        raise InputError("a sweep needs at least one --grid name=values")
    return grid


# Constraints ------------------------------------------------------------------------------------------

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@dataclass(frozen=True)
class Constraint:
    """A comparison between parameters, e.g. `fast_period < slow_period` or `2 * fast_period <= slow_period`.

    Parsed with Python's `ast` and evaluated by walking only the nodes allowed here (names,
    numbers, + - * /, unary minus, comparisons, and/or/not); nothing is ever `eval`-ed.
    """

    text: str
    tree: ast.expr
    names: frozenset[str]

    def __call__(self, params: Mapping[str, Any]) -> bool:
        return bool(_evaluate(self.tree, params))


def parse_constraint(text: str, known: Sequence[str] | None = None) -> Constraint:
    """A constraint from text; an error for anything but simple comparisons of parameters."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InputError(
            f"--constraint {text!r} is not a comparison like 'fast_period < slow_period'"
        ) from None
    names: set[str] = set()
    _check(tree, text, names)
    if not isinstance(tree, ast.Compare | ast.BoolOp) and not (
        isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not)
    ):
        raise InputError(f"--constraint {text!r} must compare parameters, e.g. 'fast_period < slow_period'")
    if known is not None:
        unknown = sorted(names - set(known))
        if unknown:
            raise InputError(
                f"--constraint {text!r} names unknown parameter {unknown[0]!r}; "
                f"known: {', '.join(sorted(known))}"
            )
    return Constraint(text.strip(), tree, frozenset(names))


def _check(node: ast.AST, text: str, names: set[str]) -> None:
    if isinstance(node, ast.Name):
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise InputError(f"--constraint {text!r}: only numbers and parameter names are allowed")
        return
    allowed = (
        (isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops))
        or (isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC)
        or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not))
        or isinstance(node, ast.BoolOp)
    )
    if not allowed:
        raise InputError(
            f"--constraint {text!r}: only comparisons (< <= > >= == !=), + - * / and and/or/not "
            "between parameters and numbers are allowed"
        )
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.cmpop | ast.operator | ast.unaryop | ast.boolop):
            _check(child, text, names)


def _evaluate(node: ast.expr, params: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return params[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, params)
        return -value if isinstance(node.op, ast.USub) else not value
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](_evaluate(node.left, params), _evaluate(node.right, params))
    if isinstance(node, ast.BoolOp):
        values = (_evaluate(v, params) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    assert isinstance(node, ast.Compare)
    left = _evaluate(node.left, params)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _evaluate(comparator, params)
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True


@dataclass
class Expansion:
    """The combinations to run (complete typed params) and how many were left out, and why."""

    combinations: list[dict[str, Any]]
    excluded_by_constraints: int = 0
    invalid: int = 0
    first_invalid: str | None = None


def parse_constraints(
    items: Sequence[str | ConstraintFunction], known: Sequence[str] | None = None
) -> list[Constraint | ConstraintFunction]:
    """Text constraints parsed (checked against `known` names); callables (and `Constraint`s) kept."""
    return [parse_constraint(c, known) if isinstance(c, str) else c for c in items]


def constraint_text(constraint: str | ConstraintFunction) -> str:
    """How a constraint is recorded with a sweep: its text, or a callable's name."""
    if isinstance(constraint, str):
        return constraint.strip()
    text = getattr(constraint, "text", None)
    if isinstance(text, str):
        return text
    return f"<{getattr(constraint, '__qualname__', None) or type(constraint).__name__}>"


def _keeps(constraint: ConstraintFunction, params: dict[str, Any]) -> bool:
    try:
        return bool(constraint(params))
    except NtraderError:
        raise
    except Exception as exc:
        raise InputError(
            f"constraint {constraint_text(constraint)} failed on {params}: {type(exc).__name__}: {exc}"
        ) from exc


def expand_grid(
    spec: StrategySpec,
    grid: Mapping[str, Sequence[Any]],
    constraints: Sequence[str | ConstraintFunction] = (),
    fixed: Mapping[str, Any] | None = None,
) -> Expansion:
    """Every combination of the grid over `fixed` params and defaults, filtered by the constraints and
    by the strategy's own `check_params` (fast >= slow for SMA, …), in grid order.

    `constraints`: text comparisons (or parsed `Constraint`s) and Python callables `(params) -> bool`
    that see each combination's complete typed params, e.g. ``lambda p: p["slow_period"] >= 2 *
    p["fast_period"]``.
    """
    checks = parse_constraints(constraints, [p.name for p in spec.parameters])
    base = {**spec.defaults(), **(fixed or {})}
    names = list(grid)
    total = 1
    for values in grid.values():
        total *= len(values)
    if total > MAX_COMBINATIONS:
        raise InputError(f"the grid has {total:,} combinations; at most {MAX_COMBINATIONS:,} are allowed")
    out = Expansion([])
    for values in itertools.product(*(grid[n] for n in names)):
        params = {**base, **dict(zip(names, values, strict=True))}
        if not all(_keeps(c, params) for c in checks):
            out.excluded_by_constraints += 1
            continue
        try:
            spec.build_config(params)
        except NtraderError as exc:
            out.invalid += 1
            out.first_invalid = out.first_invalid or str(exc)
            continue
        out.combinations.append(params)
    if not out.combinations:
        why = f" (e.g. {out.first_invalid})" if out.first_invalid else ""
        raise InputError(
            f"no combination of the grid satisfies the constraints and the strategy's rules{why}"
        )
    return out


__all__ = [
    "MAX_COMBINATIONS",
    "Constraint",
    "ConstraintFunction",
    "Expansion",
    "constraint_text",
    "expand_grid",
    "parse_constraint",
    "parse_constraints",
    "parse_grid",
    "parse_grid_values",
]
