"""The new-backtest form: fields generated from a strategy's parameter spec, checked by the library.

Every value is passed to `BacktestRequest.build` as the text the user typed, exactly as the CLI
passes `--param key=value`, so a bad value gets the CLI's message word for word.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntrader.backtest.costs import DEFAULT_COMMISSION
from ntrader.backtest.fills import DEFAULT_LIQUIDITY, FILL_CLOSE, FILL_MODES, LIQUIDITY_MODES
from ntrader.backtest.request import BacktestRequest
from ntrader.data.adjust import ADJUSTMENTS, DEFAULT_ADJUST
from ntrader.errors import InputError
from ntrader.strategies import StrategySpec
from ntrader.ui.security import safe_home_path

#: Market fields of the form besides the strategy's parameters, with their defaults.
MARKET_FIELDS: dict[str, str] = {
    "symbol": "AAPL",
    "start": "",
    "end": "",
    "data_source": "mock",
    "bar_size": "1-DAY",
    "capital": "",
    "commission": DEFAULT_COMMISSION,
    "fill_at": FILL_CLOSE,
    "liquidity": DEFAULT_LIQUIDITY,
    "adjust": DEFAULT_ADJUST,
    "csv_file": "",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "data_source": ("mock", "csv", "ibkr"),
    "fill_at": FILL_MODES,
    "liquidity": LIQUIDITY_MODES,
    "adjust": tuple(ADJUSTMENTS),
}


@dataclass(frozen=True)
class ParamField:
    """One input of the form, from the spec: name, HTML input type, default, bounds text."""

    name: str
    kind: str  # "int" | "float" | "bool" | "str"
    default: Any
    bounds: str
    description: str

    @property
    def input_type(self) -> str:
        return "number" if self.kind in ("int", "float") else "text"

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"


def param_fields(spec: StrategySpec) -> list[ParamField]:
    bounds = spec.bounds
    return [
        ParamField(p.name, p.type.__name__, p.default, bounds.get(p.name, ""), p.description)
        for p in spec.parameters
    ]


def spec_document(spec: StrategySpec) -> dict[str, Any]:
    """The form's JSON twin: what `/api/strategies/<name>` returns."""
    return {
        "name": spec.name,
        "description": spec.description,
        "rule": spec.rule,
        "parameters": [
            {"name": f.name, "type": f.kind, "default": f.default, "bounds": f.bounds}
            for f in param_fields(spec)
        ],
    }


def build_request(form: dict[str, str], home: Path, database_url: str | None) -> BacktestRequest:
    """A validated request from the submitted form; NtraderError (with `.field`) when a value is bad."""
    from ntrader.strategies import get_strategy

    strategy = form.get("strategy", "").strip()
    spec = get_strategy(strategy)
    params = {
        f.name: form[f"param_{f.name}"].strip()
        for f in param_fields(spec)
        if form.get(f"param_{f.name}", "").strip() != ""
    }
    options: dict[str, Any] = {
        "params": params,
        "data_source": form.get("data_source", "mock"),
        "bar_size": form.get("bar_size", "1-DAY") or "1-DAY",
        "commission": form.get("commission", DEFAULT_COMMISSION) or DEFAULT_COMMISSION,
        "fill_at": form.get("fill_at", FILL_CLOSE) or FILL_CLOSE,
        "liquidity": form.get("liquidity", DEFAULT_LIQUIDITY) or DEFAULT_LIQUIDITY,
        "adjust": form.get("adjust", DEFAULT_ADJUST) or DEFAULT_ADJUST,
        "database_url": database_url,
    }
    capital = form.get("capital", "").strip()
    if capital:
        # As the CLI's `--capital` (a click float) hands it over, so the message reads the same.
        try:
            options["capital"] = float(capital)
        except ValueError:
            options["capital"] = capital
    if form.get("data_source") == "csv":
        name = form.get("csv_file", "").strip()
        if not name:
            error = InputError("a CSV backtest needs a file (a path inside ntrader's home)")
            error.field = "csv_file"
            raise error
        options["csv_file"] = safe_home_path(home, name, "csv_file")
    return BacktestRequest.build(
        strategy,
        form.get("symbol", ""),
        form.get("start", "").strip() or None,
        form.get("end", "").strip() or None,
        **options,
    )


#: Sweep fields besides the backtest's, with their defaults (the CLI's `backtest sweep` options).
SWEEP_FIELDS: dict[str, str] = {
    "grid": "",
    "constraints": "",
    "metric": "sharpe",
    "top": "3",
    "engine": "vector",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def build_sweep(form: dict[str, str], home: Path, database_url: str | None) -> tuple[BacktestRequest, Any]:
    """A validated request and sweep plan (grid lines as `--grid`, constraints as `--constraint`).

    The grid is expanded here, so a bad grid or constraint fails before anything runs.
    """
    from ntrader.backtest.sweep import SweepGrid, SweepPlan
    from ntrader.backtest.vector import has_vector

    request = build_request(form, home, database_url)
    grid = _lines(form.get("grid", ""))
    if not grid:
        error = InputError("a sweep needs at least one grid line, e.g. fast_period=5:25:5")
        error.field = "grid"
        raise error
    top = form.get("top", "3").strip() or "3"
    try:
        top_n = int(top)
    except ValueError:
        raise InputError(f"top must be a whole number, got {top!r}") from None
    plan = SweepPlan(
        grid=grid,
        constraints=_lines(form.get("constraints", "")),
        metric=form.get("metric", "sharpe") or "sharpe",
        top=top_n,
        engine=form.get("engine", "vector") or "vector",
        workers=1,
    ).checked()
    if plan.engine == "vector" and not has_vector(request.strategy):
        raise InputError(
            f"strategy {request.strategy} has no vector implementation; sweep it with --engine nautilus"
        )
    SweepGrid.of(request, plan)
    return request, plan
