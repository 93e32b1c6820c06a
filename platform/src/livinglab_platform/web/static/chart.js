/* Redraws a trial's charts every 30 s. The server draws them (web/charts.py, templates/charts.html);
 * this fetches the same drawing for the same range from /trials/{id}/charts (the sign-in cookie
 * authenticates) and swaps it in, so there is one drawing code. Without JavaScript the page's
 * first drawing stays. */
(function () {
  "use strict";

  var REFRESH_MS = 30000;

  function refresh() {
    var containers = document.querySelectorAll(".charts[data-trial]");
    return Promise.all(Array.prototype.map.call(containers, function (container) {
      var url = "/trials/" + encodeURIComponent(container.getAttribute("data-trial")) +
        "/charts?range=" + encodeURIComponent(container.getAttribute("data-range") || "24h");
      return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          // The answer is our own template's markup: figures and SVG, no script.
          container.innerHTML = html;
        })
        .catch(function () {
          // Keep the last picture, greyed, until the next refresh succeeds.
          container.querySelectorAll("figure.chart").forEach(function (f) { f.classList.add("stale"); });
        });
    }));
  }

  window.livinglabCharts = { refresh: refresh };
  window.setInterval(refresh, REFRESH_MS);
})();
