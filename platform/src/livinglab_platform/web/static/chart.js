/* Redraws a trial's sparklines every 30 s from /api/v1/data (the sign-in cookie authenticates).
 * The geometry and the gap rule are those of web/charts.py, which draws the first picture. */
(function () {
  "use strict";

  var REFRESH_MS = 30000;
  var WIDTH = 300;
  var HEIGHT = 60;
  var PAD = 4;
  var GAP_FRACTION = 1 / 48;

  function number(value) {
    if (value === null || value === undefined) {
      return "\u2014";
    }
    return String(Number(value.toPrecision(4)));
  }

  function sparkline(points, start, end) {
    if (points.length === 0) {
      return "";
    }
    var values = points.map(function (p) { return p[1]; });
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    var gap = (end - start) * GAP_FRACTION;
    // As charts.py: the x axis starts at the first reading when it comes after `start`.
    var left = Math.max(start, points[0][0]);
    var span = (end - left) || (end - start);
    var innerW = WIDTH - 2 * PAD;
    var innerH = HEIGHT - 2 * PAD;
    var commands = [];
    var previous = null;
    points.forEach(function (p) {
      var x = PAD + (p[0] - left) / span * innerW;
      var share = high === low ? 0.5 : (p[1] - low) / (high - low);
      var y = HEIGHT - PAD - share * innerH;
      var jump = previous === null || p[0] - previous > gap;
      commands.push((jump ? "M" : "L") + x.toFixed(1) + " " + y.toFixed(1));
      previous = p[0];
    });
    if (points.length === 1) {
      commands.push("h0.1");
    }
    return commands.join(" ");
  }

  function draw(container, answer) {
    var start = Date.parse(answer.start);
    var end = Date.parse(answer.end);
    var bySensor = {};
    answer.series.forEach(function (series) {
      bySensor[series.sensor_id] = series.points
        .map(function (p) {
          var value = p.value !== null && p.value !== undefined ? p.value : p.mean;
          return [Date.parse(p.time), value];
        })
        .filter(function (p) { return p[1] !== null && p[1] !== undefined; });
    });
    container.querySelectorAll("figure.chart").forEach(function (figure) {
      var points = bySensor[figure.getAttribute("data-sensor")] || [];
      var values = points.map(function (p) { return p[1]; });
      figure.querySelector("path.line").setAttribute("d", sparkline(points, start, end));
      figure.setAttribute("data-count", String(points.length));
      figure.querySelector("[data-last]").textContent = number(values.length ? values[values.length - 1] : null);
      figure.querySelector("[data-low]").textContent = number(values.length ? Math.min.apply(null, values) : null);
      figure.querySelector("[data-high]").textContent = number(values.length ? Math.max.apply(null, values) : null);
      figure.querySelector("[data-empty]").hidden = points.length > 0;
      figure.classList.remove("stale");
    });
  }

  function refresh() {
    var containers = document.querySelectorAll(".charts[data-trial]");
    return Promise.all(Array.prototype.map.call(containers, function (container) {
      var url = "/api/v1/data?trial=" + encodeURIComponent(container.getAttribute("data-trial"));
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (answer) { draw(container, answer); })
        .catch(function () {
          // Keep the last picture, greyed, until the next refresh succeeds.
          container.querySelectorAll("figure.chart").forEach(function (f) { f.classList.add("stale"); });
        });
    }));
  }

  window.livinglabCharts = { refresh: refresh };
  window.setInterval(refresh, REFRESH_MS);
})();
