//! A rotated token takes effect on SIGHUP (README: rotating ends every session): the old
//! bearer token gets 401, the console cookie signed with the old operator token gets the
//! sign-in page, and the new token works.

use crate::support::*;
use std::process::Command;

#[test]
fn a_rotated_operator_token_ends_old_sessions_on_sighup() {
    let env = Env::new("rotate");
    let d = env.daemon();
    let old = env.token("operator-token");
    let b = Browser {
        jar: env.dir.join("cookies"),
        port: env.http,
    };
    let (code, _) = b.post("/ops/login", &[("token", &old), ("name", "Kari Nordmann")]);
    assert_eq!(code, 303);
    let api = |token: &str| {
        b.request(
            "/api/v1/incidents",
            &["-H", &format!("Authorization: Bearer {token}")],
        )
        .0
    };
    assert_eq!(b.request("/ops/", &[]).0, 200);
    assert_eq!(api(&old), 200);
    // Rotate: a new token in the file, then SIGHUP.
    let new = "ny-operatornokkel-0123456789abcdef";
    std::fs::write(env.dir.join("state/operator-token"), format!("{new}\n")).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.0.id().to_string()])
        .status()
        .unwrap();
    env.wait_log("tokens rotated");
    assert_eq!(api(&old), 401);
    assert_eq!(api(new), 200);
    let (code, page) = b.request("/ops/", &["-L"]);
    assert!(
        page.contains("name=\"token\""),
        "the old cookie gets the sign-in page ({code}): {page}"
    );
}
