//! `[policy]`, `[calendar]` and `[templates]`: the tables the rules read.

use super::super::*;
use super::Validator;
use crate::config::raw::*;
use crate::tpath;
use std::collections::BTreeMap;

impl Validator<'_> {
    /// `[report]`: targets are percentages; recipients default to ops.
    pub(super) fn report(&mut self, raw: RawReport, ops: &[String]) -> ReportSettings {
        let mut target = |key: &'static str, v: Option<f64>, default: f64| match v {
            Some(t) if !(0.0..=100.0).contains(&t) => {
                self.err(
                    0,
                    tpath!["report", key],
                    format!("{key} must be a percentage between 0 and 100, not {t}"),
                );
                default
            }
            Some(t) => t,
            None => default,
        };
        let target_month = target("target_month", raw.target_month, 99.7);
        let target_12m = target("target_12m", raw.target_12m, 99.9);
        let recipients = raw.recipients.unwrap_or_else(|| ops.to_vec());
        if recipients.is_empty() {
            self.err(
                0,
                tpath!["report", "recipients"],
                "the monthly report needs at least one recipient (default: self.ops)",
            );
        }
        for (i, r) in recipients.iter().enumerate() {
            if r.is_empty() {
                self.err(0, tpath!["report", "recipients", i], "empty e-mail address");
            }
            self.email(0, tpath!["report", "recipients", i], r);
        }
        ReportSettings {
            target_month,
            target_12m,
            recipients,
        }
    }

    pub(super) fn policy(&mut self, policy: RawPolicy) -> Policy {
        // [policy]
        let mut pol = Policy::default();
        macro_rules! dur {
            ($f:ident) => {
                if let Some(Dur(d)) = policy.$f {
                    pol.$f = d;
                }
            };
        }
        dur!(publish_delay);
        dur!(statuspage_update_interval);
        dur!(unplanned_notice_after);
        dur!(planned_notice_threshold);
        dur!(notice_lead);
        dur!(followup_after);
        dur!(maintenance_grace);
        dur!(ack_priority1);
        dur!(ack_priority2);
        if let Some(b) = policy.test_environment_mail {
            pol.test_environment_mail = b;
        }
        if pol.publish_delay > Duration::minutes(15) {
            self.err(0, tpath!["policy", "publish_delay"], "publish_delay may not exceed 15 minutes (driftsmelding within 15 minutes, seeds/002 §5.3)");
        }
        if pol.statuspage_update_interval > Duration::minutes(30)
            || pol.statuspage_update_interval < Duration::minutes(1)
        {
            self.err(
                0,
                tpath!["policy", "statuspage_update_interval"],
                "statuspage_update_interval must be between 1 and 30 minutes (seeds/002 §5.3)",
            );
        }
        if let Some(ps) = policy.publish_priorities {
            pol.publish_priorities.clear();
            for (i, p) in ps.into_iter().enumerate() {
                if (1..=4).contains(&p) {
                    pol.publish_priorities.insert(p as u8);
                } else {
                    self.err(
                        0,
                        tpath!["policy", "publish_priorities", i],
                        format!("priority {p} does not exist: priorities are 1 to 4"),
                    );
                }
            }
        }
        pol
    }

    pub(super) fn calendar(&mut self, calendar: RawCalendar) -> Calendar {
        // [calendar]
        let mut cal = Calendar::default();
        if let Some(tz) = calendar.timezone {
            match tz.parse::<chrono_tz::Tz>() {
                Ok(t) => cal.tz = t,
                Err(_) => self.err(
                    0,
                    tpath!["calendar", "timezone"],
                    format!("unknown time zone {tz:?} (e.g. \"Europe/Oslo\")"),
                ),
            }
        }
        cal.business_start = self.time(
            tpath!["calendar", "business_start"],
            calendar.business_start,
            cal.business_start,
        );
        cal.business_end = self.time(
            tpath!["calendar", "business_end"],
            calendar.business_end,
            cal.business_end,
        );
        cal.half_day_end = self.time(
            tpath!["calendar", "half_day_end"],
            calendar.half_day_end,
            cal.half_day_end,
        );
        if cal.business_end <= cal.business_start {
            self.err(
                0,
                tpath!["calendar", "business_end"],
                "business_end must be after business_start",
            );
        }
        if cal.half_day_end <= cal.business_start || cal.half_day_end > cal.business_end {
            self.err(
                0,
                tpath!["calendar", "half_day_end"],
                "half_day_end must lie between business_start and business_end",
            );
        }
        let mut closed = BTreeMap::new();
        for (i, s) in calendar.closed_days.iter().enumerate() {
            if let Some(d) = self.date(tpath!["calendar", "closed_days", i], s) {
                closed.insert(d, "stengt (konfigurert)".to_string());
            }
        }
        cal.extra_closed = closed;
        let mut halves = BTreeMap::new();
        for (i, s) in calendar.half_days.iter().enumerate() {
            if let Some(d) = self.date(tpath!["calendar", "half_days", i], s) {
                halves.insert(d, "halv dag (konfigurert)".to_string());
            }
        }
        cal.extra_half_days = halves;
        for (i, f) in calendar.freeze.into_iter().enumerate() {
            let fp = || tpath!["calendar", "freeze", i];
            let from = self.required(0, fp(), "from", f.from);
            let to = self.required(0, fp(), "to", f.to);
            let a = if from.is_empty() {
                None
            } else {
                self.date(tpath!["calendar", "freeze", i, "from"], &from)
            };
            let b = if to.is_empty() {
                None
            } else {
                self.date(tpath!["calendar", "freeze", i, "to"], &to)
            };
            if let (Some(a), Some(b)) = (a, b) {
                if b < a {
                    self.err(
                        0,
                        tpath!["calendar", "freeze", i, "to"],
                        "freeze ends before it starts",
                    );
                }
                cal.freezes.push(Freeze {
                    name: f.name.unwrap_or_else(|| "frysperiode".into()),
                    from: a,
                    to: b,
                });
            }
        }
        cal
    }

    pub(super) fn templates(&mut self, templates: RawTemplates) -> Option<PathBuf> {
        let templates_dir = templates.dir.map(|d| self.base.join(d));
        if let Some(d) = &templates_dir {
            if !d.is_dir() {
                self.err(
                    0,
                    tpath!["templates", "dir"],
                    format!("template folder {} does not exist", d.display()),
                );
            }
        }
        templates_dir
    }
}
