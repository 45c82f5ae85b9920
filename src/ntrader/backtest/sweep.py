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
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from ntrader.backtest import pipeline
from ntrader.backtest.engine import RunResult
from ntrader.backtest.parallel import EngineOutput, EngineTask, resolve_ray_address, run_tasks
from ntrader.backtest.pipeline import PreparedBars, prepare
from ntrader.backtest.request import BacktestRequest, as_request
from ntrader.config import get_settings
from ntrader.db.sweeps import NewSweep, save_sweep
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


def parse_metric(metric: str) -> str:
    key = metric.strip().lower()
    if key not in SCREEN_METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of {', '.join(SCREEN_METRICS)}")
    return key


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep and how, apart from the request: the grid, its constraints (comparisons such
    as ``"fast_period < slow_period"`` or Python callables ``(params) -> bool``), the ranking
    metric, how many to confirm in Nautilus, the engine and where the Nautilus runs go."""

    grid: Sequence[str] | Mapping[str, Any]
    constraints: Sequence[str | Callable[[Mapping[str, Any]], bool]] = ()
    metric: str = "sharpe"
    top: int = 10
    confirm: bool = True
    engine: str = "vector"
    workers: int | None = None
    ray_address: str | None = None

    def checked(self) -> SweepPlan:
        metric = parse_metric(self.metric)
        engine = self.engine.strip().lower()
        if engine not in ENGINES:
            raise InputError(f"unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")
        if self.top < 0:
            raise InputError(f"--top must be >= 0, got {self.top}")
        return replace(self, metric=metric, engine=engine)


_PLAN_FIELDS = {f.name for f in fields(SweepPlan)}


def split_plan_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword options split into (plan fields, request fields): the keyword form of the API."""
    plan = {k: v for k, v in options.items() if k in _PLAN_FIELDS}
    return plan, {k: v for k, v in options.items() if k not in _PLAN_FIELDS}


@dataclass(frozen=True)
class SweepGrid:
    """A plan's grid and constraints checked against the strategy, and the combinations to run."""

    grid: dict[str, list[Any]]
    #: Parsed comparisons (`Constraint`) and Python callables `(params) -> bool`.
    constraints: list[Any]
    fixed: dict[str, Any]
    expansion: Expansion

    @classmethod
    def of(cls, request: BacktestRequest, plan: SweepPlan) -> SweepGrid:
        spec = request.spec
        grid = parse_grid(spec, plan.grid)
        known = [p.name for p in spec.parameters]
        constraints = [c if callable(c) else parse_constraint(c, known) for c in plan.constraints]
        fixed = {k: v for k, v in request.params.items() if k not in grid}
        return cls(grid, constraints, fixed, expand_grid(spec, grid, constraints, fixed))

    @property
    def combinations(self) -> list[dict[str, Any]]:
        return self.expansion.combinations

    def constraint_texts(self) -> list[str]:
        return [getattr(c, "text", getattr(c, "__name__", repr(c))) for c in self.constraints]


def _reporter(progress: ProgressCallback | None, phase: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    progress(phase, 0, total)
    return lambda advance: progress(phase, advance, total)


def _tasks(request: BacktestRequest, combos: Sequence[dict[str, Any]]) -> list[EngineTask]:
    rfr = get_settings().risk_free_rate
    return [EngineTask(request, dict(params), rfr) for params in combos]


def _screen_vector(
    prepared: PreparedBars, combos: list[dict[str, Any]], progress: ProgressCallback | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every combination through the vector screen: ranking figures, and notes for the reader."""
    # numba loads here, not whenever the CLI starts.
    from ntrader.backtest.vector import prepare_bars, screen

    request = prepared.request
    figures = screen(
        prepare_bars(prepared.bars, request.bar_size),
        request.strategy,
        combos,
        capital=request.capital,
        commission=request.commission,
        fill_at=request.fill_at,
        liquidity=request.liquidity,
        risk_free_rate=get_settings().risk_free_rate,
        progress=_reporter(progress, "screen", len(combos)),
    )
    notes = []
    split = sum(1 for f in figures if f.split_orders)
    if split:
        notes.append(
            f"{split} combination(s) place orders larger than a bar offers at one price: they fill in "
            f"two parts, the rest one tick worse (liquidity {request.liquidity}), as in Nautilus."
        )
    return [_screen_dict(f) for f in figures], notes


def _run_nautilus(
    prepared: PreparedBars,
    combos: Sequence[dict[str, Any]],
    plan: SweepPlan,
    phase: str,
    progress: ProgressCallback | None,
) -> list[EngineOutput]:
    return run_tasks(
        prepared.bars,
        _tasks(prepared.request, combos),
        workers=plan.workers,
        ray_address=plan.ray_address,
        progress=_reporter(progress, phase, len(combos)),
    )


def _save_sweep(
    prepared: PreparedBars, plan: SweepPlan, grid: SweepGrid, rows: list[SweepRow], notes: list[str]
) -> int:
    request, period = prepared.request, prepared.period
    run_ids = [row.run_id for row in rows if row.run_id is not None]
    return save_sweep(
        NewSweep(
            kind="sweep",
            strategy=request.strategy,
            symbol=request.symbol,
            bar_type=request.bar_size.bar_type(request.symbol)
            if hasattr(request.bar_size, "bar_type")
            else f"{request.symbol}.NASDAQ-{request.bar_size.nautilus_spec}-EXTERNAL",
            data_source=request.data_source,
            start=period.start_ts.to_pydatetime(),
            end=pd.Timestamp(period.end, tz="UTC").to_pydatetime(),
            bars=len(prepared.bars),
            capital=request.capital,
            engine=plan.engine,
            metric=plan.metric,
            grid=grid.grid,
            constraints=grid.constraint_texts(),
            settings={
                "bar_size": request.bar_size.name,
                "fill_at": request.fill_at,
                "liquidity": request.liquidity,
                "commission": request.commission.spec,
                "commission_description": request.commission.describe(),
                "fixed_params": grid.fixed,
                "top": plan.top,
                "confirm": plan.confirm,
                "combinations": len(grid.combinations),
                "excluded_by_constraints": grid.expansion.excluded_by_constraints,
                "invalid": grid.expansion.invalid,
                "ray": resolve_ray_address(plan.ray_address) is not None,
                "notes": notes,
            },
            results=[row.to_json_dict() for row in rows],
            run_ids=run_ids,
        ),
        url=request.database_url,
    )


def run_sweep(
    request: BacktestRequest | str,
    *legacy: Any,
    plan: SweepPlan | None = None,
    save: bool = True,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> SweepOutcome:
    """Screen a grid, rank it by the plan's metric, confirm the `top` best in Nautilus, save it all.

    `request` is a `BacktestRequest` (its params fix the parameters the grid leaves out) and `plan`
    a `SweepPlan`; or the keyword form `run_sweep("sma", "AAPL", start, end, grid=[...],
    constraints=[...], metric=..., top=..., bar_size=..., ...)`. `engine`: "vector" (screen, then
    confirm the top in Nautilus) or "nautilus" (every combination in Nautilus: any strategy, also
    user files). `workers`/`ray_address`: see `ntrader.backtest.parallel.run_tasks`.
    """
    from ntrader.backtest.vector import has_vector

    plan_options, request_options = split_plan_options(options)
    plan = (plan if plan is not None else SweepPlan(**plan_options)).checked()
    req = as_request(request, legacy, request_options)
    if plan.engine == "vector" and not has_vector(req.strategy):
        raise InputError(
            f"strategy {req.strategy} has no vector implementation; sweep it with --engine nautilus"
        )
    grid = SweepGrid.of(req, plan)
    prepared = prepare(req)
    combos = grid.combinations
    outputs: dict[int, EngineOutput] = {}
    notes: list[str] = []
    if plan.engine == "vector":
        screened, notes = _screen_vector(prepared, combos, progress)
    else:
        outputs = dict(enumerate(_run_nautilus(prepared, combos, plan, "screen", progress)))
        screened = [_metrics_dict(o.metrics, o.result) for o in outputs.values()]
    order = sorted(range(len(combos)), key=lambda k: rank_key(plan.metric)(screened[k]))
    rows = [
        SweepRow(rank=r + 1, params={n: combos[k][n] for n in grid.grid}, screened=screened[k])
        for r, k in enumerate(order)
    ]
    best = order[: min(plan.top, len(order))]
    if plan.engine == "vector" and plan.confirm and best:
        confirmed = _run_nautilus(prepared, [combos[k] for k in best], plan, "confirm", progress)
        outputs = dict(zip(best, confirmed, strict=True))
    for r, k in enumerate(best):
        output = outputs.get(k)
        if output is None:
            continue
        rows[r].confirmed = _metrics_dict(output.metrics, output.result)
        if save:
            rows[r].run_id = pipeline.save(
                prepared,
                output.result,
                output.metrics,
                params=combos[k],
                extra_settings={"sweep_rank": r + 1},
            )
    return SweepOutcome(
        sweep_id=_save_sweep(prepared, plan, grid, rows, notes) if save else None,
        strategy=req.strategy,
        symbol=req.symbol,
        metric=plan.metric,
        engine=plan.engine,
        rows=rows,
        expansion=grid.expansion,
        grid=grid.grid,
        bars=len(prepared.bars),
        notes=notes,
    )


__all__ = [
    "ENGINES",
    "SCREEN_METRICS",
    "Constraint",
    "Expansion",
    "SweepGrid",
    "SweepOutcome",
    "SweepPlan",
    "SweepRow",
    "expand_grid",
    "parse_constraint",
    "parse_grid",
    "parse_grid_values",
    "parse_metric",
    "rank_key",
    "run_sweep",
    "split_plan_options",
]
