// templategw console: refreshes a page's live figures. Every page works
// without this script; it only keeps the numbers current while the page
// stays open, from the JSON the page names in <main data-live>.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.fetch) { return; }
  var url = main.getAttribute("data-live");
  var every = 15000;
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (figures) {
        document.querySelectorAll("[data-figure]").forEach(function (el) {
          var v = figures[el.getAttribute("data-figure")];
          if (typeof v === "string" && el.textContent !== v) { el.textContent = v; }
        });
      })
      .catch(function () { /* the page keeps its last figures */ })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
