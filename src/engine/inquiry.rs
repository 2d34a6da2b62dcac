//! Inbound inquiries to our own meldingsansvarlig mailbox (SPEC §4.8; seeds/004 §2–3,
//! seeds/003 §6.3.3): answered at the latest the first working day. Decision: "the first
//! working day" is the first working day *after* the day the inquiry arrived, the same reading
//! as SPEC §4.7's reply deadline. Ops is reminded at the start of business hours that day and
//! told it is overdue at the end of them (12:00 on half days).

use super::deadline::Scheduled;
use super::model::*;
use crate::config::Config;

/// An inbound inquiry we must answer by the end of the first working day (SPEC §4.8).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Inquiry {
    pub id: String,
    pub org: String,
    pub subject: Option<String>,
    pub received_at: Time,
    pub answered_at: Option<Time>,
    pub reminded: bool,
    pub overdue_reported: bool,
}

/// Inquiries about planned downtime are not answered (seeds/004 §1), so not tracked.
pub(crate) fn about_planned_downtime(subject: &str) -> bool {
    let s = subject.to_lowercase();
    s.contains("planlagt") || s.contains("planlagd")
}

impl Inquiry {
    fn day_window(&self, cfg: &Config) -> (Time, Time) {
        let cal = &cfg.calendar;
        let day = cal.first_working_day_after(cal.local_date(self.received_at));
        cal.business_window(day).unwrap_or((
            cal.at_local(day, cal.business_start),
            cal.at_local(day, cal.business_end),
        ))
    }

    /// What the API and templates show of it.
    pub(crate) fn view(&self, cfg: &Config) -> InquiryView {
        InquiryView {
            id: self.id.clone(),
            org: self.org.clone(),
            subject: self.subject.clone(),
            received_at: self.received_at,
            due: self.day_window(cfg).1,
        }
    }

    fn ops(&self, cfg: &Config, now: Time, kind: OpsKind, reason: OpsReason) -> Action {
        Action {
            at: now,
            key: format!(
                "{}/ops/{}",
                About::Inquiry(self.id.clone()).key_prefix(),
                reason.as_str()
            ),
            about: About::Inquiry(self.id.clone()),
            body: ActionBody::Ops(Box::new(Ops {
                inquiry: Some(self.view(cfg)),
                ..Ops::new(kind, reason, cfg.self_.ops.clone())
            })),
        }
    }

    /// Answered, or reported overdue: nothing more to do.
    pub(crate) fn finished(&self) -> bool {
        self.answered_at.is_some() || self.overdue_reported
    }
}

/// What an inbound inquiry still has to do (SPEC §4.8), in firing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Deadline {
    /// Remind ops at the start of the answer day.
    Reminder,
    /// Tell ops the answer is overdue at the end of it.
    Overdue,
}

impl Scheduled for Inquiry {
    type Deadline = Deadline;
    const ORDER: &'static [Deadline] = &[Deadline::Reminder, Deadline::Overdue];

    fn due(&self, d: Deadline, cfg: &Config) -> Option<Time> {
        if self.answered_at.is_some() {
            return None;
        }
        let (start, end) = self.day_window(cfg);
        match d {
            Deadline::Reminder => (!self.reminded).then_some(start),
            Deadline::Overdue => (!self.overdue_reported).then_some(end),
        }
    }

    fn fire(&mut self, d: Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        let (_, end) = self.day_window(cfg);
        match d {
            Deadline::Reminder => {
                self.reminded = true;
                // Woken only after the day ended: the overdue message says it all.
                if now < end {
                    out.push(self.ops(cfg, now, OpsKind::Reminder, OpsReason::InquiryDue));
                }
            }
            Deadline::Overdue => {
                self.overdue_reported = true;
                out.push(self.ops(cfg, now, OpsKind::Overdue, OpsReason::InquiryOverdue));
            }
        }
    }
}
