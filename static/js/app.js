/* DriftControl dashboard behaviour: charts, the findings selection, countdowns.
   Everything works without it (plain forms and links); this only makes it nicer. It runs on
   the first load and again on every fragment htmx swaps in. */
(function () {
  "use strict";

  // Plotly figures: a [data-chart] element followed by the <script type="application/json">
  // that json_script wrote with the figure from drift/charts.py.
  function drawCharts(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-chart]:not([data-drawn])").forEach(function (el) {
      var source = el.nextElementSibling;
      if (!source || source.type !== "application/json") return;
      var figure = JSON.parse(source.textContent);
      el.setAttribute("data-drawn", "");
      window.Plotly.newPlot(el, figure.data, figure.layout, figure.config);
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

  function init(root) {
    drawCharts(root);
    wireSelection(root);
    wireAutosubmit(root);
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document.body);
    window.setInterval(tick, 15000);
  });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
