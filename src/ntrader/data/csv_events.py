"""Split, dividend and adjusted-close columns of a bar CSV, checked like the bar columns.

Optional columns (any case): ``split`` (also ``splits``, ``stock splits``, ``split_coefficient``,
``split_ratio``): new shares per old share on the ex-date row, as a number (4) or a ratio ("4:1",
"4/1"); ``dividend`` (also ``dividends``, ``dividend_amount``): cash per share on the ex-date row;
``adj_close`` (also ``adj close``, ``adjusted_close``, ``adjclose``): a vendor's split-and-dividend
adjusted close.

Empty cells, a split of 0 or 1 and a dividend of 0 mean "no event" (yfinance writes 0 on every
other row, Alpha Vantage a split coefficient of 1). A negative dividend, a negative split ratio or
ratio part, text that is not a number, and an adj_close that is empty or ≤ 0 are errors naming the
row and the column.

Events: from the split and dividend columns when the file has either (source ``csv``); otherwise
inferred from adj_close against close (`ntrader.data.adjust.infer_events`, source ``inferred``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["EVENT_ALIASES", "event_frame", "event_values"]

EVENT_ALIASES = {
    "adj_close": ("adj_close", "adj close", "adjusted_close", "adjusted close", "adjclose"),
    "dividend": ("dividend", "dividends", "dividend_amount"),
    "split": ("split", "splits", "stock splits", "stock_splits", "split_coefficient", "split_ratio"),
}
_ORDER = {"adj_close": 6, "dividend": 7, "split": 8}
_RATIO = r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:[:/]\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+))?\s*$"

Problem = Callable[[int, int, str, str], None]  # (row index, column order, column, message)


def _text(raw: pa.Array) -> pd.Series:
    return pd.Series(raw.to_numpy(zero_copy_only=False), dtype="object").str.strip()


def _first(mask: np.ndarray) -> int | None:
    return int(mask.argmax()) if mask.any() else None


def _number(name: str, text: pd.Series, problem: Problem) -> np.ndarray:
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    given = text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
    i = _first((np.isnan(values) | np.isinf(values)) & given)
    if i is not None:
        problem(i, _ORDER[name], name, f"cannot read {text.iloc[i]!r} as a number")
    return np.where(given, values, np.nan)


def _split(text: pd.Series, problem: Problem) -> np.ndarray:
    parts = text.str.extract(_RATIO)
    given = text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
    top = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype="float64")
    bottom = pd.to_numeric(parts[1], errors="coerce").fillna(1.0).to_numpy(dtype="float64")
    i = _first(given & np.isnan(top))
    if i is not None:
        problem(i, 8, "split", f"cannot read {text.iloc[i]!r} as a split ratio (4, 4:1 or 4/1)")
    i = _first(
        given & ~np.isnan(top) & ((top < 0) | (bottom <= 0) | ((top == 0) & parts[1].notna().to_numpy()))
    )
    if i is not None:
        problem(
            i, 8, "split", f"split ratio {text.iloc[i]!r} must be greater than 0 (4 or 4:1 for a 4:1 split)"
        )
    ratio = np.divide(top, bottom, out=np.full(len(top), np.nan), where=bottom > 0)
    return np.where(given & (ratio != 0) & (ratio != 1), ratio, np.nan)


def event_values(table: pa.Table, columns: dict[str, str], problem: Problem) -> dict[str, np.ndarray]:
    """The optional columns the file has, parsed: adj_close (float), dividend (NaN: none), split
    (NaN: none); `problem` hears the first bad cell of each."""
    out: dict[str, np.ndarray] = {}
    for name in ("adj_close", "dividend", "split"):
        if name not in columns:
            continue
        text = _text(table[columns[name]].combine_chunks())
        if name == "split":
            out[name] = _split(text, problem)
            continue
        values = _number(name, text, problem)
        if name == "dividend":
            i = _first(values < 0)
            if i is not None:
                problem(i, 7, name, f"dividend {values[i]:g} must not be negative (cash per share)")
            out[name] = np.where(values > 0, values, np.nan)
        else:
            i = _first(np.isnan(values) & (text.isna() | (text == "")).to_numpy())
            if i is not None:
                problem(i, 6, name, "empty value")
            i = _first(values <= 0)
            if i is not None:
                problem(i, 6, name, f"price {values[i]:g} must be greater than 0")
            out[name] = values
    return out


def _already_adjusted(frame: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The file's splits its prices show (a jump of about 1/ratio at the ex-date open), and a note for
    each they do not (Yahoo's Close is already split-adjusted: adjusting it again would be wrong)."""
    splits = frame["split"].dropna()
    close, opens = frame["close"].to_numpy(), frame["open"].to_numpy()
    at = pd.DatetimeIndex(frame.index).get_indexer(pd.DatetimeIndex(splits.index))
    prior = np.maximum(at - 1, 0)
    gap = np.log(opens[at] / close[prior])
    shown = (at > 0) & (np.abs(gap + np.log(splits.to_numpy())) < np.abs(gap))
    notes = [
        f"the {ratio:g}:1 split on {pd.Timestamp(day).date()} is not in the prices (no jump at its "
        "ex-date: they are already split-adjusted), so it is not stored"
        for day, ratio in splits[~shown].items()
    ]
    return splits[shown], notes


def event_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame | None, str, list[str]]:
    """Events (ex_date, kind, value) of a checked, sorted bar frame carrying the optional columns,
    their source (``csv`` from split/dividend columns, ``inferred`` from adj_close), and notes."""
    if "split" in frame or "dividend" in frame:
        notes: list[str] = []
        series: dict[str, pd.Series] = {}
        if "split" in frame:
            series["split"], notes = _already_adjusted(frame)
        if "dividend" in frame:
            series["dividend"] = frame["dividend"].dropna()
        parts = [
            pd.DataFrame({"ex_date": v.index, "kind": kind, "value": v.to_numpy(dtype="float64")})
            for kind, v in series.items()
        ]
        return pd.concat(parts, ignore_index=True), "csv", notes
    if "adj_close" in frame:
        from ntrader.data.adjust import infer_events

        splits, dividends = infer_events(frame["close"], frame["adj_close"])
        parts = [
            pd.DataFrame({"ex_date": s.index, "kind": kind, "value": s.to_numpy()})
            for kind, s in (("split", splits), ("dividend", dividends[dividends > 0]))
        ]
        return pd.concat(parts, ignore_index=True), "inferred", []
    return None, "csv", []
