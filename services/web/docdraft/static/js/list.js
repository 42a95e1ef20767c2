// On every page of an approved sponsor or editor: keeps the navigation's
// "Your turn: N" current, and on a document list its rows, without a reload.
// Polls summary.json every 10 s, not while the tab is hidden. Rows are
// updated in place and never reordered under the reader's cursor: a notice
// says how many changed and offers a reload. Text goes in through
// textContent only.
(function () {
  "use strict";

  var INTERVAL = 10000;
  var script = document.currentScript;
  var counter = document.getElementById("your-turn");
  var table = document.querySelector("table.documents[data-summary-url]");
  var notice = document.getElementById("list-changed");
  // The list asks for its own rows (its query string); other pages only
  // for the count.
  var url = table ? table.getAttribute("data-summary-url")
    : script && script.getAttribute("data-summary-url");
  if (!url || !counter) { return; }

  var delay = INTERVAL;
  var timer = null;
  var inFlight = false;
  var changed = {};  // ids of rows that differ from the page as it was served

  function rowsById() {
    var rows = {};
    Array.prototype.forEach.call(table.querySelectorAll("tr[data-document-id]"), function (row) {
      rows[row.getAttribute("data-document-id")] = row;
    });
    return rows;
  }

  function field(row, name) { return row.querySelector('[data-field="' + name + '"]'); }

  function showRow(row, doc) {
    var time = field(row, "updated");
    time.textContent = doc.updated;
    time.setAttribute("datetime", doc.updated_at);
    var turn = field(row, "turn");
    turn.textContent = doc.turn_label;
    turn.classList.toggle("turn-yours", doc.yours);
    var badge = field(row, "state").firstElementChild;
    if (badge) {
      badge.textContent = doc.state_label;
      badge.className = "state state-" + doc.state;
    }
    if (row.getAttribute("data-updated-at") !== doc.updated_at ||
        row.getAttribute("data-state") !== doc.state) {
      changed[doc.id] = true;
      row.classList.add("changed");
    }
  }

  function showRows(documents) {
    var rows = rowsById();
    var listed = {};
    var added = 0;
    documents.forEach(function (doc) {
      listed[doc.id] = true;
      if (rows[doc.id]) { showRow(rows[doc.id], doc); } else { added += 1; }
    });
    // A row gone from this page (archived, no longer in the filter), less
    // those a new document pushed onto the next page.
    var gone = 0;
    Object.keys(rows).forEach(function (id) {
      if (!listed[id]) { gone += 1; rows[id].classList.add("changed"); }
    });
    var count = Object.keys(changed).length + added + Math.max(gone - added, 0);
    if (notice && count > 0) {
      field(notice, "changed").textContent =
        count + (count === 1 ? " document changed" : " documents changed");
      notice.hidden = false;
    }
  }

  function show(data) {
    counter.textContent = counter.textContent.replace(/\d+\s*$/, String(data.your_turn));
    counter.classList.toggle("has-work", data.your_turn > 0);
    if (table && data.documents) { showRows(data.documents); }
  }

  function poll() {
    timer = null;
    if (document.hidden || inFlight) { return; }  // visibilitychange resumes it
    inFlight = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        // The session ended (a redirect to the login page, or 401): stop asking.
        if (response.redirected || response.status === 401) { throw new Error("logged out"); }
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        inFlight = false;
        show(data);
        delay = INTERVAL;
        schedule();
      })
      .catch(function (error) {
        inFlight = false;
        if (error.message === "logged out") { return; }
        delay = Math.min(delay * 2, 120000);
        schedule();
      });
  }

  function schedule() {
    if (timer === null) { timer = window.setTimeout(poll, delay); }
  }

  // Back in view: ask at once instead of waiting out the interval.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { return; }
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    poll();
  });

  schedule();
})();
