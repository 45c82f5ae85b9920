"""Deterministic mock OHLCV bars on the NYSE calendar, with fat tails and overnight gaps.

Shape of the data:

- Sessions are the NYSE's (exchange_calendars' XNYS): no bars on holidays, and half days end at
  13:00 New York. Minute bars cover the regular session only (09:30 to the close).
- Each session's open-to-close log return and each overnight move are Student-t with
  ``TAIL_DF`` degrees of freedom (fat tails: sample kurtosis of daily returns well above a
  normal's 0), and about ``GAPS_PER_YEAR`` overnight gaps a year of 3-10 % in either direction.
- Minute bars follow a Brownian bridge from the session's open to its close. Every other size
  (5-minute, hourly, daily) is the aggregate of the 1-minute bars of the same session: open =
  first minute's open, high = max, low = min, close = last minute's close, volume = sum. So a
  daily bar and the minute bars of its day agree exactly, to the cent and the share.
- Volumes come from a dollar volume (median ``DOLLAR_VOLUME`` a day, more on days that move a
  lot) divided by the price, spread over the session in a U shape (busy open and close). Shares
  therefore scale with 1 / price, and even a quiet midday minute trades several hundred thousand
  dollars: far above the orders of a 100 000 account at Nautilus's volume / 4 per price point.

Random numbers come from a counter-based hash of (symbol, seed, stream, calendar date, minute
of the session) rather than from a sequential generator, so the same symbol, seed and date
always give the same bars whatever range is asked for, and generation is vectorized end to end.
Prices start from a fixed epoch (``EPOCH``): no bars before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ntrader.data import calendar
from ntrader.data.bars import BAR_COLUMNS, BarSize, empty_bars, parse_bar_size

EPOCH = pd.Timestamp("2000-01-03")
#: Student-t degrees of freedom of the daily shocks (4: finite variance, heavy tails).
TAIL_DF = 4
SHOCK_CAP = 8.0
#: Open-to-close and overnight volatility (log returns, one full session).
INTRADAY_VOL = 0.0155
OVERNIGHT_VOL = 0.006
#: Large overnight gaps: how many a year on average, and their size range (either sign).
GAPS_PER_YEAR = 3.0
GAP_SIZE = (0.03, 0.10)
#: Prices stay around a level drawn per symbol from this range (USD) ...
PRICE_LEVEL = (40.0, 400.0)
#: ... by measuring the walk from its trailing mean over this many sessions (about two years).
ANCHOR_SESSIONS = 500
#: Median traded value of a session in dollars (a large US stock); shares = value / price.
DOLLAR_VOLUME = 2e9
MINUTES_PER_SESSION = 390

_NS_PER_MINUTE = 60_000_000_000
_NS_PER_DAY = 86_400_000_000_000
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> _U64(30))
    x = x * _MIX1
    x = x ^ (x >> _U64(27))
    x = x * _MIX2
    return x ^ (x >> _U64(31))


class _Draws:
    """Uniform and derived variates addressed by (stream, day number, minute): no state, no order."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol, self.seed = symbol, seed

    def uniform(self, stream: str, day: np.ndarray, minute: np.ndarray | int = 0) -> np.ndarray:
        """Uniforms in (0, 1), one per element of the broadcast of ``day`` and ``minute``."""
        key = _U64(_seed("mock", self.symbol, str(self.seed), stream))
        d = np.asarray(day).astype(np.int64).astype(_U64)
        m = np.asarray(minute).astype(np.int64).astype(_U64)
        h = _mix(key ^ _mix(d * _GOLDEN + _U64(1)))
        h = _mix(h ^ (m * _GOLDEN + _U64(2)))
        return ((h >> _U64(11)).astype(np.float64) + 0.5) / float(1 << 53)

    def normals(
        self, stream: str, day: np.ndarray, minute: np.ndarray | int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two independent standard normals per element (Box-Muller)."""
        u1, u2 = self.uniform(stream + ":1", day, minute), self.uniform(stream + ":2", day, minute)
        radius = np.sqrt(-2.0 * np.log(u1))
        angle = 2.0 * np.pi * u2
        return radius * np.cos(angle), radius * np.sin(angle)

    def student_t(self, stream: str, day: np.ndarray) -> np.ndarray:
        """Student-t with TAIL_DF (= 4) degrees of freedom, scaled to unit variance."""
        z, _ = self.normals(stream + ":z", day)
        # chi-square with 4 degrees of freedom = -2 ln(u1 u2)
        u1, u2 = self.uniform(stream + ":c1", day), self.uniform(stream + ":c2", day)
        chi2 = -2.0 * (np.log(u1) + np.log(u2))
        t = z / np.sqrt(chi2 / TAIL_DF) * np.sqrt((TAIL_DF - 2) / TAIL_DF)
        # Cut the far tail at SHOCK_CAP standard deviations: a 1-in-a-million draw would otherwise
        # move a large stock 30 % in a session.
        return np.clip(t, -SHOCK_CAP, SHOCK_CAP)


def trading_days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """NYSE session dates from start to end inclusive, as naive dates."""
    return calendar.session_dates(start, end)


def _daily_chain(draws: _Draws, days: np.ndarray, n_minutes: np.ndarray) -> dict[str, np.ndarray]:
    """Each session's open and close price and dollar volume, for sessions ``days`` since EPOCH."""
    level = PRICE_LEVEL[0] + (PRICE_LEVEL[1] - PRICE_LEVEL[0]) * float(draws.uniform("level", np.zeros(1))[0])
    share = np.sqrt(n_minutes / MINUTES_PER_SESSION)  # a half day moves and trades less
    intraday = INTRADAY_VOL * share * draws.student_t("intraday", days)
    overnight = OVERNIGHT_VOL * draws.student_t("overnight", days)
    jump = draws.uniform("gap", days) < GAPS_PER_YEAR / 252.0
    lo, hi = GAP_SIZE
    size = lo + (hi - lo) * draws.uniform("gap-size", days)
    up = draws.uniform("gap-sign", days) < 0.5
    gap = np.where(up, np.log1p(size), np.log1p(-size))
    overnight = np.where(jump, overnight + gap, overnight)
    overnight[0] = 0.0
    # The price is the walk's distance from its own trailing mean (ANCHOR_SESSIONS long) around the
    # symbol's level: a random walk over weeks and months that never wanders off to cents or to
    # millions over decades. The correction (about 0.1 % a day) goes into the overnight move.
    walk = np.cumsum(overnight + intraday)
    total = np.cumsum(walk)
    count = np.minimum(np.arange(1, len(walk) + 1), ANCHOR_SESSIONS)
    behind = np.concatenate((np.zeros(ANCHOR_SESSIONS), total))[: len(walk)]
    log_close = np.log(level) + walk - (total - behind) / count
    log_open = log_close - intraday
    move = np.abs(overnight + intraday) / (INTRADAY_VOL + OVERNIGHT_VOL)
    noise, _ = draws.normals("dollar-volume", days)
    # Log-normal around the median, clipped at 3 standard deviations so no session is starved.
    dollars = DOLLAR_VOLUME * np.exp(0.25 * np.clip(noise, -3.0, 3.0)) * (1.0 + 0.5 * np.minimum(move, 6.0))
    dollars = dollars * share**2
    return {"log_open": log_open, "intraday": intraday, "dollars": dollars}


def _ns(values: pd.Series | pd.Index) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the Unix epoch (UTC, or naive dates as UTC)."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]").view(np.int64)


#: Sessions generated at a time (about 100 000 one-minute bars): the minute arrays of a block are
#: 2-D (sessions x minutes) with a dozen temporaries, so a decade at once would need ~20x its bars.
SESSIONS_PER_BLOCK = 256


@dataclass(frozen=True)
class _Sessions:
    """The sessions to generate, with their daily chain (which runs from EPOCH, so it is the same
    whatever range is asked for)."""

    days: np.ndarray  # day numbers since 1970-01-01: the address of a session's draws
    dates_ns: np.ndarray
    opens_ns: np.ndarray
    n_minutes: np.ndarray
    log_open: np.ndarray
    intraday: np.ndarray
    dollars: np.ndarray

    def block(self, lo: int, hi: int) -> _Sessions:
        return _Sessions(*(getattr(self, f.name)[lo:hi] for f in fields(self)))


def _sessions(draws: _Draws, first: pd.Timestamp, last: pd.Timestamp) -> _Sessions:
    table = calendar.sessions(EPOCH, max(last, EPOCH))
    opens_ns = _ns(table["open"])
    closes_ns = _ns(table["close"])
    n_minutes = (closes_ns - opens_ns) // _NS_PER_MINUTE
    dates_ns = _ns(table.index)
    day_numbers = dates_ns // _NS_PER_DAY
    chain = _daily_chain(draws, day_numbers, n_minutes)
    keep = (dates_ns >= first.as_unit("ns").value) & (dates_ns <= last.as_unit("ns").value)
    return _Sessions(
        day_numbers[keep],
        dates_ns[keep],
        opens_ns[keep],
        n_minutes[keep],
        chain["log_open"][keep],
        chain["intraday"][keep],
        chain["dollars"][keep],
    )


def _minute_frame(draws: _Draws, sessions: _Sessions) -> dict[str, np.ndarray]:
    """1-minute bars of `sessions` as flat arrays (cents, shares, ns stamps)."""
    days, n = sessions.days, sessions.n_minutes
    log_open, intraday, dollars = sessions.log_open, sessions.intraday, sessions.dollars
    width = int(n.max()) if len(n) else 0
    minute = np.arange(width)
    valid = minute[None, :] < n[:, None]
    d2 = days[:, None]

    # A Brownian bridge from 0 to the session's open-to-close return, over its own minutes.
    sigma = INTRADAY_VOL / np.sqrt(MINUTES_PER_SESSION)
    step, vol_noise = draws.normals("path", d2, minute[None, :])
    walk = np.cumsum(np.where(valid, step * sigma, 0.0), axis=1)
    span = n[:, None].astype(np.float64)
    end_walk = np.take_along_axis(walk, (n - 1)[:, None], axis=1)
    frac = np.minimum(minute[None, :] + 1, span) / span
    bridge = walk - frac * end_walk + frac * intraday[:, None]
    close = np.exp(log_open[:, None] + bridge)
    open_ = np.exp(log_open[:, None] + np.concatenate([np.zeros((len(n), 1)), bridge[:, :-1]], axis=1))
    wick_up, wick_down = draws.normals("wick", d2, minute[None, :])
    high = np.maximum(open_, close) * np.exp(np.abs(wick_up) * sigma / 2)
    low = np.minimum(open_, close) * np.exp(-np.abs(wick_down) * sigma / 2)

    # U-shaped intraday volume profile (mean 1 over a full session), times log-normal noise.
    x = (minute[None, :] + 0.5) / MINUTES_PER_SESSION
    profile = 0.55 + 1.8 * (2.0 * x - 1.0) ** 2
    profile = profile / (0.55 + 1.8 / 3.0)
    per_minute = dollars[:, None] / n[:, None] / np.exp(log_open[:, None])
    noise = np.exp(0.3 * np.clip(vol_noise, -3.0, 3.0) - 0.3**2 / 2)
    volume = np.maximum(np.round(per_minute * profile * noise), 100.0)

    stamps = sessions.opens_ns[:, None] + minute[None, :] * _NS_PER_MINUTE
    flat = {
        "open": open_[valid],
        "high": high[valid],
        "low": low[valid],
        "close": close[valid],
        "volume": volume[valid],
        "stamp": stamps[valid],
        "minute": np.broadcast_to(minute, valid.shape)[valid],
        "session": np.broadcast_to(sessions.dates_ns[:, None], valid.shape)[valid],
    }
    return _to_cents(flat)


def _to_cents(bars: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    open_, close = np.round(bars["open"], 2), np.round(bars["close"], 2)
    # Rounding to cents must not break the bar's invariants.
    high = np.maximum(np.round(bars["high"], 2), np.maximum(open_, close))
    low = np.maximum(np.minimum(np.round(bars["low"], 2), np.minimum(open_, close)), 0.01)
    open_, close = np.maximum(open_, 0.01), np.maximum(close, 0.01)
    high = np.maximum(high, 0.01)
    return {**bars, "open": open_, "high": high, "low": low, "close": close}


def _aggregate(bars: dict[str, np.ndarray], group: np.ndarray, stamps: np.ndarray) -> list[np.ndarray]:
    """Bars of consecutive equal ``group`` keys folded into one (first/max/min/last/sum): the
    columns of BAR_COLUMNS, then the stamps."""
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    if len(starts) == len(group):  # one-minute bars: nothing to fold
        return [bars[name] for name in BAR_COLUMNS] + [stamps]
    ends = np.concatenate((starts[1:], [len(group)])) - 1
    return [
        bars["open"][starts],
        np.maximum.reduceat(bars["high"], starts),
        np.minimum.reduceat(bars["low"], starts),
        bars["close"][ends],
        np.add.reduceat(bars["volume"], starts),
        stamps[starts],
    ]


def _block_bars(draws: _Draws, sessions: _Sessions, size: BarSize) -> list[np.ndarray]:
    minutes = _minute_frame(draws, sessions)
    if size.is_daily:
        return _aggregate(minutes, minutes["session"], minutes["session"])
    if size.unit == "MINUTE":
        bucket = minutes["minute"] // size.step
    else:  # HOUR
        # Hourly bars start at the open (09:30, 10:30, ...), so the last of a day is 15:30-16:00.
        bucket = minutes["minute"] // (60 * size.step)
    group = minutes["session"] // _NS_PER_MINUTE * 1000 + bucket
    return _aggregate(minutes, group, minutes["stamp"])


def generate_bars(
    symbol: str,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    bar_size: BarSize | str = "1-DAY",
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Mock bars for `symbol` on NYSE sessions from `start` to `end` (both dates inclusive).

    The same (symbol, seed, bar size, date) gives the same bar whatever range is asked for.
    Daily and intraday bars are aggregates of one set of 1-minute bars, so they agree exactly.
    """
    size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
    first = pd.Timestamp(start).tz_localize(None).normalize()
    last = pd.Timestamp(end).tz_localize(None).normalize()
    if last < max(first, EPOCH):
        return empty_bars()
    if size.unit not in ("DAY", "MINUTE", "HOUR"):
        raise ValueError(f"mock bars do not support {size.name}")
    draws = _Draws(symbol.upper(), seed)
    sessions = _sessions(draws, max(first, EPOCH), last)
    if len(sessions.days) == 0:
        return empty_bars()
    # Block by block (sessions never share a bar), each block's columns written into the result.
    blocks = (
        _block_bars(draws, sessions.block(lo, lo + SESSIONS_PER_BLOCK), size)
        for lo in range(0, len(sessions.days), SESSIONS_PER_BLOCK)
    )
    columns = _concatenate(blocks, _bar_count(sessions.n_minutes, size))
    frame = pd.DataFrame(
        dict(zip(BAR_COLUMNS, columns[:-1], strict=True)),
        index=pd.DatetimeIndex(columns[-1].view("datetime64[ns]"), name="timestamp").tz_localize("UTC"),
        copy=False,
    )
    return frame


def _bar_count(n_minutes: np.ndarray, size: BarSize) -> int:
    """Bars of `size` in sessions of `n_minutes` minutes (a session's last bar may be short)."""
    if size.is_daily:
        return len(n_minutes)
    width = size.step * (60 if size.unit == "HOUR" else 1)
    return int((-(-n_minutes // width)).sum())


def _concatenate(blocks: Iterable[list[np.ndarray]], rows: int) -> list[np.ndarray]:
    """The blocks' columns end to end, written into arrays of `rows` rows (no list of parts)."""
    out: list[np.ndarray] = []
    filled = 0
    for block in blocks:
        if not out:
            out = [np.empty(rows, dtype=column.dtype) for column in block]
        for target, column in zip(out, block, strict=True):
            target[filled : filled + len(column)] = column
        filled += len(block[0])
    if filled != rows:
        raise AssertionError(f"mock bars: {filled} bars generated, {rows} expected")
    return out
