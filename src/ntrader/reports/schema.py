"""The JSON export of a run: its documented schema (versioned) and the document builder.

The schema is a JSON Schema (draft 2020-12) written as a Python dict so it ships with the code
and needs no extra dependency; ``ntrader report schema`` prints it. Version rules: adding an
optional field keeps ``schema_version``; renaming, removing or retyping a field raises it.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ntrader.metrics import Metrics
from ntrader.reports.model import RunReport

SCHEMA_VERSION = 1

_STRING = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_NUMBER = {"type": "number"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_INTEGER = {"type": "integer", "minimum": 0}
_BOOLEAN = {"type": "boolean"}


def _described(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {**schema, "description": text}


_METRIC_FIELDS: dict[str, dict[str, Any]] = {
    "start": _described(_TIME, "First equity timestamp (bar close, UTC)."),
    "end": _described(_TIME, "Last equity timestamp (bar close, UTC)."),
    "starting_equity": _described(_NUMBER, "Equity at the first bar."),
    "ending_equity": _described(_NUMBER, "Equity at the last bar (0 after ruin)."),
    "total_return": _described(_NUMBER, "Fraction: 0.05 is +5 %."),
    "cagr": _described(
        _NUMBER_OR_NULL,
        "Compound annual growth from the starting capital over 365.25-day years (raw value; reports "
        "show it as n/a when short_period).",
    ),
    "annualized_return": _described(
        _NUMBER_OR_NULL, "Mean daily return × annualization factor (n/a in reports when short_period)."
    ),
    "annualized_volatility": _described(_NUMBER_OR_NULL, "Std of daily returns × √factor."),
    "buy_and_hold_return": _described(
        _NUMBER_OR_NULL, "The symbol's own return, first bar's close to last bar's close, no costs."
    ),
    "exposure": _described(_NUMBER, "Share of bars at whose close a position was held (0..1)."),
    "short_period": _described(
        _BOOLEAN, "The data spans under 358 calendar days: CAGR, annualized return and Calmar extrapolate."
    ),
    "max_drawdown": _described(_NUMBER, "Deepest drawdown, a negative fraction (or 0)."),
    "max_drawdown_peak": _TIME_OR_NULL,
    "max_drawdown_trough": _TIME_OR_NULL,
    "max_drawdown_recovery": _described(_TIME_OR_NULL, "Null when not (yet) recovered."),
    "max_drawdown_duration_days": _described(
        _NUMBER, "The deepest drawdown's calendar days, peak to recovery (or end)."
    ),
    "longest_drawdown_duration_days": _described(
        _NUMBER, "The longest drawdown's calendar days, peak to recovery (or end)."
    ),
    "avg_drawdown_duration_days": _NUMBER_OR_NULL,
    "sharpe": _described(_NUMBER_OR_NULL, "Annualized Sharpe ratio of daily returns."),
    "sortino": _described(_NUMBER_OR_NULL, "Annualized Sortino ratio of daily returns."),
    "calmar": _described(_NUMBER_OR_NULL, "CAGR over |max drawdown|."),
    "ruined": _BOOLEAN,
    "ruin_time": _TIME_OR_NULL,
    "trade_count": _described(_INTEGER, "Closed trades."),
    "open_trade_count": _INTEGER,
    "winning_trades": _INTEGER,
    "losing_trades": _INTEGER,
    "win_rate": _NUMBER_OR_NULL,
    "avg_win": _NUMBER_OR_NULL,
    "avg_loss": _NUMBER_OR_NULL,
    "best_trade": _NUMBER_OR_NULL,
    "worst_trade": _NUMBER_OR_NULL,
    "avg_trade_duration_days": _NUMBER_OR_NULL,
    "profit_factor": _described(_NUMBER_OR_NULL, "Null when undefined or infinite (see the flag)."),
    "profit_factor_infinite": _described(_BOOLEAN, "True when there were wins and no losses."),
    "expectancy": _NUMBER_OR_NULL,
    "sqn": _described(_NUMBER_OR_NULL, "sqrt(n) × mean(pnl) / std(pnl, ddof=1), closed trades."),
    "sqn_van_tharp": _described(_NUMBER_OR_NULL, "Van Tharp's SQN: n capped at 100."),
    "total_pnl": _NUMBER,
    "total_commission": _NUMBER,
}

_CONVENTIONS = {
    "type": "object",
    "description": "How the figures were computed and how the run filled and paid for orders.",
    "required": [
        "annualization_factor",
        "risk_free_rate",
        "cagr_day_count",
        "drawdown_sign",
        "daily_resampling",
        "fill_at",
        "commission",
        "metrics_source",
    ],
    "properties": {
        "annualization_factor": _described({"type": "integer", "minimum": 1}, "Periods per year."),
        "risk_free_rate": _described(_NUMBER, "Annual, as a fraction."),
        "cagr_day_count": _NUMBER,
        "drawdown_sign": {"enum": ["negative"]},
        "daily_resampling": _STRING,
        "annualization_basis": _described(
            _STRING, "measured (from the bars' days), a short-run fallback, or given."
        ),
        "days_with_data": _described({"type": ["integer", "null"]}, "Calendar days that have bars."),
        "span_days": _described({"type": ["integer", "null"]}, "First to last day with data, both counted."),
        "first_day_return": _STRING,
        "starting_capital": _described(_NUMBER_OR_NULL, "What returns are measured from."),
        "exposure_basis": _STRING,
        "win_loss_decimals": _described(_INTEGER, "P&L rounded to these decimals tells wins from losses."),
        "sqn_formula": _STRING,
        "buy_and_hold_basis": _STRING,
        "short_period_rule": _STRING,
        "fill_at": _described(_STRING, "close: the signal bar's close; next_open: the next bar's open."),
        "adjust": _described(
            {"enum": ["raw", "splits", "total-return"]}, "How the prices were adjusted for splits/dividends."
        ),
        "commission": _described({"type": ["string", "object"]}, "The run's commission model."),
        "metrics_source": _described(
            {"enum": ["stored", "recomputed"]}, "recomputed: rebuilt from an older stored format."
        ),
    },
}

_TRADE = {
    "type": "object",
    "required": [
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "commission",
    ],
    "additionalProperties": False,
    "properties": {
        "side": {"enum": ["LONG", "SHORT"]},
        "quantity": _NUMBER,
        "entry_time": _TIME,
        "entry_price": _NUMBER,
        "exit_time": _described(_TIME_OR_NULL, "Null for a position still open at the end."),
        "exit_price": _NUMBER_OR_NULL,
        "pnl": _described(_NUMBER, "Net of commission; marked at the last close when open."),
        "commission": _NUMBER,
        "symbol": _described(_STRING, "A portfolio run's trades: the symbol traded."),
    },
}

_PORTFOLIO = _described(
    {
        "type": "object",
        "required": [
            "symbols",
            "per_symbol",
            "correlation",
            "turnover",
            "benchmark",
            "allocation",
            "conventions",
        ],
        "properties": {
            "symbols": {"type": "array", "items": _STRING},
            "per_symbol": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["symbol", "pnl", "contribution", "return", "exposure", "trades", "win_rate"],
                    "properties": {
                        "symbol": _STRING,
                        "pnl": _described(
                            _NUMBER_OR_NULL, "Net of commissions; open trades at the last close."
                        ),
                        "contribution": _described(_NUMBER_OR_NULL, "P&L over the starting capital."),
                        "return": _described(
                            _NUMBER_OR_NULL, "P&L over the mean capital deployed while held."
                        ),
                        "exposure": _described(_NUMBER_OR_NULL, "Share of the run's bars held at close."),
                        "trades": _described(_INTEGER, "Closed trades."),
                        "win_rate": _NUMBER_OR_NULL,
                    },
                },
            },
            "correlation": _described(
                {"type": "object", "required": ["symbols", "matrix"]},
                "Pearson correlation of daily close-to-close returns: matrix[i][j] of symbols i, j.",
            ),
            "turnover": _described(
                {"type": "object", "required": ["total", "annualized"]},
                "Traded notional over mean equity, for the whole run and annualized.",
            ),
            "benchmark": _described(
                {"type": "object", "required": ["equal_weight"]},
                "equal_weight (and external when a benchmark was given): total_return, alpha "
                "(annualized), beta, r_squared, days.",
            ),
            "allocation": _described(
                {"type": "object", "required": ["dates", "symbols", "values", "cash"]},
                "Last bar of each day: position value per symbol (values[symbol][i]) and cash.",
            ),
            "conventions": _described({"type": "object"}, "Each portfolio figure's definition."),
        },
    },
    "Present for a portfolio (many-symbol) run: ntrader.metrics.portfolio.portfolio_metrics.",
)

_RUN = {
    "type": "object",
    "required": [
        "id",
        "created_at",
        "status",
        "strategy",
        "params",
        "symbol",
        "bar_type",
        "data_source",
        "start",
        "end",
        "bars",
        "capital",
        "final_equity",
        "total_return",
        "engine_version",
    ],
    "properties": {
        "id": _INTEGER,
        "created_at": _TIME,
        "status": _STRING,
        "strategy": _STRING,
        "params": {"type": "object"},
        "symbol": _STRING,
        "bar_type": _STRING,
        "data_source": _STRING,
        "start": _described(_DATE, "First day of the period (inclusive)."),
        "end": _described(_DATE, "Last day of the period (inclusive)."),
        "bars": _INTEGER,
        "capital": _NUMBER,
        "final_equity": _NUMBER,
        "total_return": _NUMBER,
        "engine_version": _STRING,
    },
}

RUN_EXPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"urn:ntrader:run-export:{SCHEMA_VERSION}",
    "title": "ntrader backtest run export",
    "description": "One saved backtest: what was run, how figures were computed, every metric, trades.",
    "type": "object",
    "required": ["schema_version", "generated_at", "run", "settings", "conventions", "metrics", "trades"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "generated_at": _TIME,
        "run": _RUN,
        "settings": _described({"type": "object"}, "The run's stored settings (bar_size, fill_at, …)."),
        "conventions": _CONVENTIONS,
        "metrics": {
            "type": "object",
            "description": "Fractions (0.05 = 5 %), money in the account currency, calendar days.",
            "required": list(_METRIC_FIELDS),
            "properties": _METRIC_FIELDS,
        },
        "trades": {"type": "array", "items": _TRADE},
        "portfolio": _PORTFOLIO,
        "tearsheet": _described(
            {
                "type": "object",
                "required": ["monthly_returns", "yearly_returns", "rolling", "worst_drawdowns"],
            },
            "The HTML tearsheet's figures as data: monthly_returns {year: {month: r}}, "
            "yearly_returns, rolling {window_days, sharpe, volatility}, daily_return_distribution, "
            "worst_drawdowns [{start, trough, recovery, depth, length_days}], costs, validation.",
        ),
        "equity": {
            "type": "array",
            "description": "Present with --equity: mark-to-market equity at each bar close.",
            "items": {
                "type": "object",
                "required": ["timestamp", "equity"],
                "additionalProperties": False,
                "properties": {"timestamp": _TIME, "equity": _NUMBER},
            },
        },
    },
}


def run_document(report: RunReport, *, include_equity: bool = False) -> dict[str, Any]:
    """The run as a JSON-safe dict following :data:`RUN_EXPORT_SCHEMA`."""
    record = report.record
    run = record.to_json_dict()
    run.pop("settings", None)
    run.pop("metrics", None)
    metrics = report.metrics.to_json_dict()
    conventions = {
        **metrics.pop("conventions"),
        "fill_at": str(record.settings.get("fill_at", "close")),
        "adjust": str(record.settings.get("adjust", "raw")),
        "commission": record.settings.get("commission", "none"),
        "metrics_source": report.metrics_source,
    }
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "run": run,
        "settings": record.settings,
        "conventions": conventions,
        "metrics": metrics,
        "trades": trade_records(report.trades),
    }
    from ntrader.reports.tearsheet import tearsheet

    if report.portfolio is not None:
        document["portfolio"] = report.portfolio.block
    document["tearsheet"] = tearsheet(report).to_json_dict()
    if include_equity:
        document["equity"] = [
            {"timestamp": ts.isoformat(), "equity": float(value)}
            for ts, value in zip(pd.DatetimeIndex(report.equity.index), report.equity.to_numpy(), strict=True)
        ]
    return document


def trade_records(trades: pd.DataFrame) -> list[dict[str, Any]]:
    """Trades as JSON-safe dicts: ISO times, null for a missing exit."""
    out = []
    for row in trades.to_dict("records"):
        item: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NaT:
                item[str(key)] = None
            elif isinstance(value, pd.Timestamp):
                item[str(key)] = value.isoformat()
            else:
                item[str(key)] = value
        out.append(item)
    return out


def metric_fields() -> list[str]:
    """Every key of ``Metrics.to_json_dict()`` except conventions (for checks against the schema)."""
    names = [f.name for f in dataclasses.fields(Metrics) if f.name != "conventions"]
    return names + [f"{name}_infinite" for name in Metrics._MAY_BE_INFINITE]


def validate(document: Any, schema: dict[str, Any] = RUN_EXPORT_SCHEMA, path: str = "$") -> list[str]:
    """Problems of ``document`` against ``schema`` (empty when valid).

    Covers the keywords this module's schemas use: type, const, enum, minimum, required,
    properties, additionalProperties and items ("format" is documentation only, as in JSON
    Schema by default). A small checker so exports can be verified without jsonschema installed.
    """
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(document, name) for name in allowed):
            return [f"{path}: expected {' or '.join(allowed)}, got {type(document).__name__}"]
    if "const" in schema and document != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {document!r}")
    if "enum" in schema and document not in schema["enum"]:
        errors.append(f"{path}: {document!r} is not one of {schema['enum']!r}")
    if "minimum" in schema and _is_type(document, "number") and document < schema["minimum"]:
        errors.append(f"{path}: {document!r} is below the minimum {schema['minimum']!r}")
    if isinstance(document, dict):
        for key in schema.get("required", []):
            if key not in document:
                errors.append(f"{path}: missing required {key!r}")
        properties = schema.get("properties", {})
        for key, value in document.items():
            if key in properties:
                errors += validate(value, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {key!r}")
    if isinstance(document, list) and "items" in schema:
        for i, item in enumerate(document):
            errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors


def _is_type(value: Any, name: str) -> bool:
    # bool is an int subclass in Python but not a number in JSON.
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return False
