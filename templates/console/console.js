// meldingsvakt console: optional enhancement. Everything works without it.
// - The derived impact and priority of an incident form are shown while organizations and
//   services are chosen (the server computes them by the rules: POST /ops/derive).
// - The organization picker gets a "find" box that filters the list by name.
// - A page that asks to be refreshed (the overview: <body data-refresh="60">) reloads itself
//   every minute, but not while the operator is typing in or has changed a form on it.
//   Without JavaScript a <noscript> meta refresh does the same.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-derive='true']");
  const out = document.getElementById("derived");
  if (form && out) {
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
  }

  const filter = document.querySelector("input[data-filter='orgs']");
  if (filter) {
    filter.closest("[hidden]")?.removeAttribute("hidden");
    const picker = filter.closest("fieldset");
    filter.addEventListener("input", () => {
      const q = filter.value.trim().toLowerCase();
      for (const area of picker.querySelectorAll("details")) {
        let any = false;
        for (const label of area.querySelectorAll(".orgs label")) {
          const hit = !q || label.textContent.toLowerCase().includes(q);
          label.hidden = !hit;
          any = any || hit;
        }
        area.hidden = !any;
        if (q && any) area.open = true;
      }
    });
  }

  const every = Number(document.body.dataset.refresh || 0);
  if (every > 0) {
    let busy = false;
    document.addEventListener("input", () => { busy = true; });
    setInterval(() => {
      const active = document.activeElement;
      const typing = active && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName);
      if (!busy && !typing) location.reload();
    }, every * 1000);
  }
});
