"""The web workbench's routes: thin handlers over the library, rendered by server-side templates.

HTML pages and a JSON twin of each (`/api/...`). Handlers are plain functions, which Starlette runs in
its thread pool, so a slow query or a report never blocks the event loop; backtests run in
`JobManager`'s worker and stream their stages over server-sent events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ntrader.errors import InputError, NotFoundError, NtraderError
from ntrader.ui import views
from ntrader.ui.forms import (
    CHOICES,
    MARKET_FIELDS,
    SWEEP_FIELDS,
    build_request,
    build_sweep,
    param_fields,
    spec_document,
)
from ntrader.ui.jobs import JobManager
from ntrader.ui.queries import PAGE_SIZES, RunFilter, runs_page
from ntrader.ui.security import CSRFError, LoopbackHostMiddleware, TokenMiddleware, checked_form, new_secret

HERE = Path(__file__).parent
EXPORT_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv"}


@dataclass
class UIConfig:
    """What the server was started with: the database, ntrader's home, the token (None: not needed)."""

    database_url: str | None
    home: Path
    token: str | None = None


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    context.setdefault("csrf", request.app.state.csrf)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


async def _error(request: Request, exc: Exception) -> Response:
    status = 404 if isinstance(exc, NotFoundError) else 400
    message = str(exc)
    if isinstance(exc, CSRFError):
        status, message = 403, "missing or wrong CSRF token: reload the page and try again"
    if _wants_json(request):
        return JSONResponse({"error": message, "field": getattr(exc, "field", None)}, status_code=status)
    return _render(request, "error.html", status_code=status, message=message)


def _url(request: Request) -> str | None:
    return request.app.state.config.database_url  # type: ignore[no-any-return]


def _run_id(request: Request) -> int:
    return int(request.path_params["run_id"])


def _ids(request: Request, values: list[str] | None = None) -> list[int]:
    raw = values if values is not None else request.query_params.getlist("ids")
    parts = [p for value in raw for p in value.replace(",", " ").split()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise InputError(f"run ids must be whole numbers, got {' '.join(parts)!r}") from None


# Runs ---------------------------------------------------------------------------------------------------


def runs_list(request: Request) -> Response:
    page = runs_page(RunFilter.parse(dict(request.query_params)), _url(request))
    if _wants_json(request):
        return JSONResponse(views.runs_json(page))
    partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "runs"
    return _render(
        request,
        "_runs_table.html" if partial else "runs.html",
        page=page,
        columns=views.RUN_COLUMNS,
        page_sizes=PAGE_SIZES,
    )


def run_detail(request: Request) -> Response:
    if _wants_json(request):
        from ntrader.reports import load_report, run_document

        return JSONResponse(run_document(load_report(_run_id(request), with_bars=False, url=_url(request))))
    return _render(request, "run.html", **views.run_context(_run_id(request), _url(request)))


def run_export(request: Request) -> Response:
    from ntrader.reports import export_run, load_report, render_run_html

    fmt = request.path_params["fmt"]
    if fmt not in EXPORT_TYPES:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_TYPES)}")
    run_id = _run_id(request)
    if fmt == "html":
        content = render_run_html(load_report(run_id, url=_url(request)))
    else:
        content = export_run(run_id, fmt, None, url=_url(request)).content or ""
    name = f"run-{run_id}{'-trades' if fmt == 'csv' else ''}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        content,
        media_type=EXPORT_TYPES[fmt],
        headers={"content-disposition": f'{disposition}; filename="{name}"'},
    )


async def runs_delete(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from ntrader.db.runs import delete_runs

    form = await checked_form(request)
    ids = _ids(request, [str(v) for v in form.getlist("ids")])
    if not ids:
        raise InputError("select at least one run to delete")
    deleted = await run_in_threadpool(delete_runs, ids, _url(request))
    if _wants_json(request):
        return JSONResponse({"deleted": deleted})
    return RedirectResponse(f"/runs?deleted={len(deleted)}", status_code=303)


def compare(request: Request) -> Response:
    from ntrader.reports import compare_runs, comparison_document

    comparison = compare_runs(_ids(request), url=_url(request))
    if _wants_json(request):
        return JSONResponse(comparison_document(comparison))
    return _render(request, "compare.html", **views.compare_context(comparison))


# New backtest and jobs ----------------------------------------------------------------------------------


def _form_context(strategy: str, values: dict[str, str], sweep: bool = False) -> dict[str, Any]:
    from ntrader.backtest.sweep import SCREEN_METRICS
    from ntrader.strategies import get_strategy, list_strategies

    spec = get_strategy(strategy)
    return {
        "strategies": list_strategies(),
        "spec": spec,
        "fields": param_fields(spec),
        "values": {**MARKET_FIELDS, **(SWEEP_FIELDS if sweep else {}), **values},
        "choices": {**CHOICES, "metric": tuple(SCREEN_METRICS), "engine": ("vector", "nautilus")},
        "sweep": sweep,
    }


def backtest_form(request: Request) -> Response:
    strategy = request.query_params.get("strategy", "sma")
    return _render(request, "new.html", **_form_context(strategy, dict(request.query_params)))


def sweep_form(request: Request) -> Response:
    strategy = request.query_params.get("strategy", "sma")
    return _render(request, "new.html", **_form_context(strategy, dict(request.query_params), sweep=True))


async def sweep_submit(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await checked_form(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf"}
    config: UIConfig = request.app.state.config
    try:
        backtest, plan = await run_in_threadpool(build_sweep, values, config.home, config.database_url)
    except NtraderError as exc:
        if _wants_json(request):
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
        strategy = values.get("strategy", "sma") or "sma"
        context = await run_in_threadpool(_form_context, strategy, values, True)
        return _render(request, "new.html", 400, error=str(exc), error_field=exc.field, **context)
    job = request.app.state.jobs.submit_sweep(backtest, plan)
    if _wants_json(request):
        return JSONResponse(job.state(), status_code=202)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


async def backtest_submit(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await checked_form(request)
    values = {k: str(v) for k, v in form.items() if k != "csrf"}
    config: UIConfig = request.app.state.config
    try:
        backtest = await run_in_threadpool(build_request, values, config.home, config.database_url)
    except NtraderError as exc:
        if _wants_json(request):
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
        context = await run_in_threadpool(_form_context, values.get("strategy", "sma") or "sma", values)
        return _render(request, "new.html", 400, error=str(exc), error_field=exc.field, **context)
    job = request.app.state.jobs.submit(backtest)
    if _wants_json(request):
        return JSONResponse(job.state(), status_code=202)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _job(request: Request) -> Any:
    job = request.app.state.jobs.get(int(request.path_params["job_id"]))
    if job is None:
        raise NotFoundError(f"no job {request.path_params['job_id']} (jobs live as long as the server)")
    return job


def job_page(request: Request) -> Response:
    if _wants_json(request):
        return JSONResponse(_job(request).state())
    return _render(request, "job.html", job=_job(request).state())


def jobs_list(request: Request) -> Response:
    states = [job.state() for job in request.app.state.jobs.all()]
    if _wants_json(request):
        return JSONResponse({"jobs": states})
    return _render(request, "jobs.html", jobs=states)


async def job_events(request: Request) -> Response:
    job = _job(request)

    async def stream() -> AsyncIterator[str]:
        seen = -1
        while True:
            if job.events != seen:
                seen = job.events
                yield f"event: progress\ndata: {json.dumps(job.state())}\n\n"
            if job.status in ("done", "failed", "stopped") or await request.is_disconnected():
                break
            await asyncio.sleep(0.1)

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# Strategies, sweeps, data ------------------------------------------------------------------------------


def strategies(request: Request) -> Response:
    from ntrader.strategies import get_strategy, list_strategies

    name = request.path_params.get("name")
    if name:
        return JSONResponse(spec_document(get_strategy(name)))
    return JSONResponse({"strategies": [spec_document(s) for s in list_strategies()]})


def sweeps_list(request: Request) -> Response:
    from ntrader.db.sweeps import list_sweeps
    from ntrader.reports.tables import sweep_summary

    sweeps = list_sweeps(limit=200, url=_url(request))
    if _wants_json(request):
        return JSONResponse({"sweeps": [sweep_summary(s) for s in sweeps]})
    return _render(request, "sweeps.html", sweeps=[sweep_summary(s) for s in sweeps])


def sweep_detail(request: Request) -> Response:
    from ntrader.db.sweeps import get_sweep

    record = get_sweep(int(request.path_params["sweep_id"]), url=_url(request))
    if _wants_json(request):
        return JSONResponse(record.to_json_dict())
    return _render(request, "sweep.html", **views.sweep_context(record))


def data_page(request: Request) -> Response:
    context = views.data_context(_url(request))
    if _wants_json(request):
        return JSONResponse({"series": context["series_json"], "ibkr": context["ibkr"]})
    return _render(request, "data.html", **context)


async def data_fetch(request: Request) -> Response:
    """Start an IBKR fetch job; the values are checked as `data fetch` checks them, before it starts."""
    from ntrader.data.bars import parse_bar_size
    from ntrader.data.period import parse_period
    from ntrader.data.symbol import parse_symbol

    form = await checked_form(request)
    start = str(form.get("start", "")).strip() or None
    end = str(form.get("end", "")).strip() or None
    symbol = parse_symbol(str(form.get("symbol", "")))
    size = parse_bar_size(str(form.get("bar_size", "1-DAY")) or "1-DAY")
    if start and end:
        parse_period(start, end)
    job = request.app.state.jobs.submit_fetch(symbol, start, end, size, _url(request))
    if _wants_json(request):
        return JSONResponse(job.state(), status_code=202)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def data_check(request: Request) -> Response:
    from ntrader.data.check import check_stored

    q = request.query_params
    report = check_stored(
        q.get("symbol", ""), q.get("bar_size", "1-DAY"), q.get("source", "csv"), url=_url(request)
    )
    document = report.to_json_dict()
    if _wants_json(request):
        return JSONResponse(document)
    return _render(request, "check.html", report=report, findings=document["checks"])


def plotly_js(request: Request) -> Response:
    from plotly.offline import get_plotlyjs

    return Response(
        get_plotlyjs(), media_type="text/javascript", headers={"cache-control": "public, max-age=86400"}
    )


def favicon(request: Request) -> Response:
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def _routes() -> list[Route | Mount]:
    pairs: list[tuple[str, Any, list[str]]] = [
        ("/runs", runs_list, ["GET"]),
        ("/runs/delete", runs_delete, ["POST"]),
        ("/runs/{run_id:int}", run_detail, ["GET"]),
        ("/compare", compare, ["GET"]),
        ("/backtests", backtest_submit, ["POST"]),
        ("/jobs", jobs_list, ["GET"]),
        ("/jobs/{job_id:int}", job_page, ["GET"]),
        ("/sweeps", sweeps_list, ["GET"]),
        ("/sweeps", sweep_submit, ["POST"]),
        ("/sweeps/{sweep_id:int}", sweep_detail, ["GET"]),
        ("/data", data_page, ["GET"]),
        ("/data/check", data_check, ["GET"]),
        ("/data/fetch", data_fetch, ["POST"]),
    ]
    routes: list[Route | Mount] = [
        Route("/", lambda request: RedirectResponse("/runs", status_code=307)),
        Route("/healthz", health),
        Route("/favicon.ico", favicon),
        Route("/runs/{run_id:int}/export/{fmt}", run_export),
        Route("/backtests/new", backtest_form),
        Route("/sweeps/new", sweep_form),
        Route("/api/jobs/{job_id:int}/events", job_events),
        Route("/api/strategies", strategies),
        Route("/api/strategies/{name}", strategies),
        Route("/static/plotly.min.js", plotly_js),
    ]
    for path, endpoint, methods in pairs:
        routes.append(Route(path, endpoint, methods=methods))
        routes.append(Route("/api" + path, endpoint, methods=methods, name="api" + path))
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    return routes


def create_app(config: UIConfig, jobs: JobManager | None = None) -> Starlette:
    """The ASGI application; `jobs` lets tests pass a manager of their own."""
    manager = jobs or JobManager()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        manager.shutdown(wait=True)

    app = Starlette(
        routes=_routes(),
        exception_handlers={NtraderError: _error, CSRFError: _error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.jobs = manager
    app.state.csrf = new_secret()
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(views.FILTERS)
    app.state.templates = templates
    if config.token is None:
        app.add_middleware(LoopbackHostMiddleware)
    app.add_middleware(TokenMiddleware, token=config.token)
    return app
