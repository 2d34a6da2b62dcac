//! The daemon under systemd's notify protocol: READY, WATCHDOG, RELOADING, STOPPING.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn systemd_notify_ready_watchdog_reload_and_stop() {
    use std::os::unix::net::UnixDatagram;
    let env = Env::new("notify");
    let sock_path = env.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // As systemd does: WATCHDOG_PID names the service's main process (exec keeps the pid).
    let child = Command::new("sh")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_meldingsvakt"))
        .arg(env.dir.join("meldingsvakt.toml"))
        .current_dir(&env.dir)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let _d = Proc(child);
    let recv = |want: &str| {
        let mut buf = [0u8; 512];
        let t = Instant::now();
        loop {
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("waiting for {want}: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.contains(want) {
                return msg;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "no {want}");
        }
    };
    recv("READY=1");
    recv("WATCHDOG=1");
    // A broken configuration on SIGHUP: RELOADING, then READY again with the old one in force.
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let good = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(&cfg_path, good.replace("[self]", "[self]\nbogus = 1")).unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let m = recv("RELOADING=1");
    assert!(m.contains("MONOTONIC_USEC="), "{m}");
    recv("READY=1");
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(
        log.contains("unknown key `self.bogus`")
            && log.contains("previous configuration stays in force"),
        "{log}"
    );
    // Still serving.
    let (code, _) = env.post(
        "/api/v1/incidents/none/ack",
        &env.token("operator-token"),
        "{}",
    );
    assert_eq!(code, 404);
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    recv("STOPPING=1");
}
