"""Reports on saved runs: text panels, CSV/JSON/HTML exports, comparisons, metric recomputation.

Everything here reads what a run stored (record, trades, equity curve) and never reruns it;
only the price chart and buy-and-hold curve reload the run's bars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntrader.lazy import lazy_exports

if TYPE_CHECKING:  # the same names as _EXPORTS, for type checkers and IDEs
    from ntrader.reports.compare import COMPARE_FORMATS as COMPARE_FORMATS
    from ntrader.reports.compare import Comparison as Comparison
    from ntrader.reports.compare import compare_runs as compare_runs
    from ntrader.reports.compare import comparison_document as comparison_document
    from ntrader.reports.compare import export_comparison as export_comparison
    from ntrader.reports.export import EXPORT_FORMATS as EXPORT_FORMATS
    from ntrader.reports.export import Export as Export
    from ntrader.reports.export import default_report_path as default_report_path
    from ntrader.reports.export import export_run as export_run
    from ntrader.reports.export import reports_dir as reports_dir
    from ntrader.reports.export import write_run_html as write_run_html
    from ntrader.reports.html import render_run_html as render_run_html
    from ntrader.reports.model import RunReport as RunReport
    from ntrader.reports.model import load_report as load_report
    from ntrader.reports.recompute import Recomputed as Recomputed
    from ntrader.reports.recompute import recompute_runs as recompute_runs
    from ntrader.reports.schema import RUN_EXPORT_SCHEMA as RUN_EXPORT_SCHEMA
    from ntrader.reports.schema import SCHEMA_VERSION as SCHEMA_VERSION
    from ntrader.reports.schema import run_document as run_document
    from ntrader.reports.schema import validate as validate
    from ntrader.reports.text import compare_table as compare_table
    from ntrader.reports.text import render_text as render_text
    from ntrader.reports.text import run_renderables as run_renderables
    from ntrader.reports.text import summary_panel as summary_panel

# name -> module, imported on first use: a command that prints one panel does not load the HTML
# report's plotly, the comparison or the exports (nor pandas where it needs none).
_EXPORTS = {
    "COMPARE_FORMATS": "ntrader.reports.compare",
    "Comparison": "ntrader.reports.compare",
    "compare_runs": "ntrader.reports.compare",
    "comparison_document": "ntrader.reports.compare",
    "export_comparison": "ntrader.reports.compare",
    "EXPORT_FORMATS": "ntrader.reports.export",
    "Export": "ntrader.reports.export",
    "default_report_path": "ntrader.reports.export",
    "export_run": "ntrader.reports.export",
    "reports_dir": "ntrader.reports.export",
    "write_run_html": "ntrader.reports.export",
    "render_run_html": "ntrader.reports.html",
    "RunReport": "ntrader.reports.model",
    "load_report": "ntrader.reports.model",
    "Recomputed": "ntrader.reports.recompute",
    "recompute_runs": "ntrader.reports.recompute",
    "RUN_EXPORT_SCHEMA": "ntrader.reports.schema",
    "SCHEMA_VERSION": "ntrader.reports.schema",
    "run_document": "ntrader.reports.schema",
    "validate": "ntrader.reports.schema",
    "compare_table": "ntrader.reports.text",
    "render_text": "ntrader.reports.text",
    "run_renderables": "ntrader.reports.text",
    "summary_panel": "ntrader.reports.text",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
