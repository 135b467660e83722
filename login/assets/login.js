// The WebAuthn calls of the sign-in pages. No inline script: the CSP
// allows only this file. Options and responses travel as JSON with
// base64url-encoded binary fields (WebAuthn Level 3 JSON forms).
"use strict";

const b64u = {
  decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  },
  encode(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) {
    throw new Error(data.detail || data.title || ("HTTP " + res.status));
  }
  return data;
}

function creationOptions(o) {
  const pk = o.publicKey;
  pk.challenge = b64u.decode(pk.challenge);
  pk.user.id = b64u.decode(pk.user.id);
  (pk.excludeCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  return { publicKey: pk };
}

function requestOptions(o) {
  const pk = o.publicKey;
  pk.challenge = b64u.decode(pk.challenge);
  (pk.allowCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  return { publicKey: pk };
}

function attestationJSON(cred) {
  return {
    id: cred.id,
    rawId: b64u.encode(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: b64u.encode(cred.response.clientDataJSON),
      attestationObject: b64u.encode(cred.response.attestationObject),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

function assertionJSON(cred) {
  return {
    id: cred.id,
    rawId: b64u.encode(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: b64u.encode(cred.response.clientDataJSON),
      authenticatorData: b64u.encode(cred.response.authenticatorData),
      signature: b64u.encode(cred.response.signature),
      userHandle: cred.response.userHandle ? b64u.encode(cred.response.userHandle) : undefined,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

function status(msg, isError) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = msg;
  el.className = isError ? "error" : "";
}

// registerPasskey runs a registration: with the enrolment code of the
// page's link, or on the signed-in session (code empty).
async function registerPasskey(code, name) {
  const opts = await post("/login/passkey/register/options", code ? { code } : {});
  const cred = await navigator.credentials.create(creationOptions(opts));
  return post("/login/passkey/register", { name: name || "passkey", credential: attestationJSON(cred) });
}

async function signIn() {
  const opts = await post("/login/passkey/signin/options");
  const cred = await navigator.credentials.get(requestOptions(opts));
  return post("/login/passkey/signin", assertionJSON(cred));
}

async function stepUp() {
  const opts = await post("/login/passkey/stepup/options");
  const cred = await navigator.credentials.get(requestOptions(opts));
  return post("/login/passkey/stepup", assertionJSON(cred));
}

window.authledgerLogin = { registerPasskey, signIn, stepUp, status };

document.addEventListener("DOMContentLoaded", () => {
  const si = document.getElementById("signin");
  if (si) {
    si.addEventListener("click", async () => {
      status("Waiting for your passkey…");
      try {
        await signIn();
        status("Signed in.");
        window.location.assign("/account");
      } catch (e) {
        status("Sign-in failed: " + e.message, true);
      }
    });
  }
  const reg = document.getElementById("register");
  if (reg) {
    reg.addEventListener("click", async () => {
      const code = new URLSearchParams(window.location.search).get("code") || "";
      const name = document.getElementById("name").value;
      status("Waiting for your authenticator…");
      try {
        await registerPasskey(code, name);
        status("Passkey created. You can now sign in with it.");
        reg.disabled = true;
      } catch (e) {
        status("Registration failed: " + e.message, true);
      }
    });
  }
});
