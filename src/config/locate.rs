//! Maps a TOML path (`organization[3].hf`) to `line:col` in the source file, so every config
//! error can be reported as `FILE:LINE:COL: message` (SPEC §5.1 `check`).

use std::fmt;
use std::path::PathBuf;
use toml_edit::{ImDocument, Item, Value};

/// One step of a path into the TOML document: a key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Build a path: `path!["organization", 3, "hf"]`.
#[macro_export]
macro_rules! tpath {
    ($($s:expr),* $(,)?) => { Vec::from([$($crate::config::locate::Seg::from($s)),*]) };
}

/// One problem in the configuration, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// A source file, kept for locating errors. The span-keeping document is parsed only when
/// the first error asks for a place (large scenarios never pay for it when valid).
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    doc: std::cell::OnceCell<Option<ImDocument<String>>>,
}

impl Source {
    /// A file as read, for locating errors in it.
    pub(crate) fn new(path: &std::path::Path, text: String) -> Source {
        Source {
            path: path.to_path_buf(),
            text,
            doc: std::cell::OnceCell::new(),
        }
    }

    fn doc(&self) -> Option<&ImDocument<String>> {
        self.doc
            .get_or_init(|| ImDocument::parse(self.text.clone()).ok())
            .as_ref()
    }

    /// 1-based line and column of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    /// An error at a byte offset (the file's start when unknown).
    pub(crate) fn error_at(
        &self,
        offset: Option<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, col) = offset.map(|o| self.line_col(o)).unwrap_or((1, 1));
        ConfigError {
            file: self.path.clone(),
            line,
            col,
            message: message.into(),
        }
    }

    /// An error at the value found at `path` (or at the deepest part of it that exists).
    /// With `key = true`, points at the key itself (for unknown keys).
    pub(crate) fn error_path(
        &self,
        path: &[Seg],
        key: bool,
        message: impl Into<String>,
    ) -> ConfigError {
        let offset = self.doc().and_then(|d| locate(d.as_item(), path, key));
        self.error_at(offset, message)
    }
}

fn value_span(v: &Value) -> Option<usize> {
    v.span().map(|r| r.start)
}

fn item_span(i: &Item) -> Option<usize> {
    match i {
        Item::None => None,
        Item::Value(v) => value_span(v),
        Item::Table(t) => t.span().map(|r| r.start),
        Item::ArrayOfTables(a) => a.span().map(|r| r.start),
    }
}

fn locate(root: &Item, path: &[Seg], key_pos: bool) -> Option<usize> {
    enum Node<'a> {
        Item(&'a Item),
        Value(&'a Value),
        Table(&'a toml_edit::Table),
    }
    let mut node = Node::Item(root);
    let mut best = item_span(root);
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let next = match (&node, seg) {
            (Node::Item(Item::Table(t)), Seg::Key(k)) => {
                if last && key_pos {
                    return t.key(k).and_then(|k| k.span()).map(|r| r.start).or(best);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Table(t), Seg::Key(k)) => {
                if last && key_pos {
                    return t.key(k).and_then(|k| k.span()).map(|r| r.start).or(best);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Item(Item::Value(Value::InlineTable(t))), Seg::Key(k))
            | (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                if last && key_pos {
                    return t.key(k).and_then(|k| k.span()).map(|r| r.start).or(best);
                }
                t.get(k).map(Node::Value)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(n)) => a.get(*n).map(Node::Table),
            (Node::Item(Item::Value(Value::Array(a))), Seg::Index(n))
            | (Node::Value(Value::Array(a)), Seg::Index(n)) => a.get(*n).map(Node::Value),
            _ => None,
        };
        match next {
            Some(n) => {
                let span = match &n {
                    Node::Item(it) => item_span(it),
                    Node::Value(v) => value_span(v),
                    Node::Table(t) => t.span().map(|r| r.start),
                };
                if span.is_some() {
                    best = span;
                }
                node = n;
            }
            None => return best,
        }
    }
    best
}

/// Convert a `serde_ignored` path to our segments.
pub(crate) fn from_ignored(p: &serde_ignored::Path) -> Vec<Seg> {
    let mut out = Vec::new();
    fn walk(p: &serde_ignored::Path, out: &mut Vec<Seg>) {
        use serde_ignored::Path as P;
        match p {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                out.push(Seg::Index(*index));
            }
            P::Map { parent, key } => {
                walk(parent, out);
                out.push(Seg::Key(key.clone()));
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, out)
            }
        }
    }
    walk(p, &mut out);
    out
}

/// A path as TOML writes it: `organization[2].services`.
pub(crate) fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}
