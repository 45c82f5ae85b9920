"""The Parquet catalog of fetched IBKR data, and the manifest of what has been asked of IB already.

Nautilus's ``ParquetDataCatalog`` raises *after* writing a file whose time range overlaps a stored
one (leaving the catalog inconsistent), and stores an instrument twice when it is written twice. So
this module reads what is stored first and writes only what is new: instruments once, bars as a new
file when they lie outside every stored file, else as one consolidated file replacing the old ones.

The manifest (``ntrader-coverage.json`` beside the catalog) records every window IB answered,
with bars or with "no data", so a refetch asks IB nothing it has answered before; it also maps a
user's contract query (``AAPL`` STK SMART USD) to the resolved instrument, so a fully cached fetch
needs no gateway at all.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ntrader.config import get_settings
from ntrader.data.bars import BAR_COLUMNS, BarSize, empty_bars

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "SeriesKey",
    "catalog_root",
    "merge_ranges",
    "open_catalog",
    "read_catalog_bars",
    "store_instrument",
    "write_catalog_bars",
]

MANIFEST_NAME = "ntrader-coverage.json"
_PRICE_TYPE = {"TRADES": "LAST", "MIDPOINT": "MID", "BID_ASK": "BID"}

Range = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class SeriesKey:
    """One fetched series: an instrument's bars of one size, tick type and session choice."""

    instrument_id: str
    bar_size: str
    what_to_show: str = "TRADES"
    use_rth: bool = True

    @property
    def text(self) -> str:
        return f"{self.instrument_id}|{self.bar_size}|{self.what_to_show}|{'RTH' if self.use_rth else 'ALL'}"

    @property
    def source(self) -> str:
        """The ``market_data.data_source`` of this series: "ibkr" for trades in regular hours.

        Other tick types and all-hours bars get their own source name, because the table's key
        (symbol, bar size, time, source) would otherwise mix them with regular-hours trades.
        """
        parts = ["ibkr"]
        if self.what_to_show != "TRADES":
            parts.append(self.what_to_show.lower().replace("_", ""))
        if not self.use_rth:
            parts.append("allhours")
        return "-".join(parts)


def catalog_root(path: str | Path | None = None) -> Path:
    """The catalog directory: ``path``, else ``NTRADER_CATALOG``, else ``$NTRADER_HOME/catalog``."""
    return Path(path) if path is not None else get_settings().catalog_path


def open_catalog(path: str | Path | None = None, *, use_rth: bool = True) -> Any:
    """A ParquetDataCatalog at the catalog directory (all-hours bars live in a sub-catalog).

    Nautilus's bar types have no notion of trading hours, so all-hours bars, which differ from
    regular-hours ones for the same bar type, get their own catalog instead of a clash.
    """
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    root = catalog_root(path)
    if not use_rth:
        root = root / "all-hours"
    root.mkdir(parents=True, exist_ok=True)
    return ParquetDataCatalog(str(root))


def bar_type_text(key: SeriesKey, size: BarSize) -> str:
    """Nautilus's bar type for a series, e.g. "AAPL.NASDAQ-1-DAY-LAST-EXTERNAL"."""
    # IB's BID_ASK bars (average bid over the bar, average ask, ...) have no Nautilus price
    # type of their own; they are filed under BID and kept apart in the database by source.
    return size.bar_type(key.instrument_id, price_type=_PRICE_TYPE[key.what_to_show])


def store_instrument(catalog: Any, instrument: Any) -> bool:
    """Write ``instrument`` unless the catalog holds it already; True when written."""
    if catalog.instruments(instrument_ids=[instrument.id.value]):
        return False
    catalog.write_data([instrument])
    return True


def read_catalog_bars(
    catalog: Any,
    bar_type: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Stored bars of ``bar_type`` with start <= open time < end, as a bar frame."""
    from nautilus_trader.model.data import Bar

    if not catalog.get_intervals(Bar, bar_type):
        return empty_bars()
    bars = catalog.bars(bar_types=[bar_type])
    if not bars:
        return empty_bars()
    index = pd.DatetimeIndex(
        pd.to_datetime([b.ts_event for b in bars], unit="ns", utc=True), name="timestamp"
    )
    frame = pd.DataFrame(
        {
            "open": [b.open.as_double() for b in bars],
            "high": [b.high.as_double() for b in bars],
            "low": [b.low.as_double() for b in bars],
            "close": [b.close.as_double() for b in bars],
            "volume": [b.volume.as_double() for b in bars],
        },
        index=index,
    )
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    if start is not None:
        frame = frame[frame.index >= start]
    if end is not None:
        frame = frame[frame.index < end]
    return frame


def _ns(index: pd.Index) -> Any:
    """Nanoseconds since the epoch of a UTC index, as int64."""
    return pd.DatetimeIndex(index).as_unit("ns").to_numpy(dtype="datetime64[ns]").view("int64")


def _ts_init_delta(size: BarSize) -> int:
    # Like Nautilus's IB adapter: a bar is known at its close (a daily bar 1 ns before the next day).
    length = int(size.duration.value)
    return length - 1 if size.is_daily else length


def write_catalog_bars(
    catalog: Any, instrument: Any, bar_type: str, size: BarSize, frame: pd.DataFrame
) -> int:
    """Add the bars of ``frame`` the catalog lacks; returns how many were new.

    Bars that fall outside every stored file go into a file of their own. Bars that fall inside
    a stored file's time range (a hole being filled) mean rewriting: all bars of the type go into
    one new file, written before the old files are removed, so a crash leaves extra, not missing, data.
    """
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.persistence.catalog.parquet import _timestamps_to_filename
    from nautilus_trader.persistence.wranglers import BarDataWrangler

    if frame.empty:
        return 0
    stored = read_catalog_bars(catalog, bar_type)
    new = frame.loc[~frame.index.isin(stored.index), BAR_COLUMNS]
    if new.empty:
        return 0
    delta = _ts_init_delta(size)
    intervals = catalog.get_intervals(Bar, bar_type)
    inits = _ns(new.index) + delta
    lo, hi = int(inits.min()), int(inits.max())
    touches = any(a <= hi and lo <= b for a, b in intervals)
    wrangler = BarDataWrangler(BarType.from_str(bar_type), instrument)
    if not touches:
        catalog.write_data(wrangler.process(new, ts_init_delta=delta))
        return len(new)
    merged = pd.concat([stored, new]).sort_index()
    merged = merged[~merged.index.duplicated(keep="first")]
    directory = Path(catalog._make_path(Bar, bar_type))
    old = sorted(directory.glob("*.parquet"))
    stamps = _ns(merged.index)
    keep = _timestamps_to_filename(int(stamps[0]) + delta, int(stamps[-1]) + delta)
    catalog.write_data(wrangler.process(merged, ts_init_delta=delta), skip_disjoint_check=True)
    for path in old:
        # The consolidated file may carry an old file's name (same first and last bar): keep it.
        if path.name != keep:
            path.unlink()
    return len(new)


# -- the manifest ------------------------------------------------------------------------------


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, non-overlapping union of [start, end) ranges (touching ones are joined)."""
    out: list[Range] = []
    for a, b in sorted(ranges):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _ts(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class Manifest:
    """What was asked of IB, per series, and the instruments contract queries resolved to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.instruments: dict[str, dict[str, Any]] = {}
        self._fetched: dict[str, list[Range]] = {}
        self._empty: dict[str, list[Range]] = {}

    @classmethod
    def load(cls, root: str | Path | None = None) -> Manifest:
        manifest = cls(catalog_root(root) / MANIFEST_NAME)
        if manifest.path.exists():
            raw = json.loads(manifest.path.read_text())
            manifest.instruments = dict(raw.get("instruments", {}))
            for key, entry in raw.get("series", {}).items():
                manifest._fetched[key] = [(_ts(a), _ts(b)) for a, b in entry.get("fetched", [])]
                manifest._empty[key] = [(_ts(a), _ts(b)) for a, b in entry.get("empty", [])]
        return manifest

    def fetched(self, key: SeriesKey) -> list[Range]:
        """Ranges IB has answered for this series (with bars or with "no data")."""
        return list(self._fetched.get(key.text, []))

    def empty(self, key: SeriesKey) -> list[Range]:
        """Windows IB answered with "no data"."""
        return list(self._empty.get(key.text, []))

    def add(self, key: SeriesKey, fetched: Iterable[Range], empty: Iterable[Range] = ()) -> None:
        self._fetched[key.text] = merge_ranges([*self._fetched.get(key.text, []), *fetched])
        self._empty[key.text] = merge_ranges([*self._empty.get(key.text, []), *empty])

    def save(self) -> None:
        """Write atomically: a crash leaves the old manifest or the new one, never half of one."""
        data = {
            "version": 1,
            "instruments": self.instruments,
            "series": {
                key: {
                    "fetched": [[a.isoformat(), b.isoformat()] for a, b in ranges],
                    "empty": [[a.isoformat(), b.isoformat()] for a, b in self._empty.get(key, [])],
                }
                for key, ranges in sorted(self._fetched.items())
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".coverage-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, self.path)
