// Sign-in with OpenID Connect in headless Chromium (Debian's) with axe-core (WCAG 2.1 A/AA),
// against the daemon and the test provider (oidc-provider.mjs): issue #29's story. Kari
// (operator) signs in at the provider, lands in the console, makes a personal API token (shown
// once), and signs out; Ada (admin) reads the audit log; Uten (no role) is refused. Every page
// of ours is checked at 1280 and 375 px. With "down" as the third argument: only the page a
// person sees when the provider does not answer.
//
// usage: node oidc.mjs BASE_URL SCREENSHOT_DIR [down]
import { story } from "./lib.mjs";

const [base, shots, mode] = process.argv.slice(2);
const { ctx, page, fail, axe: check, expectText, end } = await story();
const axe = (name) => check(name, `${shots}/oidc-${name}`);
// Through the provider's sign-in page as `user`, to wherever the daemon sends us.
async function signIn(user) {
  // The provider keeps its own session (single sign-on): forget it to be someone else.
  await ctx.clearCookies();
  await page.goto(`${base}/ops/login`);
  await page.click("text=Logg inn med Hemit-ID");
  await page.waitForSelector("#login");
  await page.fill("#login", user);
  await page.click("button[type=submit]");
  await page.waitForLoadState("networkidle");
}
async function signOut() {
  await Promise.all([page.waitForURL(`${base}/ops/login`), page.click(".logout button")]);
}

try {
  if (mode === "down") {
    await page.goto(`${base}/ops/login`);
    await page.click("text=Logg inn med Hemit-ID");
    await expectText("provider down", "Innloggingstjenesten svarer ikke");
    await axe("provider-down");
    await page.goto(`${base}/ops/`);
    if (!page.url().endsWith("/ops/login")) fail(`the console opened without a provider: ${page.url()}`);
  } else {
    await page.goto(`${base}/ops/`);
    if (!page.url().endsWith("/ops/login")) fail(`not sent to sign-in: ${page.url()}`);
    await axe("login");
    await signIn("kari");
    await page.waitForURL(`${base}/ops/`);
    await expectText("overview", "Innlogget: kari (operatør)");
    await axe("overview");
    // Act: a personal API token, shown once.
    await page.click("text=Mine nøkler");
    await page.fill("#f-label", "bærbar");
    await page.click("button[type=submit].primary");
    await expectText("token made", "Den vises ikke igjen");
    const token = await page.innerText("code.secret");
    if (!/^mvt_[0-9a-f]{40}$/.test(token)) fail(`not a token: ${token}`);
    await axe("tokens");
    await page.reload();
    const again = await page.innerText("body");
    if (again.includes(token)) fail("the token was shown a second time");
    await signOut();
    await axe("signed-out");
    // An admin: the audit log names Kari's sign-in and her token.
    await signIn("ada");
    await page.waitForURL(`${base}/ops/`);
    await page.click("text=Revisjonslogg");
    await expectText("audit", "token.create");
    await expectText("audit", "kari");
    await axe("audit");
    await page.fill("#a-who", "kari");
    await page.click("form[role=search] button[type=submit]");
    await expectText("audit filtered", "sign_in");
    await axe("audit-filtered");
    await page.click("text=Kontaktregister");
    await expectText("directory", "Malvik kommune");
    await axe("directory");
    // An import is shown as its changes before anything is stored.
    await page.fill("#f-csv", "org,phone\nmalvik,+47 73 00 00 00\n");
    await page.click("text=Vis endringene");
    await expectText("directory import", "Bruk endringene");
    await axe("directory-import");
    await signOut();
    // No role: refused, with a page that says why.
    await signIn("uten");
    await expectText("no role", "Ingen tilgang");
    await axe("no-role");
  }
} catch (e) {
  fail(`story failed: ${e.stack || e}`);
}
await end();
