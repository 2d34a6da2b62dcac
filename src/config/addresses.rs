//! An organization's addresses as one list shared by every e-mail and case that names them.

use super::{Config, Organization};

impl Config {
    /// Bare addresses of an organization: meldingsansvarlig first, then the extra ones
    /// (none for an unknown id). One allocation for the list (a case's `Book` shares it).
    ///
    /// Every case's first mail to an organization asked for a new list: 4 % of `simulate`'s
    /// engine thread (issue #32). The lists are made once per configuration and handed out
    /// while they still say what the organization says (`orgs` is public and the directory's
    /// overlay rewrites addresses in a copy); a list that no longer does is made anew.
    pub(crate) fn org_addresses(&self, id: &str) -> std::sync::Arc<[String]> {
        use std::sync::Arc;
        let Some(&i) = self.org_index.get(id) else {
            return Arc::new([]);
        };
        let Some(o) = self.orgs.get(i) else {
            return Arc::new([]);
        };
        let of = |o: &Organization| -> Arc<[String]> {
            std::iter::once(&o.meldingsansvarlig)
                .chain(&o.extra_addresses)
                .cloned()
                .collect()
        };
        let lists = self
            .org_addresses
            .get_or_init(|| self.orgs.iter().map(of).collect());
        match lists.get(i) {
            Some(l)
                if l.first() == Some(&o.meldingsansvarlig) && l[1..] == o.extra_addresses[..] =>
            {
                Arc::clone(l)
            }
            _ => of(o),
        }
    }

    /// Forget the shared address lists (after the organizations were changed in place).
    pub(crate) fn organizations_changed(&mut self) {
        self.org_addresses = std::sync::OnceLock::new();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    /// The same list is handed out while the organization says the same; changed in place,
    /// its new addresses are given, not the kept list's.
    #[test]
    fn a_kept_list_is_given_only_while_it_is_right() {
        let mut cfg = crate::config::Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/meldingsvakt.toml"
        )))
        .unwrap();
        let a = cfg.org_addresses("malvik");
        assert!(Arc::ptr_eq(&a, &cfg.org_addresses("malvik")));
        assert_eq!(a[0], cfg.org("malvik").unwrap().meldingsansvarlig);
        let i = cfg.orgs.iter().position(|o| o.id == "malvik").unwrap();
        cfg.orgs[i].meldingsansvarlig = "ny@malvik.example".into();
        cfg.orgs[i].extra_addresses = vec!["vakt@malvik.example".into()];
        let b = cfg.org_addresses("malvik");
        assert_eq!(&b[..], ["ny@malvik.example", "vakt@malvik.example"]);
        cfg.organizations_changed();
        let c = cfg.org_addresses("malvik");
        assert!(c == b && Arc::ptr_eq(&c, &cfg.org_addresses("malvik")));
        assert!(cfg.org_addresses("ukjent").is_empty());
    }
}
