"""Trades in the HTML report that stay readable by the thousand: grouped markers when zoomed out
(every trade drawn once fewer than `MAX_TRADE_MARKERS` are in view), and a trade table that sorts
by any column and filters by text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# More trades than this in view and the price chart groups them by period.
MAX_TRADE_MARKERS = 300
MARKER_GROUPS = 150
DETAIL, GROUPED = "trade-detail", "trade-grouped"


def _markers(
    x: pd.Series, y: pd.Series, name: str, style: tuple[str, str], pnl: pd.Series, visible: bool
) -> go.Scatter:
    symbol, color = style
    return go.Scatter(
        x=x,
        y=y.to_numpy(dtype="float64"),
        name=name,
        mode="markers",
        marker={"symbol": symbol, "size": 13, "color": color, "line": {"width": 1.5, "color": "white"}},
        customdata=pnl.to_numpy(dtype="float64"),
        hovertemplate="%{x}<br>%{y:,.2f} · trade P&L %{customdata:,.2f}<extra>" + name + "</extra>",
        meta=DETAIL,
        visible=visible,
    )


def _grouped(trades: pd.DataFrame) -> go.Scatter:
    """One marker per period: as many trades as entered in it (size), their net P&L (colour)."""
    entry = pd.DatetimeIndex(pd.to_datetime(trades["entry_time"], utc=True))
    edges = pd.date_range(entry.min(), entry.max() + pd.Timedelta(seconds=1), periods=MARKER_GROUPS + 1)
    group = np.clip(edges.searchsorted(entry, side="right") - 1, 0, MARKER_GROUPS - 1)
    frame = pd.DataFrame(
        {
            "group": group,
            "price": trades["entry_price"].to_numpy(dtype=float),
            "pnl": trades["pnl"].to_numpy(),
        }
    )
    stats = frame.groupby("group").agg(count=("pnl", "size"), pnl=("pnl", "sum"), price=("price", "mean"))
    middle = edges[:-1] + (edges[1:] - edges[:-1]) / 2
    counts = stats["count"].to_numpy()
    return go.Scatter(
        x=middle[stats.index.to_numpy()],
        y=stats["price"].to_numpy(),
        name="Trades (grouped; zoom in for each)",
        mode="markers",
        marker={
            "size": 6 + 3 * np.sqrt(counts),
            "color": np.where(stats["pnl"].to_numpy() >= 0, "#16a34a", "#dc2626").tolist(),
            "opacity": 0.6,
            "line": {"width": 1, "color": "white"},
        },
        customdata=np.column_stack([counts, stats["pnl"].to_numpy()]),
        hovertemplate="%{customdata[0]} trades entered · net P&L %{customdata[1]:,.2f}<extra></extra>",
        meta=GROUPED,
    )


def trade_traces(trades: pd.DataFrame, colors: dict[str, str]) -> list[go.Scatter]:
    """Entry and exit markers; with many trades they start hidden behind grouped markers."""
    if trades.empty:
        return []
    many = len(trades) > MAX_TRADE_MARKERS
    traces = []
    long = trades["side"] == "LONG"
    for mask, name, style in (
        (long, "Entry (long)", ("triangle-up", colors["entry"])),
        (~long, "Entry (short)", ("triangle-down", colors["short"])),
    ):
        chosen = trades[mask]
        if not chosen.empty:
            traces.append(
                _markers(chosen["entry_time"], chosen["entry_price"], name, style, chosen["pnl"], not many)
            )
    closed = trades[trades["exit_time"].notna()]
    if not closed.empty:
        traces.append(
            _markers(
                closed["exit_time"],
                closed["exit_price"],
                "Exit",
                ("x", colors["exit"]),
                closed["pnl"],
                not many,
            )
        )
    if many:
        traces.append(_grouped(trades))
    return traces


def zoom_script(div_id: str, trades: pd.DataFrame) -> str:
    """Show every trade once fewer than MAX_TRADE_MARKERS entries are in the visible range."""
    if len(trades) <= MAX_TRADE_MARKERS:
        return ""
    times = pd.DatetimeIndex(pd.to_datetime(trades["entry_time"], utc=True))
    stamps = json.dumps((times.to_numpy(dtype="datetime64[ms]").astype("int64")).tolist())
    return f"""<script>
(function () {{
  var gd = document.getElementById({json.dumps(div_id)});
  var entries = {stamps};
  function toggle() {{
    var range = gd._fullLayout.xaxis.range.map(function (v) {{ return new Date(v).getTime(); }});
    var inView = entries.filter(function (t) {{ return t >= range[0] && t <= range[1]; }}).length;
    var detail = inView <= {MAX_TRADE_MARKERS};
    var di = [], gi = [];
    gd.data.forEach(function (t, i) {{
      if (t.meta === "{DETAIL}") di.push(i); else if (t.meta === "{GROUPED}") gi.push(i);
    }});
    if (gd.__tradeDetail === detail) return;
    gd.__tradeDetail = detail;
    Plotly.restyle(gd, {{visible: detail}}, di);
    Plotly.restyle(gd, {{visible: !detail}}, gi);
    gd.setAttribute("data-trade-markers", detail ? "each" : "grouped");
  }}
  function ready() {{
    if (!gd || !gd._fullLayout || !gd.on) {{ return setTimeout(ready, 50); }}
    gd.setAttribute("data-trade-markers", "grouped");
    gd.on("plotly_relayout", toggle);
  }}
  ready();
}})();
</script>"""


# Sorting (click a heading; numbers by their value) and filtering (rows containing the text).
TABLE_SCRIPT = """<script>
(function () {
  var table = document.getElementById("trades");
  var input = document.getElementById("trade-filter");
  if (!table || !input) return;
  var body = table.tBodies[0];
  var count = document.getElementById("trade-count");
  input.addEventListener("input", function () {
    var needle = input.value.toLowerCase(), shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var hit = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
      row.hidden = !hit; if (hit) shown++;
    });
    if (count) count.textContent = shown + " shown";
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.style.cursor = "pointer";
    th.title = "Sort";
    th.addEventListener("click", function () {
      var desc = th.getAttribute("data-sorted") === "asc";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
        c.removeAttribute("data-sorted");
      });
      th.setAttribute("data-sorted", desc ? "desc" : "asc");
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var text = row.cells[col].textContent.replace(/,/g, "");
        var num = parseFloat(text);
        return isNaN(num) || /[^0-9.eE+\\-]/.test(text.trim()) ? text : num;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), r = (x < y) ? -1 : (x > y ? 1 : 0);
        return desc ? -r : r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
</script>"""


def filter_box(total: int) -> str:
    return (
        '<p><input id="trade-filter" type="search" placeholder="Filter trades (e.g. SHORT, 2021-03, -)" '
        f'size="40"> <span id="trade-count">{total:,} shown</span> · click a heading to sort</p>'
    )
