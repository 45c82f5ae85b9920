"""Cash dividends in `--adjust raw` runs: credited to the simulated account at the ex-date.

Nautilus 1.221 has no dividend event; its simulation modules (the FX rollover-interest module is
the built-in one) see every data point before the exchange matches it (`pre_process`) and may
change the account with `SimulatedExchange.adjust_account(Money)`. `DividendModule` does that: at
the first data point at or after an ex-date bar's open it credits dividend × the signed position
then held (a short pays it), so the shares held at the previous close are the ones paid, and a
buy at the ex-date's open (next-open fills) is not. Amounts are rounded to the cent, as the
account holds them; `credits` keeps what was paid for the equity curve (`dividend_cash`).

Splits have no such API (an open position's quantity cannot be changed), so raw runs refuse a split
inside the period (`ntrader.backtest.adjusting`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Money

__all__ = ["DividendModule", "dividend_cash"]


class DividendModule(SimulationModule):
    """Credits each dividend (per share) to the account at its ex-date (UTC ns of the bar's open)."""

    def __init__(self, instrument_id: InstrumentId, dividends: pd.Series) -> None:
        super().__init__(SimulationModuleConfig())
        self.instrument_id = instrument_id
        self.due_ns = (
            pd.DatetimeIndex(dividends.index)
            .as_unit("ns")
            .to_numpy(dtype="datetime64[ns]")
            .view("int64")
            .tolist()
        )
        self.amounts = [float(v) for v in dividends.to_numpy(dtype="float64")]
        self.next = 0
        #: (ex-date open ns, shares held, cash credited) per dividend paid.
        self.credits: list[tuple[int, float, float]] = []

    def pre_process(self, data: Any) -> None:
        ts = data.ts_init
        while self.next < len(self.due_ns) and self.due_ns[self.next] <= ts:
            self._credit(self.due_ns[self.next], self.amounts[self.next])
            self.next += 1

    def _credit(self, due_ns: int, per_share: float) -> None:
        held = self.exchange.cache.positions_open(instrument_id=self.instrument_id)
        shares = sum(p.signed_qty for p in held)
        if shares == 0:
            return
        cash = Money(shares * per_share, USD)
        self.exchange.adjust_account(cash)
        self.credits.append((due_ns, float(shares), cash.as_double()))

    def process(self, ts_now: int) -> None:
        pass  # everything happens before the exchange matches a data point

    def log_diagnostics(self, logger: Any) -> None:
        logger.info(f"Dividends credited: {sum(c for _, _, c in self.credits):.2f} USD")

    def reset(self) -> None:
        self.next = 0
        self.credits = []


def dividend_cash(open_times: pd.DatetimeIndex, credits: list[tuple[int, float, float]]) -> np.ndarray:
    """Cumulative dividend cash at each bar (a credit belongs to the bar opening at its ex-date)."""
    paid = np.zeros(len(open_times))
    if credits:
        stamps = open_times.as_unit("ns").to_numpy(dtype="datetime64[ns]").view("int64")
        at = np.searchsorted(stamps, np.array([c[0] for c in credits], dtype="int64"), side="left")
        np.add.at(paid, np.clip(at, 0, len(paid) - 1), [c[2] for c in credits])
    return np.cumsum(paid)
