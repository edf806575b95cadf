// The pay page: totals and the pay button's amount, amounts checked before the card step,
// method switching, and Accept.js tokenization before submit. Card and bank inputs carry no
// name attribute, so their numbers are never posted here. The server checks everything again.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var total = document.getElementById("pay-total");
  var errorBox = document.getElementById("accept-error");
  var button = document.getElementById("pay-button");
  var summary = document.getElementById("error-summary");
  var errorList = document.getElementById("error-list");
  var paying = false;
  var totalText = total.textContent;

  function cents(text) {
    var m = /^\s*\$?(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text.replace(/,/g, ""));
    if (!m) { return null; }
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }

  // The total is written as the server writes money (the company's locale and currency).
  var format = null;
  try {
    format = new Intl.NumberFormat(form.dataset.locale || "en-US",
      { style: "currency", currency: form.dataset.currency || "USD" });
  } catch (e) { format = null; }

  function money(amount) {
    if (format) { return format.format(amount / 100); }
    return "$" + (amount / 100).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function rows() {
    var found = [];
    form.querySelectorAll("input[name=invoice]").forEach(function (box) {
      found.push({ box: box, amount: document.getElementById("amount-" + box.value) });
    });
    return found;
  }

  function refreshTotal() {
    var sum = 0;
    rows().forEach(function (row) {
      if (row.box.checked && row.amount) { sum += cents(row.amount.value) || 0; }
    });
    totalText = money(sum);
    total.textContent = totalText;
    if (!paying) { button.textContent = "Pay " + totalText; }
  }

  function busy(on) {
    paying = on;
    button.disabled = on;
    button.classList.toggle("busy", on);
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.textContent = on ? "Paying\u2026" : "Pay " + totalText;
  }

  function amountProblem(input) {
    var text = input.value.trim();
    var label = input.dataset.label;
    if (/^\$?-/.test(text)) { return "The amount for " + label + " must be more than zero."; }
    var value = cents(text);
    if (value === null) {
      return "Enter the amount for " + label + " as dollars and cents, e.g. 125.50.";
    }
    if (value <= 0) { return "The amount for " + label + " must be more than zero."; }
    var max = cents(input.dataset.max);
    if (max !== null && value > max) {
      return "The amount for " + label + " is more than its balance of " + money(max) + ".";
    }
    return null;
  }

  function markField(input, message) {
    var note = document.getElementById(input.id + "-error");
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      note.textContent = message;
      note.hidden = false;
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      note.textContent = "";
      note.hidden = true;
    }
  }

  function showSummary(problems) {
    errorList.textContent = "";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#" + problem.id;
      link.textContent = problem.message;
      item.appendChild(link);
      errorList.appendChild(item);
    });
    summary.hidden = problems.length === 0;
    if (problems.length) { summary.focus(); }
  }

  // Every chosen amount, checked as the server will check it, before any card step.
  function amountsAreFine() {
    var problems = [];
    var chosen = 0;
    rows().forEach(function (row) {
      if (!row.amount) { return; }
      var message = row.box.checked ? amountProblem(row.amount) : null;
      if (row.box.checked) { chosen += 1; }
      markField(row.amount, message);
      if (message) { problems.push({ id: row.amount.id, message: message }); }
    });
    if (!chosen) {
      var first = form.querySelector("input[name=invoice]");
      problems.push({ id: first ? first.id : "pay-form", message: "Choose at least one invoice to pay." });
    }
    showSummary(problems);
    return problems.length === 0;
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
    busy(false);
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

  form.addEventListener("input", function (event) {
    if (event.target.classList.contains("amount") && event.target.hasAttribute("aria-invalid")) {
      markField(event.target, null);  // fixed or not, it is checked again on submit
    }
    refreshTotal();
  });
  form.addEventListener("change", function () { refreshTotal(); showMethod(); });
  form.addEventListener("submit", function (event) {
    if (paying) { event.preventDefault(); return; }
    if (!amountsAreFine()) { event.preventDefault(); return; }
    errorBox.hidden = true;
    busy(true);
    if (chosenMethod().indexOf("saved-") === 0 || document.getElementById("opaque_value").value) {
      return;
    }
    event.preventDefault();
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
  // Back from the receipt, a page restored from the cache must not stay "Paying…".
  window.addEventListener("pageshow", function (event) { if (event.persisted) { busy(false); } });
  refreshTotal();
  showMethod();
  if (!summary.hidden) { summary.focus(); }
}());
