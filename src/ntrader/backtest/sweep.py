"""Parameter sweeps: a grid screened with the vector engine, the best confirmed in Nautilus, all saved.

`run_sweep` loads the bars once, expands the grid (`--grid name=start:stop:step` or a comma list,
filtered by `--constraint` comparisons), screens every combination with `ntrader.backtest.vector`
(or, for strategies without a vector implementation, runs them all in Nautilus), ranks them by one
metric, reruns the top N in Nautilus in parallel (`ntrader.backtest.parallel`) and saves each of
those as a normal run plus one sweep record with the whole ranking.
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from ntrader.backtest.costs import DEFAULT_COMMISSION
from ntrader.backtest.engine import RunResult
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE
from ntrader.backtest.parallel import EngineOutput, EngineTask, resolve_ray_address, run_tasks
from ntrader.backtest.service import CheckedRequest, check_request, run_settings
from ntrader.config import get_settings
from ntrader.data import Period, load_bars
from ntrader.data.store import resolve_period
from ntrader.db.runs import save_run
from ntrader.db.sweeps import save_sweep
from ntrader.errors import InputError, NtraderError
from ntrader.metrics import Metrics
from ntrader.strategies.registry import StrategySpec, coerce_value

ENGINES = ("vector", "nautilus")
# What a sweep can rank by (the figures the vector screen computes for every combination).
SCREEN_METRICS = ("sharpe", "cagr", "calmar", "total_return")
# A grid larger than this is almost always a typo in a step; say so instead of running for hours.
MAX_COMBINATIONS = 1_000_000

# (phase, advance, total): phases "screen" and "confirm".
ProgressCallback = Callable[[str, int, int], None]


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


def expand_grid(
    spec: StrategySpec,
    grid: Mapping[str, Sequence[Any]],
    constraints: Sequence[Constraint] = (),
    fixed: Mapping[str, Any] | None = None,
) -> Expansion:
    """Every combination of the grid over `fixed` params and defaults, filtered by the constraints and
    by the strategy's own `check_params` (fast >= slow for SMA, …), in grid order."""
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
        if not all(c(params) for c in constraints):
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


# Running a sweep -------------------------------------------------------------------------------------


@dataclass
class SweepRow:
    """One combination: its rank by the metric, the varying params, screened and confirmed figures."""

    rank: int
    params: dict[str, Any]
    screened: dict[str, Any]
    confirmed: dict[str, Any] | None = None
    run_id: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "params": self.params,
            "screened": self.screened,
            "confirmed": self.confirmed,
            "run_id": self.run_id,
        }


@dataclass
class SweepOutcome:
    sweep_id: int | None
    strategy: str
    symbol: str
    metric: str
    engine: str
    rows: list[SweepRow]
    expansion: Expansion
    grid: dict[str, list[Any]]
    bars: int
    notes: list[str] = field(default_factory=list)

    @property
    def confirmed(self) -> list[SweepRow]:
        return [row for row in self.rows if row.confirmed is not None]


def _screen_dict(figures: Any) -> dict[str, Any]:
    return {
        "sharpe": figures.sharpe,
        "cagr": figures.cagr,
        "calmar": figures.calmar,
        "total_return": figures.total_return,
        "max_drawdown": figures.max_drawdown,
        "final_equity": figures.final_equity,
    }


def _metrics_dict(metrics: Metrics, result: RunResult) -> dict[str, Any]:
    return {
        "sharpe": metrics.sharpe,
        "cagr": metrics.cagr,
        "calmar": metrics.calmar,
        "total_return": metrics.total_return,
        "max_drawdown": metrics.max_drawdown,
        "final_equity": result.final_equity,
        "trades": metrics.trade_count,
        # A confirmation the engine stopped early is flagged, never ranked as if it had completed.
        "status": result.status,
    }


def rank_key(metric: str) -> Callable[[dict[str, Any]], tuple[int, float]]:
    """Best first; an undefined figure (None, e.g. Sharpe without trades) ranks last."""

    def key(figures: dict[str, Any]) -> tuple[int, float]:
        value = figures.get(metric)
        return (1, 0.0) if value is None else (0, -float(value))

    return key


@dataclass(frozen=True)
class LoadedBars:
    request: CheckedRequest
    period: Period
    bars: pd.DataFrame
    data_source: str


def load_request_bars(
    strategy: str,
    symbol: str,
    start: str | date | None,
    end: str | date | None,
    *,
    data_source: str,
    bar_size: str,
    capital: float | None,
    params: Mapping[str, Any] | None,
    commission: str,
    fill_at: str,
    database_url: str | None,
    csv_file: str | Path | None,
    no_fetch: bool,
    liquidity: str = DEFAULT_LIQUIDITY,
) -> LoadedBars:
    """Validate like `run_backtest`, then load the bars once for every combination."""
    request = check_request(
        strategy,
        symbol,
        start,
        end,
        bar_size=bar_size,
        capital=capital,
        params=params,
        commission=commission,
        fill_at=fill_at,
        liquidity=liquidity,
    )
    source = "csv" if csv_file is not None else data_source
    period = resolve_period(
        request.symbol,
        start,
        end,
        data_source=source,
        bar_size=request.bar_size,
        csv_file=csv_file,
        url=database_url,
    )
    bars = load_bars(
        request.symbol,
        period,
        data_source=source,
        bar_size=request.bar_size,
        csv_file=csv_file,
        database_url=database_url,
        no_fetch=no_fetch,
    )
    return LoadedBars(request, period, bars, source.lower())


def save_engine_run(
    loaded: LoadedBars,
    params: dict[str, Any],
    result: RunResult,
    metrics: Metrics,
    *,
    extra_settings: dict[str, Any] | None = None,
    database_url: str | None = None,
) -> int:
    """Save a run exactly as `run_backtest` does (same fields and settings), so `report` shows it."""
    request = loaded.request
    settings = {**run_settings(request, result), **(extra_settings or {})}
    return save_run(
        strategy=request.spec.name,
        params=params,
        symbol=request.symbol,
        bar_type=result.bar_type,
        data_source=loaded.data_source,
        start=loaded.period.start_ts.to_pydatetime(),
        end=pd.Timestamp(loaded.period.end, tz="UTC").to_pydatetime(),
        bars=result.bars,
        status=result.status,
        capital=request.capital,
        final_equity=result.final_equity,
        settings=settings,
        metrics=metrics.to_json_dict(),
        engine_version=result.engine_version,
        trades=result.trades,
        equity=result.equity,
        url=database_url,
    )


def _task(loaded: LoadedBars, params: dict[str, Any], strategy_ref: str, rfr: float) -> EngineTask:
    request = loaded.request
    return EngineTask(
        strategy=strategy_ref,
        params=params,
        symbol=request.symbol,
        bar_size=request.bar_size.name,
        capital=request.capital,
        commission=request.commission.spec,
        fill_at=request.fill_at,
        liquidity=request.liquidity,
        risk_free_rate=rfr,
    )


def parse_metric(metric: str) -> str:
    key = metric.strip().lower()
    if key not in SCREEN_METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of {', '.join(SCREEN_METRICS)}")
    return key


def run_sweep(
    strategy: str,
    symbol: str,
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    grid: Sequence[str] | Mapping[str, Any],
    constraints: Sequence[str] = (),
    metric: str = "sharpe",
    top: int = 10,
    confirm: bool = True,
    engine: str = "vector",
    workers: int | None = None,
    ray_address: str | None = None,
    data_source: str = "mock",
    bar_size: str = "1-DAY",
    capital: float | None = None,
    params: Mapping[str, Any] | None = None,
    commission: str = DEFAULT_COMMISSION,
    fill_at: str = FILL_CLOSE,
    liquidity: str = DEFAULT_LIQUIDITY,
    save: bool = True,
    database_url: str | None = None,
    csv_file: str | Path | None = None,
    no_fetch: bool = False,
    progress: ProgressCallback | None = None,
) -> SweepOutcome:
    """Screen a grid, rank it by `metric`, confirm the `top` best in Nautilus, save it all.

    `grid`: `["name=start:stop:step", "name=a,b,c"]` or a mapping of value lists; `constraints`:
    comparisons such as `"fast_period < slow_period"`; `params`: fixed values for the rest.
    `engine`: "vector" (screen, then confirm the top in Nautilus) or "nautilus" (every combination
    in Nautilus: any strategy, also user files). `workers`/`ray_address`: see `run_tasks`.
    """
    # numba loads here, not whenever the CLI starts.
    from ntrader.backtest.vector import has_vector, prepare_bars, screen

    metric = parse_metric(metric)
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if top < 0:
        raise InputError(f"--top must be >= 0, got {top}")
    loaded = load_request_bars(
        strategy,
        symbol,
        start,
        end,
        data_source=data_source,
        bar_size=bar_size,
        capital=capital,
        params=params,
        commission=commission,
        fill_at=fill_at,
        database_url=database_url,
        csv_file=csv_file,
        no_fetch=no_fetch,
        liquidity=liquidity,
    )
    request = loaded.request
    spec = request.spec
    if engine == "vector" and not has_vector(spec.name):
        raise InputError(
            f"strategy {spec.name} has no vector implementation; sweep it with --engine nautilus"
        )
    typed_grid = parse_grid(spec, grid)
    known = [p.name for p in spec.parameters]
    parsed = [parse_constraint(text, known) for text in constraints]
    fixed = {k: v for k, v in request.params.items() if k not in typed_grid}
    expansion = expand_grid(spec, typed_grid, parsed, fixed)
    combos = expansion.combinations
    rfr = get_settings().risk_free_rate
    # A built-in's canonical name, or the user's `file.py:Class` reference each worker imports itself.
    strategy_ref = spec.name
    notes: list[str] = []

    def report(phase: str, total: int) -> Callable[[int], None] | None:
        if progress is None:
            return None
        progress(phase, 0, total)
        return lambda advance: progress(phase, advance, total)

    outputs: dict[int, EngineOutput] = {}
    if engine == "vector":
        figures = screen(
            prepare_bars(loaded.bars, request.bar_size),
            spec.name,
            combos,
            capital=request.capital,
            commission=request.commission,
            fill_at=request.fill_at,
            liquidity=request.liquidity,
            risk_free_rate=rfr,
            progress=report("screen", len(combos)),
        )
        screened = [_screen_dict(f) for f in figures]
        split = sum(1 for f in figures if f.split_orders)
        if split:
            notes.append(
                f"{split} combination(s) place orders larger than a bar offers at one price: they fill in "
                f"two parts, the rest one tick worse (liquidity {request.liquidity}), as in Nautilus."
            )
    else:
        tasks = [_task(loaded, p, strategy_ref, rfr) for p in combos]
        results = run_tasks(
            loaded.bars,
            tasks,
            workers=workers,
            ray_address=ray_address,
            progress=report("screen", len(tasks)),
        )
        outputs = dict(enumerate(results))
        screened = [_metrics_dict(o.metrics, o.result) for o in results]

    order = sorted(range(len(combos)), key=lambda k: rank_key(metric)(screened[k]))
    varying = list(typed_grid)
    rows = [
        SweepRow(rank=r + 1, params={n: combos[k][n] for n in varying}, screened=screened[k])
        for r, k in enumerate(order)
    ]
    best = order[: min(top, len(order))]
    if engine == "vector" and confirm and best:
        tasks = [_task(loaded, combos[k], strategy_ref, rfr) for k in best]
        confirmed = run_tasks(
            loaded.bars,
            tasks,
            workers=workers,
            ray_address=ray_address,
            progress=report("confirm", len(tasks)),
        )
        outputs = dict(zip(best, confirmed, strict=True))
    run_ids: list[int] = []
    for r, k in enumerate(order):
        output = outputs.get(k)
        if output is None or r >= len(best):
            continue
        rows[r].confirmed = _metrics_dict(output.metrics, output.result)
        if save:
            run_id = save_engine_run(
                loaded,
                combos[k],
                output.result,
                output.metrics,
                extra_settings={"sweep_rank": r + 1},
                database_url=database_url,
            )
            rows[r].run_id = run_id
            run_ids.append(run_id)
    sweep_id = None
    if save:
        sweep_id = save_sweep(
            kind="sweep",
            strategy=spec.name,
            symbol=request.symbol,
            bar_type=f"{request.symbol}.NASDAQ-{request.bar_size.nautilus_spec}-EXTERNAL",
            data_source=loaded.data_source,
            start=loaded.period.start_ts.to_pydatetime(),
            end=pd.Timestamp(loaded.period.end, tz="UTC").to_pydatetime(),
            bars=len(loaded.bars),
            capital=request.capital,
            engine=engine,
            metric=metric,
            grid=typed_grid,
            constraints=[c.text for c in parsed],
            settings={
                "bar_size": request.bar_size.name,
                "fill_at": request.fill_at,
                "liquidity": request.liquidity,
                "commission": request.commission.spec,
                "commission_description": request.commission.describe(),
                "fixed_params": fixed,
                "top": top,
                "confirm": confirm,
                "combinations": len(combos),
                "excluded_by_constraints": expansion.excluded_by_constraints,
                "invalid": expansion.invalid,
                "ray": resolve_ray_address(ray_address) is not None,
                "notes": notes,
            },
            results=[row.to_json_dict() for row in rows],
            run_ids=run_ids,
            url=database_url,
        )
    return SweepOutcome(
        sweep_id=sweep_id,
        strategy=spec.name,
        symbol=request.symbol,
        metric=metric,
        engine=engine,
        rows=rows,
        expansion=expansion,
        grid=typed_grid,
        bars=len(loaded.bars),
        notes=notes,
    )


__all__ = [
    "ENGINES",
    "SCREEN_METRICS",
    "Constraint",
    "Expansion",
    "LoadedBars",
    "SweepOutcome",
    "SweepRow",
    "expand_grid",
    "load_request_bars",
    "parse_constraint",
    "parse_grid",
    "parse_grid_values",
    "parse_metric",
    "rank_key",
    "run_sweep",
    "save_engine_run",
]
