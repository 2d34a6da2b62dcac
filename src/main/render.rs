//! `meldingsvakt render`: a message previewed from its template, from a sample, a scenario
//! or an event file.

use super::load_or_report;
use meldingsvakt::config::Config;
use meldingsvakt::render::{samples, Renderer};
use meldingsvakt::{outln, sim};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

fn template_name(kind: &str) -> String {
    if kind.contains('/') {
        kind.to_string()
    } else {
        format!("email/{kind}")
    }
}

fn print_rendered(
    cfg: &Config,
    r: &Renderer,
    a: &meldingsvakt::engine::model::Action,
) -> Result<(), meldingsvakt::render::RenderError> {
    use meldingsvakt::engine::model::ActionBody;
    let Some(out) = r.action(cfg, a)? else {
        return Ok(());
    };
    let when = sim::local_rfc3339(cfg, a.at);
    match &a.body {
        ActionBody::Email(e) => {
            outln!("Tid: {when}\nTil: {}", e.to.join(", "));
            if !e.cc.is_empty() {
                outln!("Kopi: {}", e.cc.join(", "));
            }
        }
        ActionBody::Ops(o) => outln!("Tid: {when}\nTil: {}", o.to.join(", ")),
        ActionBody::Report(r) => outln!("Tid: {when}\nTil: {}", r.to.join(", ")),
        ActionBody::Statuspage(s) => outln!(
            "Tid: {when}\nStatusside ({}): {}",
            s.environment.as_str(),
            s.message.as_str()
        ),
        ActionBody::Silence(_) | ActionBody::Sms(_) => {}
    }
    outln!("Emne: {}\n\n{}", out.subject, out.body.trim_end());
    outln!("{}", "-".repeat(72));
    Ok(())
}

fn action_template(a: &meldingsvakt::engine::model::Action) -> String {
    use meldingsvakt::engine::model::ActionBody;
    match &a.body {
        ActionBody::Email(e) => format!("email/{}", e.message.as_str()),
        ActionBody::Ops(o) => format!("ops/{}", o.reason.as_str()),
        ActionBody::Statuspage(s) if s.incident.is_some() => "statuspage/incident".into(),
        ActionBody::Statuspage(_) => "statuspage/maintenance".into(),
        ActionBody::Silence(_) => "silence".into(),
        ActionBody::Report(_) => "report/monthly".into(),
        ActionBody::Sms(_) => "sms".into(),
    }
}

pub(super) fn render(
    kind: Option<String>,
    config: &Path,
    scenario: Option<PathBuf>,
    input: Option<PathBuf>,
) -> ExitCode {
    let want = kind.as_deref().map(template_name);
    if let Some(w) = &want {
        if !meldingsvakt::render::BUILTIN.iter().any(|(n, _)| n == w) {
            eprintln!(
                "unknown message kind {:?}; known: {}",
                kind.unwrap_or_default(),
                meldingsvakt::render::BUILTIN
                    .iter()
                    .map(|(n, _)| n.trim_start_matches("email/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let sc = match (&scenario, &input) {
        (Some(p), _) => Some(sim::parse(p)),
        (None, Some(p)) => Some(sim::parse_opts(p, Some(config))),
        (None, None) => None,
    };
    let sc = match sc.transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let cfg_path = sc
        .as_ref()
        .map(|s| s.config.clone())
        .unwrap_or_else(|| config.to_path_buf());
    let cfg = match load_or_report(&cfg_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let r = match Renderer::new(&cfg) {
        Ok(r) => r,
        Err(errors) => {
            errors.iter().for_each(|e| eprintln!("{e}"));
            return ExitCode::from(2);
        }
    };
    let actions: Vec<meldingsvakt::engine::model::Action> = match &sc {
        None => samples::all(&cfg).into_iter().map(|(_, a)| a).collect(),
        Some(sc) => match collect_actions(sc, Arc::new(cfg.clone())) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut shown = 0;
    for a in actions
        .iter()
        .filter(|a| want.as_ref().is_none_or(|w| &action_template(a) == w))
    {
        if let Err(e) = print_rendered(&cfg, &r, a) {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        shown += 1;
        if sc.is_none() && want.is_some() || input.is_some() {
            break;
        }
    }
    if shown == 0 {
        eprintln!(
            "no {} message in this input",
            kind.unwrap_or_else(|| "".into())
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Event number `n` of a scenario was refused.
#[derive(Debug, thiserror::Error)]
#[error("event {n}: {refusal}")]
struct EventRefused {
    n: usize,
    refusal: meldingsvakt::engine::model::Refusal,
}

fn collect_actions(
    sc: &sim::Scenario,
    cfg: Arc<Config>,
) -> Result<Vec<meldingsvakt::engine::model::Action>, EventRefused> {
    let mut engine = meldingsvakt::engine::Engine::new(cfg);
    let mut v = Vec::new();
    for (at, ev, n) in &sc.events {
        engine
            .handle(*at, ev.clone())
            .map_err(|refusal| EventRefused { n: *n, refusal })?;
        v.extend(std::iter::from_fn(|| engine.poll_action()));
    }
    engine.advance_to(sc.until + sim::NEXT_INSTANT);
    v.extend(std::iter::from_fn(|| engine.poll_action()));
    Ok(v)
}
