//! The YAML document as a tree that remembers where every node and key was written, so that
//! errors found long after parsing can still point at the line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based position in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    pub const START: Mark = Mark { line: 1, column: 1 };
}

impl From<Marker> for Mark {
    fn from(m: Marker) -> Mark {
        // yaml-rust2 counts lines from 1 but columns from 0.
        Mark {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub mark: Mark,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// `plain` scalars (no quotes, no block style) are the only ones that can mean null, a
    /// boolean or a number.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub key: String,
    pub key_mark: Mark,
    pub value: Node,
}

/// A scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.kind {
            Kind::Scalar { text, plain } => Some(resolve(text, *plain)),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|e| e.key == key)
    }

    /// Every position inside this node, keys included.
    pub fn marks(&self, out: &mut Vec<Mark>) {
        out.push(self.mark);
        match &self.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => items.iter().for_each(|n| n.marks(out)),
            Kind::Map(entries) => {
                for e in entries {
                    out.push(e.key_mark);
                    e.value.marks(out);
                }
            }
        }
    }
}

pub(super) fn resolve(text: &str, plain: bool) -> Scalar<'_> {
    if !plain {
        return Scalar::Str(text);
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(n) = i128::from_str_radix(hex, 16) {
            return Scalar::Int(n);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(n) = i128::from_str_radix(oct, 8) {
            return Scalar::Int(n);
        }
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Integers too large even for i128 stay numbers, so that they are reported as such.
        return match text.parse::<i128>() {
            Ok(n) => Scalar::Int(n),
            Err(_) => Scalar::Float(text.parse().unwrap_or(f64::INFINITY)),
        };
    }
    let float_chars = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_chars && digits.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text)
}

pub(super) struct ParseError {
    pub mark: Mark,
    pub message: String,
}

impl ParseError {
    fn new(mark: Mark, message: impl Into<String>) -> ParseError {
        ParseError {
            mark,
            message: message.into(),
        }
    }
}

/// Deep enough for any sensible spec, and shallow enough that walking the tree recursively can
/// never exhaust the stack.
const MAX_DEPTH: usize = 32;
/// Bounds the work done for aliases that expand exponentially ("billion laughs").
const MAX_NODES: usize = 20_000;

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Mark)>,
    },
}

/// Parse a single YAML document. An empty file is a null document.
pub(super) fn parse(text: &str) -> Result<Node, ParseError> {
    // YAML forbids these, and the scanner would silently take a NUL for the end of the text.
    for (i, line) in text.split('\n').enumerate() {
        let found = line
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\r' | '\u{85}'));
        if let Some((column, c)) = found {
            return Err(ParseError::new(
                Mark {
                    line: i + 1,
                    column: column + 1,
                },
                format!("the control character {c:?} is not allowed; the spec must be plain text"),
            ));
        }
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| {
            ParseError::new((*e.marker()).into(), format!("invalid YAML: {}", e.info()))
        })?;
        let mark = Mark::from(marker);
        let (node, anchor, size) = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError::new(
                        mark,
                        "a second YAML document starts here; the spec must be a single document",
                    ));
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err(ParseError::new(
                    mark,
                    format!("nested more than {MAX_DEPTH} levels deep"),
                ));
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    mark,
                    anchor,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    mark,
                    anchor,
                    items,
                }) => (
                    Node {
                        mark,
                        kind: Kind::Seq(items),
                    },
                    anchor,
                    1,
                ),
                Some(Frame::Map {
                    mark,
                    anchor,
                    entries,
                    ..
                }) => (
                    Node {
                        mark,
                        kind: Kind::Map(entries),
                    },
                    anchor,
                    1,
                ),
                None => return Err(ParseError::new(mark, "unbalanced YAML structure")),
            },
            Event::Scalar(text, style, anchor, _) => (
                Node {
                    mark,
                    kind: Kind::Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                    },
                },
                anchor,
                1,
            ),
            Event::Alias(id) => {
                let Some((target, size)) = anchors.get(&id) else {
                    return Err(ParseError::new(mark, "alias to an unknown anchor"));
                };
                let mut node = target.clone();
                node.mark = mark;
                (node, 0, *size)
            }
        };
        nodes += size;
        if nodes > MAX_NODES {
            return Err(ParseError::new(
                mark,
                format!("the document expands to more than {MAX_NODES} values (aliases?)"),
            ));
        }
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), subtree_size(&node)));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                mark: start,
                entries,
                key,
                ..
            }) => match key.take() {
                Some((key, key_mark)) => entries.push(Entry {
                    key,
                    key_mark,
                    value: node,
                }),
                None => {
                    let Kind::Scalar { text, .. } = node.kind else {
                        return Err(ParseError::new(
                            node.mark,
                            "a key must be a plain string, not a list or a map",
                        ));
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == text) {
                        return Err(ParseError::new(
                            node.mark,
                            format!(
                                "duplicate key `{text}` (first given on line {}); give each key once",
                                first.key_mark.line
                            ),
                        ));
                    }
                    // A block mapping's start event is placed at its first `:`; the map really
                    // starts at its first key.
                    if entries.is_empty() {
                        *start = (*start).min(node.mark);
                    }
                    *key = Some((text, node.mark));
                }
            },
        }
    }
    Ok(root.unwrap_or(Node {
        mark: Mark::START,
        kind: Kind::Scalar {
            text: String::new(),
            plain: true,
        },
    }))
}

fn subtree_size(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq(items) => 1 + items.iter().map(subtree_size).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|e| subtree_size(&e.value))
                .sum::<usize>()
        }
    }
}

/// Deep-merge `overlay` over `base`: maps merge key by key, anything else replaces. Values that
/// come from the overlay keep their own positions, so errors in them point into the overlay.
pub(super) fn merge(base: &mut Node, overlay: Node) {
    let Kind::Map(overlay_entries) = overlay.kind else {
        *base = overlay;
        return;
    };
    let Kind::Map(base_entries) = &mut base.kind else {
        *base = Node {
            mark: overlay.mark,
            kind: Kind::Map(overlay_entries),
        };
        return;
    };
    for entry in overlay_entries {
        match base_entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => {
                if !matches!(
                    (&existing.value.kind, &entry.value.kind),
                    (Kind::Map(_), Kind::Map(_))
                ) {
                    existing.key_mark = entry.key_mark;
                }
                merge(&mut existing.value, entry.value);
            }
            None => base_entries.push(entry),
        }
    }
}

pub(super) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn item_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Where each dotted path of a document was written.
pub(super) struct Index {
    /// path -> (position of its key, position of its value)
    places: HashMap<String, (Option<Mark>, Mark)>,
}

impl Index {
    pub fn new(root: &Node) -> Index {
        let mut index = Index {
            places: HashMap::new(),
        };
        index.add(String::new(), None, root);
        index
    }

    fn add(&mut self, path: String, key_mark: Option<Mark>, node: &Node) {
        match &node.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.add(item_path(&path, i), None, item);
                }
            }
            Kind::Map(entries) => {
                for e in entries {
                    self.add(child_path(&path, &e.key), Some(e.key_mark), &e.value);
                }
            }
        }
        self.places.insert(path, (key_mark, node.mark));
    }

    /// Position of the value at `path`, or of its nearest ancestor that was written.
    pub fn value(&self, path: &str) -> Mark {
        let mut path = path;
        loop {
            if let Some((_, mark)) = self.places.get(path) {
                return *mark;
            }
            if path.is_empty() {
                return Mark::START;
            }
            path = parent_path(path);
        }
    }

    /// Position of the key of `path`, for problems with the key itself.
    pub fn key(&self, path: &str) -> Mark {
        match self.places.get(path) {
            Some((Some(mark), _)) => *mark,
            _ => self.value(path),
        }
    }
}

fn parent_path(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return &path[..i];
        }
    }
    path.rfind('.').map_or("", |i| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Mark {
        Mark { line, column }
    }

    #[test]
    fn resolves_core_schema_scalars() {
        assert_eq!(resolve("~", true), Scalar::Null);
        assert_eq!(resolve("", true), Scalar::Null);
        assert_eq!(resolve("null", false), Scalar::Str("null"));
        assert_eq!(resolve("True", true), Scalar::Bool(true));
        assert_eq!(resolve("yes", true), Scalar::Str("yes"));
        assert_eq!(resolve("-12", true), Scalar::Int(-12));
        assert_eq!(resolve("0x1F", true), Scalar::Int(31));
        assert_eq!(resolve("0o17", true), Scalar::Int(15));
        assert_eq!(
            resolve("99999999999999999999", true),
            Scalar::Int(99_999_999_999_999_999_999)
        );
        assert!(matches!(
            resolve("9999999999999999999999999999999999999999999", true),
            Scalar::Float(_)
        ));
        assert_eq!(resolve("1.5e3", true), Scalar::Float(1500.0));
        assert_eq!(resolve("1.2.3", true), Scalar::Str("1.2.3"));
        assert_eq!(resolve("inf", true), Scalar::Str("inf"));
        assert_eq!(resolve("e", true), Scalar::Str("e"));
        assert_eq!(resolve("12", false), Scalar::Str("12"));
    }

    #[test]
    fn records_positions() {
        let root = parse("a:\n  b: [x, 'y']\nc: 1\n").ok().unwrap();
        let index = Index::new(&root);
        assert_eq!(index.value("a.b"), at(2, 6));
        assert_eq!(index.key("a.b"), at(2, 3));
        assert_eq!(index.value("a.b[1]"), at(2, 10));
        assert_eq!(index.value("c"), at(3, 4));
        assert_eq!(index.value("a.b.missing"), at(2, 6));
        assert_eq!(index.value("a.b[7]"), at(2, 6));
        assert_eq!(index.value("nothing.here"), Mark::START);
    }

    #[test]
    fn rejects_what_it_cannot_represent() {
        let err = |text: &str| parse(text).err().unwrap();
        let dup = err("a: 1\nb: 2\na: 3\n");
        assert_eq!(dup.mark, at(3, 1));
        assert!(dup
            .message
            .contains("duplicate key `a` (first given on line 1)"));
        assert!(err("[a]: 1\n").message.contains("plain string"));
        assert!(err("a: 1\n---\nb: 2\n").message.contains("single document"));
        assert!(err(&"[".repeat(100)).message.contains("nested more than"));
        let nul = err("a: 1\nb: x\0y\n");
        assert_eq!(nul.mark, at(2, 5));
        assert_eq!(
            nul.message,
            "the control character '\\0' is not allowed; the spec must be plain text"
        );
        let syntax = err("a: {b: 1\n");
        assert!(
            syntax.message.starts_with("invalid YAML: "),
            "{}",
            syntax.message
        );
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n\
                      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
        assert!(err(laughs).message.contains("expands to more than"));
    }

    #[test]
    fn empty_text_is_a_null_document() {
        let root = parse("").ok().unwrap();
        assert!(root.is_null());
        assert_eq!(root.mark, Mark::START);
        assert!(parse("# only a comment\n").ok().unwrap().is_null());
    }

    #[test]
    fn merge_keeps_overlay_positions() {
        let mut base = parse("p:\n  m: 1\n  t: 2\nq: [1]\n").ok().unwrap();
        let overlay = parse("p: {m: 3}\nq: [4, 5]\nr: x\n").ok().unwrap();
        merge(&mut base, overlay);
        let index = Index::new(&base);
        assert_eq!(index.value("p.m"), at(1, 8));
        assert_eq!(index.value("p.t"), at(3, 6));
        assert_eq!(index.value("q[1]"), at(2, 8));
        assert_eq!(index.value("r"), at(3, 4));
        assert_eq!(index.key("p"), at(1, 1));
    }
}
