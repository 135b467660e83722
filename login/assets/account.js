// The account page's actions. Each is a same-origin POST (the server
// checks Origin); a sensitive one answered with the RFC 9470 step-up
// challenge runs a passkey assertion on this session and is retried once.
"use strict";

async function act(path, body) {
  const L = window.authledgerLogin;
  const send = () => fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  let res = await send();
  const challenge = res.headers.get("WWW-Authenticate") || "";
  if (res.status === 401 && challenge.includes("insufficient_user_authentication")) {
    L.status("Confirm with your passkey…");
    await L.stepUp();
    res = await send();
  }
  if (!res.ok) {
    const text = await res.text();
    let msg = "HTTP " + res.status;
    try { msg = JSON.parse(text).detail || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

function wire(button, fn) {
  button.addEventListener("click", async () => {
    const L = window.authledgerLogin;
    try {
      await fn();
      window.location.reload();
    } catch (e) {
      L.status(e.message, true);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#passkeys tr[data-credential]").forEach((row) => {
    const id = row.dataset.credential;
    wire(row.querySelector('[data-action="rename"]'), () =>
      act("/account/passkeys/rename", { credential: id, name: row.querySelector("input").value }));
    wire(row.querySelector('[data-action="remove"]'), () =>
      act("/account/passkeys/remove", { credential: id }));
  });
  document.querySelectorAll("#sessions tr[data-session]").forEach((row) => {
    wire(row.querySelector('[data-action="end"]'), () =>
      act("/account/sessions/end", { id: row.dataset.session }));
  });
  const others = document.getElementById("end-others");
  if (others) wire(others, () => act("/account/sessions/end-others", {}));
  const add = document.getElementById("add-passkey");
  if (add) {
    wire(add, async () => {
      try {
        await window.authledgerLogin.registerPasskey("", "passkey");
      } catch (e) {
        if (!String(e.message).includes("recent")) throw e;
        await window.authledgerLogin.stepUp();
        await window.authledgerLogin.registerPasskey("", "passkey");
      }
    });
  }
});
