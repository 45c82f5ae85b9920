"""Progress displays on stderr, fed by the library's callbacks: sweeps, walk-forward, fetches, writes."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ntrader.cli.render import err_console

PROGRESS_MIN_ROWS = 100_000


class _CountColumn(ProgressColumn):
    """ "3/10 runs", "120,000/480,000 bars": done of total, with the task's unit."""

    def render(self, task: Task) -> Text:
        if task.total is None and not task.completed:
            return Text("")
        total = "?" if task.total is None else f"{task.total:,.0f}"
        unit = str(task.fields.get("unit", ""))
        return Text(f"{task.completed:,.0f}/{total}" + (f" {unit}" if unit else ""))


class _RateColumn(ProgressColumn):
    """Bars a second lately (rich's estimate over the last samples: the workers' start-up does not
    drag it down), blank for tasks counted in runs, folds, …"""

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") != "bars" or not task.completed:
            return Text("")
        speed = task.speed or (task.completed / task.elapsed if task.elapsed else None)
        return Text(f"{speed:,.0f} bars/s" if speed else "")


class PhaseBars:
    """A rich progress display fed by the library's (phase, advance, total) callbacks.

    A phase named "<phase>-bars" counts the bars the Nautilus runs of <phase> have processed (summed
    over the worker processes) and is drawn under it with the rate; "folds" names the walk-forward
    fold being worked on ("Walk-forward fold 3 of 12").
    """

    LABELS: ClassVar[dict[str, str]] = {
        "screen": "Screening",
        "confirm": "Confirming in Nautilus",
        "folds": "Walk-forward folds",
    }
    UNITS: ClassVar[dict[str, str]] = {"screen": "combinations", "confirm": "runs", "folds": "folds"}
    #: Redraw at most this often from the caller's thread (an engine in this process holds the GIL,
    #: so the display's own refresh thread may not get to run).
    REDRAW_EVERY = 0.1

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.done: dict[str, int] = {}
        self._drawn = 0.0
        self._loading: TaskID | None = None

    def loading(self, label: str = "Loading the bars") -> PhaseBars:
        """Say at once what comes first (imports, reading the bars take seconds); the line goes
        when the first phase starts."""
        self._loading = self.progress.add_task(label, total=None, unit="")
        self.progress.refresh()
        return self

    def __call__(self, phase: str, advance: int, total: int) -> None:
        bars = phase.endswith("-bars")
        if self._loading is not None:
            self.progress.remove_task(self._loading)
            self._loading = None
        if phase not in self.tasks:
            label = "  bars in the runs" if bars else self.LABELS.get(phase, phase)
            unit = "bars" if bars else self.UNITS.get(phase, "")
            self.tasks[phase] = self.progress.add_task(label, total=total, unit=unit)
        task = self.tasks[phase]
        self.progress.update(task, advance=advance, total=total)
        self.done[phase] = self.done.get(phase, 0) + advance
        if phase == "folds":
            working = min(self.done[phase] + 1, total)
            self.progress.update(task, description=f"Walk-forward fold {working} of {total}")
        now = time.monotonic()
        if now - self._drawn >= self.REDRAW_EVERY or phase == "folds":
            self._drawn = now
            self.progress.refresh()


def phase_progress(enabled: bool = True) -> Progress:
    console = err_console()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _CountColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        # In a pipe or a log a live bar is noise (and leaves a blank line before any error).
        disable=not (enabled and console.is_terminal),
    )


class _PacingColumn(ProgressColumn):
    """The note of a fetch, or while it waits for pacing, the seconds left, counted down live."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock

    def render(self, task: Task) -> Text:
        left = float(task.fields.get("wait_until", 0.0)) - self.clock()
        if left > 0:
            return Text(f"pacing: waiting {left:,.0f} s more", style="yellow")
        note = str(task.fields.get("note", ""))
        return Text("" if note.startswith("pacing") else note)


class FetchBars:
    """One rich progress bar per symbol on stderr (on a terminal only): windows done, bars, elapsed
    time, ETA, and a pacing wait counted down as it runs (the display refreshes on its own)."""

    def __init__(self, enabled: bool, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled and err_console().is_terminal
        self.clock = clock
        self.bar: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.fields[symbol]:<8}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("windows · {task.fields[bars]:>7,} bars · {task.fields[waits]} pacing waits"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                _PacingColumn(self.clock),
                console=err_console(),
            )
            self.bar.start()
        fields: dict[str, Any] = {"bars": event.bars, "waits": event.pacing_waits, "note": event.note}
        waiting = float(getattr(event, "waiting", 0.0))
        fields["wait_until"] = self.clock() + waiting if waiting > 0 else 0.0
        task = self.tasks.get(event.symbol)
        if task is None:
            task = self.bar.add_task(
                event.symbol, total=event.windows_total or 1, symbol=event.symbol, **fields
            )
            self.tasks[event.symbol] = task
        done = event.windows_done if event.windows_total else 1
        self.bar.update(task, total=event.windows_total or 1, completed=done, **fields)

    def __enter__(self) -> FetchBars:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.stop()


class WriteBar:
    """A progress bar on stderr, shown only once a write turns out to be large."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("Writing bars"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("write", total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done)

    def __enter__(self) -> WriteBar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


class RunProgress:
    """`backtest run` on stderr: the phase (loading, engine, metrics, saving) at once, then in the
    engine bars processed of the total, the rate and the time left. Nothing off a terminal."""

    LABELS: ClassVar[dict[str, str]] = {
        "loading": "Loading bars",
        "engine": "Engine",
        "metrics": "Computing metrics",
        "saving": "Saving the run",
    }

    def __init__(self, title: str, enabled: bool = True) -> None:
        console = err_console()
        self.title = title
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )
        self.task: TaskID | None = None
        self._engine_started: float | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        label = f"{self.title} · {self.LABELS.get(phase, phase)}"
        rate = ""
        count = f"{done:,}/{total:,} bars" if total else ""
        if phase == "engine":
            now = self.progress.get_time()
            self._engine_started = self._engine_started if self._engine_started is not None else now
            elapsed = now - self._engine_started
            rate = f"{done / elapsed:,.0f} bars/s" if done and elapsed > 0 else ""
        changed = self.task is None or label != self.progress.tasks[0].description
        if self.task is None:
            self.task = self.progress.add_task(label, total=total or None, rate=rate, count=count)
        self.progress.update(
            self.task, description=label, completed=done, total=total or None, rate=rate, count=count
        )
        # Draw each new phase at once, however short, and each engine report (already throttled to
        # REPORT_EVERY): the engine holds the GIL, so the display's own refresh thread may not run.
        if changed or phase == "engine":
            self.progress.refresh()

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


class Working:
    """One line on stderr while a command works (a spinner, what it does, the time so far), on a
    terminal only and gone when it is done: for steps of seconds with nothing to count."""

    def __init__(self, message: str, enabled: bool = True) -> None:
        console = err_console()
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn(message, markup=False),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )

    def __enter__(self) -> Working:
        self.progress.start()
        self.progress.add_task("working", total=None)
        self.progress.refresh()  # at once: the work may hold the GIL before the display's thread runs
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()


#: A file this large takes long enough to read and check that a person should hear about it first.
ANNOUNCE_BYTES = 1_000_000


def announce_read(path: str) -> None:
    """Say at once, on a terminal, that a large file is being read (a million rows take seconds)."""
    import os

    console = err_console()
    try:
        size = os.path.getsize(path)
    except OSError:
        return  # the import itself reports a missing file
    if console.is_terminal and size >= ANNOUNCE_BYTES:
        console.print(f"Reading and checking {path} ({size / 1e6:,.1f} MB)…", highlight=False, markup=False)
