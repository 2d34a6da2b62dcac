//! Rendering shared across the recipients of one message: `simulate`'s subjects (the
//! context built once per fan-out, the subject once when it cannot name the recipient) and
//! the e-mail sink's texts (`email_shared`: subject and body once per fan-out when neither
//! can name the recipient).

use super::*;

impl Renderer {
    /// `email`, shared with the previous recipient of the same message when its text cannot
    /// name the recipient: a fan-out of 356 notices renders once, not 356 times (issue #32).
    /// Only under the very configuration the text was rendered under, and never for a
    /// directory mail (its link is the organization's own).
    pub(crate) fn email_shared(
        &self,
        cfg: &std::sync::Arc<Config>,
        e: &Email,
        at: Time,
        key: Option<&[u8]>,
    ) -> Result<Rendered, RenderError> {
        let shareable = key.is_none()
            && e.directory.is_none()
            && self.base_subjects_free()
            && self
                .recipient_free
                .contains(&format!("email/{}", e.message.as_str()));
        if !shareable {
            return self.email(cfg, e, at, key);
        }
        let slot = || self.last_sent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, last, r)) = slot().as_ref() {
            if std::sync::Arc::ptr_eq(c, cfg) && same_message(last, e) {
                return Ok(r.clone());
            }
        }
        let r = self.email(cfg, e, at, key)?;
        *slot() = Some((std::sync::Arc::clone(cfg), e.clone(), r.clone()));
        Ok(r)
    }

    /// Run `f` on the template name and context of an action (`None` for silences).
    fn with_ctx<T>(
        &self,
        cfg: &Config,
        a: &Action,
        f: impl FnOnce(&str, &Context, Option<&mut Option<String>>) -> Result<T, RenderError>,
    ) -> Result<Option<T>, RenderError> {
        let at = a.at;
        let (name, ctx) = match &a.body {
            ActionBody::Email(e) => {
                let mut slot = self.last_email.lock().unwrap_or_else(|p| p.into_inner());
                match slot.as_mut() {
                    // `base_subject` is in the context too: reusable only when the base
                    // subjects cannot name the recipient either.
                    Some(last) if same_message(&last.email, e) && self.base_subjects_free() => {
                        if let Value::Object(o) = last.ctx.data_mut() {
                            o.insert("recipient".into(), recipient_json(cfg, &e.org));
                        }
                        let subject = self
                            .recipient_free_subject
                            .contains(&last.name)
                            .then_some(&mut last.subject);
                        return f(&last.name, &last.ctx, subject).map(Some);
                    }
                    _ => {
                        let (name, ctx) = self.email_ctx(cfg, e, at, None)?;
                        let mut last = LastEmail {
                            email: (**e).clone(),
                            name,
                            ctx,
                            subject: None,
                        };
                        let free = self.recipient_free_subject.contains(&last.name);
                        let out = f(&last.name, &last.ctx, free.then_some(&mut last.subject));
                        *slot = Some(last);
                        return out.map(Some);
                    }
                }
            }
            ActionBody::Ops(o) => self.ops_ctx(cfg, o)?,
            ActionBody::Statuspage(s) => self.status_ctx(cfg, s)?,
            ActionBody::Silence(_) | ActionBody::Sms(_) => return Ok(None),
            ActionBody::Report(r) => {
                let mut c = base_json(cfg);
                c.insert("report".into(), context::report_json(cfg, &r.report));
                (
                    "report/monthly".to_string(),
                    Context::from(Value::Object(c)),
                )
            }
        };
        f(&name, &ctx, None).map(Some)
    }

    /// Subject and body of any action that carries text (not silences).
    pub fn action(&self, cfg: &Config, a: &Action) -> Result<Option<Rendered>, RenderError> {
        self.with_ctx(cfg, a, |name, ctx, _| self.render(name, ctx))
    }

    /// The subject alone (what `simulate` prints), without rendering the body.
    pub(crate) fn subject(&self, cfg: &Config, a: &Action) -> Result<Option<String>, RenderError> {
        if let Some(s) = self.direct_subject(cfg, a) {
            return Ok(Some(s));
        }
        self.template_subject(cfg, a)
    }

    /// The subject through the templates, always (what `direct_subject` must equal).
    pub(super) fn template_subject(
        &self,
        cfg: &Config,
        a: &Action,
    ) -> Result<Option<String>, RenderError> {
        self.with_ctx(cfg, a, |name, ctx, cached| match cached {
            // Within a fan-out, a subject that cannot name the recipient is the same for all.
            Some(Some(s)) => Ok(s.clone()),
            Some(slot) => {
                let s = self.subject_of(name, ctx)?;
                *slot = Some(s.clone());
                Ok(s)
            }
            None => self.subject_of(name, ctx),
        })
    }
}

/// The context of the last e-mail rendered, and its subject once rendered when the subject
/// cannot depend on the recipient.
pub(super) struct LastEmail {
    email: Email,
    name: String,
    ctx: Context,
    subject: Option<String>,
}

/// Same message apart from who receives it.
fn same_message(a: &Email, b: &Email) -> bool {
    a.message == b.message
        && a.incident == b.incident
        && a.maintenance == b.maintenance
        && a.previous == b.previous
        && a.inquiry_sent_at == b.inquiry_sent_at
        && a.reply_due == b.reply_due
        // A directory mail's link is its organization's own.
        && a.directory.is_none()
        && b.directory.is_none()
}
