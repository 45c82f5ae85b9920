"""Where a fetch's bars go: the Parquet catalog, the database and the manifest, always together.

``SeriesWrites`` is the part of ``FetchService`` that stores: it adds new bars (``_store``), replaces
a whole series that IB now serves on another price basis (``_replace``), and loads the stored
range into the database and lists the gaps left (``_check``). Every write is made under the
catalog's cross-process lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ntrader.ibkr.catalog import (
    catalog_lock,
    merge_ranges,
    read_catalog_bars,
    recover,
    replace_catalog_bars,
    write_catalog_bars,
)
from ntrader.ibkr.errors import AdjustmentChanged
from ntrader.ibkr.options import FetchOptions
from ntrader.ibkr.report import Range
from ntrader.ibkr.windows import expected_sessions, find_gaps

__all__ = ["Collected", "SeriesWrites"]


@dataclass
class Collected:
    """What the windows of a fetch brought: bar frames, the windows answered, those answered empty."""

    frames: list[pd.DataFrame] = field(default_factory=list)
    answered: list[Range] = field(default_factory=list)
    empty: list[Range] = field(default_factory=list)

    def bars(self) -> pd.DataFrame | None:
        if not self.frames:
            return None
        new = pd.concat(self.frames).sort_index()
        return new[~new.index.duplicated(keep="last")]


class SeriesWrites:
    """Storage for ``FetchService`` (which sets ``options``)."""

    options: FetchOptions

    def _store(self, job: Any, got: Collected) -> None:
        result, series = job.result, job.series
        assert series is not None
        result.empty_windows = merge_ranges(got.empty)
        if not got.answered:
            return
        with catalog_lock(self.options.catalog_path):
            new = got.bars()
            if new is not None and not new.empty:
                instrument = job.root.instruments(instrument_ids=[series.instrument_id])[0]
                write_catalog_bars(job.catalog, instrument, job.bar_type, job.size, new)
                from ntrader.data.store import write_bars

                result.inserted += write_bars(
                    new,
                    symbol=result.symbol,
                    bar_size=job.size,
                    source=series.source,
                    url=self.options.database_url,
                )
            # Only after the bars are safely stored may the manifest say these windows are done;
            # re-read first, so the windows other processes recorded meanwhile are kept.
            job.manifest.refresh()
            job.manifest.add(series, got.answered, got.empty)
            job.manifest.save()

    def _replace(self, job: Any, got: Collected, span: Range, mismatch: AdjustmentChanged) -> pd.DataFrame:
        """Make what IB sent for ``span`` the stored series there, everywhere at once.

        The catalog's files of the series, the database's bars in ``span`` and the manifest's
        record of ``span`` are all replaced under the catalog lock, so the series is on one price
        basis. Nothing arrived: the stored series stays and ``mismatch`` is raised.
        """
        from ntrader.data.store import replace_bars

        result, series = job.result, job.series
        assert series is not None
        result.empty_windows = merge_ranges(got.empty)
        new = got.bars()
        if new is None or new.empty:
            raise mismatch
        with catalog_lock(self.options.catalog_path):
            instrument = job.root.instruments(instrument_ids=[series.instrument_id])[0]
            replace_catalog_bars(job.catalog, instrument, job.bar_type, job.size, new)
            result.inserted += replace_bars(
                new,
                symbol=result.symbol,
                bar_size=job.size,
                source=series.source,
                start=span[0],
                end=span[1],
                url=self.options.database_url,
            )
            job.manifest.refresh()
            job.manifest.forget(series, span)
            job.manifest.add(series, got.answered, got.empty)
            job.manifest.save()
        return new

    def _check(self, job: Any) -> None:
        """Load the stored range into the database and list what is still missing."""
        from ntrader.data.store import write_bars

        result = job.result
        with catalog_lock(self.options.catalog_path):
            recover(job.catalog)
            stored = read_catalog_bars(job.catalog, job.bar_type, result.start, result.end)
        # Every fetch loads the whole stored range (ON CONFLICT DO NOTHING): a new or emptied
        # database gets the cached bars without a single request to IB.
        result.inserted += write_bars(
            stored,
            symbol=result.symbol,
            bar_size=job.size,
            source=result.source,
            url=self.options.database_url,
        )
        result.bars_stored = len(stored)
        if len(stored):
            result.first, result.last = stored.index[0], stored.index[-1]
        if result.end > result.plan_start:
            expected = expected_sessions(
                result.plan_start,
                result.end,
                job.size.name,
                holidays=job.closures.holidays,
                extended_hours=not result.use_rth,
                early_closes=job.closures.early_closes,
                hours=job.closures.hours,
            )
            result.gaps = find_gaps(expected, pd.DatetimeIndex(stored.index), job.size.name)
