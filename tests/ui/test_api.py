"""Every endpoint of the UI over HTTP: status codes, JSON shapes, the CLI's messages, CSRF, traversal."""

from __future__ import annotations

import re
import socket
import threading
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.routing import Route
from starlette.testclient import TestClient

from ntrader.cli import cli
from ntrader.db.runs import get_run, list_run_ids
from ntrader.errors import NotFoundError
from ntrader.reports import load_report, run_document
from ntrader.strategies import get_strategy
from ntrader.ui import UIConfig, create_app
from tests.ui.conftest import LOCAL, Seeded, csrf


def _error(html: str) -> str:
    found = re.search(r'id="form-error"[^>]*>([^<]*)<', html)
    assert found, "the form shows no error"
    return found.group(1)


def test_runs_json_filters_sorts_and_pages_in_the_database(client: TestClient, seeded: Seeded):
    body = client.get("/api/runs").json()
    assert body["total"] == len(list_run_ids(seeded.url)) == 4  # three runs + the sweep's confirmed one
    assert [r["id"] for r in body["runs"]] == sorted((r["id"] for r in body["runs"]), reverse=True)
    assert set(body["runs"][0]) >= {"id", "strategy", "symbol", "status", "total_return", "sharpe", "params"}

    only_msft = client.get("/api/runs", params={"symbol": "msft"}).json()
    assert [r["symbol"] for r in only_msft["runs"]] == ["MSFT"] and only_msft["total"] == 1

    ranked = client.get("/api/runs", params={"sort": "sharpe", "order": "asc"}).json()["runs"]
    stored = sorted(get_run(r["id"], seeded.url).metrics["sharpe"] for r in ranked)
    assert [r["sharpe"] for r in ranked] == pytest.approx(stored)

    by_return = client.get("/api/runs", params={"sort": "total_return"}).json()["runs"]
    returns = [get_run(r["id"], seeded.url).total_return for r in by_return]
    assert returns == sorted(returns, reverse=True)
    assert [r["total_return"] for r in by_return] == pytest.approx(returns)

    page2 = client.get("/api/runs", params={"per_page": 3, "page": 2}).json()
    assert page2["pages"] == 2 and page2["total"] == 4 and len(page2["runs"]) == 1
    assert page2["runs"][0]["id"] == min(list_run_ids(seeded.url))

    assert client.get("/api/runs", params={"from": "2000-01-01", "to": "2000-12-31"}).json()["total"] == 0
    assert client.get("/api/runs", params={"status": "completed"}).json()["total"] == 4


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "nope"}, "cannot sort by 'nope'"),
        ({"order": "up"}, "order must be asc or desc, got 'up'"),
        ({"page": "x"}, "page must be a whole number, got 'x'"),
        ({"per_page": "5000"}, "per_page must be between 1 and 200, got 5000"),
        ({"from": "2024-13-01"}, "from must be a date YYYY-MM-DD, got '2024-13-01'"),
    ],
)
def test_bad_runs_query_is_400_with_one_line(client: TestClient, query: dict[str, str], message: str):
    response = client.get("/api/runs", params=query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    page = client.get("/runs", params=query)
    assert page.status_code == 400 and message.replace("'", "&#39;") in page.text


def test_runs_page_html_and_htmx_partial(client: TestClient, seeded: Seeded):
    page = client.get("/runs", params={"sort": "sharpe"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for run_id in seeded.runs:
        assert f'data-run-id="{run_id}"' in page.text
    assert 'name="csrf-token"' in page.text and '<form id="run-filter"' in page.text
    partial = client.get(
        "/runs", params={"symbol": "MSFT"}, headers={"HX-Request": "true", "HX-Target": "runs"}
    )
    assert (
        partial.status_code == 200
        and "<html" not in partial.text
        and '<form id="run-filter"' not in partial.text
    )
    assert partial.text.count("data-run-id=") == 1


def test_run_detail_html_json_and_missing(client: TestClient, seeded: Seeded):
    run_id = seeded.runs[0]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert 'id="run-chart"' in page.text and 'id="run-chart-data"' in page.text and 'id="trades"' in page.text
    # The report's tearsheet: monthly heatmap and the other figures, worst drawdowns, costs, validation.
    for figure in ("monthly-returns", "yearly-returns", "rolling", "return-distribution"):
        assert f'data-figure="{figure}-data"' in page.text and f'id="{figure}-data"' in page.text, figure
    assert 'id="worst-drawdowns"' in page.text and 'id="validation"' in page.text
    served = client.get(f"/api/runs/{run_id}").json()
    expected = run_document(load_report(run_id, with_bars=False))
    served.pop("generated_at"), expected.pop("generated_at")
    assert served == expected
    missing = client.get("/api/runs/9999")
    assert missing.status_code == 404
    with pytest.raises(NotFoundError) as cli_error:
        get_run(9999)
    assert missing.json()["error"] == str(cli_error.value)
    assert client.get("/runs/9999").status_code == 404


def test_exports(client: TestClient, seeded: Seeded):
    run_id = seeded.runs[0]
    html = client.get(f"/runs/{run_id}/export/html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'data-report-status="loading"' in html.text  # the library's self-contained report
    document = client.get(f"/runs/{run_id}/export/json").json()
    assert document["run"]["id"] == run_id if "run" in document else document["id"] == run_id
    csv = client.get(f"/runs/{run_id}/export/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + len(get_run(run_id).trades())
    assert client.get(f"/runs/{run_id}/export/exe").status_code == 400


def test_compare(client: TestClient, seeded: Seeded):
    a, b = seeded.runs[:2]
    body = client.get("/api/compare", params={"ids": f"{a},{b}"}).json()
    assert [r["id"] for r in body["runs"]] == [a, b] and "sharpe" in body["runs"][0]["metrics"]
    page = client.get("/compare", params=[("ids", str(a)), ("ids", str(b))])
    assert (
        page.status_code == 200
        and 'id="compare-chart-data"' in page.text
        and 'id="compare-table"' in page.text
    )
    one = client.get("/api/compare", params={"ids": str(a)})
    assert one.status_code == 400 and one.json()["error"] == "compare needs at least two different run ids"
    assert client.get("/api/compare", params={"ids": "1,x"}).status_code == 400


def test_delete_needs_csrf_and_removes_runs(client: TestClient, seeded: Seeded):
    victim = seeded.runs[1]
    refused = client.post("/runs/delete", data={"ids": str(victim)})
    assert refused.status_code == 403 and victim in list_run_ids(seeded.url)
    wrong = client.post("/api/runs/delete", data={"ids": str(victim), "csrf": "guess"})
    assert wrong.status_code == 403 and victim in list_run_ids(seeded.url)
    done = client.post(
        "/runs/delete", data={"ids": str(victim), "csrf": csrf(client)}, follow_redirects=False
    )
    assert done.status_code == 303 and victim not in list_run_ids(seeded.url)
    api = client.post(
        "/api/runs/delete", data={"ids": str(seeded.runs[0])}, headers={"X-CSRF-Token": csrf(client)}
    )
    assert api.json() == {"deleted": [seeded.runs[0]]}
    gone = client.post("/api/runs/delete", data={"ids": "9999"}, headers={"X-CSRF-Token": csrf(client)})
    assert gone.status_code == 404 and "nothing deleted" in gone.json()["error"]


def test_every_state_changing_route_refuses_without_csrf(client: TestClient):
    posts = [r.path for r in client.app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]  # type: ignore[attr-defined]
    assert {"/runs/delete", "/backtests", "/api/backtests"} <= set(posts)
    for path in posts:
        response = client.post(path, data={"ids": "1", "strategy": "sma", "symbol": "AAPL"})
        assert response.status_code == 403, path


def test_form_is_generated_from_the_spec(client: TestClient):
    spec = get_strategy("sma")
    page = client.get("/backtests/new", params={"strategy": "sma"}).text
    for param in spec.parameters:
        assert f'name="param_{param.name}"' in page
    for name, bounds in spec.bounds.items():
        assert bounds.replace(">", "&gt;").replace("<", "&lt;") in page, name
    prices = re.search(r'<select name="adjust"[^>]*>(.*?)</select>', page, re.S)
    assert prices is not None
    assert re.findall(r"<option[^>]*>([^<]+)</option>", prices.group(1)) == ["raw", "splits", "total-return"]
    assert "<option selected>splits</option>" in prices.group(1)  # the CLI's default
    unknown = client.post(
        "/api/backtests",
        data={"strategy": "sma", "symbol": "AAPL", "adjust": "dividends"},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("unknown adjustment 'dividends'")
    body = client.get("/api/strategies/sma").json()
    assert [p["name"] for p in body["parameters"]] == [p.name for p in spec.parameters]
    assert {p["name"]: p["default"] for p in body["parameters"]} == spec.defaults()
    assert client.get("/api/strategies/nope").status_code == 404
    assert len(client.get("/api/strategies").json()["strategies"]) >= 3


@pytest.mark.parametrize(
    ("form", "cli_args"),
    [
        ({"param_fast_period": "abc"}, ["--param", "fast_period=abc"]),
        (
            {"param_fast_period": "50", "param_slow_period": "10"},
            ["--param", "fast_period=50", "--param", "slow_period=10"],
        ),
        ({"param_fast_period": "0"}, ["--param", "fast_period=0"]),
        ({"capital": "-5"}, ["--capital", "-5"]),
        ({"start": "2024-02-30"}, ["--start", "2024-02-30"]),
        ({"symbol": "AA PL"}, ["--symbol", "AA PL"]),
    ],
)
def test_bad_values_show_the_cli_message(client: TestClient, seeded: Seeded, form, cli_args):
    args = [
        "backtest",
        "run",
        "--strategy",
        "sma",
        *(["--symbol", "AAPL"] if "--symbol" not in cli_args else []),
        *cli_args,
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    cli_message = result.output.strip().splitlines()[-1].removeprefix("Error: ")
    before = len(list_run_ids(seeded.url))
    data = {"strategy": "sma", "symbol": "AAPL", "csrf": csrf(client), **form}
    page = client.post("/backtests", data=data)
    assert page.status_code == 400
    import html

    assert html.unescape(_error(page.text)) == cli_message
    api = client.post("/api/backtests", data=data)
    assert api.status_code == 400 and api.json()["error"] == cli_message
    assert len(list_run_ids(seeded.url)) == before  # nothing was run or saved


def test_csv_path_cannot_leave_the_home(client: TestClient, seeded: Seeded):
    for name in ("../../../../etc/passwd", "/etc/passwd", "..%2f..%2fetc/passwd".replace("%2f", "/")):
        response = client.post(
            "/api/backtests",
            data={"strategy": "sma", "symbol": "AAPL", "data_source": "csv", "csv_file": name},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert response.status_code == 400, name
        assert response.json()["field"] == "csv_file"
        assert "must be a file inside ntrader's home" in response.json()["error"]
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/../../../pyproject.toml",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text


def test_backtest_job_streams_progress_and_saves(client: TestClient, seeded: Seeded):
    data = {
        "strategy": "sma",
        "symbol": "NVDA",
        "start": "2023-01-01",
        "end": "2023-06-30",
        "param_fast_period": "7",
        "adjust": "total-return",
    }
    started = client.post("/api/backtests", data=data, headers={"X-CSRF-Token": csrf(client)})
    assert started.status_code == 202
    job = started.json()
    assert set(job) >= {"id", "stage", "status", "run_id", "error", "elapsed"}
    stages = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                import json

                stages.append(json.loads(line[6:]))
    assert stages[-1]["status"] == "done" and stages[-1]["stage"] == "done"
    run = get_run(stages[-1]["run_id"], seeded.url)
    assert run.symbol == "NVDA" and run.params["fast_period"] == 7
    assert run.settings["adjust"] == "total-return"
    assert client.get(f"/api/jobs/{job['id']}").json()["run_id"] == run.id
    assert [j["id"] for j in client.get("/api/jobs").json()["jobs"]] == [job["id"]]
    redirect = client.post("/backtests", data={**data, "csrf": csrf(client)}, follow_redirects=False)
    assert redirect.status_code == 303 and re.fullmatch(r"/jobs/\d+", redirect.headers["location"])
    assert client.get(redirect.headers["location"]).status_code == 200
    assert client.get("/api/jobs/999").status_code == 404


def test_failed_job_shows_the_one_line_message(client: TestClient, seeded: Seeded):
    bad = seeded.home / "bad.csv"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(
        "timestamp,open,high,low,close,volume\n2023-01-03,1,2,0.5,1.5,100\n2023-01-04,1,0.5,2,1.5,100\n"
    )
    started = client.post(
        "/api/backtests",
        data={"strategy": "sma", "symbol": "AAPL", "data_source": "csv", "csv_file": "bad.csv"},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert started.status_code == 202
    with client.stream("GET", f"/api/jobs/{started.json()['id']}/events") as stream:
        for _ in stream.iter_lines():
            pass
    state = client.get(f"/api/jobs/{started.json()['id']}").json()
    assert state["status"] == "failed" and state["run_id"] is None
    assert "bad.csv" in state["error"] and "\n" not in state["error"] and "Traceback" not in state["error"]


def test_stopping_the_server_stops_the_job_unsaved(seeded: Seeded):
    from ntrader.ui.jobs import JobManager, run_request

    reached = threading.Event()
    release = threading.Event()

    def runner(request, stage):
        def paused(name):
            if name == "measuring":  # the engine has run; the server is asked to stop now
                reached.set()
                release.wait(10)
            stage(name)

        return run_request(request, paused)

    manager = JobManager(runner)
    app = create_app(UIConfig(seeded.url, seeded.home), jobs=manager)
    before = list_run_ids(seeded.url)
    with TestClient(app, base_url=LOCAL) as client:
        client.post(
            "/api/backtests",
            data={"strategy": "sma", "symbol": "TSLA"},
            headers={"X-CSRF-Token": csrf(client)},
        )
        queued = client.post(
            "/api/backtests",
            data={"strategy": "sma", "symbol": "AMD"},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert reached.wait(30)
        threading.Timer(0.3, release.set).start()
    # Leaving the client ran the app's shutdown, which waited for the worker.
    states = {job.label: job for job in manager.all()}
    assert states["sma on TSLA"].status == "stopped" and states["sma on TSLA"].run_id is None
    assert states["sma on AMD"].status == "stopped"
    assert queued.status_code == 202
    assert list_run_ids(seeded.url) == before


def test_sweeps(client: TestClient, seeded: Seeded):
    listed = client.get("/api/sweeps").json()["sweeps"]
    assert [s["id"] for s in listed] == [seeded.sweep_id]
    assert listed[0]["combinations"] == 6 and listed[0]["best"]["params"]
    detail = client.get(f"/api/sweeps/{seeded.sweep_id}").json()
    assert detail["id"] == seeded.sweep_id and len(detail["results"]) == 6
    page = client.get(f"/sweeps/{seeded.sweep_id}")
    assert (
        page.status_code == 200 and 'id="sweep-heatmap-data"' in page.text and 'id="sweep-table"' in page.text
    )
    confirmed = [r["run_id"] for r in detail["results"] if r.get("run_id")]
    assert confirmed and all(f'href="/runs/{i}"' in page.text for i in confirmed)
    from ntrader.db.sweeps import get_sweep

    if get_sweep(seeded.sweep_id, url=seeded.url).settings.get(
        "validation"
    ):  # the overfitting gate's verdict
        assert 'id="verdict"' in page.text and "DSR" in page.text
    assert "Sweeps" in client.get("/sweeps").text
    assert client.get("/api/sweeps/999").status_code == 404


def test_data_page_and_check_never_show_the_password(seeded: Seeded, monkeypatch: pytest.MonkeyPatch):
    from ntrader.config import get_settings

    monkeypatch.setenv("TWS_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("TWS_USERNAME", "trader-joe")
    get_settings.cache_clear()
    with TestClient(create_app(UIConfig(seeded.url, seeded.home)), base_url=LOCAL) as client:
        body = client.get("/api/data").json()
        series = body["series"]
        assert [(s["symbol"], s["source"]) for s in series] == [("AAPL", "csv")] and series[0]["rows"] > 200
        assert body["ibkr"]["listening"] in (True, False) and "password" not in body["ibkr"]
        check = client.get("/api/data/check", params={"symbol": "AAPL", "bar_size": "1-DAY", "source": "csv"})
        assert check.status_code == 200 and check.json()["rows"] == series[0]["rows"]
        assert client.get("/data/check", params={"symbol": "AAPL", "source": "csv"}).status_code == 200
        assert client.get("/api/data/check", params={"symbol": "ZZZZ", "source": "csv"}).status_code == 404
        for path in ("/data", "/api/data", "/runs", "/backtests/new", f"/runs/{seeded.runs[0]}", "/sweeps"):
            text = client.get(path).text
            assert "hunter2-secret" not in text and "trader-joe" not in text, path


def test_token_is_checked_on_every_request(seeded: Seeded):
    app = create_app(UIConfig(seeded.url, seeded.home, token="s3cret-token"))
    with TestClient(app) as client:
        for path in ("/runs", "/api/runs", "/static/app.js", "/api/jobs", "/healthz"):
            assert client.get(path).status_code == 401, path
        assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/runs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        first = client.get("/runs", params={"token": "s3cret-token"})
        assert first.status_code == 200 and "ntrader_token=s3cret-token" in first.headers["set-cookie"]
        assert "HttpOnly" in first.headers["set-cookie"]
        assert client.get("/api/runs").status_code == 200  # the cookie now carries it
        client.cookies.clear()
        refused = client.post("/api/runs/delete", data={"ids": "1"}, headers={"X-CSRF-Token": csrf(client)})
        assert refused.status_code == 401 and len(list_run_ids(seeded.url)) == 4


def test_without_a_token_only_loopback_names_are_answered(seeded: Seeded):
    app = create_app(UIConfig(seeded.url, seeded.home))
    for base in ("http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765", "http://localhost"):
        with TestClient(app, base_url=base) as client:
            assert client.get("/api/runs").status_code == 200, base
    with TestClient(app, base_url="http://rebound.attacker.example:8765") as client:
        refused = client.get("/runs")
        assert refused.status_code == 400 and "only to 127.0.0.1 or localhost" in refused.text
        assert client.get("/api/runs/1").status_code == 400
    with TestClient(
        create_app(UIConfig(seeded.url, seeded.home, token="t0ken")), base_url="http://box.lan"
    ) as client:
        assert client.get("/api/runs", headers={"Authorization": "Bearer t0ken"}).status_code == 200


def test_token_rules_by_address():
    from ntrader.ui.security import resolve_token
    from ntrader.ui.server import ui_url

    assert resolve_token("127.0.0.1", None) == (None, False)
    assert resolve_token("localhost", None) == (None, False)
    assert resolve_token("::1", None) == (None, False)
    token, generated = resolve_token("0.0.0.0", None)
    assert generated and token and len(token) >= 24
    assert resolve_token("192.168.1.5", "given") == ("given", False)
    assert ui_url("0.0.0.0", 8765, "t") == "http://0.0.0.0:8765/?token=t"
    assert ui_url("127.0.0.1", 8765, None) == "http://127.0.0.1:8765/"


def test_pages_render(client: TestClient, seeded: Seeded):
    for path in (
        "/",
        "/runs",
        "/backtests/new",
        "/jobs",
        "/sweeps",
        "/data",
        "/healthz",
        "/favicon.ico",
        "/static/app.css",
        "/static/htmx.min.js",
    ):
        assert client.get(path).status_code == 200, path
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    run_page = client.get(f"/runs/{seeded.runs[0]}").text
    # Every script and style comes from this server (figure data is base64: look for addresses only).
    assert re.findall(r'(?:src|href)="(?:https?:)?//', run_page) == [] and "cdn.plot.ly" not in run_page
    assert re.findall(r'<script src="([^"]+)"', run_page) == ["/static/app.js", "/static/htmx.min.js"]


def test_sweep_from_the_form_runs_in_the_background_and_saves(client: TestClient, seeded: Seeded):
    from ntrader.db.sweeps import get_sweep

    assert 'name="grid"' in client.get("/sweeps/new", params={"strategy": "sma"}).text
    data = {
        "strategy": "sma",
        "symbol": "AAPL",
        "start": "2022-01-01",
        "end": "2023-12-31",
        "grid": "fast_period=5,10\nslow_period=30,40",
        "constraints": "fast_period < slow_period",
        "metric": "cagr",
        "top": "1",
    }
    started = client.post("/api/sweeps", data=data, headers={"X-CSRF-Token": csrf(client)})
    assert started.status_code == 202 and started.json()["kind"] == "sweep"
    with client.stream("GET", f"/api/jobs/{started.json()['id']}/events") as stream:
        for _ in stream.iter_lines():
            pass
    state = client.get(f"/api/jobs/{started.json()['id']}").json()
    assert state["status"] == "done", state
    assert state["url"] == f"/sweeps/{state['sweep_id']}"
    record = get_sweep(state["sweep_id"], url=seeded.url)
    assert record.metric == "cagr" and record.grid == {"fast_period": [5, 10], "slow_period": [30, 40]}
    assert len(record.results) == 4 and len(record.run_ids) == 1
    assert client.get(state["url"]).status_code == 200


@pytest.mark.parametrize(
    ("fields", "cli_args"),
    [
        ({"grid": "fast_period=5:x"}, ["--grid", "fast_period=5:x"]),
        ({"grid": "nope=1,2"}, ["--grid", "nope=1,2"]),
        (
            {"grid": "fast_period=5,10", "constraints": "fast_period <> 3"},
            ["--grid", "fast_period=5,10", "--constraint", "fast_period <> 3"],
        ),
    ],
)
def test_bad_sweep_values_show_the_cli_message(client: TestClient, seeded: Seeded, fields, cli_args):
    from ntrader.db.sweeps import list_sweeps

    result = CliRunner().invoke(
        cli, ["backtest", "sweep", "--strategy", "sma", "--symbol", "AAPL", *cli_args]
    )
    assert result.exit_code == 1, result.output
    cli_message = result.output.strip().splitlines()[-1].removeprefix("Error: ")
    before = len(list_sweeps(url=seeded.url))
    response = client.post(
        "/api/sweeps",
        data={"strategy": "sma", "symbol": "AAPL", **fields},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert response.status_code == 400 and response.json()["error"] == cli_message
    page = client.post("/sweeps", data={"strategy": "sma", "symbol": "AAPL", "csrf": csrf(client), **fields})
    import html

    assert page.status_code == 400 and html.unescape(_error(page.text)) == cli_message
    assert len(list_sweeps(url=seeded.url)) == before


def test_stopping_the_server_mid_sweep_saves_nothing(seeded: Seeded):
    import time

    from ntrader.backtest.request import BacktestRequest
    from ntrader.backtest.sweep import SweepPlan
    from ntrader.db.sweeps import list_sweeps
    from ntrader.ui.jobs import JobManager

    manager = JobManager()
    request = BacktestRequest.build("sma", "AAPL", "2021-01-01", "2023-12-31", database_url=seeded.url)
    plan = SweepPlan(grid=["fast_period=3:12:1"], engine="nautilus", top=3, workers=1).checked()
    runs, sweeps = list_run_ids(seeded.url), len(list_sweeps(url=seeded.url))
    job = manager.submit_sweep(request, plan)
    deadline = time.monotonic() + 60
    while job.count is None or job.count[0] < 1:  # the first combinations are through the engine
        assert time.monotonic() < deadline and job.status in ("queued", "running"), job.state()
        time.sleep(0.02)
    manager.shutdown(wait=True)
    assert job.status == "stopped" and job.sweep_id is None, job.state()
    assert job.count is not None and job.count[0] < job.count[1]
    assert list_run_ids(seeded.url) == runs and len(list_sweeps(url=seeded.url)) == sweeps


def _run_job(client: TestClient, started: Any) -> dict[str, Any]:
    assert started.status_code == 202, started.text
    with client.stream("GET", f"/api/jobs/{started.json()['id']}/events") as stream:
        for _ in stream.iter_lines():
            pass
    return dict(client.get(f"/api/jobs/{started.json()['id']}").json())


def test_fetch_from_the_data_page_with_window_progress(
    client: TestClient, seeded: Seeded, make_gateway, monkeypatch: pytest.MonkeyPatch
):
    from ntrader.config import get_settings
    from ntrader.data.store import list_stored

    gateway = make_gateway()
    monkeypatch.setenv("IBKR_HOST", "127.0.0.1")
    monkeypatch.setenv("IBKR_PORT", str(gateway.port))
    get_settings.cache_clear()
    assert client.get("/api/data").json()["ibkr"]["listening"] is True
    data = {"symbol": "msft", "start": "2023-01-01", "end": "2024-06-30"}
    state = _run_job(
        client, client.post("/api/data/fetch", data=data, headers={"X-CSRF-Token": csrf(client)})
    )
    assert state["status"] == "done" and state["kind"] == "fetch" and state["url"] == "/data", state
    assert state["count"] == [2, 2]  # 18 months of daily bars: two one-year windows
    stored = {(s.symbol, s.source): s.rows for s in list_stored(url=seeded.url)}
    assert stored[("MSFT", "ibkr")] > 300
    assert state["message"] == f"MSFT: {stored[('MSFT', 'ibkr')]:,} new bars stored, no gaps"
    assert client.post("/data/fetch", data=data).status_code == 403


def test_fetch_failures_are_one_line(client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch):
    from ntrader.config import get_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setenv("IBKR_HOST", "127.0.0.1")
    monkeypatch.setenv("IBKR_PORT", str(port))
    monkeypatch.setenv("IBKR_CONNECT_TIMEOUT", "1")
    get_settings.cache_clear()
    headers = {"X-CSRF-Token": csrf(client)}
    bad = client.post("/api/data/fetch", data={"symbol": "MS FT"}, headers=headers)
    assert bad.status_code == 400 and "symbol" in bad.json()["error"]
    state = _run_job(client, client.post("/api/data/fetch", data={"symbol": "AAPL"}, headers=headers))
    assert state["status"] == "failed" and str(port) in state["error"] and "\n" not in state["error"]


def test_run_page_cache_follows_the_stored_metrics(client: TestClient, seeded: Seeded):
    from ntrader.db.runs import update_metrics

    run_id = seeded.runs[2]
    first = client.get(f"/runs/{run_id}").text
    assert client.get(f"/runs/{run_id}").text == first  # served again from the cache
    metrics = dict(get_run(run_id, seeded.url).metrics)
    assert "98.76" not in first
    update_metrics(run_id, {**metrics, "sharpe": 98.76}, url=seeded.url)  # as `report recompute` would
    assert "98.76" in client.get(f"/runs/{run_id}").text
    client.post("/api/runs/delete", data={"ids": str(run_id)}, headers={"X-CSRF-Token": csrf(client)})
    assert client.get(f"/runs/{run_id}").status_code == 404  # a deleted run is not served from the cache
