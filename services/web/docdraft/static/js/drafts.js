// Drafts: what is typed into a document form is kept in this browser
// (localStorage) until a save succeeds, so that an expired session, a refused
// request or a closed tab never loses it. A draft belongs to one user (the
// page's <body data-user-id>) and one form (its data-draft-key); another user
// of the same browser is never offered it. Text goes in through .value and
// textContent only.
(function () {
  "use strict";

  var PREFIX = "docdraft:draft:";
  var SAVE_DELAY = 400;  // ms after the last keystroke
  var user = document.body.getAttribute("data-user-id") || "";

  function storageKey(draftKey) { return PREFIX + user + ":" + draftKey; }

  // Text as the server will store it: browsers post CRLF, textareas show LF;
  // the name is stripped on save.
  function same(draft, values) {
    function lf(text) { return String(text || "").replace(/\r\n?/g, "\n"); }
    return lf(draft.body) === lf(values.body) &&
      lf(draft.name).trim() === lf(values.name).trim();
  }

  function read(draftKey) {
    try {
      var draft = JSON.parse(window.localStorage.getItem(storageKey(draftKey)));
      return draft && draft.user === user ? draft : null;
    } catch (error) { return null; }  // storage off, or not our JSON
  }

  function remove(draftKey) {
    try { window.localStorage.removeItem(storageKey(draftKey)); } catch (error) { /* off */ }
  }

  // A full store (5 MB in most browsers) gives up the oldest other drafts.
  function write(draftKey, draft) {
    var text = JSON.stringify(draft);
    for (var tries = 0; tries < 5; tries += 1) {
      try { window.localStorage.setItem(storageKey(draftKey), text); return true; } catch (error) {
        if (!dropOldest(storageKey(draftKey))) { return false; }
      }
    }
    return false;
  }

  function dropOldest(keep) {
    var oldest = null, oldestAt = Infinity;
    for (var i = 0; i < window.localStorage.length; i += 1) {
      var key = window.localStorage.key(i);
      if (key.indexOf(PREFIX) !== 0 || key === keep) { continue; }
      var at = 0;
      try { at = JSON.parse(window.localStorage.getItem(key)).savedAt || 0; } catch (error) { at = 0; }
      if (at < oldestAt) { oldest = key; oldestAt = at; }
    }
    if (oldest === null) { return false; }
    window.localStorage.removeItem(oldest);
    return true;
  }

  // "14:02" today, "2026-12-01 14:02" on another day; the browser's own clock.
  function when(savedAt) {
    var moment = new Date(savedAt), today = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var time = two(moment.getHours()) + ":" + two(moment.getMinutes());
    if (moment.toDateString() === today.toDateString()) { return time; }
    return moment.getFullYear() + "-" + two(moment.getMonth() + 1) + "-" + two(moment.getDate()) + " " + time;
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  // A refused form (errors shown, or a page that keeps the user's text) holds
  // typed text, not saved text: it is never taken as proof of a save.
  function refused(form) {
    return Boolean(form.querySelector(".has-error") || form.closest("#kept-text, .kept-text"));
  }

  function setUp(form) {
    var draftKey = form.getAttribute("data-draft-key");
    var name = form.querySelector("#document_name");
    var body = form.querySelector("#document_body");
    if (!body) { return; }
    var base = form.getAttribute("data-base-revision");
    function values() { return { name: name ? name.value : "", body: body.value }; }
    var loaded = values();
    var submitting = false;
    var timer = null;

    function save() {
      window.clearTimeout(timer);
      var now = values();
      if (same(now, loaded) && !refused(form)) { remove(draftKey); return; }
      write(draftKey, { user: user, base: base, name: now.name, body: now.body, savedAt: Date.now() });
    }

    var draft = read(draftKey);
    if (refused(form)) {
      save();  // what the server sent back is the newest typing
    } else if (draft && same(draft, loaded)) {
      remove(draftKey);  // this page shows the saved draft: the save worked
    } else if (draft) {
      offer(form, draft, base, function restore() {
        if (name) { name.value = draft.name; name.dispatchEvent(new Event("input", { bubbles: true })); }
        body.value = draft.body;
        body.dispatchEvent(new Event("input", { bubbles: true }));
        // Saved on top of the revision it was written on: a newer revision
        // makes the server show what changed (409) instead of overwriting it.
        var hidden = form.querySelector('input[name="base_revision"]');
        if (hidden && draft.base) { hidden.value = draft.base; }
        save();
      }, function discard() { remove(draftKey); });
    }
    // A new document's draft is done once its document page shows that text.
    if (/^document-/.test(draftKey) && !refused(form)) {
      var created = read("new-document");
      if (created && same(created, loaded)) { remove("new-document"); }
    }

    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(save, SAVE_DELAY);
    });
    // Kept before the request leaves: a 413 or an expired session may answer.
    form.addEventListener("submit", function () { submitting = true; save(); });
    window.addEventListener("pagehide", function () { if (!submitting) { save(); } });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || same(values(), loaded)) { return; }
      event.preventDefault();
      event.returnValue = "";  // older browsers ask only when this is set
    });
  }

  // The notice above the form: restore or discard; both remove the notice.
  function offer(form, draft, base, restore, discard) {
    var notice = element("div", null, "notice draft-offer");
    notice.setAttribute("role", "status");
    notice.id = "draft-offer";
    var about = "You have unsaved text from " + when(draft.savedAt);
    if (draft.base) {
      about += " (based on revision " + draft.base + ")";
      if (base && draft.base !== base) {
        about += "; revision " + base + " is newer, so saving it first shows you what changed";
      }
    }
    notice.appendChild(element("p", about + "."));
    var restoreButton = element("button", "Restore");
    var discardButton = element("button", "Discard", "secondary");
    [[restoreButton, restore], [discardButton, discard]].forEach(function (pair) {
      pair[0].type = "button";
      pair[0].addEventListener("click", function () {
        pair[1]();
        notice.remove();
        form.querySelector("#document_body").focus();
      });
      notice.appendChild(pair[0]);
    });
    form.parentNode.insertBefore(notice, form);
  }

  // A refusal page that could not read the request (413) shows the draft
  // that the submit kept, read-only, for the document page to offer back.
  function showKept(section) {
    var holder = section.querySelector('[data-field="draft-restore"]');
    var draft = read(section.getAttribute("data-draft-key"));
    if (!holder || !draft) { return; }
    holder.appendChild(element("p", "This browser kept your text from " + when(draft.savedAt) +
      (draft.base ? " (based on revision " + draft.base + ")" : "") +
      ". The document page will offer it back to you; you can also copy it from here."));
    [["Name", draft.name, "input"], ["Body", draft.body, "textarea"]].forEach(function (row, i) {
      var id = "kept-draft-" + (i ? "body" : "name");
      var label = element("label", "Your " + row[0].toLowerCase() + " (kept in this browser)");
      label.htmlFor = id;
      var box = element(row[2]);
      box.id = id;
      box.readOnly = true;
      box.value = row[1] || "";
      if (row[2] === "textarea") { box.rows = 10; }
      holder.appendChild(label);
      holder.appendChild(box);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-key]"), setUp);
  var kept = document.getElementById("kept-text");
  if (kept && kept.hasAttribute("data-draft-key")) { showKept(kept); }
})();
