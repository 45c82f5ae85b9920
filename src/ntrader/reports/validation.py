"""`report validate`: the validation block of a run (PSR, Monte Carlo) or a sweep (the gate).

A run's block is computed once from what it stored (equity curve, trades; the bars for the
random-entry baseline) and saved in its settings, so reports redraw it without recomputing; asking
for another number of Monte Carlo samples recomputes and saves again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ntrader.db.runs import update_settings
from ntrader.db.sweeps import get_sweep
from ntrader.metrics import closed_trades, daily_returns
from ntrader.metrics.returns import years_between
from ntrader.reports.model import RunReport, load_report
from ntrader.validation import (
    bootstrap_returns,
    moments,
    probabilistic_sharpe_ratio,
    random_entry_baseline,
    reshuffle_trades,
    trade_returns,
)

DEFAULT_SAMPLES = 2000


def _bar_positions(times: pd.DatetimeIndex, stamps: pd.Series) -> np.ndarray:
    """Index of the last bar (by close time) at or before each stamp."""
    values = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True))
    return np.clip(times.searchsorted(values, side="right") - 1, 0, len(times) - 1)


def run_validation(report: RunReport, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """PSR of the run's daily returns (against 0) and its Monte Carlo block, as a JSON-ready dict."""
    record = report.record
    notes: list[str] = []
    daily = daily_returns(report.equity, record.capital).to_numpy() if len(report.equity) else np.array([])
    m = moments(daily)
    out: dict[str, Any] = {
        "samples": samples,
        "seed": seed,
        "psr": probabilistic_sharpe_ratio(daily),
        "sharpe_per_day": None if m is None else m.sharpe,
        "observations": int(daily.size),
        "skew": None if m is None else m.skew,
        "kurtosis": None if m is None else m.kurtosis,
        "bootstrap": None,
        "reshuffle": None,
        "random_entry": None,
    }
    if daily.size >= 2:
        years = years_between(report.equity.index[0], report.equity.index[-1]) if len(report.equity) else 0.0
        boot = bootstrap_returns(daily, samples=samples, years=years or None, seed=seed)
        out["bootstrap"] = boot.to_json_dict()
    else:
        notes.append("bootstrap needs at least two daily returns")
    closed = closed_trades(report.trades)
    if len(closed) >= 2:
        returns = trade_returns(closed["pnl"].to_numpy(dtype=float), record.capital)
        out["reshuffle"] = reshuffle_trades(returns, samples=samples, seed=seed).to_json_dict()
    else:
        notes.append("trade reshuffles need at least two closed trades")
    closes = report.closes
    if closes is not None and len(closed) >= 1:
        times = pd.DatetimeIndex(closes.index)
        entries = _bar_positions(times, closed["entry_time"])
        exits = _bar_positions(times, closed["exit_time"])
        try:
            baseline = random_entry_baseline(closes.to_numpy(), entries, exits, samples=samples, seed=seed)
            out["random_entry"] = baseline.to_json_dict()
        except ValueError as exc:
            notes.append(f"random-entry baseline not measured: {exc}")
    elif closes is None:
        notes.append(report.bars_note or "random-entry baseline needs the run's bars")
    out["notes"] = notes
    return out


def validate_run(
    run_id: int, *, samples: int | None = None, url: str | None = None, save: bool = True
) -> dict[str, Any]:
    """The stored validation block of run `run_id`, computed (and saved) when missing or when
    `samples` differs from what is stored."""
    report = load_report(run_id, url=url)
    stored = report.record.settings.get("validation")
    if stored and (samples is None or stored.get("samples") == samples):
        return {"run_id": run_id, **stored, "source": "stored"}
    block = run_validation(report, samples or DEFAULT_SAMPLES)
    if save:
        update_settings(run_id, {"validation": block}, url=url)
    return {"run_id": run_id, **block, "source": "computed"}


def validate_sweep(sweep_id: int, *, samples: int | None = None, url: str | None = None) -> dict[str, Any]:
    """A sweep's stored gate and, for its best confirmed run, that run's validation block."""
    record = get_sweep(sweep_id, url=url)
    out: dict[str, Any] = {"sweep_id": sweep_id, "gate": record.settings.get("validation")}
    best = next((r for r in record.results if r.get("run_id")), None)
    out["best_run"] = None if best is None else validate_run(best["run_id"], samples=samples, url=url)
    return out


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.2%}"


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}"


def _spread(block: dict[str, Any] | None, key: str, fmt: Any) -> str:
    if not block or not block.get(key):
        return "–"
    s = block[key]
    return f"{fmt(s['p5'])} / {fmt(s['p50'])} / {fmt(s['p95'])}"


def run_validation_lines(block: dict[str, Any]) -> list[str]:
    """A run's validation block as text."""
    boot, shuffle, baseline = block.get("bootstrap"), block.get("reshuffle"), block.get("random_entry")
    lines = [
        f"Validation of run {block.get('run_id')} ({block.get('samples'):,} Monte Carlo samples, "
        f"{block.get('source', 'stored')})",
        f"  PSR (Sharpe > 0)           {_num(block.get('psr'))}   "
        f"over {block.get('observations')} daily returns",
        "  Bootstrap (stationary blocks of daily returns; 5th / 50th / 95th percentile)",
        f"    CAGR                     {_spread(boot, 'cagr', _pct)}",
        f"    Max drawdown             {_spread(boot, 'max_drawdown', _pct)}",
        f"    Sharpe                   {_spread(boot, 'sharpe', _num)}",
    ]
    if boot:
        lines.append(f"    P[loss over the period]  {_pct(boot.get('probability_of_loss'))}")
    if shuffle:
        lines += [
            f"  Trade reshuffles ({shuffle['trades']} closed trades)",
            f"    Max drawdown (orders)    {_spread(shuffle, 'max_drawdown', _pct)}  "
            f"(actual {_pct(shuffle.get('actual_max_drawdown'))})",
            f"    Total return (drawn)     {_spread(shuffle, 'total_return', _pct)}",
        ]
    if baseline:
        lines += [
            f"  Random entries ({baseline['trades']} trades, exposure {_pct(baseline['exposure'])})",
            f"    Total return             {_spread(baseline, 'total_return', _pct)}",
            f"    Strategy's trades        {_pct(baseline['strategy_return'])}: beats "
            f"{baseline['percentile']:.1f}% of random entries",
        ]
    for note in block.get("notes", []):
        lines.append(f"  Note: {note}")
    return lines
