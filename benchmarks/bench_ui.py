"""Latency of the UI's pages with 10 000 runs stored: p50/p95 per page, over real HTTP.

Seeds a fresh database with a few real backtests, then clones their rows (varied metrics, symbols,
strategies and statuses) up to `--runs` in one bulk insert, starts the real server (uvicorn, in a
thread of this process) and times keep-alive GET requests. Targets on this machine, idle: the runs
page <= 100 ms, a run page <= 300 ms (p95).

    uv run python benchmarks/bench_ui.py [--runs 10000] [--requests 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import insert, select


def seed(url: str, total: int) -> list[int]:
    from ntrader.backtest import run_backtest
    from ntrader.db import get_engine
    from ntrader.db.models import BacktestRun

    real = [
        run_backtest("sma", s, "2023-01-01", "2023-12-31", params={"fast_period": f}, database_url=url).run_id
        for s, f in (("AAPL", 5), ("MSFT", 8), ("NVDA", 12))
    ]
    engine = get_engine(url)
    with engine.connect() as conn:
        template = [dict(r._mapping) for r in conn.execute(select(BacktestRun.__table__))]
    rng = random.Random(7)
    rows = []
    for i in range(total - len(template)):
        row = dict(template[i % len(template)])
        row.pop("id")
        metrics = dict(row["metrics"])
        for name in ("sharpe", "sortino", "cagr", "max_drawdown", "win_rate", "profit_factor"):
            if isinstance(metrics.get(name), float):
                metrics[name] = metrics[name] * rng.uniform(0.2, 2.0)
        metrics["trade_count"] = rng.randint(0, 300)
        row.update(
            metrics=metrics,
            symbol=rng.choice(["AAPL", "MSFT", "NVDA", "SPY", "QQQ", "TSLA", "AMD", "META"]),
            strategy=rng.choice(["sma", "sma", "mean_reversion", "momentum"]),
            status=rng.choice(["completed"] * 9 + ["halted"]),
        )
        rows.append(row)
    with engine.begin() as conn:
        conn.execute(insert(BacktestRun.__table__), rows)
    return [r for r in real if r is not None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timings(port: int, path: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for i in range(n + 2):
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 200, (path, response.status, body[:200])
        if i >= 2:  # the first two warm caches (templates, plotly's validators)
            out.append(elapsed * 1000)
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    os.environ["NTRADER_HOME"] = str(home)
    url = args.database_url or f"sqlite:///{home / 'bench.db'}"
    import uvicorn

    from ntrader.ui import UIConfig, create_app

    t0 = time.perf_counter()
    real = seed(url, args.runs)
    print(f"seeded {args.runs:,} runs in {time.perf_counter() - t0:.1f} s ({url.split(':', 1)[0]})")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(UIConfig(url, home)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    pages = [
        ("runs page (newest first)", "/runs", 100),
        ("runs page sorted by Sharpe", "/runs?sort=sharpe&order=desc", 100),
        (
            "runs filtered + sorted, page 3",
            "/runs?symbol=MSFT&status=completed&sort=max_drawdown&page=3",
            100,
        ),
        ("runs JSON", "/api/runs?sort=total_return", 100),
        ("run page (report, charts)", f"/runs/{real[0]}", 300),
        ("compare two runs", f"/compare?ids={real[0]},{real[1]}", 300),
    ]
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for label, path, target in pages:
        ms = timings(port, path, args.requests)
        p50 = statistics.median(ms)
        p95 = statistics.quantiles(ms, n=20)[18]
        flag = "ok" if p95 <= target else "SLOW"
        print(f"{label:34} {p50:8.1f} {p95:8.1f} {target:8d} {flag}")
    from ntrader.ui.views import RUN_PAGES, run_context

    cold = []
    for _ in range(max(5, args.requests // 4)):
        RUN_PAGES.clear()
        start = time.perf_counter()
        run_context(real[0], url)
        cold.append((time.perf_counter() - start) * 1000)
    print(
        f"{'run page, first view (no cache)':34} {statistics.median(cold):8.1f} {max(cold):8.1f}      (max)"
    )
    server.should_exit = True
    thread.join(10)


if __name__ == "__main__":
    main()
