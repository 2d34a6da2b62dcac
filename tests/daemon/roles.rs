//! Who may use which route (SPEC §5.10, issue #29): every route the daemon serves declares
//! what it needs in `daemon/access.rs`, and this walks every one of them with no credential,
//! with each role (signed in through an SSO proxy's user and groups headers, and with the
//! personal API token each made) and with the break-glass key, asserting the code. A `.route(`
//! in `src/daemon` that `access::ROUTES` does not list fails here first.

use crate::harness::{make_token, proxy_session, AppendConfig};
use crate::support::*;
use meldingsvakt::audit::Role;
use meldingsvakt::daemon::access::{Need, ROUTES};
use std::collections::BTreeSet;

/// Every `(method, path)` the router declares in `src/daemon`: each `.route("PATH", …)` and
/// the `get(`/`post(` calls inside it (`history::route` is a GET).
fn declared() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon");
    let mut files = vec![dir.join("http.rs")];
    files.extend(
        std::fs::read_dir(dir.join("console"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + 7..];
            let Some(q) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let path = q.split('"').next().unwrap().to_string();
            // The call's text: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let call = &rest[..end];
            let mut methods = Vec::new();
            for (word, method) in [("get(", "GET"), ("post(", "POST"), ("case(", "GET")] {
                if call.contains(word) {
                    methods.push(method);
                }
            }
            assert!(
                !methods.is_empty(),
                "{}: no method in .route({call})",
                f.display()
            );
            for m in methods {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_declares_what_it_needs() {
    let declared = declared();
    assert!(declared.len() >= 40, "{declared:?}");
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let undeclared: Vec<_> = declared.difference(&listed).collect();
    assert!(
        undeclared.is_empty(),
        "routes without a role in daemon/access.rs: {undeclared:?}"
    );
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(
        stale.is_empty(),
        "access.rs lists routes nobody serves: {stale:?}"
    );
}

/// The path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "INC-ROLLE")
        .replace("{kind}", "incidents")
        .replace("{month}", "2026-11")
        .replace("{name}", "console.css")
}

const PEOPLE: [(&str, &str, Role); 3] = [
    ("Vera Visning", "les", Role::Viewer),
    ("Ola Operatør", "drift", Role::Operator),
    ("Ada Admin", "admin", Role::Admin),
];

#[test]
fn every_route_with_every_role() {
    let env = Env::new("roles");
    env.append_config(
        "\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\nviewer = [\"les\"]\noperator = [\"drift\"]\nadmin = [\"admin\"]\n",
    );
    let _d = env.daemon();
    let base = format!("http://127.0.0.1:{}", env.http);
    let alert = env.token("alert-token");
    let glass = env.token("operator-token");

    // Someone whose groups give no role is refused, and gets no session.
    let (code, body) = curl(&[
        "-i",
        "--interface",
        "127.0.0.2",
        "-H",
        "X-Remote-User: Uten Rolle",
        "-H",
        "X-Remote-Groups: andre",
        &format!("{base}/ops/"),
    ]);
    assert_eq!(code, 403, "{body}");
    assert!(!body.to_lowercase().contains("set-cookie"), "{body}");

    let people: Vec<(Role, Browser, String)> = PEOPLE
        .iter()
        .map(|(name, group, role)| {
            let b = proxy_session(&env, name, &format!("andre, {group}"));
            let t = make_token(&b, "rolletest");
            (*role, b, t)
        })
        .collect();
    // The token acts in its maker's role: the viewer's cannot open an incident.
    let (code, body) = env.post("/api/v1/incidents", &people[0].2, "{}");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("operator"), "{body}");

    let mut checked = 0;
    // Sign-out last: it ends the session the other routes use.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|r| r.path == "/ops/logout");
    for r in routes {
        let url = format!("{base}{}", concrete(r.path));
        let console = r.path.starts_with("/ops");
        let post = r.method == "POST";
        let method: &[&str] = if post {
            &["-X", "POST", "--data", "x=1"]
        } else {
            &[]
        };
        // No credential.
        let (code, body) = curl(&[method, &["-i", url.as_str()]].concat());
        match r.need {
            // The sign-in form refuses a wrong token (401): that is its work, not a gate.
            Need::Public if r.path == "/ops/login" && post => assert_eq!(code, 401),
            Need::Public => assert!(
                !matches!(code, 401 | 403) && !body.contains("location: /ops/login\r"),
                "{} {}: public, but {code}",
                r.method,
                r.path
            ),
            Need::AlertToken => assert_eq!(code, 401, "{} {}", r.method, r.path),
            Need::Role(_) if console => {
                assert_eq!(code, 303, "{} {}: {body}", r.method, r.path);
                assert!(
                    body.to_lowercase().contains("location: /ops/login"),
                    "{body}"
                );
            }
            Need::Role(_) => assert_eq!(code, 401, "{} {}: {body}", r.method, r.path),
        }
        // Each role: the console by its session, the API by its token.
        for (role, b, token) in &people {
            checked += 1;
            if r.need == Need::Public {
                continue;
            }
            let (code, body) = if console {
                let csrf = b.csrf();
                let data = format!("csrf={csrf}");
                let args: Vec<&str> = if post {
                    vec!["-i", "--data", &data]
                } else {
                    vec!["-i"]
                };
                b.request(&concrete(r.path), &args)
            } else {
                let auth = format!("Authorization: Bearer {token}");
                curl(&[method, &["-i", "-H", auth.as_str(), url.as_str()]].concat())
            };
            let what = format!("{} {} as {}: {code}", r.method, r.path, role.as_str());
            match r.need {
                Need::Role(need) if !role.allows(need) => assert_eq!(code, 403, "{what}\n{body}"),
                Need::AlertToken => assert_eq!(code, 403, "{what}"),
                _ if r.path == "/ops/logout" => assert_eq!(code, 303, "{what}"),
                _ => {
                    assert!(!matches!(code, 401 | 403), "{what}\n{body}");
                    assert!(
                        !body.to_lowercase().contains("location: /ops/login"),
                        "{what}: sent to sign in\n{body}"
                    );
                }
            }
        }
        // The break-glass key holds every role (API only; its console sign-in is a form).
        if !console {
            let auth = format!("Authorization: Bearer {glass}");
            let (code, body) = curl(&[method, &["-i", "-H", auth.as_str(), url.as_str()]].concat());
            let want_403 = r.need == Need::AlertToken;
            assert_eq!(
                code == 403,
                want_403,
                "{} {} break-glass: {code}\n{body}",
                r.method,
                r.path
            );
            assert_ne!(code, 401, "{} {} break-glass", r.method, r.path);
        }
        if r.need == Need::AlertToken {
            let auth = format!("Authorization: Bearer {alert}");
            let (code, _) = curl(&[method, &["-i", "-H", auth.as_str(), url.as_str()]].concat());
            assert!(
                !matches!(code, 401 | 403),
                "{} {} with the alert token: {code}",
                r.method,
                r.path
            );
        }
    }
    assert_eq!(checked, ROUTES.len() * PEOPLE.len());
    // The break-glass uses were flagged in the log.
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(log.contains("break-glass"), "{log}");
}
