// Polls the latest revision's status while its machine text is being written
// and updates the page in place. Text goes in through textContent only: model
// output is data, never markup.
(function () {
  "use strict";
  var section = document.getElementById("latest");
  if (!section) { return; }
  var url = section.getAttribute("data-status-url");
  var delay = 2000;

  function part(name) { return section.querySelector('[data-field="' + name + '"]'); }

  function show(data) {
    var badge = part("status");
    badge.textContent = data.status;
    badge.className = "status status-" + data.status;
    part("text").textContent = data.text || "";
    part("error").textContent = data.error || "";
    part("error").hidden = data.status !== "failed";
    part("retry").hidden = data.status !== "failed";
    part("working").hidden = !(data.status === "queued" || data.status === "running");
    section.setAttribute("data-status", data.status);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        delay = 2000;
        if (data.status === "queued" || data.status === "running") { schedule(); }
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); schedule(); });
  }

  function schedule() { window.setTimeout(poll, delay); }

  var initial = section.getAttribute("data-status");
  if (initial === "queued" || initial === "running") { schedule(); }
})();
