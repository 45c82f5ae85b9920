"""Exporting a saved run as text, CSV, JSON or HTML, to a file or (except HTML) to stdout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ntrader.config import get_settings
from ntrader.errors import InputError
from ntrader.reports.html import render_run_html
from ntrader.reports.model import RunReport, load_report
from ntrader.reports.schema import run_document
from ntrader.reports.text import render_text, run_renderables

EXPORT_FORMATS = ("text", "csv", "json", "html")
_SUFFIX = {"text": "txt", "csv": "csv", "json": "json", "html": "html"}


@dataclass(frozen=True)
class Export:
    """What an export produced: the file written, or the content when it goes to stdout."""

    format: str
    path: Path | None
    content: str | None = None


def reports_dir() -> Path:
    """Where reports go by default: ``$NTRADER_HOME/reports``."""
    return get_settings().home / "reports"


def default_report_path(run_id: int) -> Path:
    return reports_dir() / f"run-{run_id}.html"


def resolve_output(
    output: str | Path | None, default_name: str, *, to_reports_dir: bool = False
) -> Path | None:
    """The file to write: ``output`` (a file, or an existing directory to put ``default_name`` in).

    Without ``output``: the reports directory when ``to_reports_dir`` (created on demand), else
    None, meaning stdout. A missing parent directory is an error rather than created silently:
    it is more often a typo than a wish.
    """
    if output is None:
        if not to_reports_dir:
            return None
        folder = reports_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder / default_name
    path = Path(output).expanduser()
    if path.is_dir():
        return path / default_name
    parent = path.parent
    if not parent.exists():
        raise InputError(f"output directory {parent} does not exist")
    if not parent.is_dir():
        raise InputError(f"output directory {parent} is not a directory")
    return path


def write_text(path: Path, content: str) -> Path:
    """Write ``content`` to ``path``; a permission or disk problem becomes one clear line."""
    try:
        path.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def trades_csv(trades: pd.DataFrame) -> str:
    """The trade list as CSV with ISO-8601 UTC times; an open trade has empty exit cells."""
    frame = trades.copy()
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True).map(
            lambda ts: "" if pd.isna(ts) else ts.isoformat()
        )
    return str(frame.to_csv(index=False))


def equity_csv(report: RunReport) -> str:
    """The equity curve with its drawdown, one row per bar close."""
    frame = pd.DataFrame(
        {
            "timestamp": [ts.isoformat() for ts in report.equity.index],
            "equity": report.equity.to_numpy(),
            "drawdown": report.drawdown().reindex(report.equity.index).to_numpy(),
        }
    )
    return str(frame.to_csv(index=False))


def export_run(
    run_id: int,
    fmt: str,
    output: str | Path | None = None,
    *,
    equity: bool = False,
    url: str | None = None,
) -> Export:
    """Export run ``run_id``; ``equity`` writes the equity curve (CSV) or adds it (JSON).

    HTML always goes to a file (``$NTRADER_HOME/reports/run-<id>.html`` by default); the other
    formats go to stdout unless ``output`` is given.
    """
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    name = f"run-{run_id}{'-equity' if fmt == 'csv' and equity else '-trades' if fmt == 'csv' else ''}"
    # Checked before the (possibly slow) bar reload, so a typo in --output fails at once.
    path = resolve_output(output, f"{name}.{_SUFFIX[fmt]}", to_reports_dir=fmt == "html")
    report = load_report(run_id, with_bars=fmt == "html", url=url)
    if fmt == "html":
        content = render_run_html(report)
    elif fmt == "json":
        content = json.dumps(run_document(report, include_equity=equity), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        content = equity_csv(report) if equity else trades_csv(report.trades)
    else:
        content = render_text(run_renderables(report, trades=True, limit=0))
    if path is None:
        return Export(fmt, None, content)
    return Export(fmt, write_text(path, content))


def write_run_html(run_id: int, output: str | Path | None = None, *, url: str | None = None) -> Path:
    """Write the HTML report of run ``run_id`` and return its path."""
    export = export_run(run_id, "html", output, url=url)
    assert export.path is not None
    return export.path
