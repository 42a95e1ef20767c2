// The document page: follows the latest revision's suggestion without a
// reload, tells when someone saved a newer revision, counts characters in
// text boxes, and lets the user accept the suggestion up to a chosen word.
// Text goes in through textContent only: model output is data, never markup.
(function () {
  "use strict";

  // Character counters: the limit is shown, never enforced by cutting text.
  Array.prototype.forEach.call(document.querySelectorAll("[data-counter-for]"), function (counter) {
    var box = document.getElementById(counter.getAttribute("data-counter-for"));
    var max = parseInt(counter.getAttribute("data-max"), 10);
    if (!box) { return; }
    function update() {
      var length = Array.from(box.value).length;  // code points, as the server counts
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
  function each(selector, action) { Array.prototype.forEach.call(section.querySelectorAll(selector), action); }
  function pending(status) { return status === "queued" || status === "running"; }
  // 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st: pages.ordinal's words.
  function ordinal(number) {
    var suffix = { 1: "st", 2: "nd", 3: "rd" }[number % 10] || "th";
    if ([11, 12, 13].indexOf(number % 100) !== -1) { suffix = "th"; }
    return number + suffix;
  }

  // --- The suggestion card and "accept up to here" -----------------------
  // The one place that writes the card. A done, usable suggestion is split
  // into one span per word (a word is a match of \S+, as the server counts
  // them); choosing word N sets the accept form's `words` to N.
  var card = part("text");
  var wordsInput = part("words");
  var acceptLabel = part("accept-label");
  var allLabel = acceptLabel ? acceptLabel.textContent : "";
  var spoken = document.createElement("p");  // the count, for screen readers
  spoken.className = "visually-hidden";
  spoken.setAttribute("aria-live", "polite");
  spoken.setAttribute("data-field", "partial-status");
  card.parentNode.insertBefore(spoken, card.nextSibling);
  var words = [];
  var chosen = 0;  // words kept; words.length means all

  function showCard(text, usable) {
    card.textContent = "";
    words = [];
    var pattern = /\S+/g, last = 0, match;
    while (usable && (match = pattern.exec(text)) !== null) {
      if (match.index > last) { card.appendChild(document.createTextNode(text.slice(last, match.index))); }
      var word = document.createElement("span");
      word.className = "word";
      word.textContent = match[0];
      word.setAttribute("data-word", String(words.length + 1));
      card.appendChild(word);
      words.push(word);
      last = pattern.lastIndex;
    }
    if (last < text.length) { card.appendChild(document.createTextNode(text.slice(last))); }
    if (words.length) {
      card.tabIndex = 0;
      card.setAttribute("role", "group");
      card.setAttribute("aria-label", "Suggestion. To accept only its beginning, click the last word " +
        "to keep, or use the left and right arrow keys, Home and End; Escape accepts it all.");
    } else {
      card.removeAttribute("tabindex");
      card.removeAttribute("role");
      card.removeAttribute("aria-label");
    }
    choose(words.length, false);
  }

  function choose(count, announce) {
    chosen = Math.max(1, Math.min(count, words.length));
    var partial = chosen < words.length;
    words.forEach(function (word, i) {
      word.classList.toggle("word-left-out", i >= chosen);
      word.classList.toggle("word-cut", partial && i === chosen - 1);
    });
    card.classList.toggle("partial", partial);
    if (wordsInput) { wordsInput.value = partial ? String(chosen) : ""; }
    var label = "Accept " + chosen + " of " + words.length + " words";
    if (acceptLabel) { acceptLabel.textContent = partial ? label : allLabel; }
    if (announce) { spoken.textContent = partial ? label : "Accept all " + words.length + " words"; }
  }

  card.addEventListener("click", function (event) {
    var word = event.target.closest ? event.target.closest(".word") : null;
    var selection = window.getSelection();
    // A drag selects text to copy; only a plain click moves the cut.
    if (!word || !card.contains(word) || (selection && !selection.isCollapsed)) { return; }
    choose(parseInt(word.getAttribute("data-word"), 10), true);
  });

  card.addEventListener("keydown", function (event) {
    if (!words.length || event.ctrlKey || event.altKey || event.metaKey) { return; }
    var moves = {
      ArrowLeft: chosen - 1, ArrowRight: chosen + 1,
      Home: 1, End: words.length, Escape: words.length
    };
    if (!(event.key in moves) || (event.key === "Escape" && chosen === words.length)) { return; }
    event.preventDefault();
    event.stopPropagation();  // Escape here is not the page's Escape
    choose(moves[event.key], true);
  });

  // --- Following status.json ---------------------------------------------
  // What the card shows now; a poll that reports the same leaves the card
  // (and a chosen cut) alone.
  function shownAs(id, status, dismissed, text) {
    return [id, status, dismissed, locked, text].join("\u0000");
  }
  var idInput = part("suggestion-id");
  var dismissedNote = part("dismissed");
  var shown = shownAs(idInput ? idInput.value : "", section.getAttribute("data-status"),
    Boolean(dismissedNote && !dismissedNote.hidden), card.textContent);

  // The suggestion's text and the id that Accept and Dismiss name change in
  // one step, only when a finished suggestion is put on screen: what is
  // accepted is always what the user saw.
  function showSuggestion(data) {
    var now = shownAs(String(data.suggestion_id), data.status, data.dismissed, data.text || "");
    if (now === shown) { return; }
    shown = now;
    var usable = data.status === "done" && !data.dismissed && !locked;
    showCard(data.text || "", usable);
    if (data.status === "done") {
      each('[data-field="suggestion-id"]', function (input) { input.value = String(data.suggestion_id); });
    }
  }

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

  // The same words as the edit form's token hint in detail.html.
  function tokenHint(data) {
    var hint = document.getElementById("document_body-hint");
    if (!hint || data.status !== "done" || data.prompt_tokens === null || data.prompt_tokens === undefined) { return; }
    hint.textContent = data.prompt_tokens_cut
      ? "The model reads only the end of this body: its last " + data.prompt_tokens +
        " tokens. The first " + data.prompt_tokens_cut + " tokens are cut."
      : "The model reads all " + data.prompt_tokens + " tokens of this body.";
  }

  // "... is being written" flashes are out of date once it is written.
  function dropWritingFlashes() {
    Array.prototype.forEach.call(document.querySelectorAll(".flashes .flash"), function (flash) {
      if (/being written/.test(flash.textContent)) { flash.remove(); }
    });
  }

  // The newer-revision notice, also stuck to the top of the edit form: on a
  // phone the suggestion's copy is a screen above the body being typed in.
  function showNewer(number) {
    part("newer-number").textContent = String(number);
    part("newer").hidden = false;
    var edit = document.getElementById("edit");
    if (!edit) { return; }
    var copy = edit.querySelector('[data-field="newer-copy"]');
    if (!copy) {
      copy = part("newer").cloneNode(true);
      copy.removeAttribute("role");  // announced once, by the original
      copy.setAttribute("data-field", "newer-copy");
      copy.classList.add("newer-sticky");
      copy.querySelector('[data-field="newer-number"]').setAttribute("data-field", "newer-copy-number");
      edit.insertBefore(copy, edit.firstChild);
    }
    copy.querySelector('[data-field="newer-copy-number"]').textContent = String(number);
  }

  // Its place in line while it waits; cancel, or ask again once cancelled.
  function showQueue(data) {
    var position = part("position");
    position.hidden = data.queue_position === null || data.queue_position === undefined;
    position.textContent = position.hidden ? "" : ordinal(data.queue_position) + " in line";
    each('[data-field="job-id"]', function (input) { input.value = String(data.suggestion_id); });
    part("cancel").hidden = data.status !== "queued";
    var cancelled = part("cancelled");
    cancelled.hidden = data.status !== "cancelled";
    cancelled.textContent = cancelled.getAttribute(
      data.detail === "quota" ? "data-quota-message" : "data-cancelled-message");
    part("ask-again").hidden = data.status !== "cancelled" || locked;
  }

  function show(data) {
    if (data.revision !== pageRevision) {
      // Never show another revision's suggestion under this revision's body.
      showNewer(data.revision);
      return false;
    }
    locked = locked || data.archived || data.review_state === "approved";
    showInHistory(data);
    showSuggestion(data);
    card.hidden = data.dismissed;
    if (dismissedNote) { dismissedNote.hidden = !data.dismissed; }
    part("error").textContent = data.error || "";
    part("error").hidden = data.status !== "failed";
    part("retry").hidden = data.status !== "failed" || locked;
    part("working").hidden = !pending(data.status);
    part("working").textContent = data.detail === "compiling"
      ? "The model is being prepared for a prompt of this length (once, up to a minute); then the suggestion is written."
      : data.status === "queued"
        ? "Waiting for a free worker; this page updates by itself."
        : "The server is writing the suggestion; this page updates by itself.";
    showQueue(data);
    var another = part("try-another");
    if (another) { another.hidden = pending(data.status) || locked; }
    part("about").textContent = about(data);
    part("actions").hidden = !(data.status === "done" && !data.dismissed && !locked);
    section.setAttribute("data-status", data.status);
    if (!pending(data.status)) { dropWritingFlashes(); }
    tokenHint(data);
    return true;
  }

  function poll() {
    if (document.hidden) { schedule(); return; }  // a background tab waits
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 404) {
          return response.json().then(function (data) { showGone(data); return null; });
        }
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data === null) { return; }  // the page is no longer this user's
        var current = show(data);
        // Fast while the suggestion is written; slowly after, to notice
        // revisions saved by the other person; not at all once outdated.
        delay = pending(data.status) ? 2000 : 5000;
        if (current) { schedule(); }
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); schedule(); });
  }

  function schedule() { window.setTimeout(poll, delay); }

  // The session ended, or the document is no longer this user's (an editor
  // reassigned): say so where the page is read, and stop asking.
  function showGone(data) {
    var notice = part("gone");
    notice.textContent = (data.detail || data.message) +
      " What you typed on this page is kept in this browser.";
    notice.hidden = false;
  }

  // The page as served: split the card into words if it can be accepted.
  var served = section.getAttribute("data-status");
  showCard(card.textContent, served === "done" && !card.hidden && !locked);
  if (!pending(served)) { dropWritingFlashes(); }
  delay = pending(served) ? 2000 : 5000;
  schedule();
})();
