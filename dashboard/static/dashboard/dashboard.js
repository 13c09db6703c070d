// Switchyard dashboard: draws the overview charts with uPlot and wires the copy buttons.
(function () {
  "use strict";

  const COLORS = ["#2f6fdf", "#c53030", "#1f8a4c", "#b7791f"];

  // A series' only value draws no line (spanGaps joins two values, not one: e.g. one hour of
  // latencies): uPlot then draws its point; it draws every point anyway when it has room (`show`).
  function lonePoint(plot, seriesIndex, show) {
    if (show) return null;
    const shown = [];
    plot.data[seriesIndex].forEach(function (value, index) {
      if (value != null) shown.push(index);
    });
    return shown.length === 1 ? shown : null;
  }

  function drawCharts() {
    const source = document.getElementById("chart-data");
    if (!source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      const names = element.dataset.chart.split(",");
      const width = Math.max(element.clientWidth, 240);
      const options = {
        width: width,
        height: 200,
        legend: { show: names.length > 1 },
        scales: { x: { time: true } },
        series: [{}].concat(names.map(function (name, index) {
          return {
            label: name, stroke: COLORS[index], width: 2, fill: index === 0 ? "rgba(47,111,223,0.08)" : undefined,
            spanGaps: true, points: { filter: lonePoint, size: 8, fill: COLORS[index] },
          };
        })),
        axes: [{}, { size: 60 }],
      };
      const columns = [data.t].concat(names.map(function (name) { return data[name]; }));
      element.textContent = "";
      const plot = new uPlot(options, columns, element);
      element.dataset.drawn = "true";
      window.addEventListener("resize", function () {
        plot.setSize({ width: Math.max(element.clientWidth, 240), height: 200 });
      });
    });
  }

  function wireCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        const input = document.querySelector(button.dataset.copy);
        input.select();
        const done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    wireCopyButtons();
  });
})();
