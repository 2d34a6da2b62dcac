//! The command line as a user meets it: exit codes, where errors point, nothing on stdout on error.

use std::process::Command;

mod support;

fn mv(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn tmp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mv-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into()
}

#[test]
fn check_example_config() {
    let (code, out, _) = mv(&["check"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("68 organizations (65 municipalities), 2 KS e-Komp areas, 5 services, "),
        "{out}"
    );
}

#[test]
fn the_national_configuration_checks() {
    // SPEC §6: the same daemon serves a whole country (scripts/gen-example-orgs.py --national).
    let dir = std::env::temp_dir().join(format!("mv-national-{}", std::process::id()));
    let out = Command::new("/usr/bin/python3")
        .arg("scripts/gen-example-orgs.py")
        .arg("--national")
        .arg(&dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.join("meldingsvakt.toml");
    let (code, stdout, stderr) = mv(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("375 organizations (356 municipalities), 11 KS e-Komp areas"),
        "{stdout}"
    );
    let sql = std::fs::read_to_string(dir.join("subscribers.sql")).unwrap();
    assert_eq!(sql.matches("INSERT INTO subscriber").count(), 20_000);
    assert!(!sql.contains(".no'") && !sql.contains(".com'"));
}

#[test]
fn check_reports_file_line_col_and_exits_2() {
    let p = tmp("bad.toml", "[self]\nid = \"hemit\"\nnmae = \"typo\"\n");
    let (code, out, err) = mv(&["check", "--config", &p]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("{p}:3:1: unknown key `self.nmae`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:1:1: missing required key `name` in [self]")),
        "{err}"
    );
}

fn scenario(body: &str) -> String {
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meldingsvakt.toml");
    tmp(
        "s.toml",
        &format!("config = {:?}\nstart = \"2026-11-20T13:00:00+01:00\"\nuntil = \"2026-11-21T13:00:00+01:00\"\n{body}", cfg.to_string_lossy()),
    )
}

#[test]
fn simulate_scenario_errors_exit_2_with_place() {
    let p = scenario("\n[[event]]\nat = \"2026-11-20T14:00:00+01:00\"\ntype = \"incident.explode\"\nid = \"X\"\n");
    let (code, out, err) = mv(&["simulate", &p]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains(":7:8: event 1 (incident.explode): unknown event type"),
        "{err}"
    );

    let p = scenario("\n[[event]]\nat = \"2026-11-20T14:00:00+01:00\"\ntype = \"incident.open\"\nid = \"X\"\nat_org = \"atlantis\"\n");
    let (code, out, err) = mv(&["simulate", &p]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("event 1 (incident.open): `at_org`: unknown organization \"atlantis\""),
        "{err}"
    );

    let p = scenario("\n[[event]]\nat = \"tomorrow\"\ntype = \"incident.open\"\nid = \"X\"\n");
    let (code, _, err) = mv(&["simulate", &p]);
    assert_eq!(code, 2);
    assert!(
        err.contains(":6:6: event 1 (incident.open): `at`: invalid time \"tomorrow\""),
        "{err}"
    );

    let p = scenario("\n[[event]]\nat = \"2026-11-20T14:00:00+01:00\"\ntype = \"incident.open\"\nid = \"X\"\nmeasures = \"Gjelder 15076500565\"\n");
    let (code, out, err) = mv(&["simulate", &p]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("`measures` contains what looks like a Norwegian national identity number"),
        "{err}"
    );

    let p = scenario("\n[[event]]\nat = \"2026-11-20T14:00:00+01:00\"\ntype = \"incident.open\"\nid = \"X\"\ncolour = \"red\"\n");
    let (code, _, err) = mv(&["simulate", &p]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown field `colour`"), "{err}");
}

#[test]
fn simulate_prints_only_json_lines() {
    let (code, out, _) = mv(&["simulate", "tests/scenarios/friday-kvittering.toml"]);
    assert_eq!(code, 0);
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        assert!(
            v["at"].as_str().unwrap().len() == 25,
            "RFC 3339 with offset and seconds: {l}"
        );
    }
}

#[test]
fn calendar_and_render() {
    let (code, out, _) = mv(&["calendar", "2027"]);
    assert_eq!(code, 0);
    assert!(out.contains("25.03.2027  torsdag  Skjærtorsdag"), "{out}");
    assert!(out.contains("Working days: 255"), "{out}");
    let (code, out, _) = mv(&["render", "followup"]);
    assert_eq!(code, 0);
    assert!(out.contains("Emne: Manglende kvittering"), "{out}");
    assert!(out.contains("Kopi: ") || out.contains("Til: "), "{out}");
    let (code, _, err) = mv(&["render", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown message kind"), "{err}");
    let (code, out, _) = mv(&[
        "render",
        "escalation",
        "--scenario",
        "tests/scenarios/friday-kvittering.toml",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Eskalering: manglende svar fra Malvik kommune – Manglende kvittering"),
        "{out}"
    );
}

#[test]
fn render_from_a_small_input() {
    let p = tmp("one.toml", "type = \"incident.open\"\nid = \"I\"\nkind = \"kvittering\"\nat_org = \"frosta\"\nservices = [\"PLO\"]\nat = \"2026-11-20T14:30:00+01:00\"\n");
    let (code, out, err) = mv(&["render", "followup", "--input", &p]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Tid: 2026-11-23T09:30:00+01:00"), "{out}");
    assert!(
        out.contains("Til: meldingsansvarlig@frosta.kommune.example"),
        "{out}"
    );
}

/// `meldingsvakt report` on a scenario agrees with the figures computed by hand in the
/// scenario's comments, in all three formats.
#[test]
fn report_from_a_scenario_matches_the_hand_computed_figures() {
    let sc = "tests/scenarios/report-month.toml";
    let (code, out, err) = mv(&["report", "2026-11", "--scenario", sc, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["month"], "2026-11");
    assert_eq!(r["hours"], 720);
    let svc = |id: &str| {
        r["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == id)
            .unwrap()
            .clone()
    };
    let plo = svc("PLO");
    assert_eq!(plo["downtime_minutes"], 120.0);
    assert_eq!(plo["availability"], 99.722);
    assert_eq!(plo["target"], 99.7);
    assert_eq!(plo["met"], true);
    assert_eq!(plo["rolling_12m"]["months"], 1);
    assert_eq!(plo["rolling_12m"]["met"], false, "99.722 < 99.9");
    let ids: Vec<&str> = plo["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["INC-A", "INC-B"],
        "not the counterpart's, test or priority-3 ones"
    );
    assert_eq!(plo["incidents"][1]["from"], "2026-11-10T10:30:00+01:00");
    assert_eq!(svc("lab")["downtime_minutes"], 180.0);
    assert_eq!(svc("lab")["availability"], 99.583);
    assert_eq!(svc("lab")["met"], false);
    assert_eq!(svc("epikrise")["downtime_minutes"], 60.0);
    assert_eq!(svc("epikrise")["availability"], 99.861);
    assert_eq!(svc("henvisning")["availability"], 100.0);

    let (code, csv, _) = mv(&["report", "2026-11", "--scenario", sc, "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(
        csv.contains("\n2026-11,lab,Laboratoriesvar,180.0,99.583,99.7,nei,1,99.583,99.9,nei\n"),
        "{csv}"
    );
    assert!(
        csv.trim_end()
            .ends_with("2026-11,TOTALT,Alle tjenester,360.0,99.833,,,,99.833,,"),
        "{csv}"
    );
    let (code, html, _) = mv(&["report", "2026-11", "--scenario", sc]);
    assert_eq!(code, 0);
    assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"nb\">"));
    assert!(
        html.contains("99,583&nbsp;%") && html.contains("Ikke oppfylt"),
        "{html}"
    );
    // A month that has not begun (the scenario ends in November) is refused.
    let (code, out, err) = mv(&["report", "2027-01", "--scenario", sc]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("2027-01 has not begun"), "{err}");

    // A bad month is refused with a clear message and nothing on stdout.
    let (code, out, err) = mv(&["report", "2026-13", "--scenario", sc]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("\"2026-13\" is not a month: expected YYYY-MM"),
        "{err}"
    );
}

/// The example configuration with `storage` lines added (organizations by absolute path).
fn with_storage(name: &str, storage: &str) -> String {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(repo.join("config/meldingsvakt.toml")).unwrap();
    let orgs = repo.join("config/organizations.d/*.toml");
    tmp(
        name,
        &main.replace(
            "include = [\"organizations.d/*.toml\"]",
            &format!(
                "include = [{:?}]\n\n[storage]\n{storage}\n",
                orgs.to_string_lossy()
            ),
        ),
    )
}

/// `[storage] url` is checked at the door (SPEC §5.7): a password in the URL is refused without
/// being echoed, only PostgreSQL is accepted, PostgreSQL-only keys need the URL, and
/// `check --connect` says when the database cannot be reached (exit 1).
#[test]
fn check_validates_the_postgresql_url_and_connects_on_request() {
    let p = with_storage(
        "pw.toml",
        "url = \"postgresql://meldingsvakt:hunter2@db.example/mv\"",
    );
    let (code, out, err) = mv(&["check", "--config", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("pw.toml:8:7: the URL holds a password") && err.contains("password_file"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password is not echoed: {err}"
    );

    let p = with_storage("mysql.toml", "url = \"mysql://mv@db.example/mv\"");
    let (code, _, err) = mv(&["check", "--config", &p]);
    assert_eq!(code, 2);
    assert!(err.contains("only PostgreSQL is supported"), "{err}");

    let p = with_storage("lease.toml", "lease = \"3s\"");
    let (code, _, err) = mv(&["check", "--config", &p]);
    assert_eq!(code, 2);
    assert!(
        err.contains("lease.toml:8:9: only used with a PostgreSQL `url`"),
        "{err}"
    );

    // Valid, but nothing listens there (a port reserved for this test, so nobody else does).
    let port = support::free_port();
    let pw = tmp("pg-password", "not-used");
    let p = with_storage(
        "closed.toml",
        &format!("url = \"postgresql://meldingsvakt@127.0.0.1:{port}/mv\"\npassword_file = {pw:?}"),
    );
    let (code, out, _) = mv(&["check", "--config", &p]);
    assert_eq!(code, 0, "without --connect the database is not asked");
    assert!(out.contains("OK"));
    let (code, _, err) = mv(&["check", "--config", &p, "--connect"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("postgresql://127.0.0.1/mv: cannot connect"),
        "{err}"
    );

    // The embedded store: the state directory can be written.
    let (code, out, err) = mv(&["check", "--connect"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("embedded SQLite store"), "{out}");
}

/// A reader that went away (`| head`) ends a command quietly: exit 0, no panic, no backtrace.
/// The pipe's read end is closed before the command starts, so every write meets it closed.
#[test]
fn a_closed_stdout_is_a_normal_end() {
    let scenario = "tests/scenarios/friday-kvittering.toml";
    for args in [
        &["calendar", "2027"][..],
        &["render", "followup"],
        &["render", "--scenario", scenario],
        &["simulate", scenario],
        &[
            "report",
            "2026-11",
            "--scenario",
            "tests/scenarios/report-month.toml",
        ],
        &["check"],
        &["--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Started outside a checkout with no configuration anywhere, the daemon and `check` say where
/// they looked and what to do (exit 2); `calendar` still works on the built-in calendar.
#[test]
fn without_a_configuration_the_commands_say_where_they_looked() {
    let dir = std::env::temp_dir().join(format!("mv-cli-noconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if std::path::Path::new("/etc/meldingsvakt/meldingsvakt.toml").exists() {
        eprintln!("SKIPPED: this machine has /etc/meldingsvakt/meldingsvakt.toml");
        return;
    }
    for args in [&["run"][..], &["check"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("looked for config/meldingsvakt.toml")
                && err.contains("/etc/meldingsvakt/meldingsvakt.toml")
                && err.contains("--config FILE"),
            "{args:?}: {err}"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["calendar", "2027"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("Calendar 2027"));
}

/// `check` refuses a personal number anywhere in the configuration (SPEC §4.12) — in
/// `[self] phone`, the first line of every e-mail, and in `[report] recipients` — naming the
/// place and never the number.
#[test]
fn check_refuses_a_personal_number_in_the_configuration() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(repo.join("config/meldingsvakt.toml")).unwrap();
    let orgs = repo.join("config/organizations.d/*.toml");
    let text = main
        .replace(
            "include = [\"organizations.d/*.toml\"]",
            &format!("include = [{:?}]", orgs.to_string_lossy()),
        )
        .replace(
            "phone = \"+47 00 00 00 00\"",
            "phone = \"+47 00 00 00 00 / 130575 00020\"",
        )
        + "\n[report]\nrecipients = [\"driftssenter@hemit.example\", \"13057500020@hemit.example\"]\n";
    let p = tmp("pnr.toml", &text);
    let (code, out, err) = mv(&["check", "--config", &p]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    let hits: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("national identity number"))
        .collect();
    assert_eq!(hits.len(), 2, "{err}");
    assert!(hits.iter().any(|h| h.contains("pnr.toml:13:9:")), "{err}");
    assert!(!err.contains("130575") && !err.contains("00020"), "{err}");
}

/// Issue #32: `simulate` runs a file that is in order while it reads it (`sim/stream.rs`), in
/// chunks of 2,048 events. Past the first chunk: the same events out of order print the same
/// lines; a problem in the last event still prints nothing and says where; and a problem in
/// the file is said before an event the engine refuses earlier, as when the file was read
/// first.
#[test]
fn a_long_scenario_runs_as_it_is_read_and_a_late_problem_still_prints_nothing() {
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meldingsvakt.toml");
    let head = format!(
        "config = {:?}\nstart = \"2026-01-01T00:00:00+01:00\"\nuntil = \"2026-06-01T00:00:00+01:00\"\n",
        cfg.to_string_lossy()
    );
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T01:00:00+01:00").unwrap();
    // Each case past the 2-hour threshold: notices, then their resolved mails.
    let at = |k: i64, min: i64| (t0 + chrono::Duration::minutes(k * 240 + min)).to_rfc3339();
    let mut blocks = Vec::new();
    for k in 0..700i64 {
        blocks.push(format!(
            "[[event]]\nat = \"{}\"\ntype = \"incident.open\"\nid = \"I{k}\"\nkind = \"feil\"\nservices = [\"PLO\"]\ncategory = \"C\"\nstarted_at = \"{}\"\norgs = [\"malvik\", \"orkland\"]\n",
            at(k, 0),
            at(k, 0)
        ));
        blocks.push(format!(
            "[[event]]\nat = \"{}\"\ntype = \"incident.ack\"\nid = \"I{k}\"\n",
            at(k, 10)
        ));
        blocks.push(format!(
            "[[event]]\nat = \"{}\"\ntype = \"incident.resolve\"\nid = \"I{k}\"\n",
            at(k, 180)
        ));
    }
    let file = |name: &str, blocks: &[String]| tmp(name, &format!("{head}\n{}", blocks.join("\n")));

    let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["simulate", &file("long.toml", &blocks)])
        .env("MELDINGSVAKT_LOG", "meldingsvakt=debug")
        .output()
        .unwrap();
    let (in_order, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    // It was run as read, not read first.
    assert!(
        err.contains("simulate: run as read events=2100 read_first=false"),
        "{err}"
    );
    let lines = in_order.lines().count();
    assert!(lines > 2_100, "{lines} lines");

    // A head longer than the piece read for it alone (64 KiB of comment): the whole file is
    // read first, and the run is still run as read, with the same lines.
    let long_head = tmp(
        "long-head.toml",
        &format!(
            "{}{head}\n{}",
            "# kommentar\n".repeat(7_000),
            blocks.join("\n")
        ),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["simulate", &long_head])
        .env("MELDINGSVAKT_LOG", "meldingsvakt=debug")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("run as read events=2100 read_first=false"),
        "{err}"
    );
    assert!(
        o.stdout == in_order.as_bytes(),
        "a long head gave other lines"
    );

    // One event moved to the end (its instant is its own): read first and sorted, same lines.
    let mut moved = blocks.clone();
    let b = moved.remove(4);
    moved.push(b);
    let (code, out, err) = mv(&["simulate", &file("moved.toml", &moved)]);
    assert_eq!(code, 0, "{err}");
    assert!(out == in_order, "out of order gave other lines");

    // A problem in event 2,101, after 2,100 good ones: nothing printed, the place said.
    let mut late = blocks.clone();
    late.push(
        "[[event]]\nat = \"2026-05-31T12:00:00+01:00\"\ntype = \"incident.explode\"\nid = \"X\"\n"
            .into(),
    );
    let refused_only = |name: &str, blocks: &[String], says: &str, not: &str| {
        let (code, out, err) = mv(&["simulate", &file(name, blocks)]);
        assert_eq!((code, out.as_str()), (2, ""), "{err}");
        assert!(err.contains(says) && !err.contains(not), "{err}");
    };
    let explode = "event 2101 (incident.explode): unknown event type";
    refused_only("late.toml", &late, explode, "event 2 ");

    // An event the engine refuses early (event 2 acknowledges an unknown case): said, and
    // nothing printed; with the late problem as well, the problem in the file is said.
    let mut refused = blocks.clone();
    refused.insert(
        1,
        "[[event]]\nat = \"2026-01-01T01:05:00+01:00\"\ntype = \"incident.ack\"\nid = \"UKJENT\"\n"
            .into(),
    );
    let ack = "event 2 (incident.ack)";
    refused_only("refused.toml", &refused, ack, "incident.explode");
    refused.push(late.last().unwrap().clone());
    let explode = explode.replace("2101", "2102");
    refused_only("both.toml", &refused, &explode, ack);

    // stdout a file (`>>`, or at its end): the lines are written straight to it, after what it
    // held; a run the engine refuses at its last event, after 2,100 good ones, leaves the file
    // as it was.
    let out_file = std::path::PathBuf::from(tmp("out.jsonl", "før\n"));
    let to_file = |path: &std::path::Path, scenario: &str, append: bool| {
        use std::io::Seek;
        let mut f = std::fs::OpenOptions::new()
            .append(append)
            .write(!append)
            .open(path)
            .unwrap();
        f.seek(std::io::SeekFrom::End(0)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(["simulate", scenario])
            .stdout(f)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let to = |path: &std::path::Path, scenario: &str| to_file(path, scenario, true);
    let (code, err) = to(&out_file, &file("long.toml", &blocks));
    assert_eq!(code, Some(0), "{err}");
    let held = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        held == format!("før\n{in_order}"),
        "the file's lines differ"
    );
    let mut late_refused = blocks.clone();
    late_refused.push(
        "[[event]]\nat = \"2026-05-31T12:00:00+01:00\"\ntype = \"incident.ack\"\nid = \"UKJENT\"\n"
            .into(),
    );
    let late_refused = file("late-refused.toml", &late_refused);
    let (code, err) = to(&out_file, &late_refused);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("event 2101 (incident.ack)"), "{err}");
    assert!(
        std::fs::read_to_string(&out_file).unwrap() == held,
        "the refused run left lines"
    );
    let (code, err) = to_file(&out_file, &late_refused, false);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        std::fs::read_to_string(&out_file).unwrap() == held,
        "the refused run left lines"
    );
    // stdout /dev/null: the same exit codes and messages.
    let null = std::path::Path::new("/dev/null");
    assert_eq!(to(null, &file("long.toml", &blocks)).0, Some(0));
    let (code, err) = to(null, &late_refused);
    assert!(
        code == Some(2) && err.contains("event 2101 (incident.ack)"),
        "{err}"
    );
}
