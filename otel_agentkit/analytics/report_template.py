"""The HTML report's page: style, chart code and skeleton, kept in a module so it ships with the package.

The charts are inline SVG drawn by the small script below from the JSON embedded in the page; nothing is
fetched (the Content-Security-Policy forbids it), so the file opens offline. Headline figures and tables
are rendered by Python, with the same formatting functions as the CLI.
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")

STYLE = """
:root { --fg:#1d2430; --muted:#5d6b7e; --line:#dde3ea; --bg:#f6f8fa; --card:#fff;
        --c1:#2f6fdf; --c2:#e8833a; --c3:#3aa675; --c4:#c0392b; --c5:#8e5bd6; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 "DejaVu Sans", system-ui, sans-serif; color:var(--fg); background:var(--bg); }
header { padding:20px 28px 8px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:15px; margin:0 0 10px; }
.muted { color:var(--muted); }
main { padding:8px 28px 28px; display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:16px; }
.tiles { grid-column:1/-1; display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:12px; }
.tile, .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.tile .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.tile .value { font-size:22px; font-weight:600; margin-top:2px; }
.wide { grid-column:1/-1; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:right; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; font-size:12px; }
svg { width:100%; height:auto; display:block; }
svg text { font-size:11px; fill:var(--muted); }
.legend { font-size:12px; color:var(--muted); margin-top:4px; }
.legend span { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 10px; vertical-align:-1px; }
footer { padding:0 28px 24px; font-size:12px; color:var(--muted); }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)", "var(--c5)"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", {x: x, y: y, "text-anchor": anchor || "start"}, parent);
    t.textContent = s;
    return t;
  }
  function trim(v, places) { return v.toFixed(places).replace(/\.?0+$/, ""); }
  var fmt = {
    usd: function (v) {
      if (v == null) return "-";
      var a = Math.abs(v);
      return "$" + (a === 0 ? "0" : a >= 1000 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : trim(v, 4));
    },
    int: function (v) {
      if (v == null) return "-";
      return v >= 1e6 ? trim(v / 1e6, 2) + "M" : v >= 1e4 ? trim(v / 1e3, 1) + "k" : String(Math.round(v));
    },
    pct: function (v) { return v == null ? "-" : trim(v * 100, 1) + "%"; },
    sec: function (v) { return v == null ? "-" : (v === 0 ? "0" : v < 1 ? (v * 1000).toFixed(0) + " ms" : trim(v, 2) + " s"); }
  };
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function legend(host, series) {
    if (series.length < 2) return;
    var div = document.createElement("div");
    div.className = "legend";
    series.forEach(function (s, i) {
      var sw = document.createElement("span");
      sw.style.background = COLORS[i % COLORS.length];
      div.appendChild(sw);
      div.appendChild(document.createTextNode(s.name));
    });
    host.appendChild(div);
  }
  function frame(host, max, format) {
    var W = 640, H = 240, L = 64, R = 12, T = 10, B = 44;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, host);
    for (var i = 0; i <= 4; i++) {
      var y = T + (H - T - B) * (1 - i / 4);
      el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "var(--line)"}, svg);
      text(svg, L - 6, y + 4, format(max * i / 4), "end");
    }
    return {svg: svg, W: W, H: H, L: L, R: R, T: T, B: B};
  }
  function xLabels(f, labels, step) {
    var every = Math.max(1, Math.ceil(labels.length / 10));
    labels.forEach(function (lab, i) {
      if (i % every) return;
      text(f.svg, f.L + step * (i + 0.5), f.H - f.B + 16, lab.length > 12 ? lab.slice(0, 11) + "\u2026" : lab, "middle");
    });
  }
  // Vertical bars; several series are stacked.
  function bars(id, labels, series, format) {
    var host = document.getElementById(id);
    if (!labels.length) { host.appendChild(document.createTextNode("no calls")); return; }
    var sums = labels.map(function (_, i) { return series.reduce(function (a, s) { return a + (s.values[i] || 0); }, 0); });
    var max = niceMax(Math.max.apply(null, sums)), f = frame(host, max, format);
    var step = (f.W - f.L - f.R) / labels.length, h = f.H - f.T - f.B;
    labels.forEach(function (lab, i) {
      var base = 0;
      series.forEach(function (s, k) {
        var v = s.values[i] || 0, bh = h * v / max;
        var r = el("rect", {x: f.L + step * i + step * 0.15, y: f.T + h - (base + bh), width: step * 0.7,
                            height: Math.max(bh, 0), fill: COLORS[k % COLORS.length]}, f.svg);
        el("title", {}, r).textContent = lab + " " + s.name + ": " + format(v);
        base += bh;
      });
    });
    xLabels(f, labels, step);
    legend(host, series);
  }
  // Lines with a dot per point (null values leave a gap).
  function lines(id, labels, series, format) {
    var host = document.getElementById(id);
    if (!labels.length) { host.appendChild(document.createTextNode("no calls")); return; }
    var all = [];
    series.forEach(function (s) { s.values.forEach(function (v) { if (v != null) all.push(v); }); });
    var max = niceMax(all.length ? Math.max.apply(null, all) : 0), f = frame(host, max, format);
    var step = (f.W - f.L - f.R) / labels.length, h = f.H - f.T - f.B;
    series.forEach(function (s, k) {
      var d = "", pen = false;
      s.values.forEach(function (v, i) {
        if (v == null) { pen = false; return; }
        var x = f.L + step * (i + 0.5), y = f.T + h - h * v / max;
        d += (pen ? " L " : " M ") + x.toFixed(1) + " " + y.toFixed(1);
        pen = true;
        var c = el("circle", {cx: x, cy: y, r: 3, fill: COLORS[k % COLORS.length]}, f.svg);
        el("title", {}, c).textContent = labels[i] + " " + s.name + ": " + format(v);
      });
      if (d) el("path", {d: d, fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 2}, f.svg);
    });
    xLabels(f, labels, step);
    legend(host, series);
  }
  // Horizontal bars, one per label.
  function hbars(id, labels, values, format) {
    var host = document.getElementById(id);
    if (!labels.length) { host.appendChild(document.createTextNode("no calls")); return; }
    var W = 640, row = 26, L = 170, R = 90, H = row * labels.length + 8;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, host);
    var max = niceMax(Math.max.apply(null, values));
    labels.forEach(function (lab, i) {
      var y = 4 + row * i, w = (W - L - R) * (values[i] || 0) / max;
      text(svg, L - 8, y + 16, lab.length > 24 ? lab.slice(0, 23) + "\u2026" : lab, "end");
      var r = el("rect", {x: L, y: y + 4, width: Math.max(w, 0), height: row - 10, fill: "var(--c1)"}, svg);
      el("title", {}, r).textContent = lab + ": " + format(values[i]);
      text(svg, L + w + 6, y + 16, format(values[i]));
    });
  }

  function pick(rows, key) { return rows.map(function (r) { return r[key]; }); }
  var days = pick(data.by_day, "key"), models = pick(data.by_model, "key");
  bars("chart-cost-day", days, [{name: "cost", values: pick(data.by_day, "cost_usd")}], fmt.usd);
  bars("chart-tokens-day", days, [{name: "input", values: pick(data.by_day, "input_tokens")},
                                  {name: "output", values: pick(data.by_day, "output_tokens")}], fmt.int);
  hbars("chart-cost-model", models, pick(data.by_model, "cost_usd"), fmt.usd);
  hbars("chart-tokens-model", models, pick(data.by_model, "total_tokens"), fmt.int);
  lines("chart-latency-day", days, [{name: "p50", values: pick(data.by_day, "latency_p50_s")},
                                    {name: "p95", values: pick(data.by_day, "latency_p95_s")}], fmt.sec);
  lines("chart-errors-day", days, [{name: "error rate", values: pick(data.by_day, "error_rate")}], fmt.pct);
  document.body.setAttribute("data-rendered", "true");
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
<script type="application/json" id="report-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
