// An organization's own page (SPEC §4.16) in headless Chromium with axe-core (WCAG 2.1 A/AA) at
// 1280 and 375 px. The answers are given with JavaScript off, as a person whose browser blocks
// scripts would: the page must work without it.
//
// usage: node kontakt.mjs URL SCREENSHOT_DIR propose NEW_ADDRESS
//        node kontakt.mjs URL SCREENSHOT_DIR verify
//        node kontakt.mjs URL SCREENSHOT_DIR invalid
import { story } from "./lib.mjs";

const [url, shots, step, address] = process.argv.slice(2);
const { page, fail, axe: check, expectText, plainPage, end } = await story();
const axe = (name) => check(name, `${shots}/kontakt-${name}`);
// The answers: a context without JavaScript.
const { plain, plainText } = await plainPage();

try {
  await page.goto(url);
  if (step === "invalid") {
    await expectText("invalid", "Lenken er ugyldig eller utløpt");
    await axe("invalid");
  } else if (step === "propose") {
    await expectText("page", "Dette har vi registrert");
    await axe("page");
    await plain.goto(url);
    await plain.fill("#meldingsansvarlig", address);
    await Promise.all([plain.waitForNavigation(), plain.click("text=Send rettelsene")]);
    await plainText("proposed", "Vi har sendt en lenke til den nye adressen");
    await plainText("pending", `Ny adresse ${address} venter`);
    await page.goto(plain.url());
    await axe("proposed");
    // A refused correction says why, next to the field.
    await plain.fill("#phone", "ring oss");
    await Promise.all([plain.waitForNavigation(), plain.click("text=Send rettelsene")]);
    await plainText("refused", "Skriv et telefonnummer");
  } else if (step === "verify") {
    await expectText("verify", "Bekreft ny adresse");
    await axe("verify");
    await plain.goto(url);
    await Promise.all([plain.waitForNavigation(), plain.click("button[type=submit]")]);
    await plainText("verified", "Adressen er bekreftet");
  } else {
    fail(`unknown step ${step}`);
  }
} catch (e) {
  fail(`${e.stack || e}`);
}
await end();
