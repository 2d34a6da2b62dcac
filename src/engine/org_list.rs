//! The organizations an incident concerns, as one shared list (issue #32). At national scale
//! an incident on our side names every organization that exchanges its services (375), and
//! each open incident held its own copy: 17 of the 20 KiB an open incident took. Lists with
//! the same names are now one allocation (`OrgLists::intern`), and a copy is a pointer.

use std::ops::Deref;
use std::sync::Arc;

/// An incident's organizations: read as a slice, replaced whole, shared when equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OrgList(Arc<[String]>);

impl Deref for OrgList {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<Vec<String>> for OrgList {
    fn from(v: Vec<String>) -> OrgList {
        OrgList(v.into())
    }
}

/// The distinct lists in use, so an equal one is shared rather than copied.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgLists {
    /// Fx: the keys are our own organization ids.
    lists: rustc_hash::FxHashSet<OrgList>,
    /// The count after the last sweep: lists no case holds any more are dropped when the set
    /// has doubled since.
    swept: usize,
}

impl OrgLists {
    /// `v` as a list, the one already held when an equal one is.
    pub(crate) fn intern(&mut self, v: impl Into<OrgList>) -> OrgList {
        let l = v.into();
        if let Some(held) = self.lists.get(&l) {
            return held.clone();
        }
        if self.lists.len() >= 2 * self.swept + 64 {
            self.lists.retain(|l| Arc::strong_count(&l.0) > 1);
            self.swept = self.lists.len();
        }
        self.lists.insert(l.clone());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_are_one_and_unused_ones_are_let_go() {
        let mut lists = OrgLists::default();
        let names = || vec!["malvik".to_string(), "orkland".to_string()];
        let (a, b) = (lists.intern(names()), lists.intern(names()));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(&*a, names().as_slice());
        let other = lists.intern(vec!["osen".to_string()]);
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        // Lists nobody holds go at a sweep; those held stay shared.
        drop(other);
        for i in 0..200 {
            lists.intern(vec![format!("org{i}")]);
        }
        assert!(lists.lists.len() < 150, "{}", lists.lists.len());
        assert!(Arc::ptr_eq(&a.0, &lists.intern(names()).0));
        // The same JSON as a plain list.
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"["malvik","orkland"]"#
        );
        let back: OrgList = serde_json::from_str(r#"["malvik","orkland"]"#).unwrap();
        assert_eq!(back, a);
    }
}
