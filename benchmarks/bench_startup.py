"""How long ntrader takes to start, and how much memory, for the commands a person types most.

Each command runs `--repeat` times (default 5) as a fresh process against a throwaway NTRADER_HOME
that holds one saved run; the table shows the median wall time and the median peak RSS, next to
the targets of issue 14 §3. `uv run ntrader --help` is compared with the bare entry point, and its
stderr must stay empty (no "Bytecode compiled …" line).

    uv run python benchmarks/bench_startup.py [--repeat 5]

Measure on an idle machine: with other work on the cores every figure grows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = str(Path(sys.executable).with_name("ntrader"))

# (label, argv, seconds target, MB target or None)
CASES = [
    ("ntrader --help", [ENTRY, "--help"], 0.3, 80),
    ("ntrader strategy list", [ENTRY, "strategy", "list"], 0.3, 80),
    ("ntrader backtest list-results", [ENTRY, "backtest", "list-results"], 0.8, None),
    ("ntrader report summary 1", [ENTRY, "report", "summary", "1"], 0.8, None),
]


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS in MB, stderr and CPU seconds (user + system) of one run.

    On an idle machine a start-up's wall time is about its CPU time; on a busy one the wall time
    grows with the load while the CPU time stays near what an idle run takes.
    """
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}): {err}")
    return elapsed, usage.ru_maxrss / 1024, err, usage.ru_utime + usage.ru_stime


def median_of(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float, str, float]:
    measure(argv, env)  # warm the file cache
    runs = [measure(argv, env) for _ in range(repeat)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        "".join(r[2] for r in runs),
        statistics.median(r[3] for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ntrader-bench-startup-"))
    env = {**os.environ, "NTRADER_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    try:
        subprocess.run(
            [ENTRY, "backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        header = f"{'command':<34} {'median s':>9} {'target':>7} {'peak MB':>8} {'target':>7} {'CPU s':>6}"
        print(header)
        for label, argv, seconds, megabytes in CASES:
            wall, rss, _, cpu = median_of(argv, env, args.repeat)
            mb_target = f"≤ {megabytes}" if megabytes else "–"
            ok = wall <= seconds and (megabytes is None or rss <= megabytes)
            verdict = "ok" if ok else "OVER"
            figures = f"{wall:>9.3f} {'≤ ' + str(seconds):>7} {rss:>8.0f} {mb_target:>7} {cpu:>6.3f}"
            print(f"{label:<34} {figures}  {verdict}")
        uv = shutil.which("uv")
        if uv is not None:
            bare, _, _, _ = median_of([ENTRY, "--help"], env, args.repeat)
            wrapped, _, err, _ = median_of([uv, "run", "ntrader", "--help"], env, args.repeat)
            extra = wrapped - bare
            verdict = "ok" if extra <= 0.2 and not err.strip() else "OVER"
            line = f"bare {bare:.3f}: {extra:+.3f} s (≤ +0.2)"
            print(f"{'uv run ntrader --help':<34} {wrapped:>9.3f}   {line}  {verdict}")
            print(f"{'  its stderr':<34} {err.strip()[:60] or '(empty)'}")
        print(f"load average {os.getloadavg()[0]:.2f} after the runs")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
