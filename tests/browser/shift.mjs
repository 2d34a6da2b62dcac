// A whole Friday shift in the console (issue #26), in headless Chromium with axe-core (WCAG
// 2.1 A/AA) on every page at 1280 and 375 px. The daemon runs on a test clock the script
// moves by writing its offset file. The shift:
//   an alert at 14:30 with its annotations on the case; the counterpart's reply that cancels
//   the follow-up, as «Hva skjer videre» shows; an acknowledgement whose preview says the
//   reminder stops; an update with a chosen status; the notices to 65 at 16:40 with the
//   actions still on the first screen at 375 px; a backdated resolution; a phoned-in inquiry
//   registered and answered; next Tuesday's maintenance with its Monday reminder; the closed
//   case found again through search; the month's report, printed.
// Prints one JSON line per check; exit 1 on any failure.
//
// usage: node shift.mjs BASE TOKEN SHOTS CLOCK_FILE P1_ID KV_ID FRIDAY(YYYY-MM-DD) T_1640(RFC 3339)
import { story } from "./lib.mjs";
import { writeFileSync } from "node:fs";

const [base, token, shots, clockFile, p1, kv, friday, t1640] = process.argv.slice(2);
const { page, fail, axe: check, expectText, end } = await story({ phoneHeight: 667 });
const axe = (name, shot) => check(name, shot && `${shots}/${shot}`);
const body = async () => await page.innerText("body");
async function expectNoText(name, text) {
  const b = await body();
  if (b.includes(text)) fail(`${name}: should not show ${JSON.stringify(text)}`);
}
// Reload until `text` shows (the dispatcher delivers after the page is served).
async function waitText(name, text, seconds = 60) {
  for (let i = 0; i < seconds * 2; i++) {
    if ((await body()).includes(text)) return;
    await page.waitForTimeout(500);
    await page.reload();
  }
  fail(`${name}: ${JSON.stringify(text)} never showed`);
}
// The daemon's test clock reads `iso` (+2 s), as the Rust harness's set_clock.
function setClock(iso) {
  writeFileSync(clockFile, String(Math.round((Date.parse(iso) - Date.now()) / 1000) + 2));
}
async function confirm(urlPart) {
  await Promise.all([page.waitForURL(new RegExp(`${urlPart}\\?sendt=1`)), page.click("text=Bekreft og send")]);
}
const day = (iso, plus) => {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + plus);
  return d.toISOString().slice(0, 10);
};
const ddmm = (iso) => `${iso.slice(8, 10)}.${iso.slice(5, 7)}`;

try {
  await page.goto(`${base}/ops/login`);
  await page.fill("#f-name", "Kari Nordmann");
  await page.fill("#f-token", token);
  await Promise.all([page.waitForURL(`${base}/ops/`), page.click("button[type=submit].primary")]);

  // 14:30: both alerts are on the overview, which refreshes itself and says when it was made.
  await expectText("overview", p1);
  await expectText("overview", kv);
  await expectText("overview", "Per kl. 14:3");
  await axe("shift-overview", "shift-overview");

  // The alert's own words on the case, with a link to the source.
  await page.goto(`${base}/ops/incidents/${p1}`);
  await expectText("alert context", "Meldingskøen for PLO står stille");
  await expectText("alert context", "Ingen PLO-meldinger er levert de siste 10 minuttene");
  await expectText("alert context", "PLOKoStopp");
  const src = await page.getAttribute("text=Åpne i overvåkingen", "href");
  if (!src || !src.startsWith("http://prometheus.hemit.example/graph")) fail(`source link: ${src}`);
  await axe("shift-alert-case", "shift-alert-case");

  // Acknowledge: the preview sends nothing and says the reminder stops.
  await page.click("#form-incident-ack button");
  await expectText("ack preview", "Forhåndsvisning: utkvittering");
  await expectText("ack preview", "Dette stopper");
  await expectText("ack preview", "Påminnelse til driftssenteret");
  await expectText("ack preview", "Ingen nye meldinger sendes.");
  await axe("shift-ack-preview", null);
  await confirm(p1);
  await expectText("ack done", "Registrert. Ingen meldinger sendes nå");

  // The counterpart's case: the follow-up is planned for Monday 09:30 …
  await page.goto(`${base}/ops/incidents/${kv}`);
  await expectText("kvittering next", "Oppfølging sendes til Malvik kommune mandag");
  await axe("shift-kvittering-case", "shift-kvittering-case");
  // … until Malvik's reply is registered: the preview says the follow-up and the
  // escalation stop, and the case's «Hva skjer videre» no longer has them.
  await page.click("#form-reply summary");
  await page.selectOption("#form-reply select[name=org]", "malvik");
  await page.click("#form-reply button");
  await expectText("reply preview", "Dette stopper");
  await expectText("reply preview", "E-post: oppfølging (manglende kvittering)");
  await expectText("reply preview", "E-post: eskalering til KS e-Komp");
  await axe("shift-reply-preview", "shift-reply-preview");
  await confirm(kv);
  await expectText("reply done", "Svar registrert i konsollen av Kari Nordmann");
  await expectNoText("reply done", "Oppfølging sendes til");
  await expectNoText("reply done", "Eskaleres til");

  // An update with a chosen status: the status page says «Årsak funnet».
  await page.goto(`${base}/ops/incidents/${p1}`);
  await page.click("#form-incident-update summary");
  await page.fill("#form-incident-update textarea[name=measures]", "Feilen er funnet i meldingskøen; omstart pågår.");
  await page.selectOption("#form-incident-update select[name=status]", "identified");
  await page.click("#form-incident-update button");
  await expectText("update preview", "Statussiden: oppdatering");
  await expectText("update preview", "Årsak funnet");
  await axe("shift-update-preview", "shift-update-preview");
  await confirm(p1);
  await expectText("update done", "Statussiden: Årsak funnet");

  // 16:40: the stop passed 2 hours at 16:25; the notices went to all 65.
  setClock(t1640);
  await waitText("notices", "65 × E-post: varsel om uplanlagt driftsstans – 65 sendt", 90);
  await expectText("recipients", "65 organisasjoner · Varsel om uplanlagt driftsstans: 65 sendt");
  // At 375 px the actions are on the first screen, above 65 recipients and their timeline.
  await page.setViewportSize({ width: 375, height: 667 });
  const bottom = await page.evaluate(() => document.querySelector("#form-incident-resolve > summary").getBoundingClientRect().bottom);
  console.log(JSON.stringify({ check: "actions on the first screen at 375x667", bottom }));
  if (bottom > 667) fail(`«Marker som løst» is at ${bottom}px, below the first screen (667px)`);
  await page.screenshot({ path: `${shots}/shift-case-65-first-screen-375.png` });
  await axe("shift-case-65", "shift-case-65");

  // A backdated resolution: the stop really ended 16:35.
  await page.click("#form-incident-resolve summary");
  await page.fill("#form-incident-resolve input[name=resolved_at]", `${friday}T16:35`);
  await page.click("#form-incident-resolve button");
  await expectText("resolve preview", "65 organisasjoner berørt");
  await expectText("resolve preview", "E-post: løst");
  await expectText("resolve preview", "Prioritet 1");
  await axe("shift-resolve-preview", "shift-resolve-preview");
  await confirm(p1);
  await expectText("resolved", "Hendelse løst i konsollen av Kari Nordmann");
  await waitText("resolved facts", `Løst\n${ddmm(friday)}.${friday.slice(0, 4)} kl. 16:35`);
  await expectText("resolved facts", "Prioritet\n1");
  await expectNoText("resolved facts", "Berørte\ningen");

  // A phoned-in inquiry from Melhus, registered and then answered.
  await page.goto(`${base}/ops/inquiries/new`);
  await page.fill("#f-id", "TLF-MELHUS");
  await page.selectOption("#f-org", "melhus");
  await page.fill("#f-subject", "Ringte om manglende PLO-meldinger");
  await axe("shift-new-inquiry", "shift-new-inquiry");
  await page.click("text=Forhåndsvis meldingene");
  await expectText("inquiry preview", "Forhåndsvisning: ny henvendelse");
  await Promise.all([page.waitForURL(/inquiries\/TLF-MELHUS\?sendt=1/), page.click("text=Bekreft og send")]);
  await expectText("inquiry next", `Driftssenteret minnes på henvendelsen mandag ${ddmm(day(friday, 3))}`);
  await expectText("inquiry next", "meldes forfalt til driftssenteret");
  await axe("shift-inquiry", "shift-inquiry");
  await page.click("#form-inquiry-answered button");
  await Promise.all([page.waitForURL(/inquiries\/TLF-MELHUS\?sendt=1/), page.click("text=Bekreft og send")]);
  await expectText("inquiry answered", "Henvendelse besvart i konsollen av Kari Nordmann");

  // Next Tuesday's maintenance: the reminder goes Monday 08:00.
  const tuesday = day(friday, 4);
  await page.goto(`${base}/ops/maintenances/new`);
  await page.fill("#f-id", "VED-TIRSDAG");
  await page.fill("#f-from", `${tuesday}T10:00`);
  await page.fill("#f-to", `${tuesday}T14:00`);
  await page.check("input[name=services][value=PLO]");
  await page.fill("#f-measures", "Oppgradering av meldingstjeneren");
  await page.click("text=Forhåndsvis meldingene");
  await Promise.all([page.waitForURL(/maintenances\/VED-TIRSDAG\?sendt=1/), page.click("text=Bekreft og send")]);
  await expectText("maintenance next", `Påminnelse sendes til`);
  await expectText("maintenance next", `mandag ${ddmm(day(friday, 3))} kl. 08:00`);
  await axe("shift-maintenance", "shift-maintenance");
  await page.goto(`${base}/ops/`);
  await expectText("overview maintenance", `Påminnelse sendes til`);

  // The closed case, found again through search.
  await page.goto(`${base}/ops/cases`);
  await page.fill("#q", p1);
  await Promise.all([page.waitForURL(/cases\?q=/), page.click("form.search button")]);
  await expectText("search", "1 sak");
  await expectText("search", "Løst");
  await axe("shift-search", "shift-search");
  await Promise.all([page.waitForURL(new RegExp(`incidents/${p1}$`)), page.click(`a:text-is("${p1}")`)]);
  await expectText("found", "Avsluttet");

  // The month's report from the console's menu, printed.
  await page.goto(`${base}/ops/`);
  await Promise.all([page.waitForURL(/\/reports\//), page.click("nav >> text=Rapport")]);
  await expectText("report", "foreløpig");
  await expectText("report", "Feil i meldingsutveksling");
  await expectText("report", "Alle tjenester");
  await axe("shift-report", "shift-report");
  await page.emulateMedia({ media: "print" });
  await page.screenshot({ path: `${shots}/shift-report-print.png`, fullPage: true });
  await page.pdf({ path: `${shots}/shift-report.pdf`, format: "A4" });
  console.log(JSON.stringify({ check: "report printed", pdf: `${shots}/shift-report.pdf` }));
} catch (e) {
  fail(`${e.stack || e}`);
}
await end();
