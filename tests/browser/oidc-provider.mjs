// A real OpenID Provider for the sign-in tests: npm's `oidc-provider` (OpenID Certified), on
// loopback, with one confidential client (PKCE required) and a few people:
//   kari (group hemit-drift), ada (hemit-admin), vera (hemit-les), uten (no group), and four
//   in hemit-drift whose ID tokens this script rewrites on their way out, to show the daemon's
//   checks refusing them: feil-mottaker (another audience), utlopt (expired), feil-utsteder
//   (another issuer) — each re-signed with the provider's own key — and falsk-signatur (signed
//   with a key the provider never published).
// Its sign-in page asks for a user name only (the provider's own login is not under test).
//
// usage: node oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Prints "ready" when it listens.
import Provider from "oidc-provider";
import * as jose from "jose";
import http from "node:http";

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const { privateKey: strangerKey } = await jose.generateKeyPair("RS256");
const jwk = { ...(await jose.exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" };

const people = {
  kari: { name: "Kari Nordmann", groups: ["hemit-drift", "alle"] },
  ada: { name: "Ada Admin", groups: ["hemit-admin"] },
  vera: { name: "Vera Visning", groups: ["hemit-les"] },
  uten: { name: "Uten Rolle", groups: ["alle"] },
  "feil-mottaker": { name: "Feil Mottaker", groups: ["hemit-drift"] },
  utlopt: { name: "Utløpt Token", groups: ["hemit-drift"] },
  "feil-utsteder": { name: "Feil Utsteder", groups: ["hemit-drift"] },
  "falsk-signatur": { name: "Falsk Signatur", groups: ["hemit-drift"] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", "email"],
  claims: { openid: ["sub"], profile: ["name", "preferred_username", "groups"], email: ["email"] },
  // The claims of the scopes go into the ID token (as Entra ID and Keycloak put groups there).
  conformIdTokenClaims: false,
  findAccount: async (ctx, sub) => people[sub] && {
    accountId: sub,
    claims: async () => ({
      sub, name: people[sub].name, preferred_username: sub,
      email: `${sub}@hemit.example`, groups: people[sub].groups,
    }),
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["test-only-cookie-key"] },
});
provider.proxy = false;

// The token endpoint's answer, re-signed for the two test people.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== "/token" || !ctx.body || !ctx.body.id_token) return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  let key = privateKey;
  if (claims.sub === "feil-mottaker") claims.aud = "en-annen-klient";
  else if (claims.sub === "utlopt") { claims.iat = now - 7200; claims.exp = now - 3600; }
  else if (claims.sub === "feil-utsteder") claims.iss = "https://login.example.com";
  else if (claims.sub === "falsk-signatur") key = strangerKey;
  else return;
  ctx.body = { ...ctx.body, id_token: await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(key) };
});

const page = (uid, error) => `<!doctype html><html lang="nb"><head><meta charset="utf-8">
<title>Testleverandør – logg inn</title></head><body><main>
<h1>Testleverandør</h1>${error ? `<p role="alert">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Brukernavn</label> <input id="login" name="login" autocomplete="username" required>
<button type="submit">Logg inn</button></form></main></body></html>`;

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
    if (!m) return callback(req, res);
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(page(details.uid));
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const login = new URLSearchParams(body).get("login") || "";
    if (!people[login]) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(page(details.uid, "Ukjent bruker"));
    }
    const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res,
      { login: { accountId: login }, consent: { grantId } }, { mergeWithLastSubmission: false });
  } catch (e) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(e));
  }
});
server.listen(Number(port), "127.0.0.1", () => console.log("ready"));
