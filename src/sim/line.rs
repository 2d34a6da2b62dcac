//! One action as its SPEC §5.2 JSON line, serialized straight from the action (no
//! intermediate `serde_json::Value`: building one per action was most of `simulate`).

use super::*;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The JSON object of one action; `extra` appends the webhook's `id` and `sender`.
pub struct ActionLine<'a> {
    pub at: std::borrow::Cow<'a, str>,
    pub action: &'a Action,
    pub subject: Option<String>,
    pub extra: Option<(&'a str, &'a str)>,
}

impl<'a> ActionLine<'a> {
    /// The line of `a`, with its subject rendered.
    pub(crate) fn new(
        cfg: &Config,
        r: &Renderer,
        a: &'a Action,
    ) -> Result<ActionLine<'a>, crate::render::RenderError> {
        Self::stamped(local_rfc3339(cfg, a.at).into(), cfg, r, a)
    }

    /// The line of `a` at `at`, its time already written (`local_rfc3339`): a fan-out's
    /// actions share one instant, written once (it was a quarter of `simulate`'s writer).
    pub(crate) fn stamped(
        at: std::borrow::Cow<'a, str>,
        cfg: &Config,
        r: &Renderer,
        a: &'a Action,
    ) -> Result<ActionLine<'a>, crate::render::RenderError> {
        Ok(ActionLine {
            at,
            action: a,
            subject: r.subject(cfg, a)?,
            extra: None,
        })
    }
}

impl Serialize for ActionLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.action;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("at", &self.at)?;
        m.serialize_entry("action", a.body.kind())?;
        m.serialize_entry("message", a.body.message())?;
        match &a.about {
            About::Incident(id) => m.serialize_entry("incident", id)?,
            About::Maintenance(id) => m.serialize_entry("maintenance", id)?,
            About::Inquiry(id) => m.serialize_entry("inquiry", id)?,
            About::Report(month) => m.serialize_entry("month", month)?,
            // The body names the organization (`org`).
            About::Directory(_) => {}
        }
        match &a.body {
            ActionBody::Email(e) => {
                m.serialize_entry("org", &e.org)?;
                m.serialize_entry("to", &e.to)?;
                m.serialize_entry("cc", &e.cc)?;
            }
            ActionBody::Statuspage(s) => {
                m.serialize_entry("environment", s.environment.as_str())?;
                m.serialize_entry("status", &s.status)?;
                if s.periodic {
                    m.serialize_entry("periodic", &true)?;
                }
            }
            ActionBody::Silence(s) => {
                m.serialize_entry("org", &s.org)?;
                m.serialize_entry("services", &s.services)?;
            }
            ActionBody::Ops(o) => {
                if let Some(d) = &o.directory {
                    m.serialize_entry("org", &d.org)?;
                }
                m.serialize_entry("reason", o.reason.as_str())?;
                m.serialize_entry("to", &o.to)?;
            }
            ActionBody::Report(r) => m.serialize_entry("to", &r.to)?,
            ActionBody::Sms(t) => {
                m.serialize_entry("to", &t.to)?;
                m.serialize_entry("text", &t.text)?;
            }
        }
        if let Some(subject) = &self.subject {
            m.serialize_entry("subject", subject)?;
        }
        m.serialize_entry("key", &a.key)?;
        if let Some((id, sender)) = self.extra {
            m.serialize_entry("id", id)?;
            m.serialize_entry("sender", sender)?;
        }
        m.end()
    }
}

/// RFC 3339 in local time with offset and seconds: `2026-11-23T09:30:00+01:00`.
pub fn local_rfc3339(cfg: &Config, t: Time) -> String {
    use chrono::{Datelike, Offset, Timelike};
    use std::fmt::Write;
    let l = t.with_timezone(&cfg.calendar.tz);
    let off = l.offset().fix().local_minus_utc();
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let mut s = String::with_capacity(25);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        l.year(),
        l.month(),
        l.day(),
        l.hour(),
        l.minute(),
        l.second(),
        off / 3600,
        off % 3600 / 60
    );
    s
}
