//! The operator console (issue #11) in headless Chromium with axe-core, against a daemon with
//! a real SMTP server; then what the browser cannot show: the mail that went out, the
//! timeline's origin and operator, and sign-in by an SSO proxy's header only from its address.

use crate::harness::*;
use crate::support::*;

/// `curl -i` (the head with the body) with `args`.
fn curl(args: &[&str]) -> (u16, String) {
    crate::support::curl(&[&["-i"], args].concat())
}

#[test]
fn operator_console_in_chromium_with_axe() {
    let env = Env::new("console");
    // A freeze ten days ahead; sign-in by SSO header only from 127.0.0.2 (the "proxy").
    let day = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    cfg.push_str(&format!(
        "\n[[calendar.freeze]]\nname = \"Testfrys\"\nfrom = \"{day}\"\nto = \"{}\"\n\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_proxies = [\"127.0.0.2\"]\n",
        day + chrono::Duration::days(1)
    ));
    std::fs::write(&cfg_path, cfg).unwrap();
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let base = format!("http://127.0.0.1:{}", env.http);
    let op = env.token("operator-token");

    let out = node(
        "console.mjs",
        &[
            base.clone(),
            op.clone(),
            env.dir.to_string_lossy().to_string(),
            day.to_string(),
        ],
    );
    // axe-core ran on every page at both widths, with no violation (the script fails on any).
    assert!(out.matches("\"violations\":[]").count() >= 16, "{out}");

    // The notices and the «Løst» went to the three municipalities, each under its own id.
    // Other mails (the maintenance's, warnings to ops) come in no fixed order among them.
    let three = |m: &Mail| {
        ["malvik", "trondheim", "stjordal"]
            .iter()
            .any(|o| m.headers["to"].contains(o))
    };
    let mails = wait_mails_until(&env.maildir(), 60, |m| {
        m.iter()
            .filter(|m| three(m) && m.headers["subject"].starts_with("Løst:"))
            .count()
            >= 3
            && m.iter().filter(|m| three(m)).count() >= 6
    });
    let to_three: Vec<&Mail> = mails
        .iter()
        .filter(|m| {
            ["malvik", "trondheim", "stjordal"]
                .iter()
                .any(|o| m.headers["to"].contains(o))
        })
        .collect();
    let resolved = to_three
        .iter()
        .filter(|m| m.headers["subject"].starts_with("Løst:"))
        .count();
    assert_eq!(
        to_three.len(),
        6,
        "{:#?}",
        mails
            .iter()
            .map(|m| (&m.headers["to"], &m.headers["subject"]))
            .collect::<Vec<_>>()
    );
    assert_eq!(resolved, 3);
    let ids: std::collections::BTreeSet<&String> =
        to_three.iter().map(|m| &m.headers["message-id"]).collect();
    assert_eq!(ids.len(), 6);

    // The timeline names the console and the operator for each of their events.
    let v: serde_json::Value =
        serde_json::from_str(&get(env.http, "/api/v1/incidents/INC-KONSOLL", &op)).unwrap();
    let events: Vec<(String, String, String)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entry"] == "event")
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["origin"].as_str().unwrap_or("").to_string(),
                e["by"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for ty in ["incident.open", "incident.resolve"] {
        assert!(
            events.contains(&(ty.into(), "console".into(), "Kari Nordmann".into())),
            "{ty}: {events:?}"
        );
    }
    // The maintenance in the freeze was only previewed: nothing was registered or sent.
    let (code, _) = curl(&[
        "-H",
        &format!("Authorization: Bearer {op}"),
        &format!("{base}/api/v1/maintenances/VED-FRYS"),
    ]);
    assert_eq!(code, 404);
    assert!(
        !read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].contains("VED-FRYS") || m.body.contains("VED-FRYS")),
        "a preview sent mail"
    );

    // A forged user header from an address that is not the proxy: refused.
    let (code, body) = curl(&["-H", "X-Remote-User: mallory", &format!("{base}/ops/")]);
    assert_eq!(code, 403, "{body}");
    assert!(!body.to_lowercase().contains("set-cookie"), "{body}");
    // The same header from the proxy's address signs Ola in.
    let (code, body) = curl(&[
        "--interface",
        "127.0.0.2",
        "-H",
        "X-Remote-User: Ola Nordmann",
        &format!("{base}/ops/"),
    ]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Innlogget: Ola Nordmann"), "{body}");
    let cookie = body
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/ops"),
        "{cookie}"
    );
    // With the session but without the CSRF token, a form is refused and changes nothing.
    let session = cookie.split(';').next().unwrap();
    let (code, _) = curl(&[
        "-H",
        &format!("Cookie: {session}"),
        "--data",
        "ty=incident.open&id=INC-CSRF&services=PLO&step=send",
        &format!("{base}/ops/act"),
    ]);
    assert_eq!(code, 403);
    let (code, _) = curl(&[
        "-H",
        &format!("Authorization: Bearer {op}"),
        &format!("{base}/api/v1/incidents/INC-CSRF"),
    ]);
    assert_eq!(code, 404, "a refused form registered its incident");
    // A wrong token at the sign-in form: 401, no cookie.
    let (code, body) = curl(&[
        "--data",
        "name=Eve&token=not-the-token-at-all",
        &format!("{base}/ops/login"),
    ]);
    assert_eq!(code, 401);
    assert!(!body.to_lowercase().contains("set-cookie"));
    // The public status page shares nothing with the console: no cookie, no console link.
    let (_, page) = curl(&[&format!("{base}/")]);
    assert!(!page.to_lowercase().contains("set-cookie") && !page.contains("/ops/"));
}
