// The operator console in headless Chromium (Debian's) with axe-core (WCAG 2.1 A/AA): the
// story of issue #11. Sign in (a wrong token first), open an incident for three
// municipalities from the form, read the preview, send, watch the timeline fill, resolve, plan a maintenance in a freeze and see the warning, and post a form without
// its CSRF token. Every page is checked at 1280 and 375 px. Prints one JSON line per check;
// exit 1 on any failure.
//
// usage: node console.mjs BASE_URL OPERATOR_TOKEN SCREENSHOT_DIR FREEZE_DAY(YYYY-MM-DD)
import { story } from "./lib.mjs";

const [base, token, shots, freezeDay] = process.argv.slice(2);
const { page, fail, axe: check, expectText, end } = await story();
const axe = (name, shot) => check(name, shot && `${shots}/${shot}`);
const local = (d) => d.toISOString().slice(0, 16);

try {
  // Signed out: the console sends us to the sign-in page.
  await page.goto(`${base}/ops/`);
  if (!page.url().endsWith("/ops/login")) fail(`not sent to sign-in: ${page.url()}`);
  await axe("login", null);
  // A wrong token is refused.
  await page.fill("#f-name", "Kari Nordmann");
  await page.fill("#f-token", "wrong-token-wrong-token");
  await page.click("button[type=submit].primary");
  await expectText("wrong token", "Feil operatørnøkkel");
  await axe("login-refused", null);
  await page.fill("#f-name", "Kari Nordmann");
  await page.fill("#f-token", token);
  await Promise.all([page.waitForURL(`${base}/ops/`), page.click("button[type=submit].primary")]);
  await expectText("overview", "Innlogget: Kari Nordmann");

  // A new incident for three municipalities.
  await page.goto(`${base}/ops/incidents/new`);
  await page.click("summary:has-text('Trøndelag')");
  for (const org of ["malvik", "trondheim", "stjordal"]) await page.check(`input[name=orgs][value=${org}]`);
  await page.check("input[name=services][value=PLO]");
  await page.selectOption("#f-category", "B");
  await page.fill("#f-id", "INC-KONSOLL");
  const end = new Date(Date.now() + 6 * 3600e3);
  await page.fill("#f-expected_end", local(end));
  await page.fill("#f-measures", "Omstart av meldingstjeneren pågår");
  // The script shows the derived impact and priority as the form is filled in.
  await page.waitForFunction(() => document.getElementById("derived").textContent.includes("3 organisasjoner"));
  await expectText("derived", "Prioritet 2");
  await axe("new-incident", "console-new-incident");
  // A personal number in a free-text field is refused next to the field.
  await page.fill("#f-text", "Gjelder pasient 150765 00565");
  await page.click("text=Forhåndsvis meldingene");
  await expectText("personal number", "fødselsnummer");
  if (!(await page.getAttribute("#f-text", "aria-invalid"))) fail("the refused field is not marked invalid");
  await page.fill("#f-text", "");
  await page.click("text=Forhåndsvis meldingene");
  await expectText("preview", "Forhåndsvisning: ny hendelse");
  await expectText("preview", "E-post: varsel om uplanlagt driftsstans");
  const til = (await page.innerText("body")).split("\n").filter(l => l.startsWith("Til: ") && l.includes("kommune"));
  if (!(til.length === 1 && ["Malvik", "Trondheim", "Stjørdal"].every(n => til[0].includes(`${n} kommune`)) && til[0].split(",").length === 3))
    fail(`preview: the notice's recipients are not the three municipalities: ${JSON.stringify(til)}`);
  await expectText("preview", "Ingenting er sendt ennå");
  await axe("preview", "console-preview");
  await Promise.all([page.waitForURL(/\/ops\/incidents\/INC-KONSOLL/), page.click("text=Bekreft og send")]);
  await expectText("case", "Registrert.");
  // The timeline fills as the notices are delivered.
  // A fan-out is one line in the timeline: "3 × E-post: varsel … – 3 sendt".
  for (let i = 0; i < 120; i++) {
    const t = await page.innerText("body");
    if (t.includes("3 × E-post: varsel om uplanlagt driftsstans – 3 sendt")) break;
    await page.waitForTimeout(500);
    await page.reload();
  }
  await expectText("case", "3 × E-post: varsel om uplanlagt driftsstans – 3 sendt");
  await expectText("case", "Hendelse registrert i konsollen av Kari Nordmann");
  await axe("case", "console-case");
  await page.goto(`${base}/ops/`);
  await expectText("overview", "INC-KONSOLL");
  await axe("overview", "console-overview");

  // The fault is ours: no reply form (a reply is the counterpart's; tests/browser/shift.mjs
  // registers one on a counterpart's case).
  await page.goto(`${base}/ops/incidents/INC-KONSOLL`);
  if (await page.$("#form-reply")) fail("a reply form on a case whose fault is ours");

  // Resolve: the preview shows the «Løst» e-mail to the three.
  await page.click("#form-incident-resolve summary");
  await page.click("#form-incident-resolve button");
  await expectText("resolve preview", "E-post: løst");
  await Promise.all([page.waitForURL(/INC-KONSOLL\?sendt=1/), page.click("text=Bekreft og send")]);
  await expectText("resolved", "Hendelse løst i konsollen av Kari Nordmann");

  // A maintenance in a freeze: the warning comes before anything is sent.
  await page.goto(`${base}/ops/maintenances/new`);
  await page.fill("#f-id", "VED-FRYS");
  await page.fill("#f-from", `${freezeDay}T01:00`);
  await page.fill("#f-to", `${freezeDay}T05:00`);
  await page.check("input[name=services][value=PLO]");
  await page.fill("#f-measures", "Oppgradering av meldingstjeneren");
  await axe("new-maintenance", null);
  await page.click("text=Forhåndsvis meldingene");
  await expectText("freeze preview", "Advarsler");
  await expectText("freeze preview", "frys");
  await axe("maintenance-preview", "console-maintenance-preview");

  // A form without its CSRF token is refused, signed in or not.
  const r = await page.request.post(`${base}/ops/act`, { form: { ty: "incident.resolve", id: "INC-KONSOLL", step: "send" } });
  console.log(JSON.stringify({ check: "csrf", status: r.status() }));
  if (r.status() !== 403) fail(`a form without CSRF token got ${r.status()}`);
} catch (e) {
  fail(`${e.stack || e}`);
}
await end();
