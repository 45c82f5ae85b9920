"""Peak memory of a 1 000 000-bar backtest against the bars' Arrow size (issue target: the increment
over the engine's own ≤ 2× the Arrow size).

    uv run --no-sync python benchmarks/bench_memory.py [--bars 1000000] [--small 1000] [--fast 10 --slow 20]

Each run is `ntrader.run_backtest` (SMA fast/slow, 10/20 unless told, on one-minute mock bars,
default costs, saved to a fresh SQLite database as the CLI saves it) in a fresh subprocess, so its
peak RSS (VmHWM) is its own. The small run's peak is "the engine's own" (interpreter, Nautilus,
imports, one engine); the increment of the large run over it is what the bars cost. The Arrow size
is the bars' table as Arrow holds it (int64 stamps + five float64 columns: 48 bytes a bar). The
child also samples RSS when each phase starts (loading, engine, metrics, saving) and at the end, to
show where the memory goes.

Nautilus would keep every order, its events and an account state per fill for the whole run
(~6 KB a fill); the engine purges closed ones between chunks for strategies that never read them
(`ntrader.backtest.engine`). `run_backtest` hands the bars to the engine for good (`OwnedBars`),
which frees all but their closes once Nautilus has run, before the equity curve, metrics and save.
`--fast 500 --slow 2000` trades rarely, to show what the bars alone cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 2.0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child(n_bars: int, url: str, periods: tuple[int, int]) -> None:
    """One run in this (fresh) process; prints its peak and phase samples as JSON."""
    from bench_backtest import period_for

    from ntrader.backtest import run_backtest

    start, end = period_for(n_bars)
    phases: dict[str, dict[str, int]] = {"imported": {"rss": _status_kb("VmRSS"), "hwm": _status_kb("VmHWM")}}
    engine_max = 0

    def progress(phase: str, done: int, total: int) -> None:
        nonlocal engine_max
        rss = _status_kb("VmRSS")
        if phase == "engine":
            engine_max = max(engine_max, rss)
        if phase not in phases:  # the phase's first call: engine's comes after the data is added
            phases[phase] = {"rss": rss, "hwm": _status_kb("VmHWM")}

    outcome = run_backtest(
        "sma",
        "AAPL",
        start,
        end,
        bar_size="1-MINUTE",
        params={"fast_period": periods[0], "slow_period": periods[1]},
        database_url=url,
        progress=progress,
    )
    phases["end"] = {"rss": _status_kb("VmRSS"), "hwm": _status_kb("VmHWM")}
    print(
        json.dumps(
            {
                "bars": outcome.result.bars,
                "period": [start, end],
                "fills": len(outcome.result.fills),
                "run_id": outcome.run_id,
                "peak_kb": _status_kb("VmHWM"),
                "engine_max_kb": engine_max,
                "phases": phases,
            }
        )
    )


def _periods_args(periods: tuple[int, int]) -> list[str]:
    return ["--fast", str(periods[0]), "--slow", str(periods[1])]


def measure(n_bars: int, workdir: Path, periods: tuple[int, int]) -> dict:
    url = f"sqlite:///{workdir / f'bench-{n_bars}.db'}"
    env = {**os.environ, "NTRADER_HOME": str(workdir)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(n_bars), "--url", url, *_periods_args(periods)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child run of {n_bars} bars failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def arrow_bytes(n_bars: int) -> int:
    """The bars' Arrow size: the frame ntrader backtests, as an Arrow table (stamps included)."""
    import pyarrow as pa
    from bench_backtest import period_for

    from ntrader.data.mock import generate_bars

    start, end = period_for(n_bars)
    bars = generate_bars("AAPL", start, end, "1-MINUTE")
    return pa.Table.from_pandas(bars[["open", "high", "low", "close", "volume"]]).nbytes


def mib(kb: float) -> str:
    return f"{kb / 1024:,.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--fast", type=int, default=10, help="SMA fast period")
    parser.add_argument("--slow", type=int, default=20, help="SMA slow period")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.url, (args.fast, args.slow))
        return
    workdir = Path(tempfile.mkdtemp(prefix="ntrader-bench-memory-"))
    periods = (args.fast, args.slow)
    print(f"SMA {args.fast}/{args.slow}")
    small = measure(args.small, workdir, periods)
    large = measure(args.bars, workdir, periods)
    arrow_kb = arrow_bytes(large["bars"]) / 1024
    increment = large["peak_kb"] - small["peak_kb"]
    ratio = increment / arrow_kb
    for label, run in (("small", small), ("large", large)):
        start, end = run["period"]
        print(
            f"{label}: {run['bars']:>9,} bars ({start} → {end}), {run['fills']} fills, "
            f"peak RSS {mib(run['peak_kb'])}"
        )
        print("   RSS (peak so far) at " + ", ".join(
            f"{p} {mib(s['rss'])} ({mib(s['hwm'])})" for p, s in run["phases"].items()
        ) + f"; engine max {mib(run['engine_max_kb'])}")  # fmt: skip
    print(f"increment (large − small):  {mib(increment)}")
    print(f"bars' Arrow size:           {mib(arrow_kb)} ({arrow_kb * 1024 / large['bars']:.0f} bytes/bar)")
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"ratio increment / Arrow:    {ratio:.2f}× (target ≤ {TARGET:.0f}×: {verdict})")


if __name__ == "__main__":
    main()
