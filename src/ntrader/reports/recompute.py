"""Recomputing stored metrics from a run's stored equity curve and trades (no rerun).

Used after the metrics code changes (a fix, a new figure) and to migrate metrics saved in an
older JSON layout to the current one. Buy-and-hold needs the bars, which are reloaded when
possible; otherwise the stored buy-and-hold figure is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ntrader.db.runs import RunRecord, get_run, list_run_ids, load_equity, load_trades, update_metrics
from ntrader.errors import NtraderError
from ntrader.reports.model import load_run_bars, recompute, run_bar_size

# Stored values are Numeric(20, 8): equal figures recomputed in float may differ in the last bits.
_REL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Recomputed:
    """One run's outcome: the metric keys whose value changed (or appeared), or why it failed."""

    run_id: int
    changed: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def recompute_runs(
    run_ids: Sequence[int] | None = None,
    *,
    risk_free_rate: float | None = None,
    reload_bars: bool = True,
    dry_run: bool = False,
    url: str | None = None,
) -> list[Recomputed]:
    """Recompute and save the metrics of ``run_ids`` (None: every stored run).

    ``risk_free_rate`` (annual) replaces the rate each run was computed with; by default a run
    keeps its own. A run id that does not exist raises NotFoundError before anything is
    written; a run whose stored data cannot yield metrics is reported in its ``error``.
    """
    ids = list_run_ids(url) if run_ids is None else list(dict.fromkeys(run_ids))
    records = [get_run(run_id, url) for run_id in ids]
    results = []
    for record in records:
        equity = load_equity(record.id, url)
        if equity.empty:
            results.append(Recomputed(record.id, error="no stored equity curve"))
            continue
        trades = load_trades(record.id, url)
        block = record.metrics.get("portfolio")
        # A portfolio run has no one symbol to buy and hold: its stored figure (and block) stay.
        closes = _closes(record, url) if reload_bars and block is None else None
        try:
            metrics = recompute(record, equity, trades, closes, risk_free_rate)
        except NtraderError as exc:
            results.append(Recomputed(record.id, error=str(exc)))
            continue
        new = metrics.to_json_dict()
        if block is not None:
            # Per-symbol figures need every symbol's closes and positions, which a run does not store.
            new["portfolio"] = block
        changed = [key for key in new if not _same(record.metrics.get(key, _MISSING), new[key])]
        # Keys only the old layout had are part of the migration too.
        changed += [key for key in record.metrics if key not in new]
        if changed and not dry_run:
            update_metrics(record.id, new, url)
        results.append(Recomputed(record.id, changed))
    return results


_MISSING = object()


def _closes(record: RunRecord, url: str | None) -> pd.Series | None:
    bars, _ = load_run_bars(record, url)
    size = run_bar_size(record)
    if bars is None or size is None:
        return None
    index = size.close_times(pd.DatetimeIndex(bars.index))
    return pd.Series(bars["close"].to_numpy(dtype="float64"), index=index)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return math.isclose(old, new, rel_tol=_REL_TOLERANCE, abs_tol=1e-12)
    return bool(old == new)
