//! The pages of people and accountability (SPEC §5.10): "my tokens" and the audit log with its
//! CSV and JSON export. Pure: the tokens, entries and filters come in as arguments.

use super::words;
use crate::audit::token::PersonalToken;
use crate::audit::{Entry, Role};
use crate::config::Config;
use crate::engine::model::Time;
use serde_json::{json, Value};

/// A token just made, shown once.
pub(crate) struct Created<'a> {
    pub label: &'a str,
    pub text: &'a str,
}

/// The "my tokens" page: `tokens` (every person's when `all`, for an admin).
pub(crate) fn tokens(
    cfg: &Config,
    tokens: &[PersonalToken],
    all: bool,
    role: Role,
    created: Option<Created<'_>>,
    error: Option<&str>,
    now: Time,
) -> Value {
    let rows: Vec<Value> = tokens
        .iter()
        .map(|t| {
            let state = if t.revoked_at.is_some() {
                "Trukket tilbake"
            } else if !t.usable(now) {
                "Utløpt"
            } else {
                "Aktiv"
            };
            json!({
                "id": t.id,
                "person": t.person,
                "label": t.label,
                "role": t.role.norsk(),
                "created": words::date_time(cfg, t.created_at),
                "expires": words::date_time(cfg, t.expires_at),
                "last_used": t.last_used_at.map_or("aldri".to_string(), |l| words::date_time(cfg, l)),
                "state": state,
                "active": t.usable(now),
            })
        })
        .collect();
    let days = cfg.daemon.console.token_lifetime.num_days();
    json!({
        "title": "Mine API-nøkler",
        "tokens": rows,
        "all": all,
        "can_create": role != Role::BreakGlass,
        "role_name": role.norsk(),
        "lifetime": words::count(days as usize, "dag", "dager"),
        "created": created.map(|c| json!({"label": c.label, "text": c.text})),
        "error": error,
    })
}

/// One CSV field: quoted when it must be; a leading `= + - @` (a spreadsheet formula)
/// defused with a `'`.
pub(super) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The filters of `GET /ops/audit`, as the form sends them (kept for the form and the export
/// links).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct AuditFilter {
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub what: String,
    /// `YYYY-MM-DD`, local date, from its start.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, local date, to its end.
    #[serde(default)]
    pub to: String,
    /// `csv` or `json`: an export instead of the page.
    #[serde(default)]
    pub format: String,
}

/// A filter date that is not one (the page says it in Norwegian).
#[derive(Debug, thiserror::Error)]
#[error("«{0}» er ikke en dato (åååå-mm-dd).")]
pub(crate) struct BadDate(pub String);

impl AuditFilter {
    /// The store's query, or the date that is not one.
    pub(crate) fn query(&self, cfg: &Config) -> Result<crate::store::AuditQuery, BadDate> {
        let day = |s: &str, after: bool| -> Result<Option<Time>, BadDate> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| BadDate(s.to_string()))?;
            let d = if after { d.succ_opt().unwrap_or(d) } else { d };
            let local = d
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(cfg.calendar.tz).earliest())
                .ok_or_else(|| BadDate(s.to_string()))?;
            Ok(Some(local.to_utc()))
        };
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(crate::store::AuditQuery {
            who: text(&self.who),
            object: text(&self.object),
            what: text(&self.what),
            from: day(&self.from, false)?,
            to: day(&self.to, true)?,
            limit: 0,
        })
    }

    /// The query string of these filters with `format`.
    pub(crate) fn link(&self, format: &str) -> String {
        let f = AuditFilter {
            format: format.to_string(),
            ..self.clone()
        };
        let q = serde_urlencoded::to_string(&f).unwrap_or_default();
        format!("/ops/audit?{q}")
    }

    /// What an export records as asked for (the filters, without the format).
    pub(crate) fn as_json(&self) -> String {
        json!({"who": self.who, "object": self.object, "what": self.what, "from": self.from, "to": self.to, "format": self.format})
            .to_string()
    }
}

/// The console page of a case an entry is about.
fn url(object: &str) -> Option<String> {
    if object.starts_with("token/") || object == "audit" || object.is_empty() {
        return None;
    }
    Some(match object.split_once('/') {
        Some(("maintenance", id)) => format!("/ops/maintenances/{id}"),
        Some(("inquiry", id)) => format!("/ops/inquiries/{id}"),
        Some(_) => return None,
        None => format!("/ops/incidents/{object}"),
    })
}

/// How many entries the page shows (the export has them all).
pub(crate) const PAGE: usize = 500;

/// The audit page: the newest `entries` (at most `PAGE` + 1: one more says there are more).
pub(crate) fn audit(
    cfg: &Config,
    f: &AuditFilter,
    entries: &[Entry],
    error: Option<&str>,
) -> Value {
    let total = entries.len();
    let shown = &entries[..total.min(PAGE)];
    let rows: Vec<Value> = shown
        .iter()
        .map(|e| {
            let at = chrono::DateTime::parse_from_rfc3339(&e.at)
                .map(|t| words::date_time(cfg, t.to_utc()))
                .unwrap_or_else(|_| e.at.clone());
            let role = Role::parse(&e.role).map_or(e.role.as_str(), |r| r.norsk());
            json!({
                "seq": e.seq, "at": at, "who": e.who, "role": role, "origin": e.origin,
                "what": e.what, "object": e.object, "url": e.object.as_deref().and_then(url),
                "before": e.before, "after": e.after,
            })
        })
        .collect();
    json!({
        "title": "Revisjonslogg",
        "q": f,
        "entries": rows,
        "count": if total > PAGE {
            format!("Over {PAGE} oppføringer")
        } else {
            words::count(total, "oppføring", "oppføringer")
        },
        "more": total > PAGE,
        "shown": PAGE,
        "csv": f.link("csv"),
        "json": f.link("json"),
        "error": error,
    })
}

/// The entries as CSV (RFC 4180; every value as stored, so a reader can recompute digests).
pub(crate) fn csv(entries: &[Entry]) -> String {
    let field = csv_field;
    let mut out = String::from("seq,at,who,role,origin,what,object,before,after,prev,hash\r\n");
    for e in entries {
        let cols = [
            e.seq.to_string(),
            e.at.clone(),
            e.who.clone(),
            e.role.clone(),
            e.origin.clone(),
            e.what.clone(),
            e.object.clone().unwrap_or_default(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
            e.prev.clone(),
            e.hash.clone(),
        ];
        let line: Vec<String> = cols.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, who: &str, after: Option<&str>) -> Entry {
        Entry {
            seq,
            at: "2026-12-05T09:30:00.000Z".into(),
            who: who.into(),
            role: "operator".into(),
            origin: "console".into(),
            what: "incident.update".into(),
            object: Some("INC-1".into()),
            before: None,
            after: after.map(str::to_string),
            prev: "0".repeat(64),
            hash: "1".repeat(64),
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let c = csv(&[
            entry(1, "Kari, vakt", Some(r#"{"a":"b"}"#)),
            entry(2, "=cmd", None),
        ]);
        let lines: Vec<&str> = c.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "seq,at,who,role,origin,what,object,before,after,prev,hash"
        );
        assert!(
            lines[1].starts_with("1,2026-12-05T09:30:00.000Z,\"Kari, vakt\",operator,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(r#""{""a"":""b""}""#), "{}", lines[1]);
        assert!(
            lines[2].starts_with("2,2026-12-05T09:30:00.000Z,'=cmd,"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines.len(),
            4,
            "a line per entry and the header, CRLF-ended"
        );
    }

    #[test]
    fn the_page_shows_the_newest_500_and_says_there_are_more() {
        let cfg = crate::testutil::example_config();
        let many: Vec<Entry> = (1..=501).rev().map(|i| entry(i, "Kari", None)).collect();
        let v = audit(&cfg, &AuditFilter::default(), &many, None);
        assert_eq!(v["entries"].as_array().unwrap().len(), PAGE);
        assert_eq!(v["entries"][0]["seq"], 501);
        assert_eq!(v["count"], "Over 500 oppføringer");
        assert_eq!(v["more"], true);
        let few = audit(&cfg, &AuditFilter::default(), &many[..2], None);
        assert_eq!(
            (few["count"].as_str(), few["more"].as_bool()),
            (Some("2 oppføringer"), Some(false))
        );
        assert!(few["csv"].as_str().unwrap().ends_with("format=csv"));
    }

    #[test]
    fn dates_are_local_days_and_a_bad_one_is_named() {
        let cfg = crate::testutil::example_config();
        let f = AuditFilter {
            from: "2026-03-29".into(),
            to: "2026-03-29".into(),
            ..AuditFilter::default()
        };
        let q = f.query(&cfg).unwrap();
        // Oslo: 29 March 2026 starts at 00:00 +01:00 and ends at 24:00 +02:00 (DST).
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-03-28T23:00:00+00:00");
        assert_eq!(q.to.unwrap().to_rfc3339(), "2026-03-29T22:00:00+00:00");
        let bad = AuditFilter {
            from: "29.03.2026".into(),
            ..AuditFilter::default()
        };
        assert!(bad
            .query(&cfg)
            .unwrap_err()
            .to_string()
            .contains("29.03.2026"));
        assert_eq!(
            url("maintenance/VED-1").as_deref(),
            Some("/ops/maintenances/VED-1")
        );
        assert_eq!(url("INC-1").as_deref(), Some("/ops/incidents/INC-1"));
        assert_eq!(url("token/abcd1234"), None);
    }
}
