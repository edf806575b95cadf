// The pay page: totals, method switching, and Accept.js tokenization before submit.
// Card and bank inputs carry no name attribute, so their numbers are never posted here.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var total = document.getElementById("pay-total");
  var errorBox = document.getElementById("accept-error");
  var button = document.getElementById("pay-button");

  function cents(text) {
    var m = /^\s*\$?(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text.replace(/,/g, ""));
    if (!m) { return null; }
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }

  function refreshTotal() {
    var sum = 0;
    form.querySelectorAll("input[name=invoice]").forEach(function (box) {
      var amount = form.querySelector("input[name='amount-" + box.value + "']");
      if (box.checked && amount) { sum += cents(amount.value) || 0; }
    });
    total.textContent = "$" + (sum / 100).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function chosenMethod() {
    var picked = form.querySelector("input[name=method]:checked");
    return picked ? picked.value : "card";
  }

  function showMethod() {
    var method = chosenMethod();
    document.getElementById("card-fields").hidden = method !== "card";
    document.getElementById("bank-fields").hidden = method !== "bank";
    document.getElementById("save-choice").hidden = method.indexOf("saved-") === 0;
  }

  function fail(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    button.disabled = false;
  }

  function secureData() {
    var auth = { clientKey: form.dataset.clientKey, apiLoginID: form.dataset.apiLoginId };
    if (chosenMethod() === "bank") {
      return { authData: auth, bankData: {
        routingNumber: document.getElementById("bank-routing").value.trim(),
        accountNumber: document.getElementById("bank-account").value.trim(),
        nameOnAccount: document.getElementById("bank-name").value.trim(),
        accountType: document.getElementById("bank-type").value } };
    }
    var expiry = document.getElementById("card-expiry").value.split("/");
    return { authData: auth, cardData: {
      cardNumber: document.getElementById("card-number").value.replace(/\s+/g, ""),
      month: (expiry[0] || "").trim(), year: (expiry[1] || "").trim(),
      cardCode: document.getElementById("card-cvv").value.trim(),
      zip: document.getElementById("card-zip").value.trim(),
      fullName: document.getElementById("card-name").value.trim() } };
  }

  form.addEventListener("input", refreshTotal);
  form.addEventListener("change", function () { refreshTotal(); showMethod(); });
  form.addEventListener("submit", function (event) {
    var method = chosenMethod();
    if (method.indexOf("saved-") === 0 || document.getElementById("opaque_value").value) {
      button.disabled = true;
      return;
    }
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
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
  refreshTotal();
  showMethod();
}());
