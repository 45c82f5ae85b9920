"""Splits and dividends from IB: daily ADJUSTED_LAST bars beside the stored TRADES bars.

IB's TRADES bars are adjusted for splits but not for dividends; its ADJUSTED_LAST bars for both.
So where the ratio ADJUSTED_LAST / TRADES changes from one day to the next, a dividend went ex
(``ntrader.data.adjust.infer_events``); a split shows there only if the two disagree about it.
IB takes ADJUSTED_LAST only for daily bars and only with an empty end date, so it is one request
reaching back from today to the first stored bar. The events go to ``bar_events`` (source "ibkr").
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from ntrader.ibkr.catalog import catalog_lock, read_catalog_bars
from ntrader.ibkr.client import bars_to_frame
from ntrader.ibkr.errors import IBError, NoData
from ntrader.ibkr.pacing import historical_key
from ntrader.ibkr.planning import complete_end
from ntrader.ibkr.requests import IBRequests

__all__ = ["MIN_DIVIDEND", "EventFetch", "adjusted_duration", "refine_dividends"]

#: Smaller "dividends" are the rounding of two cent-rounded prices, not a payment.
MIN_DIVIDEND = 0.015


def refine_dividends(close: pd.Series, adjusted: pd.Series, ex_dates: pd.DatetimeIndex) -> pd.Series:
    """Each dividend from the adjustment factor's median level before and after its ex-date.

    IB sends prices to the cent, so one day's ratio adjusted / close is off by up to half a cent
    over the price; the factor is constant between two ex-dates, so its median over each stretch
    is far closer: dividend = previous close × (1 − factor before / factor after).
    """
    factor = adjusted / close
    index = pd.DatetimeIndex(close.index)
    cuts = [0, *index.searchsorted(ex_dates), len(index)]
    levels = [float(factor.iloc[a:b].median()) for a, b in itertools.pairwise(cuts)]
    values = [
        float(close.iloc[at - 1]) * (1 - before / after)
        for at, before, after in zip(cuts[1:-1], levels[:-1], levels[1:], strict=True)
    ]
    return pd.Series(values, index=ex_dates, name="dividend", dtype="float64")


def adjusted_duration(first: pd.Timestamp, now: pd.Timestamp) -> str:
    """IB's duration from ``now`` back past ``first``: days up to a year, whole years beyond."""
    days = math.ceil((now - first) / pd.Timedelta(days=1)) + 1
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


class EventFetch(IBRequests):
    """ADJUSTED_LAST for ``FetchService``."""

    async def _events(self, job: Any, contract: Any) -> None:
        """Ask IB's ADJUSTED_LAST closes and store the splits and dividends they imply."""
        from ntrader.data.adjust import infer_events
        from ntrader.data.store import save_events

        result = job.result
        if (
            not job.size.is_daily
            or result.what_to_show != "TRADES"
            or job.query.sec_type not in ("STK", "ETF")
        ):
            result.notes.append(
                f"{result.symbol}: events come from daily TRADES bars of stocks only; none asked"
            )
            return
        with catalog_lock(self.options.catalog_path):
            stored = read_catalog_bars(job.catalog, job.bar_type)
        if stored.empty:
            return
        now = complete_end(pd.Timestamp.now(tz="UTC"), job.size)
        duration = adjusted_duration(stored.index[0], now)
        key = historical_key(
            contract.symbol, contract.exchange, "ADJUSTED_LAST", "", duration, "1 day", result.use_rth
        )
        client = await self._connected(result)
        await self.limiter.acquire(key)
        result.requests += 1
        try:
            bars = await client.historical_bars(
                contract, end="", duration=duration, bar_size="1 day", what_to_show="ADJUSTED_LAST",
                use_rth=result.use_rth,
            )  # fmt: skip
        except NoData:
            return
        except IBError as exc:
            result.notes.append(f"{result.symbol}: IB's ADJUSTED_LAST bars failed ({exc}); no events stored")
            return
        finally:
            self.limiter.release()
        adjusted = bars_to_frame(bars)
        common = stored.index.intersection(adjusted.index)
        if len(common) < 2:
            return
        splits, dividends = infer_events(stored.loc[common, "close"], adjusted.loc[common, "close"])
        dividends = dividends[dividends >= MIN_DIVIDEND]
        dividends = refine_dividends(
            stored.loc[common, "close"], adjusted.loc[common, "close"], pd.DatetimeIndex(dividends.index)
        )
        events = pd.DataFrame(
            {
                "ex_date": splits.index.append(dividends.index),
                "kind": np.array(["split"] * len(splits) + ["dividend"] * len(dividends), dtype=object),
                "value": np.concatenate([splits.to_numpy(), dividends.round(4).to_numpy()]),
            }
        )
        saved = save_events(
            result.symbol, job.size, result.source, events, source="ibkr", url=self.options.database_url
        )
        result.events = len(events)
        result.notes.append(
            f"{result.symbol}: {len(dividends)} dividend(s) and {len(splits)} split(s) from IB's "
            f"ADJUSTED_LAST bars; {saved} new in bar_events"
        )
