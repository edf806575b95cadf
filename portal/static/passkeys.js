// Passkeys (WebAuthn): add one (data-passkey-register), sign in with one (data-passkey-login)
// and confirm it is you with one (data-passkey-confirm). Each button carries the URLs of its
// options and of its answer, the CSRF token and, where it matters, where to go next. Their
// boxes stay hidden unless this browser can use passkeys; errors go to the box's aria-live
// line. The server's options are base64url text; the browser wants ArrayBuffers, and back.
(function () {
  "use strict";
  if (window.portalPasskeys) { return; }  // the snippet may be included twice on a page
  window.portalPasskeys = true;

  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = window.atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i += 1) { raw += String.fromCharCode(bytes[i]); }
    return window.btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBuffer(c.id), transports: c.transports };
    });
  }

  function creationOptions(o) {
    o.challenge = toBuffer(o.challenge);
    o.user.id = toBuffer(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = toBuffer(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  function common(cred) {
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function attestationJSON(cred) {
    var out = common(cred);
    out.response = {
      clientDataJSON: toText(cred.response.clientDataJSON),
      attestationObject: toText(cred.response.attestationObject),
      transports: cred.response.getTransports ? cred.response.getTransports() : []
    };
    return out;
  }

  function assertionJSON(cred) {
    var out = common(cred);
    out.response = {
      clientDataJSON: toText(cred.response.clientDataJSON),
      authenticatorData: toText(cred.response.authenticatorData),
      signature: toText(cred.response.signature),
      userHandle: toText(cred.response.userHandle)
    };
    return out;
  }

  // A promise that never settles: the page is going elsewhere.
  function leaving(url) {
    window.location.assign(url);
    return new Promise(function () {});
  }

  function post(button, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": button.getAttribute("data-csrf")
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.redirected) { return leaving(response.url); }  // asked to confirm first
      return response.json().catch(function () {
        return { error: "Something went wrong. Reload the page and try again." };
      }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || "That did not work. Try again."); }
        return data;
      });
    });
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey was not used (it was cancelled or timed out). Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    if (error && error.name === "SecurityError") {
      return "This address cannot use passkeys. Open the portal at its usual address.";
    }
    return (error && error.message) || "That did not work. Try again.";
  }

  function showCodes(codes) {
    var box = document.querySelector("[data-passkey-codes]");
    if (!box) { return false; }
    var list = box.querySelector("ul");
    codes.forEach(function (code) {
      var item = document.createElement("li");
      var text = document.createElement("code");
      text.textContent = code;
      item.appendChild(text);
      list.appendChild(item);
    });
    document.querySelectorAll("[data-passkey-register]").forEach(function (b) {
      b.closest("section").hidden = true;
    });
    box.hidden = false;
    box.focus();
    return true;
  }

  function register(button) {
    var box = button.closest("[data-passkey-box]");
    var name = box.querySelector("[data-passkey-name]");
    return post(button, button.getAttribute("data-options"), {}).then(function (data) {
      return navigator.credentials.create({ publicKey: creationOptions(data.publicKey) });
    }).then(function (cred) {
      return post(button, button.getAttribute("data-url"), {
        credential: attestationJSON(cred),
        name: name ? name.value : ""
      });
    }).then(function (data) {
      if (data.codes && data.codes.length && showCodes(data.codes)) { return null; }
      return leaving(data.redirect);
    });
  }

  function authenticate(button) {
    var next = button.getAttribute("data-next") || "";
    return post(button, button.getAttribute("data-options"), {}).then(function (data) {
      return navigator.credentials.get({ publicKey: requestOptions(data.publicKey) });
    }).then(function (cred) {
      return post(button, button.getAttribute("data-url"), {
        credential: assertionJSON(cred),
        next: next
      });
    }).then(function (data) { return leaving(data.redirect); });
  }

  function wire(selector, action) {
    document.querySelectorAll(selector).forEach(function (button) {
      var box = button.closest("[data-passkey-box]");
      var message = box.querySelector("[data-passkey-message]");
      box.hidden = false;
      button.addEventListener("click", function () {
        if (button.disabled) { return; }
        button.disabled = true;
        message.textContent = "";
        action(button).catch(function (error) {
          message.textContent = explain(error);
        }).then(function () { button.disabled = false; });
      });
    });
  }

  function start() {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      document.querySelectorAll("[data-passkey-unsupported]").forEach(function (p) {
        p.hidden = false;
      });
      return;  // the boxes stay hidden: their buttons could do nothing here
    }
    wire("[data-passkey-register]", register);
    wire("[data-passkey-login]", authenticate);
    wire("[data-passkey-confirm]", authenticate);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
