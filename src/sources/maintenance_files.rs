//! Maintenance declared in files: `maintenance.d/*.toml` beside the configuration (SPEC §4.5,
//! issue #3). One-off windows and recurring ones as cron expressions (the `cron` crate, six
//! fields with seconds: `"0 0 23 * * Sun"`), evaluated in the calendar's time zone, so a
//! Sunday-23:00 window stays at 23:00 across DST. Occurrences starting within `horizon` (default
//! 14 days, longer than the 7-day notice lead) are declared, each with the id
//! `{id}@{YYYY-MM-DD}`.
//!
//! ```toml
//! [[maintenance]]
//! id = "VED-2026-48"
//! services = ["PLO"]
//! from = "2026-11-29T23:00:00+01:00"
//! to = "2026-11-30T03:00:00+01:00"
//! measures = "Oppgradering av meldingstjeneren"
//!
//! [[recurring]]
//! id = "sondagsvindu"
//! cron = "0 0 23 * * Sun"
//! duration = "2h"
//! services = ["lab"]
//! ```
//!
//! The daemon reconciles these with its state at start, on SIGHUP and hourly: new ones are
//! added, changed ones changed, and ones removed from the files before they start cancelled.

use crate::config::locate::{ConfigError, Source};
use crate::engine::model::{parse_time, Time};
use crate::tpath;
use chrono::{Duration, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    maintenance: Vec<OneOff>,
    #[serde(default)]
    recurring: Vec<Recurring>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneOff {
    id: String,
    source: Option<String>,
    #[serde(default)]
    orgs: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    from: String,
    to: String,
    measures: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recurring {
    id: String,
    cron: String,
    duration: String,
    source: Option<String>,
    #[serde(default)]
    orgs: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    measures: Option<String>,
    phone: Option<String>,
}

/// One declared maintenance: its id, its start, and the `maintenance.add` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub id: String,
    pub from: Time,
    pub fields: Value,
}

#[allow(clippy::too_many_arguments)]
fn fields(
    id: &str,
    source: &Option<String>,
    orgs: &[String],
    services: &[String],
    from: Time,
    to: Time,
    measures: &Option<String>,
    phone: &Option<String>,
) -> Value {
    let mut v = json!({
        "id": id,
        "source": source.clone().unwrap_or_else(|| "self".into()),
        "orgs": orgs,
        "services": services,
        "from": from.to_rfc3339(),
        "to": to.to_rfc3339(),
    });
    if let Some(m) = measures {
        v["measures"] = json!(m);
    }
    if let Some(p) = phone {
        v["phone"] = json!(p);
    }
    v
}

/// Read every `*.toml` in `dir` (none when it does not exist) and expand the recurring windows
/// whose occurrence starts in `[now, now + horizon]`.
pub fn load(
    dir: &Path,
    tz: Tz,
    now: Time,
    horizon: Duration,
) -> Result<Vec<Declared>, Vec<ConfigError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut paths: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = match crate::config::read_input(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ConfigError {
                    file: path.clone(),
                    line: 1,
                    col: 1,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let src = Source::new(&path, text.clone());
        let file: File = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                errors
                    .push(src.error_at(e.span().map(|r| r.start), e.message().trim().to_string()));
                continue;
            }
        };
        for (i, m) in file.maintenance.iter().enumerate() {
            if !crate::engine::model::valid_id(&m.id) {
                errors.push(src.error_path(
                    &tpath!["maintenance", i, "id"],
                    false,
                    format!("id {}", crate::engine::model::ID_RULE),
                ));
                continue;
            }
            let from = parse_time(&m.from).map_err(|e| {
                src.error_path(&tpath!["maintenance", i, "from"], false, e.to_string())
            });
            let to = parse_time(&m.to)
                .map_err(|e| src.error_path(&tpath!["maintenance", i, "to"], false, e.to_string()));
            match (from, to) {
                (Ok(f), Ok(t)) => out.push(Declared {
                    id: m.id.clone(),
                    from: f,
                    fields: fields(
                        &m.id,
                        &m.source,
                        &m.orgs,
                        &m.services,
                        f,
                        t,
                        &m.measures,
                        &m.phone,
                    ),
                }),
                (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
            }
        }
        for (i, r) in file.recurring.iter().enumerate() {
            // Occurrences are `{id}:{YYYY-MM-DD}` (SPEC §4.14: generated ids follow the id rule
            // too, so `:` and not `@`), which must fit in 64 characters.
            if r.id.len() > 53 || !crate::engine::model::valid_id(&r.id) {
                errors.push(src.error_path(
                    &tpath!["recurring", i, "id"],
                    false,
                    "a recurring id must be 1–53 characters (its occurrences add \":YYYY-MM-DD\"), each a letter A–Z or a–z, a digit, '.', '_', ':' or '-'".to_string(),
                ));
                continue;
            }
            let schedule = match cron::Schedule::from_str(&r.cron) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(src.error_path(&tpath!["recurring", i, "cron"], false, format!("invalid cron expression {:?}: {e} (six fields with seconds, e.g. \"0 0 23 * * Sun\")", r.cron)));
                    continue;
                }
            };
            let dur = match humantime::parse_duration(&r.duration)
                .ok()
                .and_then(|d| Duration::from_std(d).ok())
            {
                Some(d) if d > Duration::zero() => d,
                _ => {
                    errors.push(src.error_path(
                        &tpath!["recurring", i, "duration"],
                        false,
                        format!("invalid duration {:?} (e.g. \"2h\")", r.duration),
                    ));
                    continue;
                }
            };
            let start = tz.from_utc_datetime(&now.naive_utc());
            for occ in schedule
                .after(&start)
                .take_while(|t| t.with_timezone(&chrono::Utc) <= now + horizon)
                .take(100)
            {
                let f = occ.with_timezone(&chrono::Utc);
                let id = format!("{}:{}", r.id, occ.format("%Y-%m-%d"));
                out.push(Declared {
                    id: id.clone(),
                    from: f,
                    fields: fields(
                        &id,
                        &r.source,
                        &r.orgs,
                        &r.services,
                        f,
                        f + dur,
                        &r.measures,
                        &r.phone,
                    ),
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for d in &out {
        if !seen.insert(d.id.clone()) {
            errors.push(ConfigError {
                file: dir.to_path_buf(),
                line: 1,
                col: 1,
                message: format!("maintenance id {:?} is declared twice", d.id),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurring_windows_follow_local_time_across_dst() {
        let tmp = crate::testutil::temp_dir();
        let dir = tmp.path();
        std::fs::write(
            dir.join("a.toml"),
            "[[recurring]]\nid = \"sondag\"\ncron = \"0 0 23 * * Sun\"\nduration = \"2h\"\nservices = [\"PLO\"]\n\n[[maintenance]]\nid = \"VED-1\"\nservices = [\"lab\"]\nfrom = \"2026-11-01T10:00:00+01:00\"\nto = \"2026-11-01T14:00:00+01:00\"\n",
        )
        .unwrap();
        // From Friday 16.10.2026: Sundays 18.10 (CEST) and 25.10 (CET, after the change).
        let now = parse_time("2026-10-16T12:00:00+02:00").unwrap();
        let d = load(dir, chrono_tz::Europe::Oslo, now, Duration::days(10)).unwrap();
        let ids: Vec<&str> = d.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, ["VED-1", "sondag:2026-10-18", "sondag:2026-10-25"]);
        assert_eq!(d[1].fields["from"], "2026-10-18T21:00:00+00:00"); // 23:00 CEST
        assert_eq!(d[2].fields["from"], "2026-10-25T22:00:00+00:00"); // 23:00 CET
        assert_eq!(d[2].fields["to"], "2026-10-26T00:00:00+00:00");
        std::fs::write(
            dir.join("b.toml"),
            "[[recurring]]\nid = \"x\"\ncron = \"every sunday\"\nduration = \"2h\"\n",
        )
        .unwrap();
        let e = load(dir, chrono_tz::Europe::Oslo, now, Duration::days(10)).unwrap_err();
        assert!(
            e[0].to_string()
                .contains("b.toml:3:8: invalid cron expression"),
            "{}",
            e[0]
        );
    }
}
