// The late-fee form: show only the fields of the chosen kind of fee. Without this script every
// field shows, each labelled with the kind it is for, and the server ignores the other kind's.
(function () {
  "use strict";
  var form = document.getElementById("late-fee-form");
  var kind = form && form.querySelector("select[name=kind]");
  if (!kind) { return; }

  function show() {
    form.querySelectorAll("[data-fee-kind]").forEach(function (group) {
      group.hidden = group.getAttribute("data-fee-kind") !== kind.value;
    });
  }

  kind.addEventListener("change", show);
  show();
}());
