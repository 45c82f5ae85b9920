"""Progress of one backtest for a person watching: the phase, and bars processed inside the engine."""

from __future__ import annotations

import time
from collections.abc import Callable

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType

#: (phase, done, total): phase is "loading", "engine", "metrics" or "saving"; done/total count bars
#: in "engine" (0, 0 elsewhere). Called from the thread running the backtest.
Progress = Callable[[str, int, int], None]

#: How often the engine reports (seconds): often enough to look alive, rarely enough to cost nothing.
REPORT_EVERY = 0.1


class BarCounter(Actor):
    """A Nautilus actor that counts the run's bars as the engine replays them and reports the count.

    It only listens: the strategy sees the same bars in the same order, so the run is unchanged.
    """

    def __init__(self, bar_type: BarType | tuple[BarType, ...], total: int, report: Progress) -> None:
        super().__init__(ActorConfig(component_id="ntrader-progress"))
        # A portfolio run counts the bars of every symbol.
        self._bar_types = bar_type if isinstance(bar_type, tuple) else (bar_type,)
        self._total = total
        self._report = report
        self._done = 0
        self._next = 0.0

    def on_start(self) -> None:
        for bar_type in self._bar_types:
            self.subscribe_bars(bar_type)
        self._report("engine", 0, self._total)

    def on_bar(self, bar: Bar) -> None:
        self._done += 1
        now = time.monotonic()
        if now >= self._next or self._done == self._total:
            self._next = now + REPORT_EVERY
            self._report("engine", self._done, self._total)


__all__ = ["REPORT_EVERY", "BarCounter", "Progress"]
