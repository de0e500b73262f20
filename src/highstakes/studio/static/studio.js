// Shared by every page: JSON calls with the CSRF token, and admin forms posted as JSON.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

function newKey() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, "");
}

async function api(method, path, body, key) {
  const headers = { "X-CSRF-Token": csrfToken };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

function say(text, bad) {
  const el = document.getElementById("message");
  if (!el) return;
  el.textContent = text;
  el.className = bad ? "error" : "ok";
}

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, value] of new FormData(form)) {
      if (value === "") continue;
      const input = form.elements[name];
      body[name] = input && input.type === "number" || name === "snippet_id" ? Number(value) : value;
    }
    try {
      await api("POST", form.dataset.api, body);
      location.reload();
    } catch (err) {
      say(err.message, true);
    }
  });
}
