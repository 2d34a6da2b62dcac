//! Two hosts sharing one real PostgreSQL (SPEC §5.7): the leader killed in the middle of a
//! 65-organization fan-out, a soak of 50 leader kills while alerts stream to both hosts, a
//! leader paused past its lease, PostgreSQL restarted under load, and the epoch fence itself.
//! Each test has its own PostgreSQL cluster (`pg::Pg`); they run one at a time, since their
//! timings are what they measure.

#[path = "../support/mod.rs"]
mod support;

mod pg;

use pg::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use support::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every mail both hosts' SMTP servers received.
fn all_mails(hosts: &[&Host]) -> Vec<Mail> {
    hosts
        .iter()
        .flat_map(|h| read_mails(&h.maildir()))
        .collect()
}

/// Copies of one message (same recipient and subject) must share their Message-ID; returns
/// the number of distinct messages.
fn assert_dupes_share_message_id(mails: &[Mail]) -> usize {
    let mut ids: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for m in mails {
        ids.entry((
            m.headers["to"].clone(),
            m.headers["subject"].clone(),
            m.body.clone(),
        ))
        .or_default()
        .insert(m.headers["message-id"].clone());
    }
    for ((to, subject, _), set) in &ids {
        assert_eq!(
            set.len(),
            1,
            "{to} got {subject:?} with different Message-IDs: {set:?}"
        );
    }
    ids.len()
}

/// The fingerprints of every alert in the log.
fn logged_fingerprints(pg: &Pg) -> String {
    pg.sql("SELECT string_agg(body, E'\\n') FROM event WHERE type = 'alert'")
}

/// Each alerted organization has exactly one incident from its alerts, however many copies of
/// them arrived (each alert went to both hosts).
fn assert_one_alert_incident_per_org(pg: &Pg, alerted: &BTreeSet<String>) {
    for org in alerted {
        let n = pg.sql(&format!(
            "SELECT COUNT(DISTINCT body) FROM event WHERE type = 'incident.open' AND body LIKE '%\"at_org\":\"{org}\"%'"
        ));
        assert!(
            n == "0" || n == "1",
            "{org}: {n} incidents opened from its alerts"
        );
    }
}

/// Wait until every accepted operator incident's notice reached its organization.
fn wait_notices(hosts: &[&Host], incidents: &[(String, String)], secs: u64) {
    until("the notice of every accepted incident", secs, &mut || {
        let mails = all_mails(hosts);
        incidents.iter().all(|(id, addr)| {
            mails
                .iter()
                .any(|m| &m.headers["to"] == addr && m.body.contains(&format!("Prøve {id}")))
        })
    });
}

/// The municipalities of the example configuration (their meldingsansvarlig addresses).
fn municipalities() -> Vec<(String, String)> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = meldingsvakt::config::Config::load(&repo.join("config/meldingsvakt.toml"))
        .expect("the example configuration loads");
    cfg.orgs
        .iter()
        .filter(|o| o.kind == meldingsvakt::config::OrgKind::Kommune)
        .map(|o| (o.id.clone(), o.meldingsansvarlig.clone()))
        .collect()
}

/// Start `a` and wait until it leads, then `b` until it stands by.
fn lead_and_stand_by(a: &mut Host, b: &mut Host) {
    a.start();
    until("a to lead", 15, &mut || a.role() == "leader");
    b.start();
    until("b to stand by", 15, &mut || b.role() == "standby");
}

/// Two hosts of a new cluster `name`, both with `console` added to their configuration: a
/// leading, b standing by.
fn console_hosts(name: &str, console: &str) -> (Pg, Host, Host) {
    let pg = Pg::start(name);
    let mut a = Host::new(&pg, "a", "2s");
    let mut b = Host::new(&pg, "b", "2s");
    for h in [&a, &b] {
        let cfg = h.dir.join("meldingsvakt.toml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, format!("{text}\n{console}")).unwrap();
    }
    lead_and_stand_by(&mut a, &mut b);
    (pg, a, b)
}

/// The epoch fence at the store: once a newer leader raised the epoch, the old leader's
/// commits, claims and marks are refused and change nothing.
#[test]
fn a_stale_leaders_writes_are_refused_by_the_epoch_fence() {
    let _one = serial();
    use meldingsvakt::store::{EventLog, NewEvent, NewRow, Outbox, Store};
    let pg = Pg::start("fence");
    let settings = meldingsvakt::store::postgres::Settings {
        url: pg.url(),
        password: Some(meldingsvakt::config::Secret::File(pg.dir.join("pw"))),
        advertise: "http://127.0.0.1:1".into(),
        lease: chrono::Duration::seconds(5),
    };
    let epoch = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut store =
        meldingsvakt::store::postgres::PgStore::open(&settings, Arc::clone(&epoch)).unwrap();
    let now = chrono::Utc::now();
    let ev = || {
        NewEvent::api(
            now,
            "inquiry.received",
            r#"{"id":"Q1","org":"malvik","subject":"Mangler svar"}"#,
        )
        .unwrap()
    };
    // Without an epoch nothing is written.
    assert!(matches!(
        store.commit(&[ev()], &[]),
        Err(meldingsvakt::store::StoreError::Fenced { mine: 0, .. })
    ));
    pg.sql("UPDATE leader SET epoch = 7");
    epoch.store(7, Ordering::SeqCst);
    store.commit(&[ev()], &[]).unwrap();
    assert_eq!(
        pg.sql("SELECT epoch FROM event"),
        "7",
        "stamped with the epoch"
    );
    // A newer leader takes over.
    pg.sql("UPDATE leader SET epoch = 8");
    let refused = store.commit(&[ev()], &[]);
    assert!(
        matches!(
            refused,
            Err(meldingsvakt::store::StoreError::Fenced {
                mine: 7,
                current: 8
            })
        ),
        "{refused:?}"
    );
    assert!(store
        .claim(now, 10, &|_| chrono::Duration::seconds(5))
        .is_err());
    assert!(store.mark_many(now, &[("x".into(), Ok(()))]).is_err());
    assert!(store.save_snapshot(1, now, "{}").is_err());
    assert_eq!(store.events().unwrap().len(), 1, "nothing more was written");
    let _ = NewRow::own_all(&[]);
}

/// The leader dies (`kill -9`) in the middle of a fan-out to the 65 municipalities: the
/// standby leads within 15 s, every notice arrives, and a notice sent twice (the old leader
/// sent it but could not mark it) carries the same Message-ID.
///
/// "In the middle" is made certain, not hoped for: the leader's SMTP server answers 9
/// messages and holds the 10th (and every later one) unanswered, and the leader is killed
/// while the server holds it. However fast the fan-out, it cannot have finished.
#[test]
fn leader_killed_mid_fanout_standby_sends_the_rest() {
    let _one = serial();
    let pg = Pg::start("fanout");
    let mut a = Host::holding(&pg, "a", "2s", 10);
    let mut b = Host::new(&pg, "b", "2s");
    lead_and_stand_by(&mut a, &mut b);
    let alert = long_alert("HaFanout");
    let token = token_of(&pg, "alert-token");
    // Alertmanager in HA sends each alert to both hosts.
    let (ca, body) = a.post("/api/v1/alerts", &token, &alert);
    assert_eq!(ca, 200, "{body}");
    let (cb, body) = b.post("/api/v1/alerts", &token, &alert);
    assert_eq!(cb, 200, "the standby forwards to the leader: {body}");
    let answered = a.hold.as_ref().unwrap().wait_held(30);
    a.kill9();
    let killed = Instant::now();
    let before = read_mails(&a.maildir()).len();
    assert_eq!(before, answered, "a's server stored what it answered");
    assert!(
        before < kommuner(),
        "the fan-out finished before the kill ({before}); the test proves nothing"
    );
    until("b to lead", 15, &mut || b.role() == "leader");
    let failover = killed.elapsed();
    eprintln!(
        "killed with {before} of {} delivered; b leads after {failover:?}",
        kommuner()
    );
    assert!(failover < Duration::from_secs(15));
    until("all 65 municipalities", 60, &mut || {
        let m = all_mails(&[&a, &b]);
        m.iter()
            .map(|m| m.headers["to"].clone())
            .collect::<BTreeSet<_>>()
            .len()
            >= kommuner()
    });
    // Every notice is marked sent, so no further copy can come; the killed leader's held
    // messages reach nobody (their client was gone at the release).
    until("every notice marked sent", 30, &mut || {
        pg.sql("SELECT COUNT(*) FROM outbox WHERE key LIKE '%/unplanned/%' AND done_at IS NULL")
            == "0"
    });
    a.hold.as_ref().unwrap().release();
    let mails = all_mails(&[&a, &b]);
    assert_eq!(
        assert_dupes_share_message_id(&mails),
        kommuner(),
        "one notice per municipality"
    );
    assert!(
        read_mails(&b.maildir()).len() >= kommuner() - before,
        "the new leader sent the rest"
    );
    // The second copy of the alert (forwarded by b) opened nothing new.
    let incidents = pg.sql("SELECT COUNT(DISTINCT key) FROM outbox WHERE key LIKE '%/unplanned/%'");
    assert_eq!(incidents, kommuner().to_string());
}

/// SIGTERM stops a PostgreSQL-mode daemon cleanly (exit 0), ten times over: as standby, as
/// leader, and as a standby in the middle of an election (the leader just killed). Before,
/// dropping the blocking PostgreSQL client inside the async runtime panicked (exit 101), and
/// systemd marked the unit failed on every stop.
#[test]
fn sigterm_exits_0_as_leader_as_standby_and_during_an_election() {
    let _one = serial();
    let pg = Pg::start("term");
    let mut a = Host::new(&pg, "a", "2s");
    let mut b = Host::new(&pg, "b", "2s");
    lead_and_stand_by(&mut a, &mut b);
    for round in 0..10 {
        let (leader, standby) = if a.role() == "leader" {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        match round % 3 {
            0 => {
                assert_eq!(
                    standby.term(),
                    Some(0),
                    "round {round}: standby\n{}",
                    standby.log()
                );
                standby.start();
                until("the standby back", 15, &mut || standby.role() == "standby");
            }
            1 => {
                assert_eq!(
                    leader.term(),
                    Some(0),
                    "round {round}: leader\n{}",
                    leader.log()
                );
                until("the standby to lead", 15, &mut || {
                    standby.role() == "leader"
                });
                leader.start();
                until("the old leader to stand by", 15, &mut || {
                    leader.role() == "standby"
                });
            }
            _ => {
                // The leader dies; the standby is stopped while it may be taking over.
                leader.kill9();
                assert_eq!(
                    standby.term(),
                    Some(0),
                    "round {round}: election\n{}",
                    standby.log()
                );
                leader.start();
                until("a leader again", 15, &mut || leader.role() == "leader");
                standby.start();
                until("a standby again", 15, &mut || standby.role() == "standby");
            }
        }
    }
    for h in [&a, &b] {
        assert!(!h.log().contains("panicked"), "{}", h.log());
    }
}

/// The console's SSO user header is judged by the peer that sent it, on the standby exactly as
/// on the leader: from an address that is not a trusted proxy it gets 403 on both, even with a
/// valid session cookie (the standby used to drop the header and forward the request, which
/// the leader then applied on the cookie).
#[test]
fn a_standby_refuses_an_sso_header_from_an_untrusted_peer_like_the_leader() {
    let _one = serial();
    let (pg, a, b) = console_hosts(
        "sso",
        "[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_proxies = [\"192.0.2.1\"]\n",
    );
    let op = token_of(&pg, "operator-token");
    // One cookie jar, two hosts: a valid session, signed in with the token (on the leader).
    let jar = pg.dir.join("cookies");
    let (on_a, on_b) = (
        Browser {
            jar: jar.clone(),
            port: a.http,
        },
        Browser { jar, port: b.http },
    );
    let (code, _) = on_a.post("/ops/login", &[("token", &op), ("name", "Kari Nordmann")]);
    assert_eq!(code, 303);
    let csrf = on_a.csrf();
    let data = format!("ty=incident.ack&id=NONE&step=send&csrf={csrf}");
    // Without the header, the session works on both hosts (the case is unknown: 404).
    let act = |host: &Browser, args: &[&str]| host.request("/ops/act", args).0;
    let plain = ["--data", data.as_str()];
    assert_eq!(act(&on_a, &plain), 404);
    assert_eq!(act(&on_b, &plain), 404);
    let form = ["-H", "X-Remote-User: Mallory", "--data", data.as_str()];
    assert_eq!(
        act(&on_a, &form),
        403,
        "the leader refuses the forged header"
    );
    assert_eq!(
        act(&on_b, &form),
        403,
        "the standby refuses it the same way"
    );
}

/// Signing in through the SSO proxy on the standby (SPEC §5.7, §5.10): the sign-in is the
/// leader's to audit, so the standby judges the proxy's address, seals what the proxy said and
/// forwards the request; the person lands in the console with the role their groups give, the
/// sign-in is in the audit log once, and a token made and a sign-out through the standby are
/// audited too. A client cannot bring its own seal.
#[test]
fn sso_sign_in_on_the_standby_is_audited_by_the_leader() {
    let _one = serial();
    let (pg, a, b) = console_hosts(
        "sso-standby",
        "[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\nviewer = [\"les\"]\nadmin = [\"admin\"]\n",
    );
    let jar = pg.dir.join("jar-standby");
    let j = jar.to_str().unwrap();
    let on_b = |args: &[&str], path: &str| {
        curl(
            &[
                &[
                    "--interface",
                    "127.0.0.2",
                    "-b",
                    j,
                    "-c",
                    j,
                    "-H",
                    "X-Remote-User: Ada Admin",
                    "-H",
                    "X-Remote-Groups: admin",
                ],
                args,
                &[&format!("http://127.0.0.1:{}{path}", b.http)],
            ]
            .concat(),
        )
    };
    let (code, page) = on_b(&[], "/ops/");
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("Innlogget: Ada Admin (administrator)"),
        "{page}"
    );
    // Again with the session: no second sign-in.
    let (code, _) = on_b(&[], "/ops/tokens");
    assert_eq!(code, 200);
    let signed = pg.sql("SELECT who || ' ' || role FROM audit WHERE what = 'sign_in'");
    assert_eq!(signed, "Ada Admin admin");
    // A token made on the standby (a forwarded write) and a sign-out, both audited.
    let b_browser = Browser {
        jar: jar.clone(),
        port: b.http,
    };
    let csrf = b_browser.csrf();
    let (code, page) = on_b(
        &["--data", &format!("csrf={csrf}&label=vakt")],
        "/ops/tokens",
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("mvt_"), "{page}");
    let (code, _) = curl(&[
        "-b",
        j,
        "-c",
        j,
        "--data",
        &format!("csrf={csrf}"),
        &format!("http://127.0.0.1:{}/ops/logout", b.http),
    ]);
    assert_eq!(code, 303);
    let acts = pg.sql("SELECT what FROM audit WHERE who = 'Ada Admin' ORDER BY seq");
    assert_eq!(
        acts.lines().collect::<Vec<_>>(),
        ["sign_in", "token.create", "sign_out"],
        "{acts}"
    );
    // A seal a client brought itself is not believed: the leader does not sign anyone in.
    let (code, _) = curl(&[
        "-H",
        "X-Meldingsvakt-Vouched: 9999999999.4d616c6c6f7279.61646d696e.00",
        &format!("http://127.0.0.1:{}/ops/", a.http),
    ]);
    assert_eq!(code, 303, "sent to sign in");
}

/// A leader paused (`SIGSTOP`) past its lease is replaced; when it wakes (`SIGCONT`) it
/// sends nothing more, says `standby`, and the new leader's work is not repeated.
#[test]
fn paused_leader_sends_nothing_after_it_was_replaced() {
    let _one = serial();
    let pg = Pg::start("pause");
    let mut a = Host::new(&pg, "a", "2s");
    let mut b = Host::new(&pg, "b", "2s");
    lead_and_stand_by(&mut a, &mut b);
    let token = token_of(&pg, "alert-token");
    let (code, body) = b.post("/api/v1/alerts", &token, &long_alert("HaPause"));
    assert_eq!(code, 200, "{body}");
    until("the first notice", 20, &mut || {
        !read_mails(&a.maildir()).is_empty()
    });
    unsafe_signal(a.pid(), "STOP");
    let stopped = Instant::now();
    let took_over = until("b to lead", 15, &mut || b.role() == "leader");
    eprintln!("paused leader replaced after {took_over:?}");
    assert!(
        stopped.elapsed() >= Duration::from_millis(1200),
        "b led before a's lease could have run out"
    );
    // More work for the new leader while the old one sleeps.
    let (code, body) = b.post(
        "/api/v1/alerts",
        &token,
        &org_alert("malvik", "HaPauseMalvik"),
    );
    assert_eq!(code, 200, "{body}");
    until("all 65 municipalities", 30, &mut || {
        all_mails(&[&a, &b])
            .iter()
            .map(|m| m.headers["to"].clone())
            .collect::<BTreeSet<_>>()
            .len()
            >= kommuner()
    });
    std::thread::sleep(Duration::from_secs(3));
    let woke = SystemTime::now();
    unsafe_signal(a.pid(), "CONT");
    until("a to say standby", 10, &mut || a.role() == "standby");
    std::thread::sleep(Duration::from_secs(4));
    // An exchange begun before the pause may finish after it; none may begin after.
    let woke = woke
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for m in read_mails(&a.maildir()) {
        let began: f64 = m.headers["x-mail-from-at"].parse().unwrap();
        assert!(
            began < woke,
            "the paused leader began sending {:?} to {} after it woke",
            m.headers["subject"],
            m.headers["to"]
        );
    }
    until("a to say it stepped down", 30, &mut || {
        a.log().contains("stepping down")
    });
    assert_dupes_share_message_id(&all_mails(&[&a, &b]));
}

/// Alerts stream to both hosts (as from an Alertmanager HA pair) while the leader is killed
/// 50 times at random moments and restarted: every alert answered 200 is in the log, every
/// organization with an accepted alert got its notice, and no two copies of a notice differ in
/// Message-ID.
#[test]
fn soak_fifty_leader_kills_while_alerts_stream_in() {
    let _one = serial();
    let kills: usize = std::env::var("HA_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let pg = Pg::start("soak");
    let mut hosts = [Host::new(&pg, "a", "2s"), Host::new(&pg, "b", "2s")];
    hosts[0].start();
    until("a to lead", 15, &mut || hosts[0].role() == "leader");
    hosts[1].start();
    let orgs = municipalities();
    let token = token_of(&pg, "alert-token");
    let ports: Vec<u16> = hosts.iter().map(|h| h.http).collect();
    let stop = Arc::new(AtomicBool::new(false));
    // (fingerprint, org) of accepted alerts; (incident id, address) of accepted incidents.
    type Accepted = (Vec<(String, String)>, Vec<(String, String)>);
    let accepted: Arc<Mutex<Accepted>> = Arc::default();
    let op = token_of(&pg, "operator-token");
    let streamer = {
        let (stop, accepted, orgs, token) = (
            Arc::clone(&stop),
            Arc::clone(&accepted),
            orgs.clone(),
            token.clone(),
        );
        std::thread::spawn(move || {
            let mut i = 0usize;
            let mut refused = 0usize;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let (org, addr) = &orgs[i % orgs.len()];
                let fp = format!("soak-{i}");
                let body = org_alert(org, &fp);
                let mut ok = false;
                for port in &ports {
                    ok |= post_to(*port, "/api/v1/alerts", &token, &body) == 200;
                }
                let id = format!("SOAK-{i}");
                let port = ports[i % 2];
                let opened =
                    post_to(port, "/api/v1/incidents", &op, &incident_for(&id, org)) == 201;
                let mut acc = accepted.lock().unwrap();
                if ok {
                    acc.0.push((fp, org.clone()));
                } else {
                    refused += 1;
                }
                if opened {
                    acc.1.push((id, addr.clone()));
                } else {
                    refused += 1;
                }
            }
            refused
        })
    };
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("random seed {seed}");
    let mut rng = Rng(seed);
    let mut failovers = Vec::new();
    for k in 0..kills {
        std::thread::sleep(Duration::from_millis(200 + rng.below(1300)));
        let Some(i) = (0..2).find(|&i| hosts[i].role() == "leader") else {
            until("a leader", 15, &mut || {
                hosts.iter().any(|h| h.role() == "leader")
            });
            continue;
        };
        hosts[i].kill9();
        let t = Instant::now();
        let other = &hosts[1 - i];
        until(
            &format!("the standby to lead after kill {k}"),
            15,
            &mut || other.role() == "leader",
        );
        failovers.push(t.elapsed());
        hosts[i].start();
    }
    stop.store(true, Ordering::SeqCst);
    let refused = streamer.join().unwrap();
    let (alerts, incidents) = accepted.lock().unwrap().clone();
    failovers.sort();
    eprintln!(
        "{} kills; failover median {:?}, max {:?}; {} alerts and {} incidents accepted, {} requests refused while no host could take them",
        failovers.len(),
        failovers[failovers.len() / 2],
        failovers.last().unwrap(),
        alerts.len(),
        incidents.len(),
        refused
    );
    assert!(
        failovers.len() >= kills * 9 / 10,
        "the leader was found and killed"
    );
    assert!(*failovers.last().unwrap() < Duration::from_secs(15));
    assert!(
        alerts.len() > kills && incidents.len() > kills,
        "requests were accepted throughout"
    );
    // Zero accepted alerts lost: each one answered 200 is in the log, and applied once.
    let logged = logged_fingerprints(&pg);
    let lost: Vec<&String> = alerts
        .iter()
        .map(|(fp, _)| fp)
        .filter(|fp| !logged.contains(&format!("\"fingerprint\":\"{fp}\"")))
        .collect();
    assert!(
        lost.is_empty(),
        "accepted alerts missing from the log: {lost:?}"
    );
    assert_one_alert_incident_per_org(&pg, &alerts.iter().map(|(_, o)| o.clone()).collect());
    // Zero notices lost, and copies share their Message-ID.
    let refs: Vec<&Host> = hosts.iter().collect();
    wait_notices(&refs, &incidents, 90);
    std::thread::sleep(Duration::from_secs(2));
    let n = assert_dupes_share_message_id(&all_mails(&refs));
    eprintln!("{n} distinct messages; every accepted incident's notice arrived");
}

/// PostgreSQL restarted (fast shutdown) while alerts stream in: both daemons recover by
/// themselves, one leads, and nothing answered 200 is lost. PostgreSQL stays down until the
/// daemons have refused a request, so the restart is certainly felt, however the scheduler
/// spreads the requests.
#[test]
fn postgresql_restart_under_load_loses_no_accepted_request() {
    let _one = serial();
    let mut pg = Pg::start("restart");
    let mut a = Host::new(&pg, "a", "2s");
    let mut b = Host::new(&pg, "b", "2s");
    a.start();
    until("a to lead", 15, &mut || a.role() == "leader");
    b.start();
    let token = token_of(&pg, "alert-token");
    let op = token_of(&pg, "operator-token");
    let orgs = municipalities();
    let (mut alerts, mut incidents) = (Vec::new(), Vec::new());
    let mut refused = 0;
    let mut i = 0;
    // Before (20 rounds), during (until a refusal), after (until a leader, then 20 rounds).
    let mut phase = 0;
    let mut after = 0;
    let t = Instant::now();
    while phase < 3 {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "the restart story did not finish (phase {phase})"
        );
        i += 1;
        let (org, addr) = &orgs[i % orgs.len()];
        let fp = format!("restart-{i}");
        let host = if i % 2 == 0 { &a } else { &b };
        let mut ok_round = true;
        if host.post("/api/v1/alerts", &token, &org_alert(org, &fp)).0 == 200 {
            alerts.push((fp, org.clone()));
        } else {
            refused += 1;
            ok_round = false;
        }
        let id = format!("RESTART-{i}");
        if post_to(host.http, "/api/v1/incidents", &op, &incident_for(&id, org)) == 201 {
            incidents.push((id, addr.clone()));
        } else {
            refused += 1;
            ok_round = false;
        }
        match phase {
            0 if i >= 20 => {
                pg.stop();
                phase = 1;
            }
            1 if refused > 0 => {
                pg.spawn();
                phase = 2;
            }
            2 if ok_round => {
                after += 1;
                if after >= 20 {
                    phase = 3;
                }
            }
            _ => {}
        }
    }
    eprintln!(
        "{} alerts and {} incidents accepted, {refused} requests refused during the restart",
        alerts.len(),
        incidents.len()
    );
    until("a leader after the restart", 20, &mut || {
        a.role() == "leader" || b.role() == "leader"
    });
    let logged = logged_fingerprints(&pg);
    for (fp, _) in &alerts {
        assert!(
            logged.contains(&format!("\"fingerprint\":\"{fp}\"")),
            "accepted alert {fp} is not in the log"
        );
    }
    assert_one_alert_incident_per_org(&pg, &alerts.iter().map(|(_, o)| o.clone()).collect());
    wait_notices(&[&a, &b], &incidents, 60);
    assert_dupes_share_message_id(&all_mails(&[&a, &b]));
    // The hosts still answer: a write through either is applied.
    let (code, body) = b.post(
        "/api/v1/alerts",
        &token,
        &org_alert("malvik", "after-restart"),
    );
    assert_eq!(code, 200, "{body}");
}

/// POST with a bearer token; the status (0: no answer).
fn post_to(port: u16, path: &str, token: &str, body: &str) -> u16 {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-H", "Content-Type: application/json"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .args(["--data-binary", body])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

/// The audit log on two hosts (SPEC §5.10, issue #29): operators' acts stream to both hosts
/// (the standby forwards them), the leader is killed with -9 while they do, the standby takes
/// over, and the acts go on. Only the leader appends, fenced like every write: the chain in
/// PostgreSQL verifies with `meldingsvakt audit verify`, has every accepted act once, and no
/// act twice. Where in the burst the kill lands does not matter to what is asserted.
#[test]
fn leader_killed_mid_burst_of_audited_acts_leaves_a_chain_that_verifies() {
    let _one = serial();
    let pg = Pg::start("audit");
    let mut a = Host::new(&pg, "a", "2s");
    let mut b = Host::new(&pg, "b", "2s");
    lead_and_stand_by(&mut a, &mut b);
    let op = token_of(&pg, "operator-token");
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let burst = {
        let (stop, accepted, op) = (Arc::clone(&stop), Arc::clone(&accepted), op.clone());
        let ports = [a.http, b.http];
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let id = format!("INC-AU-{i}");
                let body =
                    format!(r#"{{"id":"{id}","services":["PLO"],"category":"C","by":"Vakt {i}"}}"#);
                // Alternate the hosts; after the kill, only the survivor answers.
                let code = post_to(ports[i % 2], "/api/v1/incidents", &op, &body);
                let code = if code == 201 {
                    code
                } else {
                    post_to(ports[(i + 1) % 2], "/api/v1/incidents", &op, &body)
                };
                if code == 201 {
                    accepted.lock().unwrap().push(id);
                }
                i += 1;
            }
        })
    };
    // The kill comes when the burst is well under way.
    until("20 acts accepted", 60, &mut || {
        accepted.lock().unwrap().len() >= 20
    });
    a.kill9();
    until("b to lead", 15, &mut || b.role() == "leader");
    let at_kill = accepted.lock().unwrap().len();
    until("20 more acts after the kill", 60, &mut || {
        accepted.lock().unwrap().len() >= at_kill + 20
    });
    stop.store(true, Ordering::SeqCst);
    burst.join().unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["audit", "verify", "--config"])
        .arg(b.dir.join("meldingsvakt.toml"))
        .current_dir(&b.dir)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    // Every accepted act is in the chain once; none is in it twice (a request the kill cut
    // off may be in it without its answer having arrived: at most the attempts).
    let opened = pg.sql("SELECT object FROM audit WHERE what = 'incident.open' ORDER BY seq");
    let objects: Vec<&str> = opened.lines().collect();
    let unique: BTreeSet<&str> = objects.iter().copied().collect();
    assert_eq!(
        unique.len(),
        objects.len(),
        "an act audited twice: {opened}"
    );
    for id in accepted.lock().unwrap().iter() {
        assert!(
            unique.contains(id.as_str()),
            "{id} was accepted but is not audited"
        );
    }
    // Both leaders wrote: entries under two epochs, one chain.
    let epochs = pg.sql("SELECT COUNT(DISTINCT epoch) FROM audit");
    assert_eq!(epochs, "2", "{said}");
    let seqs = pg.sql("SELECT MIN(seq) || ' ' || MAX(seq) || ' ' || COUNT(*) FROM audit");
    let v: Vec<i64> = seqs.split(' ').map(|x| x.parse().unwrap()).collect();
    assert_eq!(
        (v[0], v[1]),
        (1, v[2]),
        "numbered 1..n without gaps: {seqs}"
    );
}

/// An organization's own page on two hosts (SPEC §4.16, §5.7): an admin on the leader asks
/// Malvik to confirm now; the link in the leader's mail opens on the standby, which reads the
/// shared key and its own copy of the directory; Malvik's answer there is forwarded to the
/// leader and recorded once; a replay of it through either host changes nothing.
#[test]
fn the_contact_page_answers_on_the_standby_and_the_answer_is_the_leaders() {
    let _one = serial();
    let (pg, a, b) = console_hosts(
        "kontakt",
        "[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\nadmin = [\"admin\"]\n",
    );
    let jar = pg.dir.join("jar-kontakt");
    let ada = |args: &[&str], path: &str| {
        curl(
            &[
                &[
                    "--interface",
                    "127.0.0.2",
                    "-b",
                    jar.to_str().unwrap(),
                    "-c",
                    jar.to_str().unwrap(),
                    "-H",
                    "X-Remote-User: Ada Admin",
                    "-H",
                    "X-Remote-Groups: admin",
                ],
                args,
                &[&format!("http://127.0.0.1:{}{path}", a.http)],
            ]
            .concat(),
        )
    };
    let (code, page) = ada(&[], "/ops/directory");
    assert_eq!(code, 200, "{page}");
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..].split('"').next().unwrap().to_string();
    let (code, _) = ada(
        &["--data", &format!("csrf={csrf}&org=malvik&step=ask")],
        "/ops/directory",
    );
    assert_eq!(code, 303);
    let subject = "Bekreft kontaktinformasjon for meldingsutveksling";
    let mut mail = None;
    until("Malvik's request", 30, &mut || {
        mail = all_mails(&[&a])
            .into_iter()
            .find(|m| m.headers["subject"] == subject);
        mail.is_some()
    });
    let body = mail.unwrap().body;
    let i = body.find("/kontakt/").unwrap();
    let token: String = body[i + 9..].split_whitespace().next().unwrap().to_string();
    let on = |host: &Host, args: &[&str]| {
        curl(
            &[
                args,
                &[&format!("http://127.0.0.1:{}/kontakt/{token}", host.http)],
            ]
            .concat(),
        )
    };
    // The standby follows the log about once a second: its copy has the round soon.
    until("the page on the standby", 15, &mut || {
        let (code, page) = on(&b, &[]);
        code == 200 && page.contains("Malvik kommune")
    });
    let (code, _) = on(&b, &["--data", "action=confirm"]);
    assert_eq!(code, 303, "answered through the standby");
    let confirmed = pg.sql("SELECT count(*) FROM audit WHERE what = 'directory.confirm'");
    assert_eq!(confirmed.trim(), "1");
    let origin = pg.sql("SELECT origin FROM event WHERE type = 'directory.confirm'");
    assert_eq!(origin.trim(), "directory");
    // The same answer again, through either host: refused, nothing recorded.
    for h in [&a, &b] {
        let (code, _) = on(h, &["--data", "action=confirm"]);
        assert_eq!(code, 422);
    }
    assert_eq!(
        pg.sql("SELECT count(*) FROM audit WHERE what = 'directory.confirm'")
            .trim(),
        "1"
    );
}

#[test]
fn a_subscriber_subscribes_confirms_and_unsubscribes_through_the_standby() {
    let _one = serial();
    let (pg, a, b) = console_hosts("subscribers", "");
    let on = |host: &Host, path: &str, args: &[&str]| {
        curl(&[args, &[&format!("http://127.0.0.1:{}{path}", host.http)]].concat())
    };
    let (code, page) = on(
        &b,
        "/abonner",
        &["--data", "address=Legekontor@Hitra.example&service=PLO"],
    );
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        pg.sql("SELECT address FROM subscriber").trim(),
        "legekontor@hitra.example"
    );
    let subject = "Bekreft abonnement på driftsmeldinger fra Hemit HF";
    let mut mail = None;
    until("the confirmation mail", 30, &mut || {
        mail = all_mails(&[&a, &b])
            .into_iter()
            .find(|m| m.headers["subject"] == subject);
        mail.is_some()
    });
    let body = mail.unwrap().body;
    let i = body.find("/abonner/").unwrap();
    let path: String = body[i..].split_whitespace().next().unwrap().to_string();
    until("the link on the standby", 15, &mut || {
        let (code, page) = on(&b, &path, &[]);
        code == 200 && page.contains("Bekreft abonnementet")
    });
    let (code, _) = on(&b, &path, &["--data", "action=confirm"]);
    assert_eq!(code, 303, "confirmed through the standby");
    assert_eq!(
        pg.sql("SELECT count(*) FROM audit WHERE what = 'subscriber.confirm'")
            .trim(),
        "1"
    );
    // A post on PLO reaches it from the leader, with its one-click link.
    let op = token_of(&pg, "operator-token");
    let (code, body) = a.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-HA-S","services":["PLO"],"category":"A"}"#,
    );
    assert_eq!(code, 201, "{body}");
    let mut post = None;
    until("the post to the subscriber", 30, &mut || {
        post = all_mails(&[&a, &b]).into_iter().find(|m| {
            m.headers["to"] == "legekontor@hitra.example"
                && m.headers["subject"].starts_with("Driftsmelding")
        });
        post.is_some()
    });
    let unsub = post.unwrap().headers["list-unsubscribe"]
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let i = unsub.find("/abonner/").unwrap();
    let (code, _) = on(&b, &unsub[i..], &["--data", "List-Unsubscribe=One-Click"]);
    assert_eq!(code, 200);
    assert_eq!(pg.sql("SELECT count(*) FROM subscriber").trim(), "0");
    assert_eq!(pg.sql("SELECT count(*) FROM subscriber_mail").trim(), "0");
}
