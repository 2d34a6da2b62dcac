//! `meldingsvakt incident …` and `meldingsvakt maintenance …`: operator commands, as clients
//! of a running daemon's API (SPEC §5.1, §5.4).

use crate::{out, outln};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The daemon's API address and the operator token.
#[derive(Args, Debug)]
pub struct Conn {
    /// Daemon address.
    #[arg(
        long,
        env = "MELDINGSVAKT_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// File with your token: a personal API token (`mvt_…`, made in the console) or the
    /// operator token (break-glass) (default: $MELDINGSVAKT_TOKEN, else var/operator-token).
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    /// Who does this, for the case's timeline (default: $MELDINGSVAKT_BY).
    #[arg(long, env = "MELDINGSVAKT_BY", global = true)]
    pub by: Option<String>,
    /// Print the daemon's JSON as it is (`show` prints a readable timeline otherwise).
    #[arg(long, global = true)]
    pub json: bool,
}

/// `meldingsvakt incident …`.
#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Open an unplanned incident.
    #[command(
        after_help = "Example:\n  meldingsvakt incident open INC-7 --kind kvittering --at-org malvik --service PLO --category B"
    )]
    Open(OpenArgs),
    /// Change measures, expected restoration, category or impact; add a status text.
    #[command(
        after_help = "Example:\n  meldingsvakt incident update INC-7 --expected-end '2026-11-23 14:00' --measures 'Kontaktet leverandør'"
    )]
    Update(UpdateArgs),
    /// Acknowledge (response started).
    Ack { id: String },
    /// Confirm the incident resolved (sends Løst: where notices went; expires silences).
    #[command(
        after_help = "Example (the stop really ended at 14:05; the report counts it to then):\n  meldingsvakt incident resolve INC-7 --at '2026-11-23 14:05'"
    )]
    Resolve(ResolveArgs),
    /// Register the counterpart's reply (stops escalation).
    Reply(ReplyArgs),
    /// Open incidents, as a table in Oslo time (`--json` for the daemon's JSON).
    List,
    /// One incident with its progress.
    Show { id: String },
}

/// `meldingsvakt inquiry …`.
#[derive(Subcommand, Debug)]
pub enum InquiryCmd {
    /// Register an inquiry that came by phone or another way than the mailbox (SPEC §4.8:
    /// answered by the first working day after it arrives).
    #[command(
        after_help = "Example:\n  meldingsvakt inquiry add TLF-2026-12-04-1 --org malvik --subject 'Mangler svar på PLO-meldinger'"
    )]
    Add(InquiryArgs),
    /// Register that an inquiry was answered (stops its reminder and overdue report).
    Answered { id: String },
    /// One inquiry with its timeline.
    Show { id: String },
}

/// An inbound inquiry's fields.
#[derive(Args, Debug, Serialize)]
pub struct InquiryArgs {
    id: String,
    /// The organization that asked.
    #[arg(long)]
    org: String,
    /// What it is about, in a few words (no personal data).
    #[arg(long)]
    subject: Option<String>,
}

/// `incident resolve`: the incident, and when the fault was really fixed.
#[derive(Args, Debug, Serialize)]
pub struct ResolveArgs {
    id: String,
    /// When the stop really ended, if earlier than now (RFC 3339 or local "YYYY-MM-DD HH:MM";
    /// not before the start, at most a year back). The timeline records who backdated it.
    #[arg(long = "at", value_name = "TIME")]
    resolved_at: Option<String>,
}

/// `meldingsvakt maintenance …`.
#[derive(Subcommand, Debug)]
pub enum MaintenanceCmd {
    /// Register planned maintenance.
    #[command(
        after_help = "Example:\n  meldingsvakt maintenance add VED-12 --service PLO --org malvik --org melhus \\\n    --from '2026-11-29 23:00' --to '2026-11-30 03:00' --measures 'Oppgradering'"
    )]
    Add(AddArgs),
    /// Change a maintenance (sends Endret: when its time or scope changes).
    Change(ChangeArgs),
    /// Cancel a maintenance (sends Avlyst:).
    Cancel { id: String },
    /// Scheduled and ongoing maintenances.
    List,
}

/// A request body from the command's arguments: what was not given is left out.
fn body(args: &impl Serialize) -> Value {
    let mut v = serde_json::to_value(args).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty()));
    }
    v
}

/// `incident open`'s fields.
#[derive(Args, Debug, Serialize)]
pub struct OpenArgs {
    id: String,
    /// feil, kvittering (missing receipts) or info.
    #[arg(long, default_value = "feil")]
    kind: String,
    /// Where the fault is: "self" or a counterpart organization id.
    #[arg(long, default_value = "self")]
    at_org: String,
    /// Affected organization (repeat). Default: on our side, every municipality exchanging
    /// the services; at a counterpart, that organization.
    #[arg(long = "org")]
    orgs: Vec<String>,
    /// Affected service (repeat).
    #[arg(long = "service")]
    services: Vec<String>,
    /// Fault category A (kritisk) to D (lav).
    #[arg(long, default_value = "B")]
    category: String,
    /// alle, hoy, medium or lav. Default: derived from the affected organizations.
    #[arg(long)]
    impact: Option<String>,
    /// When the stop began (RFC 3339 or local "YYYY-MM-DD HH:MM"). Default: now.
    #[arg(long)]
    started_at: Option<String>,
    /// Expected restoration: RFC 3339 with its offset (`date -Iseconds -d '+4 hours'`), or a
    /// local Oslo time "YYYY-MM-DD HH:MM" (whatever the machine's time zone). More than 2 hours
    /// after the start sends the notice at once.
    #[arg(long)]
    expected_end: Option<String>,
    /// Measures taken, in Norwegian (goes into e-mails and on the status page; no personal data).
    #[arg(long)]
    measures: Option<String>,
    /// produksjon or test (each has its own status page).
    #[arg(long, default_value = "produksjon")]
    environment: String,
}

/// `incident update`'s fields; what is absent stays as it was.
#[derive(Args, Debug, Serialize)]
pub struct UpdateArgs {
    id: String,
    /// New measures taken (status page update at once).
    #[arg(long)]
    measures: Option<String>,
    /// New expected restoration (after the notice: an Oppdatering e-mail).
    #[arg(long)]
    expected_end: Option<String>,
    /// A status text for the status page.
    #[arg(long)]
    text: Option<String>,
    /// New category A–D.
    #[arg(long)]
    category: Option<String>,
    /// New impact: alle, hoy, medium or lav.
    #[arg(long)]
    impact: Option<String>,
    /// Status-page status: investigating (Undersøker), identified (Årsak funnet) or
    /// monitoring (Overvåker). Without it the status stays as it is.
    #[arg(long, value_parser = ["investigating", "identified", "monitoring"])]
    status: Option<String>,
}

/// `incident reply`: who answered.
#[derive(Args, Debug, Serialize)]
pub struct ReplyArgs {
    id: String,
    #[arg(long)]
    org: Option<String>,
}

/// `maintenance add`'s fields.
#[derive(Args, Debug, Serialize)]
pub struct AddArgs {
    id: String,
    #[arg(long, default_value = "self")]
    source: String,
    #[arg(long = "org")]
    orgs: Vec<String>,
    #[arg(long = "service")]
    services: Vec<String>,
    #[arg(long)]
    from: String,
    #[arg(long)]
    to: String,
    #[arg(long)]
    measures: Option<String>,
    #[arg(long)]
    phone: Option<String>,
}

/// `maintenance change`'s fields; what is absent stays as it was.
#[derive(Args, Debug, Serialize)]
pub struct ChangeArgs {
    id: String,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    #[arg(long = "org")]
    orgs: Vec<String>,
    #[arg(long = "service")]
    services: Vec<String>,
    #[arg(long)]
    measures: Option<String>,
}

/// One API call: a write (method, path, JSON body) or a read (path).
pub enum Request {
    Post(String, Value),
    Get(String),
    /// A list, printed as a table unless `--json`.
    List(String, List),
    /// A case with its timeline.
    Show(String),
}

/// `/api/v1/{cases}/{id}/{what}`.
fn path(cases: &str, id: &str, what: &str) -> String {
    format!("/api/v1/{cases}/{id}/{what}")
}

/// The API call an incident command makes.
pub fn incident_request(c: IncidentCmd) -> Request {
    let path = |id: &str, what: &str| path("incidents", id, what);
    match c {
        IncidentCmd::Open(a) => Request::Post("/api/v1/incidents".into(), body(&a)),
        IncidentCmd::Update(a) => Request::Post(path(&a.id, "update"), body(&a)),
        IncidentCmd::Ack { id } => Request::Post(path(&id, "ack"), json!({})),
        IncidentCmd::Resolve(a) => Request::Post(path(&a.id, "resolve"), body(&a)),
        IncidentCmd::Reply(a) => Request::Post(path(&a.id, "reply"), body(&a)),
        IncidentCmd::List => Request::List("/api/v1/incidents".into(), List::Incidents),
        IncidentCmd::Show { id } => Request::Show(format!("/api/v1/incidents/{id}")),
    }
}

/// The API call an inquiry command makes.
pub fn inquiry_request(c: InquiryCmd) -> Request {
    match c {
        InquiryCmd::Add(a) => Request::Post("/api/v1/inquiries".into(), body(&a)),
        InquiryCmd::Answered { id } => Request::Post(path("inquiries", &id, "answered"), json!({})),
        InquiryCmd::Show { id } => Request::Show(format!("/api/v1/inquiries/{id}")),
    }
}

/// The API call a maintenance command makes.
pub fn maintenance_request(c: MaintenanceCmd) -> Request {
    match c {
        MaintenanceCmd::List => Request::List("/api/v1/maintenances".into(), List::Maintenances),
        MaintenanceCmd::Add(a) => Request::Post("/api/v1/maintenances".into(), body(&a)),
        MaintenanceCmd::Change(a) => Request::Post(path("maintenances", &a.id, "change"), body(&a)),
        MaintenanceCmd::Cancel { id } => {
            Request::Post(path("maintenances", &id, "cancel"), json!({}))
        }
    }
}

/// No operator token could be read.
#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("{}: {err}", path.display())]
    File { path: PathBuf, err: std::io::Error },
    #[error("no operator token: give --token-file, set MELDINGSVAKT_TOKEN, or run where {} exists ({err})", path.display())]
    Missing { path: PathBuf, err: std::io::Error },
}

fn read_token(c: &Conn) -> Result<String, TokenError> {
    if let Some(p) = &c.token_file {
        return std::fs::read_to_string(p)
            .map(|t| t.trim().to_string())
            .map_err(|err| TokenError::File {
                path: p.clone(),
                err,
            });
    }
    if let Ok(t) = std::env::var("MELDINGSVAKT_TOKEN") {
        return Ok(t.trim().to_string());
    }
    let p = PathBuf::from("var/operator-token");
    std::fs::read_to_string(&p)
        .map(|t| t.trim().to_string())
        .map_err(|err| TokenError::Missing {
            path: p.clone(),
            err,
        })
}

/// The `User-Agent` of `meldingsvakt incident …` and friends.
pub const CLI_AGENT: &str = concat!("meldingsvakt-cli/", env!("CARGO_PKG_VERSION"));

/// Perform the request; print the answer. Exit code: 0, 1 (daemon unreachable), 2 (refused).
pub async fn call(c: &Conn, r: Request) -> i32 {
    let token = match read_token(c) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // The daemon audits requests from this client with origin `cli` (SPEC §5.10).
    let client = reqwest::Client::builder()
        .user_agent(CLI_AGENT)
        .build()
        .unwrap_or_default();
    let base = c.url.trim_end_matches('/');
    let req = match &r {
        Request::Post(p, body) => {
            let mut body = body.clone();
            if let (Some(by), Some(o)) = (&c.by, body.as_object_mut()) {
                o.insert("by".into(), json!(by));
            }
            client.post(format!("{base}{p}")).json(&body)
        }
        Request::Get(p) | Request::Show(p) | Request::List(p, _) => {
            client.get(format!("{base}{p}"))
        }
    };
    let resp = match req
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot reach meldingsvakt at {base}: {e}");
            return 1;
        }
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        match r {
            Request::Show(_) if !c.json => out!("{}", case_text(&v)),
            Request::List(_, l) if !c.json => out!("{}", list_text(l, &v)),
            _ => outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        }
        0
    } else {
        let msg = v
            .get("error")
            .and_then(|e| e.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        eprintln!("refused ({}): {msg}", status.as_u16());
        2
    }
}

/// Which list a `List` request fetches.
#[derive(Debug, Clone, Copy)]
pub enum List {
    Incidents,
    Maintenances,
}

/// A time as Oslo local "dd.mm.yyyy HH:MM", or "–".
fn oslo(t: Option<&str>) -> String {
    t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Oslo)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "–".into())
}

/// A list as an aligned table, times in Oslo time (`incident list`, `maintenance list`).
pub(crate) fn list_text(l: List, v: &Value) -> String {
    let rows = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
    let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let join = |r: &Value, k: &str| {
        r.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let count = |r: &Value, k: &str| {
        let n = r.get(k).and_then(Value::as_array).map_or(0, Vec::len);
        if n > 3 {
            format!("{n} stk.")
        } else {
            join(r, k)
        }
    };
    let (head, body): (Vec<&str>, Vec<Vec<String>>) = match l {
        List::Incidents => (
            vec![
                "ID",
                "PRI",
                "TYPE",
                "HVOR",
                "TJENESTER",
                "BERØRTE",
                "STARTET",
                "NESTE",
            ],
            rows.iter()
                .map(|r| {
                    let next = r["next"]
                        .as_array()
                        .and_then(|n| n.first())
                        .map(|n| {
                            format!(
                                "{} {}",
                                n["what"].as_str().unwrap_or(""),
                                oslo(n["at"].as_str())
                            )
                        })
                        .unwrap_or_else(|| "–".into());
                    vec![
                        s(r, "id"),
                        r["priority"].to_string(),
                        s(r, "kind"),
                        r["at_org"].as_str().unwrap_or("self").to_string(),
                        join(r, "services"),
                        count(r, "orgs"),
                        oslo(r["started_at"].as_str()),
                        next,
                    ]
                })
                .collect(),
        ),
        List::Maintenances => (
            vec!["ID", "UTFØRER", "TJENESTER", "BERØRTE", "FRA", "TIL"],
            rows.iter()
                .map(|r| {
                    vec![
                        s(r, "id"),
                        r["source"].as_str().unwrap_or("self").to_string(),
                        join(r, "services"),
                        count(r, "orgs"),
                        oslo(r["from"].as_str()),
                        oslo(r["to"].as_str()),
                    ]
                })
                .collect(),
        ),
    };
    if body.is_empty() {
        return match l {
            List::Incidents => "Ingen åpne hendelser.\n".into(),
            List::Maintenances => "Ingen planlagte vedlikehold.\n".into(),
        };
    }
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &body {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        l.push('\n');
        l
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    for r in body {
        out.push_str(&line(r));
    }
    out
}

/// A case and its timeline as text, times in Norwegian local time.
pub(crate) fn case_text(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let when = oslo;
    let mut out = s("id").to_string();
    if let Some(p) = v.get("priority") {
        out.push_str(&format!(
            "  ({}, kategori {}, prioritet {p})",
            s("kind"),
            s("category")
        ));
    }
    if v.get("retired") == Some(&Value::Bool(true)) {
        out.push_str("  (avsluttet)");
    }
    out.push('\n');
    for (label, key) in [
        ("Oppdaget", "detected_at"),
        ("Varsel sendt", "notice_at"),
        ("Henvendelse sendt", "followup_at"),
        ("Svar", "reply_at"),
        ("Eskalert", "escalated_at"),
        ("Løst", "resolved_at"),
    ] {
        if let Some(t) = v.get(key).and_then(Value::as_str) {
            out.push_str(&format!("{label}: {}\n", when(Some(t))));
        }
    }
    if let Some(next) = v
        .get("next")
        .and_then(Value::as_array)
        .filter(|n| !n.is_empty())
    {
        out.push_str("Neste:\n");
        for n in next {
            out.push_str(&format!(
                "  {}  {}\n",
                when(n["at"].as_str()),
                n["what"].as_str().unwrap_or("")
            ));
        }
    }
    out.push_str("Tidslinje:\n");
    for e in v["timeline"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let at = when(e["at"].as_str());
        if e["entry"] == "event" {
            let by = e["by"]
                .as_str()
                .map(|b| format!(", av {b}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {at}  {} ({}{by})\n",
                e["type"].as_str().unwrap_or(""),
                e["origin"].as_str().unwrap_or("ukjent kilde"),
            ));
        } else {
            let to = e["to"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let state = match e["state"].as_str().unwrap_or("") {
                "sent" => format!("sendt {}", when(e["sent_at"].as_str())),
                "failing" => format!(
                    "feiler ({} forsøk: {})",
                    e["attempts"],
                    e["last_error"].as_str().unwrap_or("")
                ),
                "bounced" => format!("kom i retur {}", when(e["bounced_at"].as_str())),
                _ => "venter".into(),
            };
            out.push_str(&format!(
                "  {at}  {} {} [{}]{}: {state}\n",
                e["action"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or(""),
                e["sink"].as_str().unwrap_or(""),
                to.filter(|t| !t.is_empty())
                    .map(|t| format!(" → {t}"))
                    .unwrap_or_default(),
            ));
        }
    }
    out
}
