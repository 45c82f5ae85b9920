"""Reports on saved runs: text panels, CSV/JSON/HTML exports, comparisons, metric recomputation.

Everything here reads what a run stored (record, trades, equity curve) and never reruns it;
only the price chart and buy-and-hold curve reload the run's bars.
"""

from ntrader.reports.compare import (
    COMPARE_FORMATS,
    Comparison,
    compare_runs,
    comparison_document,
    export_comparison,
)
from ntrader.reports.export import (
    EXPORT_FORMATS,
    Export,
    default_report_path,
    export_run,
    reports_dir,
    write_run_html,
)
from ntrader.reports.html import render_run_html
from ntrader.reports.model import RunReport, load_report
from ntrader.reports.recompute import Recomputed, recompute_runs
from ntrader.reports.schema import RUN_EXPORT_SCHEMA, SCHEMA_VERSION, run_document, validate
from ntrader.reports.text import compare_table, render_text, run_renderables, summary_panel

__all__ = [
    "COMPARE_FORMATS",
    "EXPORT_FORMATS",
    "RUN_EXPORT_SCHEMA",
    "SCHEMA_VERSION",
    "Comparison",
    "Export",
    "Recomputed",
    "RunReport",
    "compare_runs",
    "compare_table",
    "comparison_document",
    "default_report_path",
    "export_comparison",
    "export_run",
    "load_report",
    "recompute_runs",
    "render_run_html",
    "render_text",
    "reports_dir",
    "run_document",
    "run_renderables",
    "summary_panel",
    "validate",
    "write_run_html",
]
