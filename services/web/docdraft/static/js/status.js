// The document page: follows the latest revision's suggestion without a
// reload, tells when someone saved a newer revision, and counts characters
// in text boxes. Text goes in through textContent only: model output is
// data, never markup.
(function () {
  "use strict";

  // Character counters: the limit is shown, never enforced by cutting text.
  Array.prototype.forEach.call(document.querySelectorAll("[data-counter-for]"), function (counter) {
    var box = document.getElementById(counter.getAttribute("data-counter-for"));
    var max = parseInt(counter.getAttribute("data-max"), 10);
    if (!box) { return; }
    function update() {
      var length = box.value.length;
      counter.textContent = length.toLocaleString("en") + " / " + max.toLocaleString("en") +
        " characters" + (length > max ? ": " + (length - max).toLocaleString("en") + " too many" : "");
      counter.className = "counter" + (length > max ? " over" : "");
    }
    box.addEventListener("input", update);
    update();
  });

  var section = document.getElementById("latest");
  if (!section) { return; }
  var url = section.getAttribute("data-status-url");
  var pageRevision = parseInt(section.getAttribute("data-revision"), 10);
  var locked = section.getAttribute("data-locked") === "true";
  var delay = 2000;

  function part(name) { return section.querySelector('[data-field="' + name + '"]'); }
  function pending(status) { return status === "queued" || status === "running"; }

  // The revision list below shows the same suggestion: keep it in step.
  function showInHistory(data) {
    Array.prototype.forEach.call(document.querySelectorAll('[data-status-of="' + data.revision + '"]'), function (badge) {
      badge.textContent = data.status;
      badge.className = "status status-" + data.status;
    });
    var text = document.querySelector('[data-text-of="' + data.revision + '"]');
    if (text) { text.textContent = data.text || ""; }
  }

  // The same words as the template's suggestion_about macro.
  function about(data) {
    var lengths = { short: "Short", medium: "Medium", long: "Long" };
    var text = (lengths[data.length] || data.length) + ",";
    text += data.mode === "sample" ? " sampled (seed " + data.seed + ")" : " beam search";
    if (data.model) {
      text += ", by " + data.model;
      if (data.weights_sha256) { text += " (weights " + data.weights_sha256.slice(0, 12) + ")"; }
    }
    if (data.started_at && data.finished_at) {
      var seconds = (Date.parse(data.finished_at) - Date.parse(data.started_at)) / 1000;
      text += ", written in " + seconds.toFixed(1) + " s";
    }
    return text + ".";
  }

  function show(data) {
    if (data.revision !== pageRevision) {
      // Never show another revision's suggestion under this revision's body.
      part("newer-number").textContent = String(data.revision);
      part("newer").hidden = false;
      return false;
    }
    showInHistory(data);
    part("text").textContent = data.text || "";
    part("text").hidden = data.dismissed;
    part("error").textContent = data.error || "";
    part("error").hidden = data.status !== "failed";
    part("retry").hidden = data.status !== "failed" || locked;
    part("working").hidden = !pending(data.status);
    part("working").textContent = data.detail === "compiling"
      ? "The model is being prepared for a prompt of this length (once, up to a minute); then the suggestion is written."
      : "The server is writing the suggestion; this page updates by itself.";
    var another = part("try-another");
    if (another) { another.hidden = pending(data.status); }
    part("about").textContent = about(data);
    part("actions").hidden = !(data.status === "done" && !data.dismissed && !locked);
    section.setAttribute("data-status", data.status);
    return true;
  }

  function poll() {
    if (document.hidden) { schedule(); return; }  // a background tab waits
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var current = show(data);
        // Fast while the suggestion is written; slowly after, to notice
        // revisions saved by the other person; not at all once outdated.
        delay = pending(data.status) ? 2000 : 5000;
        if (current) { schedule(); }
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); schedule(); });
  }

  function schedule() { window.setTimeout(poll, delay); }

  delay = pending(section.getAttribute("data-status")) ? 2000 : 5000;
  schedule();
})();
