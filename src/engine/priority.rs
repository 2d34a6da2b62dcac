//! Priority from category × impact (SPEC §4.1, seeds/002 §6.2), and impact derived from the
//! affected organizations when an input gives none.

use super::model::{Category, Impact};
use crate::config::{Config, OrgKind};

/// The seeds/002 §6.2 matrix.
pub(crate) fn priority(c: Category, i: Impact) -> u8 {
    use Category::*;
    use Impact::*;
    match (c, i) {
        (A, Alle) | (A, Hoy) | (B, Alle) => 1,
        (A, Medium) | (A, Lav) | (B, Hoy) | (B, Medium) | (C, Alle) => 2,
        (B, Lav) | (C, Hoy) | (C, Medium) => 3,
        (C, Lav) | (D, _) => 4,
    }
}

/// SPEC §4.1: every non-HF organization that exchanges an affected service is affected →
/// `alle`; more than one → `hoy`; one (or none named) → `medium`.
/// No services named means every service.
pub(crate) fn derive_impact(cfg: &Config, orgs: &[String], services: &[String]) -> Impact {
    let exchanges = |o: &crate::config::Organization| {
        services.is_empty() || o.services.iter().any(|s| services.contains(s))
    };
    // A set of the named when they are many: a fan-out names every candidate, and a pairwise
    // search was candidates × named string compares on every settle (measured: a tenth of
    // `simulate`). A few are searched in place: building the set cost more than the search.
    let set: Option<rustc_hash::FxHashSet<&str>> =
        (orgs.len() > 8).then(|| orgs.iter().map(String::as_str).collect());
    let named = |id: &str| match &set {
        Some(s) => s.contains(id),
        None => orgs.iter().any(|o| o == id),
    };
    let mut candidates = cfg
        .orgs
        .iter()
        // A retired organization (kept only for the cases naming it) is no candidate.
        .filter(|o| o.kind != OrgKind::Hf && o.retired_at.is_none() && exchanges(o))
        .peekable();
    let any = candidates.peek().is_some();
    let all_named = candidates.all(|o| named(&o.id));
    // Each named organization once (a list may name one twice).
    let counts = |id: &str| cfg.org(id).is_some_and(|o| o.kind != OrgKind::Hf);
    let affected = match &set {
        Some(s) => s.iter().filter(|id| counts(id)).count(),
        None => orgs
            .iter()
            .enumerate()
            .filter(|(i, id)| !orgs[..*i].contains(id))
            .filter(|(_, id)| counts(id))
            .count(),
    };
    if any && all_named {
        Impact::Alle
    } else if affected > 1 {
        Impact::Hoy
    } else {
        Impact::Medium
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_matches_seeds_002() {
        use Category::*;
        use Impact::*;
        let rows = [
            (A, [1, 1, 2, 2]),
            (B, [1, 2, 2, 3]),
            (C, [2, 3, 3, 4]),
            (D, [4, 4, 4, 4]),
        ];
        for (c, ps) in rows {
            for (i, p) in [Alle, Hoy, Medium, Lav].into_iter().zip(ps) {
                assert_eq!(priority(c, i), p, "{c:?}/{i:?}");
            }
        }
    }
}

#[cfg(test)]
mod derive_tests {
    use super::*;
    use crate::testutil::example_config;

    /// The rule as SPEC §4.1 says it, written the plain way: what the fast one must equal.
    fn plain(cfg: &Config, orgs: &[String], services: &[String]) -> Impact {
        let candidates: Vec<_> = cfg
            .orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Hf && o.retired_at.is_none())
            .filter(|o| services.is_empty() || o.services.iter().any(|s| services.contains(s)))
            .collect();
        let mut named: Vec<&String> = orgs.iter().collect();
        named.sort();
        named.dedup();
        let affected = named
            .iter()
            .filter(|id| cfg.org(id).is_some_and(|o| o.kind != OrgKind::Hf))
            .count();
        if !candidates.is_empty() && candidates.iter().all(|o| orgs.contains(&o.id)) {
            Impact::Alle
        } else if affected > 1 {
            Impact::Hoy
        } else {
            Impact::Medium
        }
    }

    #[test]
    fn derive_impact_is_the_rule_for_few_many_repeated_and_hf_names() {
        let cfg = example_config();
        let ids: Vec<String> = cfg.orgs.iter().map(|o| o.id.clone()).collect();
        let hf = cfg
            .orgs
            .iter()
            .find(|o| o.kind == OrgKind::Hf)
            .map(|o| o.id.clone());
        let non_hf: Vec<String> = cfg
            .orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Hf)
            .map(|o| o.id.clone())
            .collect();
        let mut lists: Vec<Vec<String>> = vec![
            vec![],
            vec![non_hf[0].clone()],
            vec![non_hf[0].clone(), non_hf[0].clone()],
            vec![non_hf[0].clone(), non_hf[1].clone()],
            non_hf.clone(),
            ids.clone(),
            ids[..9].to_vec(),
            vec!["ukjent".into(), non_hf[0].clone()],
        ];
        lists.extend(hf.iter().map(|h| vec![h.clone(), non_hf[0].clone()]));
        let mut twice = non_hf.clone();
        twice.extend(non_hf[..3].iter().cloned());
        lists.push(twice);
        let mut nine_same = vec![non_hf[0].clone(); 9];
        nine_same.push(non_hf[1].clone());
        lists.push(nine_same);
        let services: Vec<Vec<String>> = std::iter::once(vec![])
            .chain(cfg.services.iter().map(|s| vec![s.id.clone()]))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for orgs in &lists {
            for svc in &services {
                let want = plain(&cfg, orgs, svc);
                assert_eq!(derive_impact(&cfg, orgs, svc), want, "{orgs:?} {svc:?}");
                seen.insert(format!("{want:?}"));
            }
        }
        // The lists reach every derived impact.
        assert_eq!(seen.len(), 3, "{seen:?}");
    }

    /// The derived impact is kept between settles (`Incident::refresh`); a reload that
    /// changes what it is derived from must derive it again.
    #[test]
    fn a_reload_derives_the_impact_again() {
        use crate::engine::model::{Event, Time};
        use crate::engine::Engine;
        use std::sync::Arc;
        let t = |s: &str| -> Time { chrono::DateTime::parse_from_rfc3339(s).unwrap().into() };
        let cfg = example_config();
        let lab: Vec<String> = cfg
            .orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Hf && o.services.iter().any(|s| s == "lab"))
            .map(|o| o.id.clone())
            .collect();
        assert!(lab.len() > 2, "{lab:?}");
        // Every organization on lab but the last is named: more than one, not all.
        let named = &lab[..lab.len() - 1];
        let mut e = Engine::new(Arc::new(cfg.clone()));
        let open = serde_json::json!({
            "id": "I1", "kind": "feil", "category": "B", "services": ["lab"],
            "orgs": named, "started_at": "2026-12-07T09:00:00+01:00",
        });
        let at = t("2026-12-07T09:05:00+01:00");
        e.handle(at, Event::from_parts("incident.open", &open).unwrap())
            .unwrap();
        let inc = e.incident("I1").unwrap();
        assert_eq!((inc.cached_impact, inc.cached_priority), (Impact::Hoy, 2));
        // The one not named leaves: those named are now all there are.
        let mut fewer = cfg;
        for o in fewer.orgs.iter_mut().filter(|o| Some(&o.id) == lab.last()) {
            o.retired_at = Some(at);
        }
        e.reconfigure(Arc::new(fewer));
        let inc = e.incident("I1").unwrap();
        assert_eq!((inc.cached_impact, inc.cached_priority), (Impact::Alle, 1));
    }

    /// A service added to a case (an alert of it joined) derives the impact again.
    #[test]
    fn a_service_added_derives_the_impact_again() {
        use crate::engine::model::{Event, Time};
        use crate::engine::Engine;
        use std::sync::Arc;
        let t = |s: &str| -> Time { chrono::DateTime::parse_from_rfc3339(s).unwrap().into() };
        let mut cfg = example_config();
        let (x, y) = (cfg.services[0].id.clone(), cfg.services[1].id.clone());
        // One organization exchanges only `y`; every other one on `x` is named.
        let only_y = (cfg.orgs.iter_mut())
            .find(|o| o.kind != OrgKind::Hf)
            .expect("a municipality");
        only_y.services = vec![y.clone()];
        let named: Vec<String> = (cfg.orgs.iter())
            .filter(|o| o.kind != OrgKind::Hf && o.services.contains(&x))
            .map(|o| o.id.clone())
            .collect();
        assert!(named.len() > 1, "{named:?}");
        let mut e = Engine::new(Arc::new(cfg.clone()));
        let open = serde_json::json!({
            "id": "I1", "kind": "feil", "category": "B", "services": [x],
            "orgs": named, "started_at": "2026-12-07T09:00:00+01:00",
        });
        e.handle(
            t("2026-12-07T09:05:00+01:00"),
            Event::from_parts("incident.open", &open).unwrap(),
        )
        .unwrap();
        let mut inc = e.incident("I1").unwrap().clone();
        assert_eq!(inc.cached_impact, Impact::Alle);
        inc.add_service(y);
        inc.refresh(&cfg, 0);
        assert_eq!(inc.cached_impact, Impact::Hoy);
    }
}
