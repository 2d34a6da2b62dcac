//! Sign-in with OpenID Connect (SPEC §5.10, issue #29) against a real OpenID Provider: npm's
//! `oidc-provider` (OpenID Certified), started here on loopback (`tests/browser/
//! oidc-provider.mjs`). The flows are driven with curl, redirect by redirect, so that each
//! attack can be made exactly: a successful sign-in; an ID token for another audience; an
//! expired ID token; a replayed code; a tampered `state`; a person whose groups give no role;
//! and a provider that is down — each refused with a page that says so, audited, and never
//! a session. Then the whole story in Chromium with axe-core at 1280 and 375 px.

use crate::harness::*;
use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};

const CLIENT: &str = "meldingsvakt";
const SECRET: &str = "klienthemmelighet-for-testen";

fn provider(env: &Env, port: u16) -> Proc {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let child = Command::new("node")
        .current_dir(&dir)
        .arg("oidc-provider.mjs")
        .args([
            port.to_string(),
            CLIENT.to_string(),
            SECRET.to_string(),
            format!("http://127.0.0.1:{}/ops/login/callback", env.http),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("oidc.log")).unwrap())
        .spawn()
        .unwrap();
    wait_port(port);
    Proc(child)
}

/// The `Location` of a `curl -i` answer, absolute.
fn location(head: &str, base: &str) -> Option<String> {
    let l = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("location")
            .then(|| v.trim().to_string())
    })?;
    Some(if l.starts_with('/') {
        format!("{base}{l}")
    } else {
        l
    })
}

fn has_session(head: &str) -> bool {
    head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("set-cookie: mv_ops=") && !l.contains("mv_ops=;")
    })
}

/// A sign-in as `user` up to the provider's redirect back: the callback URL (not yet opened).
fn to_callback(env: &Env, jar: &Path, user: &str, op: &str) -> String {
    let j = jar.to_str().unwrap();
    let daemon = format!("http://127.0.0.1:{}", env.http);
    let (code, head) = curl(&["-i", "-b", j, "-c", j, &format!("{daemon}/ops/login/oidc")]);
    assert_eq!(code, 303, "{head}");
    let mut url = location(&head, &daemon).unwrap();
    for _ in 0..10 {
        if url.starts_with(&format!("{daemon}/ops/login/callback")) {
            return url;
        }
        let (code, head) = if url.contains("/interaction/") {
            curl(&[
                "-i",
                "-b",
                j,
                "-c",
                j,
                "--data",
                &format!("login={user}"),
                &format!("{url}/login"),
            ])
        } else {
            curl(&["-i", "-b", j, "-c", j, &url])
        };
        url = location(&head, op).unwrap_or_else(|| panic!("{code}: {head}"));
    }
    panic!("no way back from the provider: {url}");
}

/// Open the callback URL with `jar`: the status and the answer with its head.
fn finish(jar: &Path, url: &str) -> (u16, String) {
    let j = jar.to_str().unwrap();
    curl(&["-i", "-b", j, "-c", j, url])
}

fn audit_rows(env: &Env) -> String {
    let out = Command::new("sqlite3")
        .arg(env.dir.join("state/meldingsvakt.db"))
        .arg("SELECT who, role, what, after FROM audit WHERE what LIKE 'sign_in%' ORDER BY seq")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn oidc_sign_in_and_every_way_it_must_fail() {
    let env = Env::new("oidc");
    let op_port = free_port();
    std::fs::write(env.dir.join("oidc-secret"), SECRET).unwrap();
    env.append_config(&format!(
        "\n[console.oidc]\nissuer = \"http://127.0.0.1:{op_port}\"\nclient_id = \"{CLIENT}\"\nclient_secret_file = \"oidc-secret\"\nlabel = \"Hemit-ID\"\n\n[console.roles]\nviewer = [\"hemit-les\"]\noperator = [\"hemit-drift\"]\nadmin = [\"hemit-admin\"]\n"
    ));
    let mut idp = provider(&env, op_port);
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let daemon = format!("http://127.0.0.1:{}", env.http);
    let op = format!("http://127.0.0.1:{op_port}");
    let jar = env.dir.join("jar");

    // The sign-in page offers the provider, and keeps the break-glass form.
    let (code, page) = curl(&[&format!("{daemon}/ops/login")]);
    assert_eq!(code, 200);
    assert!(
        page.contains("Logg inn med Hemit-ID") && page.contains("f-token"),
        "{page}"
    );

    // 1. A successful sign-in: PKCE, state and nonce went out; a session comes back.
    let (_, start) = curl(&["-i", &format!("{daemon}/ops/login/oidc")]);
    let auth = location(&start, &daemon).unwrap();
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(auth.contains(p), "{p}: {auth}");
    }
    assert!(start.to_lowercase().contains("samesite=lax"), "{start}");
    let callback = to_callback(&env, &jar, "kari", &op);
    let replay_jar = env.dir.join("jar-copy");
    std::fs::copy(&jar, &replay_jar).unwrap();
    let (code, resp) = finish(&jar, &callback);
    assert_eq!(code, 200, "{resp}");
    assert!(has_session(&resp), "{resp}");
    assert!(
        resp.contains("Du er logget inn") && resp.contains("url=/ops/"),
        "{resp}"
    );
    let b = Browser {
        jar: jar.clone(),
        port: env.http,
    };
    let overview = b.get("/ops/");
    assert!(
        overview.contains("Innlogget: kari (operatør)"),
        "{overview}"
    );
    // An operator may act: the incident form is hers.
    assert_eq!(b.request("/ops/incidents/new", &[]).0, 200);

    // 2. The same code again (with the flow cookie an attacker copied): the provider refuses.
    let (code, resp) = finish(&replay_jar, &callback);
    assert_eq!(code, 401, "{resp}");
    assert!(
        !has_session(&resp) && resp.contains("Innloggingen ble avvist"),
        "{resp}"
    );

    // 3. A tampered state: refused before the code is used.
    let fresh = env.dir.join("jar-state");
    let callback = to_callback(&env, &fresh, "kari", &op);
    let tampered = callback.replacen("state=", "state=x", 1);
    let (code, resp) = finish(&fresh, &tampered);
    assert_eq!(code, 400, "{resp}");
    assert!(!has_session(&resp), "{resp}");
    // The refusal ends the flow: even the genuine answer after it is refused (start again).
    let (code, resp) = finish(&fresh, &callback);
    assert_eq!(
        code, 400,
        "the flow cookie was cleared with the refusal: {resp}"
    );
    assert!(!has_session(&resp), "{resp}");

    // 4. An ID token for another audience, 5. an expired one, from another issuer, with a
    // signature the provider's keys do not verify; 6. no role.
    for (user, want, text) in [
        ("feil-mottaker", 401, "Innloggingen ble avvist"),
        ("utlopt", 401, "Innloggingen ble avvist"),
        ("feil-utsteder", 401, "Innloggingen ble avvist"),
        ("falsk-signatur", 401, "Innloggingen ble avvist"),
        ("uten", 403, "Ingen tilgang"),
    ] {
        let j = env.dir.join(format!("jar-{user}"));
        let callback = to_callback(&env, &j, user, &op);
        let (code, resp) = finish(&j, &callback);
        assert_eq!(code, want, "{user}: {resp}");
        assert!(!has_session(&resp) && resp.contains(text), "{user}: {resp}");
        let b = Browser {
            jar: j,
            port: env.http,
        };
        assert_eq!(
            b.request("/ops/", &[]).0,
            303,
            "{user} got into the console"
        );
    }

    // Every refusal is in the audit log with its reason; the success with its method.
    let rows = audit_rows(&env);
    let lines: Vec<&str> = rows.lines().collect();
    assert!(
        lines[0].starts_with("kari|operator|sign_in|") && lines[0].contains("\"oidc\""),
        "{rows}"
    );
    let refused: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("sign_in.refused"))
        .collect();
    assert_eq!(refused.len(), 8, "{rows}");
    assert!(refused[0].contains("the code was refused"), "{rows}");
    assert!(refused[1].contains("state does not match"), "{rows}");
    assert!(refused[2].contains("no sign-in was under way"), "{rows}");
    assert!(refused[3].to_lowercase().contains("audience"), "{rows}");
    assert!(refused[4].to_lowercase().contains("expired"), "{rows}");
    assert!(refused[5].to_lowercase().contains("issuer"), "{rows}");
    assert!(refused[6].to_lowercase().contains("signature"), "{rows}");
    assert!(
        refused[7].starts_with("uten|") && refused[7].contains("no role"),
        "{rows}"
    );

    // The story in Chromium: sign in, make a token, sign out; an admin's audit page; a
    // refusal; every page axe-clean at 1280 and 375 px.
    let out = node(
        "oidc.mjs",
        &[daemon.clone(), env.dir.to_string_lossy().to_string()],
    );
    assert!(out.matches("\"violations\":[]").count() >= 10, "{out}");

    // 7. The provider is down: a page that says so (503), no session, the console closed.
    idp.kill9();
    let (code, resp) = curl(&["-i", &format!("{daemon}/ops/login/oidc")]);
    assert_eq!(code, 503, "{resp}");
    assert!(
        resp.contains("Innloggingstjenesten svarer ikke") && !has_session(&resp),
        "{resp}"
    );
    let (code, _) = curl(&[&format!("{daemon}/ops/")]);
    assert_eq!(code, 303);
    let out = node(
        "oidc.mjs",
        &[daemon, env.dir.to_string_lossy().to_string(), "down".into()],
    );
    assert!(out.matches("\"violations\":[]").count() >= 2, "{out}");

    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
}
