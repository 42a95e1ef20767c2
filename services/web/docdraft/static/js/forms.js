// Every page: after a refused form, focus moves to the error summary, so a
// screen reader reads what went wrong and the keyboard starts at its links.
// A file of its own: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
