// Adding a saved method: Accept.js turns the card or bank details into a one-time token, and
// only the token is posted here. The inputs carry no name attribute, so no number ever is.
(function () {
  "use strict";
  var form = document.getElementById("method-form");
  if (!form) { return; }
  var errorBox = document.getElementById("accept-error");
  var button = document.getElementById("save-button");
  var label = button.textContent;
  var saving = false;

  function value(id) { return document.getElementById(id).value.trim(); }

  function busy(on) {
    saving = on;
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.textContent = on ? "Saving\u2026" : label;
  }

  function fail(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    busy(false);
  }

  function secureData() {
    var auth = { clientKey: form.dataset.clientKey, apiLoginID: form.dataset.apiLoginId };
    if (form.dataset.kind === "bank") {
      return { authData: auth, bankData: {
        routingNumber: value("bank-routing"), accountNumber: value("bank-account"),
        nameOnAccount: value("bank-name"), accountType: value("bank-type") } };
    }
    var expiry = value("card-expiry").split("/");
    return { authData: auth, cardData: {
      cardNumber: value("card-number").replace(/\s+/g, ""),
      month: (expiry[0] || "").trim(), year: (expiry[1] || "").trim(),
      cardCode: value("card-cvv"), zip: value("card-zip"), fullName: value("card-name") } };
  }

  form.addEventListener("submit", function (event) {
    if (saving) { event.preventDefault(); return; }
    if (document.getElementById("opaque_value").value) { return; }
    event.preventDefault();
    errorBox.hidden = true;
    busy(true);
    if (!window.Accept) { fail("The payment service could not be reached. Try again shortly."); return; }
    window.Accept.dispatchData(secureData(), function (answer) {
      if (!answer || !answer.messages || answer.messages.resultCode !== "Ok") {
        var msgs = (answer && answer.messages && answer.messages.message) || [];
        fail(msgs.map(function (m) { return m.text; }).join(" ") || "Check your details.");
        return;
      }
      document.getElementById("opaque_descriptor").value = answer.opaqueData.dataDescriptor;
      document.getElementById("opaque_value").value = answer.opaqueData.dataValue;
      form.submit();
    });
  });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { busy(false); } });
}());
