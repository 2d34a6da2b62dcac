//! The watched mailbox through Dovecot: replies, inquiries, a restart, IDLE.

#![cfg(feature = "test-clock")]

use crate::harness::*;
use crate::support::*;
use std::time::{Duration, Instant};

#[test]
fn mailbox_replies_and_inquiries_through_dovecot_across_a_restart() {
    use meldingsvakt::calendar::Calendar;
    let env = Env::new("imap");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let imap_port = free_port();
    let dvdir = env.dir.join("dovecot");
    let mut dv = dovecot(&dvdir, imap_port);
    env.with_imap(imap_port, "300ms");
    let (_d, clock) = env.daemon_with_clock("");
    let op = env.token("operator-token");
    let log = || std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    let parse = utc;
    let cal = Calendar::default();
    let set_clock = |at: chrono::DateTime<chrono::Utc>| {
        std::fs::write(
            &clock,
            ((at - chrono::Utc::now()).num_seconds() + 2).to_string(),
        )
        .unwrap()
    };
    let incident = || -> serde_json::Value {
        serde_json::from_str(&get(env.http, "/api/v1/incidents/INC-M", &op)).unwrap()
    };

    // The inquiry to Malvik goes out.
    let (code, _) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-M","kind":"kvittering","at_org":"malvik","services":["PLO"],"category":"C"}"#,
    );
    assert_eq!(code, 201);
    set_clock(cal.add_business(
        parse(&incident()["detected_at"]),
        chrono::Duration::hours(2),
    ));
    wait_for("the inquiry", &|| {
        read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"] == "Manglende kvittering")
    });
    let ours = read_mails(&env.maildir())
        .into_iter()
        .find(|m| m.headers["subject"] == "Manglende kvittering")
        .unwrap()
        .headers["message-id"]
        .clone();

    // An auto-reply to it is not a reply.
    imap_append(imap_port, "INBOX", &format!("From: meldingsansvarlig@malvik.kommune.example\nTo: meldingsansvarlig@helse-midt.example\nSubject: Fravær: Manglende kvittering\nAuto-Submitted: auto-replied\nIn-Reply-To: {ours}\nMessage-ID: <auto1@malvik.kommune.example>\n\nJeg er borte.\n"));
    wait_for("the auto-reply to be looked at", &|| {
        log().contains("decision=AutoReply")
    });
    assert!(
        incident()["reply_at"].is_null(),
        "an auto-reply counted as a reply"
    );
    // The real reply is.
    imap_append(imap_port, "INBOX", &format!("From: meldingsansvarlig@malvik.kommune.example\nTo: meldingsansvarlig@helse-midt.example\nCc: ekomp-trondelag@ks.example\nSubject: SV: Manglende kvittering\nIn-Reply-To: {ours}\nMessage-ID: <reply1@malvik.kommune.example>\n\nVi har startet feilsøking.\n"));
    wait_for("the reply", &|| !incident()["reply_at"].is_null());
    // Replied in time: the reply deadline passes without an escalation.
    let past_deadline = cal.end_of_first_working_day_after(parse(&incident()["followup_at"]))
        + chrono::Duration::minutes(1);
    set_clock(past_deadline);
    wait_settled(&env, past_deadline);
    assert!(
        !read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].starts_with("Eskalering")),
        "escalated despite the reply"
    );

    // Two inbound inquiries; Dovecot restarts; our answer to one appears in Sent.
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@melhus.kommune.example\nSubject: Feil ved sending av epikrise\nMessage-ID: <q1@melhus.kommune.example>\n\nHei, får dere epikrisene våre?\n");
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@skaun.kommune.example\nSubject: Manglende kvitteringer fra sykehuset\nMessage-ID: <q2@skaun.kommune.example>\n\nHei!\n");
    wait_for("both inquiries", &|| {
        log().matches("decision=Inquiry").count() == 2
    });
    drop(dv);
    // Dovecot's login processes hold the listening socket until they see their master gone.
    wait_port_closed(imap_port);
    dv = dovecot(&dvdir, imap_port);
    imap_append(imap_port, "Sent", "From: meldingsansvarlig@helse-midt.example\nTo: meldingsansvarlig@melhus.kommune.example\nSubject: SV: Feil ved sending av epikrise\nIn-Reply-To: <q1@melhus.kommune.example>\nMessage-ID: <a1@helse-midt.example>\n\nVi ser på det.\n");
    wait_for("the answer", &|| log().contains("decision=Answer"));

    // Next working day 08:00: only the unanswered inquiry (Skaun) earns a reminder.
    let now = chrono::Utc::now()
        + chrono::Duration::seconds(
            std::fs::read_to_string(&clock)
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
        );
    let day = cal.first_working_day_after(cal.local_date(now));
    let opening = cal.business_window(day).unwrap().0;
    set_clock(opening);
    wait_for("the reminder", &|| {
        read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].contains("henvendelse fra Skaun kommune"))
    });
    wait_settled(&env, opening);
    assert!(
        !read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].contains("Melhus")),
        "answered inquiry reminded"
    );
    // Each of the five messages handled exactly once, across the Dovecot restart.
    let handled = log().matches("mailbox message handled").count()
        + log().matches("mailbox message needs nothing").count();
    assert_eq!(handled, 5, "{}", log());
    drop(dv);
}

/// With IDLE, new mail is handled at once: the poll interval is an hour, so only IDLE can
/// explain the inquiry being handled within the (generous) 30 s. The mail is appended once the
/// daemon says it waits in IDLE, so the first look at the mailbox cannot be what found it.
#[test]
fn imap_idle_handles_new_mail_at_once() {
    let env = Env::new("idle");
    let imap_port = free_port();
    let _dv = dovecot(&env.dir.join("dovecot"), imap_port);
    env.with_imap(imap_port, "1h");
    let _d = env.daemon();
    let log = || std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    let t = Instant::now();
    while !log().contains("mailbox waiting for new mail with IDLE") {
        assert!(t.elapsed() < Duration::from_secs(60), "{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log().contains("idle=true"),
        "Dovecot offers IDLE: {}",
        log()
    );
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@frosta.kommune.example\nSubject: Spørsmål om PLO\nMessage-ID: <idle1@frosta.kommune.example>\n\nHei\n");
    let t = Instant::now();
    while !log().contains("decision=Inquiry") {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not handled within 30 s with a 1 h poll: IDLE is not working\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
