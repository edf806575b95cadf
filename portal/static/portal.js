// Every page: the phone menu button, and where focus starts. Without this script the menu
// button stays hidden and the nav links simply wrap; nothing else depends on it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var toggle = document.querySelector(".menu-toggle");
  var nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (toggle && nav) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    });
    // Escape closes an open menu and gives focus back to its button.
    nav.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        toggle.click();
        toggle.focus();
      }
    });
  }

  // A page that already placed focus (autofocus, the pay page's error summary) keeps it.
  // Otherwise a form sent back with mistakes starts at the first one, and a page that asks
  // "Are you sure?" starts at its question, so a screen reader reads it first.
  if (document.activeElement && document.activeElement !== document.body) { return; }
  var start = document.querySelector("main [aria-invalid=true], main [data-focus]");
  if (start) { start.focus(); }
}());
