// The subscribe page and a subscriber's own page (SPEC §4.17) in headless Chromium with
// axe-core (WCAG 2.1 A/AA) at 1280 and 375 px. Every answer is given with JavaScript off.
//
// usage: node abonner.mjs BASE SCREENSHOT_DIR subscribe ADDRESS
//        node abonner.mjs URL SCREENSHOT_DIR confirm
import { story } from "./lib.mjs";

const [url, shots, step, address] = process.argv.slice(2);
const { page, fail, axe: check, expectText, plainPage, end } = await story();
const axe = (name) => check(name, `${shots}/abonner-${name}`);
// The answers: a context without JavaScript.
const { plain, plainText } = await plainPage();

try {
  if (step === "subscribe") {
    await page.goto(`${url}/abonner`);
    await expectText("form", "Få driftsmeldinger på e-post");
    await axe("form");
    await plain.goto(`${url}/abonner`);
    // A wrong address is refused next to the form, and the page stays accessible.
    await plain.fill("#address", "ikke en adresse");
    await Promise.all([plain.waitForNavigation(), plain.click("button[type=submit]")]);
    await plainText("refused", "Skriv en gyldig e-postadresse");
    await plain.check("#svc-PLO");
    await plain.fill("#address", address);
    await Promise.all([plain.waitForNavigation(), plain.click("button[type=submit]")]);
    await plainText("sent", "Sjekk e-posten din");
  } else if (step === "confirm") {
    await page.goto(url);
    await expectText("pending", "Abonnementet er ikke startet ennå");
    await axe("pending");
    await plain.goto(url);
    await Promise.all([plain.waitForNavigation(), plain.click("text=Bekreft abonnementet")]);
    await plainText("confirmed", "Abonnementet er startet");
    await page.goto(plain.url());
    await axe("manage");
  } else {
    fail(`unknown step ${step}`);
  }
} catch (e) {
  fail(`${e.stack || e}`);
}
await end();
