(function () {
  "use strict";
  // ?graph=full (or #full-graph) opens the whole dependency graph, so a link can point at it.
  var full = document.getElementById("full-graph");
  if (full && (new URLSearchParams(window.location.search).get("graph") === "full" ||
               window.location.hash === "#full-graph")) { full.open = true; }
}());

(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById("filter-text");
  var sev = document.getElementById("filter-severity");
  var kind = document.getElementById("filter-kind");
  var ignored = document.getElementById("filter-ignored");
  var count = document.getElementById("visible-count");

  function apply() {
    var needle = (text.value || "").toLowerCase().trim();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!needle || row.getAttribute("data-search").indexOf(needle) !== -1) &&
        (!sev.value || row.getAttribute("data-severity") === sev.value) &&
        (!kind.value || row.getAttribute("data-kind") === kind.value) &&
        (ignored.checked || row.getAttribute("data-ignored") !== "1");
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = String(shown);
    table.setAttribute("data-visible", String(shown));
  }

  // Filters can come from the query string (?q=...&severity=...&kind=...&ignored=1), so links can point at a view.
  var params = new URLSearchParams(window.location.search);
  if (params.get("q")) { text.value = params.get("q"); }
  if (params.get("severity")) { sev.value = params.get("severity"); }
  if (params.get("kind")) { kind.value = params.get("kind"); }
  if (params.get("ignored") === "1") { ignored.checked = true; }
  [text, sev, kind, ignored].forEach(function (el) {
    el.addEventListener("input", apply);
    el.addEventListener("change", apply);
  });

  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th, index) {
    if (!th.classList.contains("sortable")) { return; }
    th.addEventListener("click", function () {
      var desc = !th.classList.contains("desc");
      headers.forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(desc ? "desc" : "asc");
      var numeric = th.getAttribute("data-type") === "number";
      var sorted = rows.slice().sort(function (a, b) {
        var x = a.cells[index].getAttribute("data-sort") || a.cells[index].textContent;
        var y = b.cells[index].getAttribute("data-sort") || b.cells[index].textContent;
        var cmp = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return desc ? -cmp : cmp;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });
  apply();
}());
