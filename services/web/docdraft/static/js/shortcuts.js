// Keyboard shortcuts on the document page: a accept, d dismiss, t try
// another, s save revision, ? this list. Never while typing in a field or
// with Ctrl, Alt or Meta held (the browser's own shortcuts), and a shortcut
// whose button is not on screen does nothing: it can never act on a
// suggestion the user cannot see.
(function () {
  "use strict";

  var help = document.getElementById("shortcuts-help");
  var returnFocus = null;

  function visible(element) {
    return Boolean(element && element.getClientRects().length && !element.closest("[hidden]"));
  }

  function typing(target) {
    return Boolean(target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));
  }

  // Clicking the button itself: the form's own submit path, its submit event
  // (the draft is kept, the leave warning stays quiet) and its validation.
  function press(selector) {
    var button = document.querySelector(selector);
    if (!visible(button) || button.disabled) { return false; }
    button.click();
    return true;
  }

  var actions = {
    a: function () { return press('#accept-form button[type="submit"]'); },
    d: function () { return press('#dismiss-form button[type="submit"]'); },
    t: function () { return press('#try-another-form button[type="submit"]'); },
    s: function () { return press('#edit-form button[type="submit"]'); },
    "?": function () { return openHelp(); }
  };

  // The list lives in the dialog only while it is open (see _shortcuts.html).
  function openHelp() {
    if (!help || help.open) { return false; }
    returnFocus = document.activeElement;
    help.appendChild(help.querySelector("template").content.cloneNode(true));
    help.querySelector("[data-close]").addEventListener("click", function () { help.close(); });
    help.showModal();
    return true;
  }

  if (help) {
    help.addEventListener("close", function () {
      Array.prototype.slice.call(help.children).forEach(function (child) {
        if (child.tagName !== "TEMPLATE") { child.remove(); }
      });
      // Back where the user was; the dialog would otherwise leave focus on <body>.
      if (returnFocus && returnFocus.focus && document.contains(returnFocus)) { returnFocus.focus(); }
      returnFocus = null;
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-open-shortcuts]"), function (button) {
      button.addEventListener("click", openHelp);
    });
    // The hint says what only works with this script: shown by it.
    Array.prototype.forEach.call(document.querySelectorAll(".shortcuts-hint"), function (hint) {
      hint.hidden = false;
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) { return; }
    if (typing(event.target) || (help && help.open)) { return; }
    var action = actions.hasOwnProperty(event.key) ? actions[event.key] : null;
    if (action && action()) { event.preventDefault(); }
  });
})();
