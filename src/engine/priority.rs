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
    // A set of the named: a fan-out names every candidate, and a pairwise search was
    // candidates × named string compares on every settle (measured: a tenth of `simulate`).
    let named: rustc_hash::FxHashSet<&str> = orgs.iter().map(String::as_str).collect();
    // One pass over the configured organizations (ids are unique there): whether any is a
    // candidate, whether every candidate is named, and how many named are not HFs. A lookup
    // per named organization instead was a tenth of the engine at national scale.
    let (mut any, mut all_named, mut affected) = (false, true, 0usize);
    for o in &cfg.orgs {
        if o.kind == OrgKind::Hf {
            continue;
        }
        let is_named = named.contains(o.id.as_str());
        affected += usize::from(is_named);
        // A retired organization (kept only for the cases naming it) is no candidate.
        if o.retired_at.is_none() && exchanges(o) {
            any = true;
            all_named &= is_named;
        }
    }
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
