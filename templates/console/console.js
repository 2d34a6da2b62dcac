// meldingsvakt console: optional enhancement. The forms work without it; with it, the derived
// impact and priority of an incident form are shown while organizations and services are
// chosen (the server computes them by the rules: POST /ops/derive).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-derive='true']");
  const out = document.getElementById("derived");
  if (!form || !out) return;
  let pending = null;
  const update = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const body = new URLSearchParams(new FormData(form));
      try {
        const r = await fetch("/ops/derive", { method: "POST", body, credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded" } });
        if (r.ok) out.textContent = (await r.json()).text;
      } catch (_) { /* the preview shows it anyway */ }
    }, 200);
  };
  form.addEventListener("change", update);
  update();
});
