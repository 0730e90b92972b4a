/* DriftControl dashboard behaviour: charts, the findings selection, countdowns.
   Everything works without it (plain forms and links); this only makes it nicer. It runs on
   the first load and again on every fragment htmx swaps in. */
(function () {
  "use strict";

  // The charts take their colours from the stylesheet, so they follow the light or dark
  // scheme app.css picks from the system setting. dashboard/charts.py writes the light
  // scheme's colours and, as the figure's `theme`, which app.css variable carries each
  // (text, severities, ok): every trace and the layout are repainted with the current ones.
  function cssColour(name) {
    return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function paintTraces(data, swap) {
    function painted(colour) { return swap[colour] || colour; }
    data.forEach(function (trace) {
      if (trace.fillcolor) trace.fillcolor = painted(trace.fillcolor);
      ["line", "marker"].forEach(function (part) {
        var drawn = trace[part];
        if (!drawn || !drawn.color) return;
        drawn.color = Array.isArray(drawn.color) ? drawn.color.map(painted) : painted(drawn.color);
      });
    });
  }
  // Colour now on the chart -> the current scheme's, for each themed variable. The chart
  // remembers what it was painted with last, so a change of scheme repaints it again.
  function swaps(el, theme) {
    var swap = {}, last = el.paintedWith || {};
    Object.keys(theme).forEach(function (written) {
      var name = theme[written], now = cssColour(name) || written;
      swap[last[name] || written] = now;
      last[name] = now;
    });
    el.paintedWith = last;
    return swap;
  }
  function themed(el, figure) {
    var layout = figure.layout, ink = cssColour("--fg"), line = cssColour("--line");
    el.theme = figure.theme || el.theme || {};
    paintTraces(figure.data, swaps(el, el.theme));
    layout.font = layout.font || {};
    layout.font.color = ink;
    Object.keys(layout).concat(["xaxis", "yaxis"]).forEach(function (key) {
      if (!/^[xy]axis\d*$/.test(key)) return;
      var axis = layout[key] = layout[key] || {};
      axis.gridcolor = line; axis.zerolinecolor = line; axis.linecolor = line;
    });
    layout.hoverlabel = {bgcolor: cssColour("--card"), bordercolor: line, font: {color: ink}};
    layout.modebar = {bgcolor: "rgba(0,0,0,0)", color: cssColour("--muted"), activecolor: cssColour("--accent")};
    return figure;
  }

  // Plotly figures: a [data-chart] element followed by the <script type="application/json">
  // that json_script wrote with the figure from dashboard/charts.py.
  function drawCharts(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-chart]:not([data-drawn])").forEach(function (el) {
      var source = el.nextElementSibling;
      if (!source || source.type !== "application/json") return;
      var figure = themed(el, JSON.parse(source.textContent));
      el.setAttribute("data-drawn", "");
      window.Plotly.newPlot(el, figure.data, figure.layout, figure.config).then(hideDrawing);
    });
  }
  // The figure around the chart names it (templates/includes/chart.html); the drawing's
  // ticks and hover layers would only be noise to a screen reader. The mode bar's buttons
  // are outside these SVGs and stay reachable.
  function hideDrawing(el) {
    el.querySelectorAll("svg.main-svg").forEach(function (svg) {
      svg.setAttribute("aria-hidden", "true");
    });
  }
  function repaintCharts() {
    document.querySelectorAll("[data-chart][data-drawn]").forEach(function (el) {
      var figure = themed(el, {data: el.data, layout: el.layout});
      window.Plotly.react(el, figure.data, figure.layout).then(hideDrawing);
    });
  }

  // A table wider than its .table-wrap scrolls inside it (on a phone, a table scrolls by
  // itself: app.css); keyboard users need to reach it to scroll it (axe:
  // scrollable-region-focusable), so whatever scrolls takes the focus.
  function focusableScrolling() {
    document.querySelectorAll(".table-wrap, table.data, table.status").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth) wrap.setAttribute("tabindex", "0");
      else if (wrap.getAttribute("tabindex") === "0") wrap.removeAttribute("tabindex");
    });
  }

  // The findings list: select all, count the selection, and say when it mixes clusters or
  // policies (a remediation request covers one of each; the server refuses it too).
  function wireSelection(root) {
    root.querySelectorAll("form[data-selection]:not([data-wired])").forEach(function (form) {
      form.setAttribute("data-wired", "");
      var boxes = function () { return form.querySelectorAll('input[name="finding"]'); };
      var all = form.querySelector("[data-select-all]");
      var count = form.querySelector("[data-selection-count]");
      var warning = form.querySelector("[data-selection-warning]");
      var remediate = form.querySelectorAll("[data-needs-one-cluster]");
      var needsSelection = form.querySelectorAll("[data-needs-selection]");

      function update() {
        var chosen = Array.prototype.filter.call(boxes(), function (b) { return b.checked; });
        var clusters = new Set(chosen.map(function (b) { return b.dataset.cluster; }));
        var policies = new Set(chosen.map(function (b) { return b.dataset.policy; }));
        if (count) {
          count.textContent = chosen.length === 0 ? "No finding selected"
            : chosen.length + (chosen.length === 1 ? " finding selected" : " findings selected");
        }
        needsSelection.forEach(function (el) { el.disabled = chosen.length === 0; });
        var mixed = clusters.size > 1 || policies.size > 1;
        if (warning) {
          warning.hidden = !mixed;
          warning.textContent = mixed
            ? "The selection mixes " + (clusters.size > 1 ? clusters.size + " clusters" : "")
              + (clusters.size > 1 && policies.size > 1 ? " and " : "")
              + (policies.size > 1 ? policies.size + " policies" : "")
              + ": a remediation request covers the findings of one cluster and one policy."
            : "";
        }
        remediate.forEach(function (el) { el.disabled = chosen.length === 0 || mixed; });
        if (all) {
          all.checked = chosen.length > 0 && chosen.length === boxes().length;
          all.indeterminate = chosen.length > 0 && chosen.length < boxes().length;
        }
      }
      if (all) {
        all.addEventListener("change", function () {
          boxes().forEach(function (b) { b.checked = all.checked; });
          update();
        });
      }
      form.addEventListener("change", function (event) {
        if (event.target.name === "finding") update();
      });
      update();
    });
  }

  // "in 3 h 12 min" next to an expiry, kept current while the page stays open.
  function human(seconds) {
    var s = Math.round(Math.abs(seconds));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) return h + " h" + (m ? " " + m + " min" : "");
    var d = Math.floor(h / 24); h = h % 24;
    return d + " d" + (h ? " " + h + " h" : "");
  }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000;
      if (isNaN(left)) return;
      el.textContent = left >= 0 ? "in " + human(left) : (el.dataset.past || "expired");
      el.classList.toggle("error", left < 0);
    });
  }

  function wireAutosubmit(root) {
    root.querySelectorAll("[data-autosubmit]:not([data-wired])").forEach(function (el) {
      el.setAttribute("data-wired", "");
      el.addEventListener("change", function () { el.form.requestSubmit(); });
    });
  }

  // Long filter forms start closed on a phone, so what they filter comes first.
  function closeOnNarrow(root) {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    root.querySelectorAll("details[data-close-narrow]:not([data-wired])").forEach(function (el) {
      el.setAttribute("data-wired", "");
      el.open = false;
    });
  }

  function init(root) {
    closeOnNarrow(root);
    drawCharts(root);
    wireSelection(root);
    wireAutosubmit(root);
    focusableScrolling();
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document.body);
    window.setInterval(tick, 15000);
    window.addEventListener("resize", focusableScrolling);
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", repaintCharts);
  });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });

  // htmx keeps a snapshot of the page's markup for Back. What was typed, ticked or chosen
  // lives in the fields' properties, not in that markup: copy it into the attributes
  // first, or Back restores the filtered address with empty filters.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("input, textarea, select").forEach(function (field) {
      if (field.type === "checkbox" || field.type === "radio") {
        field.toggleAttribute("checked", field.checked);
      } else if (field.tagName === "SELECT") {
        Array.prototype.forEach.call(field.options, function (option) {
          option.toggleAttribute("selected", option.selected);
        });
      } else if (field.tagName === "TEXTAREA") {
        field.textContent = field.value;
      } else if (field.type !== "password" && field.type !== "hidden") {
        field.setAttribute("value", field.value);
      }
    });
  });
})();
