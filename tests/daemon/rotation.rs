//! A rotated token takes effect on SIGHUP (README: rotating ends every session): the old
//! bearer token gets 401, the console cookie signed with the old operator token gets the
//! sign-in page, and the new token works.

use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn status(port: u16, path: &str, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = s.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn a_rotated_operator_token_ends_old_sessions_on_sighup() {
    let env = Env::new("rotate");
    let d = env.daemon();
    let old = env.token("operator-token");
    let jar = env.dir.join("cookies");
    let jar_s = jar.to_string_lossy().to_string();
    let (code, _) = status(
        env.http,
        "/ops/login",
        &[
            "-c",
            &jar_s,
            "--data-urlencode",
            &format!("token={old}"),
            "--data-urlencode",
            "name=Kari Nordmann",
        ],
    );
    assert_eq!(code, 303);
    let bearer = |t: &str| format!("Authorization: Bearer {t}");
    assert_eq!(status(env.http, "/ops/", &["-b", &jar_s]).0, 200);
    assert_eq!(
        status(env.http, "/api/v1/incidents", &["-H", &bearer(&old)]).0,
        200
    );
    // Rotate: a new token in the file, then SIGHUP.
    let new = "ny-operatornokkel-0123456789abcdef";
    std::fs::write(env.dir.join("state/operator-token"), format!("{new}\n")).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.0.id().to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    while !std::fs::read_to_string(env.dir.join("daemon.log"))
        .unwrap_or_default()
        .contains("tokens rotated")
    {
        assert!(t.elapsed() < Duration::from_secs(60), "no rotation logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        status(env.http, "/api/v1/incidents", &["-H", &bearer(&old)]).0,
        401
    );
    assert_eq!(
        status(env.http, "/api/v1/incidents", &["-H", &bearer(new)]).0,
        200
    );
    let (code, page) = status(env.http, "/ops/", &["-b", &jar_s, "-L"]);
    assert!(
        page.contains("name=\"token\""),
        "the old cookie gets the sign-in page ({code}): {page}"
    );
}
