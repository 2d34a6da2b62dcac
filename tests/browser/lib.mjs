// What the console's browser stories share: Debian's Chromium started headless the way this
// machine allows (no background networking), one page, and the checks — axe-core (WCAG 2.1
// A/AA) at 1280 and 375 px with a screenshot of each, no horizontal scrolling, expected text.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");

// A browser with one page; `phoneHeight` is the viewport height at 375 px.
export async function story({ phoneHeight = 900 } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // bypassCSP: the console allows no inline script, and axe-core is injected as one.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "nb-NO", bypassCSP: true });
  const page = await ctx.newPage();
  let failed = false;
  const fail = (m) => { console.error(m); failed = true; };
  // axe-core on the page at both widths; a screenshot to `shot`-WIDTH.png when given.
  async function axe(name, shot) {
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: width === 375 ? phoneHeight : 900 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (overflow) fail(`${name}: horizontal scrolling at ${width}px`);
      if (shot) await page.screenshot({ path: `${shot}-${width}.png`, fullPage: true });
      await page.addScriptTag({ path: axePath });
      const r = await page.evaluate(async () =>
        await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
      console.log(JSON.stringify({ page: name, width, passes: r.passes.length,
        violations: r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, html: v.nodes[0]?.html })) }));
      if (r.violations.length) fail(`${name} at ${width}px: ${r.violations.length} axe violation(s)`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  async function expectText(name, text) {
    const body = await page.innerText("body");
    if (!body.includes(text)) fail(`${name}: missing text ${JSON.stringify(text)}`);
    else console.log(JSON.stringify({ check: name, saw: text }));
  }
  // A page without JavaScript (answers given as a person whose browser blocks scripts would),
  // and its text check.
  async function plainPage() {
    const plain = await (await browser.newContext({ javaScriptEnabled: false, locale: "nb-NO" })).newPage();
    async function plainText(name, text) {
      const body = await plain.innerText("body");
      if (!body.includes(text)) fail(`${name}: missing text ${JSON.stringify(text)}:\n${body}`);
      else console.log(JSON.stringify({ check: name, saw: text }));
    }
    return { plain, plainText };
  }
  // Close the browser and exit: 1 when any check failed.
  async function end() {
    await browser.close();
    process.exit(failed ? 1 : 0);
  }
  return { browser, ctx, page, fail, axe, expectText, plainPage, end };
}
