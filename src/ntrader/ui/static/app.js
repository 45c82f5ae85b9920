// ntrader UI: charts from embedded plotly JSON, sortable/filterable tables, compare, confirm, job progress.
// Page health for people and tests: <body data-ui-status> goes "loading" → "rendered" (or "error").
(function () {
  "use strict";
  var errors = [];
  function fail(message) {
    errors.push(String(message));
    var box = document.getElementById("js-errors");
    if (box) { box.hidden = false; box.textContent += String(message) + "\n"; }
    if (document.body) { document.body.setAttribute("data-ui-status", "error"); }
  }
  window.addEventListener("error", function (e) { fail(e.message || e); });
  window.addEventListener("unhandledrejection", function (e) { fail(e.reason || e); });

  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }

  function loadPlotly(done) {
    if (window.Plotly) { done(); return; }
    var s = document.createElement("script");
    s.src = "/static/plotly.min.js";
    s.onload = done;
    s.onerror = function () { fail("could not load /static/plotly.min.js"); };
    document.head.appendChild(s);
  }

  function drawCharts() {
    var body = document.body, charts = document.querySelectorAll("[data-figure]");
    if (!charts.length) { if (!errors.length) { body.setAttribute("data-ui-status", "rendered"); } return; }
    loadPlotly(function () {
      var drawn = 0;
      charts.forEach(function (el) {
        var fig = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
        window.Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false, responsive: true }).then(function () {
          drawn += 1;
          body.setAttribute("data-charts-rendered", String(drawn));
          if (drawn === charts.length && !errors.length) { body.setAttribute("data-ui-status", "rendered"); }
        }, fail);
      });
    });
  }

  function cellValue(row, index, numeric) {
    var text = row.children[index].textContent.trim();
    if (!numeric) { return text; }
    var n = parseFloat(text.replace(/[,%+]/g, ""));
    return isNaN(n) ? -Infinity : n;
  }

  function sortable(table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.style.cursor = "pointer";
      th.title = "Sort";
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var asc = th.getAttribute("data-order") !== "asc";
        table.querySelectorAll("thead th").forEach(function (o) { o.removeAttribute("data-order"); });
        th.setAttribute("data-order", asc ? "asc" : "desc");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function filterable(input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  }

  function followJob(box) {
    var id = box.getAttribute("data-job-id");
    if (["done", "failed", "stopped"].indexOf(box.getAttribute("data-status")) >= 0) { return; }
    var source = new EventSource("/api/jobs/" + id + "/events");
    source.addEventListener("progress", function (e) {
      var s = JSON.parse(e.data);
      box.setAttribute("data-status", s.status);
      var bar = document.getElementById("job-progress");
      if (s.count && s.status === "running") { bar.max = s.count[1]; bar.value = s.count[0]; }
      else { bar.max = s.steps; bar.value = s.step; }
      document.getElementById("job-stage").textContent = s.status === "failed" ? "failed" : s.stage;
      document.getElementById("job-elapsed").textContent = s.elapsed;
      if (s.message) { var msg = document.getElementById("job-message"); msg.hidden = false; msg.textContent = s.message; }
      if (s.error) { var err = document.getElementById("job-error"); err.hidden = false; err.textContent = s.error; }
      document.getElementById("job-label").textContent = s.label;
      document.getElementById("job-count").textContent = s.count ? s.count.join("/") : "";
      if (s.url) {
        var link = document.getElementById("job-run-link");
        link.href = s.url; link.textContent = s.url;
        document.getElementById("job-result").hidden = false;
      }
      if (["done", "failed", "stopped"].indexOf(s.status) >= 0) {
        source.close();
        if (s.status === "done" && s.url && s.kind !== "fetch") { window.location.href = s.url; }
      }
    });
    source.onerror = function () { source.close(); };
  }

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target.closest("[data-compare],[data-confirm]") : null;
    if (!target) { return; }
    if (target.hasAttribute("data-confirm") && !window.confirm(target.getAttribute("data-confirm"))) {
      e.preventDefault(); return;
    }
    if (target.hasAttribute("data-compare")) {
      var ids = Array.prototype.map.call(document.querySelectorAll('#runs-table input[name="ids"]:checked'),
        function (c) { return c.value; });
      if (ids.length < 2) { window.alert("Select at least two runs to compare."); return; }
      window.location.href = "/compare?ids=" + ids.join(",");
    }
  });
  document.addEventListener("htmx:configRequest", function (e) { e.detail.headers["X-CSRF-Token"] = csrf(); });
  document.addEventListener("htmx:afterSwap", function () { document.body.setAttribute("data-ui-status", "rendered"); });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(sortable);
    document.querySelectorAll("[data-filter-table]").forEach(filterable);
    var job = document.getElementById("job");
    if (job) { followJob(job); }
    drawCharts();
  });
  window.__uiErrors = errors;
})();
