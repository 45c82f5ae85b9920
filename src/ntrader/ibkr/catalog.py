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

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ntrader.config import get_settings
from ntrader.data.bars import BAR_COLUMNS, BarSize, empty_bars
from ntrader.ibkr.locking import LOCK_NAME, atomic_write, exclusive
from ntrader.nautilus_compat import BarWrangler

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "SeriesKey",
    "catalog_lock",
    "catalog_root",
    "merge_ranges",
    "open_catalog",
    "read_catalog_bars",
    "recover",
    "replace_catalog_bars",
    "store_instrument",
    "subtract_ranges",
    "venue_of",
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
    A journal beside the catalog names the files that were there before; ``recover`` uses it to
    finish or undo a write that a crash interrupted. Call under ``catalog_lock``.
    """
    from nautilus_trader.model.data import Bar, BarType

    if frame.empty:
        return 0
    recover(catalog)
    stored = read_catalog_bars(catalog, bar_type)
    new = frame.loc[~frame.index.isin(stored.index), BAR_COLUMNS]
    if new.empty:
        return 0
    delta = _ts_init_delta(size)
    intervals = catalog.get_intervals(Bar, bar_type)
    inits = _ns(new.index) + delta
    lo, hi = int(inits.min()), int(inits.max())
    touches = any(a <= hi and lo <= b for a, b in intervals)
    wrangler = BarWrangler(BarType.from_str(bar_type), instrument)
    directory = Path(catalog._make_path(Bar, bar_type))
    old = sorted(directory.glob("*.parquet"))
    journal = _journal_path(catalog)
    if not touches:
        _write_journal(journal, directory, old, "append")
        catalog.write_data(wrangler.process(new, ts_init_delta=delta))
        journal.unlink()
        return len(new)
    merged = pd.concat([stored, new]).sort_index()
    merged = merged[~merged.index.duplicated(keep="first")]
    _rewrite(catalog, wrangler, directory, old, merged, delta)
    return len(new)


def replace_catalog_bars(
    catalog: Any, instrument: Any, bar_type: str, size: BarSize, frame: pd.DataFrame
) -> int:
    """Make ``frame`` (not empty) the whole stored series of ``bar_type``: every old file goes.

    Written like a consolidating write (the new file first, a journal naming the old ones, then
    the old ones removed), so a crash leaves the old series or the new one. Call under ``catalog_lock``.
    """
    from nautilus_trader.model.data import Bar, BarType

    if frame.empty:
        raise ValueError("replace_catalog_bars needs bars to store")
    recover(catalog)
    frame = frame.loc[~frame.index.duplicated(keep="last"), BAR_COLUMNS].sort_index()
    wrangler = BarWrangler(BarType.from_str(bar_type), instrument)
    directory = Path(catalog._make_path(Bar, bar_type))
    old = sorted(directory.glob("*.parquet"))
    _rewrite(catalog, wrangler, directory, old, frame, _ts_init_delta(size))
    return len(frame)


def _rewrite(
    catalog: Any, wrangler: Any, directory: Path, old: list[Path], merged: pd.DataFrame, delta: int
) -> None:
    """Write ``merged`` as one file, then remove the ``old`` files, journalled for ``recover``."""
    from nautilus_trader.persistence.catalog.parquet import _timestamps_to_filename

    journal = _journal_path(catalog)
    stamps = _ns(merged.index)
    keep = _timestamps_to_filename(int(stamps[0]) + delta, int(stamps[-1]) + delta)
    # A consolidated file carrying an old file's name (same first and last bar) would overwrite
    # it in place; move that old file aside first so a crash cannot lose it.
    aside = [p for p in old if p.name == keep]
    for path in aside:
        path.rename(path.with_suffix(".parquet.old"))
    old = [p.with_suffix(".parquet.old") if p in aside else p for p in old]
    _write_journal(journal, directory, old, "replace", keep)
    catalog.write_data(wrangler.process(merged, ts_init_delta=delta), skip_disjoint_check=True)
    for path in old:
        path.unlink()
    journal.unlink()


_JOURNAL = ".ntrader-write.json"


def _journal_path(catalog: Any) -> Path:
    return Path(catalog.path) / _JOURNAL


def _write_journal(journal: Path, directory: Path, old: list[Path], mode: str, new: str = "") -> None:
    data = {"directory": str(directory), "before": [p.name for p in old], "mode": mode, "new": new}
    atomic_write(journal, json.dumps(data))


def _readable(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception:
        return False
    return True


def recover(catalog: Any) -> bool:
    """Finish or undo a catalog write a crashed process left behind; True when there was one.

    An "append" left a new file beside the old ones: kept when whole, removed when torn. A
    "replace" wrote one consolidated file before removing the old ones: when the new file is whole
    the old ones go, else the new one goes and the old ones (moved aside, if any) come back.
    Call under ``catalog_lock``.
    """
    journal = _journal_path(catalog)
    if not journal.exists():
        return False
    try:
        data = json.loads(journal.read_text())
    except ValueError:
        journal.unlink()  # torn before the write began: nothing else was touched
        return True
    directory = Path(data["directory"])
    before = [directory / name for name in data["before"]]
    added = [p for p in directory.glob("*.parquet") if p.name not in data["before"]]
    if data["mode"] == "append":
        for path in added:
            if not _readable(path):
                path.unlink()
    else:
        new = directory / data["new"]
        if new.exists() and _readable(new):
            for path in before:
                path.unlink(missing_ok=True)
        else:
            new.unlink(missing_ok=True)
            for path in before:
                if path.suffix == ".old" and path.exists():
                    path.rename(path.with_suffix(""))
    journal.unlink()
    return True


@contextlib.contextmanager
def catalog_lock(path: str | Path | None = None) -> Iterator[None]:
    """The cross-process lock every write of the catalog (and its manifest) is made under."""
    with exclusive(catalog_root(path) / LOCK_NAME):
        yield


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


#: An empty window: [start, end) and when IB said "no data" for it (None: before this was recorded).
EmptyWindow = tuple[pd.Timestamp, pd.Timestamp, "pd.Timestamp | None"]


def subtract_ranges(ranges: Iterable[Range], holes: Iterable[Range]) -> list[Range]:
    """Parts of ``ranges`` outside every range of ``holes``."""
    out = merge_ranges(ranges)
    for a, b in merge_ranges(holes):
        nxt: list[Range] = []
        for s, e in out:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        out = nxt
    return out


class Manifest:
    """What was asked of IB, per series, and the instruments contract queries resolved to.

    Several processes share one manifest: change it only under ``catalog_lock``, after
    ``refresh()`` (which re-reads what the others saved), then ``save()``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.instruments: dict[str, dict[str, Any]] = {}
        self._fetched: dict[str, list[Range]] = {}
        self._empty: dict[str, list[EmptyWindow]] = {}

    @classmethod
    def load(cls, root: str | Path | None = None) -> Manifest:
        manifest = cls(catalog_root(root) / MANIFEST_NAME)
        manifest.refresh()
        return manifest

    def refresh(self) -> None:
        """Re-read the manifest from disk (what other processes saved since it was loaded)."""
        self.instruments, self._fetched, self._empty = {}, {}, {}
        if not self.path.exists():
            return
        raw = json.loads(self.path.read_text())
        self.instruments = dict(raw.get("instruments", {}))
        for key, entry in raw.get("series", {}).items():
            self._fetched[key] = [(_ts(a), _ts(b)) for a, b in entry.get("fetched", [])]
            self._empty[key] = [
                (_ts(item[0]), _ts(item[1]), _ts(item[2]) if len(item) > 2 and item[2] else None)
                for item in entry.get("empty", [])
            ]

    def fetched(self, key: SeriesKey) -> list[Range]:
        """Ranges IB has answered for this series (with bars or with "no data")."""
        return list(self._fetched.get(key.text, []))

    def empty(self, key: SeriesKey) -> list[Range]:
        """Windows IB answered with "no data"."""
        return merge_ranges((a, b) for a, b, _ in self._empty.get(key.text, []))

    def stale_empty(self, key: SeriesKey, now: pd.Timestamp, max_age: pd.Timedelta | None) -> list[Range]:
        """Empty windows to ask again: answered longer than ``max_age`` ago (all when None)."""
        return merge_ranges(
            (a, b)
            for a, b, at in self._empty.get(key.text, [])
            if max_age is None or at is None or now - at > max_age
        )

    def add(
        self,
        key: SeriesKey,
        fetched: Iterable[Range],
        empty: Iterable[Range] = (),
        *,
        now: pd.Timestamp | None = None,
    ) -> None:
        """Record answered windows; ``empty`` ones answered "no data" (at ``now``)."""
        fetched, empty = list(fetched), merge_ranges(empty)
        when = now if now is not None else pd.Timestamp.now(tz="UTC")
        self._fetched[key.text] = merge_ranges([*self._fetched.get(key.text, []), *fetched])
        # A window answered again (with bars or with "no data" anew) replaces its old empty record.
        kept: list[EmptyWindow] = []
        for a, b, at in self._empty.get(key.text, []):
            kept.extend((s, e, at) for s, e in subtract_ranges([(a, b)], fetched))
        self._empty[key.text] = sorted([*kept, *((a, b, when) for a, b in empty)], key=lambda w: w[0])

    def forget(self, key: SeriesKey, span: Range) -> None:
        """Drop what was recorded of ``span`` for this series (its bars were replaced)."""
        self._fetched[key.text] = subtract_ranges(self._fetched.get(key.text, []), [span])
        self._empty[key.text] = [
            (s, e, at)
            for a, b, at in self._empty.get(key.text, [])
            for s, e in subtract_ranges([(a, b)], [span])
        ]

    def save(self) -> None:
        """Write atomically: a crash leaves the old manifest or the new one, never half of one."""

        def empty_rows(key: str) -> list[list[str | None]]:
            return [
                [a.isoformat(), b.isoformat(), at.isoformat() if at is not None else None]
                for a, b, at in self._empty.get(key, [])
            ]

        data = {
            "version": 2,
            "instruments": self.instruments,
            "series": {
                key: {
                    "fetched": [[a.isoformat(), b.isoformat()] for a, b in ranges],
                    "empty": empty_rows(key),
                }
                for key, ranges in sorted(self._fetched.items())
            },
        }
        atomic_write(self.path, json.dumps(data, indent=1))


def venue_of(symbol: str, root: str | Path | None = None) -> str | None:
    """The venue of the instrument fetched for ``symbol`` (e.g. "ARCA" for SPY), from the manifest.

    A symbol resolved on several venues takes the one of a plain ``SYMBOL`` STK SMART query;
    None when nothing was fetched for it.
    """
    manifest_path = catalog_root(root) / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    name = symbol.upper()
    entries = {key: e for key, e in Manifest.load(root).instruments.items() if e.get("symbol") == name}
    if not entries:
        return None
    entry = entries.get(f"{name}|STK|SMART|USD") or next(iter(entries.values()))
    return str(entry["instrument_id"]).rsplit(".", 1)[-1]
