// Load the built-in status page in headless Chromium (Debian's), check that it shows the
// expected text, save a screenshot, and run axe-core (WCAG 2.1 A/AA). Exit 1 on a missing text
// or any serious/critical violation; print the axe summary as JSON.
//
// usage: node status-page.mjs URL SCREENSHOT.png "expected text" ["text that must be absent"]
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const [url, shot, expected, absent] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  for (const width of [1280, 375]) {  // desktop and phone
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const resp = await page.goto(url, { waitUntil: "load" });
    if (!resp || resp.status() !== 200) throw new Error(`GET ${url}: ${resp && resp.status()}`);
    const text = await page.innerText("body");
    if (expected && !text.includes(expected)) { console.error(`missing text: ${expected}`); failed = true; }
    if (absent && text.includes(absent)) { console.error(`text should be absent: ${absent}`); failed = true; }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) { console.error(`horizontal scrolling at ${width}px`); failed = true; }
    await page.screenshot({ path: shot.replace(/\.png$/, `-${width}.png`), fullPage: true });
    await page.addScriptTag({ path: axePath });
    const result = await page.evaluate(async () =>
      await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
    const serious = result.violations.filter(v => v.impact === "serious" || v.impact === "critical");
    console.log(JSON.stringify({ width, passes: result.passes.length, violations: result.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })) }));
    if (serious.length) { console.error(`axe: ${serious.length} serious/critical violation(s)`); failed = true; }
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
