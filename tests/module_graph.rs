//! No module of either crate imports (directly or through others) a module that imports it
//! back. The graph is read from the source: every `crate::` path and every `super::`/`self::`
//! path (outside comments and string literals) names the module it reaches; a module and its
//! own submodules are one family and their paths to each other do not count (a folder's
//! `mod.rs` and its files use each other by design). `cargo test --test module_graph --
//! --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` or `src/a/b/mod.rs` -> `a::b`; the crate root is ``.
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?.with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" => Some(String::new()),
        [only] if only == "main" => None,
        [.., last] if last == "mod" => Some(parts[..parts.len() - 1].join("::")),
        _ => Some(parts.join("::")),
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments and with string and char literals emptied.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                out.push_str("\"\"");
                i = j + close.len();
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str("\"\"");
                i += 1;
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('a', '\n'); a lifetime has no closing quote.
                let mut j = i + 1;
                while j < b.len() && b[j] != b'\'' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                out.push_str("' '");
                i = j + 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// Every path the code names from `module`: `crate::a::b`, `super::c`, `self::d`, each
/// group `{x, y::z}` taken apart, as absolute segment lists.
fn paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let here: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let word_at = |i: usize| {
        let mut j = i;
        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        (chars[i..j].iter().collect::<String>(), j)
    };
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0
            || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
        if !boundary {
            i += 1;
            continue;
        }
        let (word, end) = word_at(i);
        let base: Option<Vec<String>> = match word.as_str() {
            "crate" => Some(Vec::new()),
            "self" => Some(here.clone()),
            "super" => Some(here[..here.len().saturating_sub(1)].to_vec()),
            _ => None,
        };
        let Some(mut base) = base else {
            i = end.max(i + 1);
            continue;
        };
        let mut j = end;
        // Further `::super`s.
        while chars[j..].starts_with(&[':', ':', 's', 'u', 'p', 'e', 'r']) {
            base.pop();
            j += 7;
        }
        collect(&chars, j, base, &mut out);
        i = j.max(i + 1);
    }
    out
}

/// After `prefix` at `i` (just past a segment), the paths that follow: `::a::b`, or a group.
fn collect(chars: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        if !(chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':')) {
            out.push(path);
            return;
        }
        i += 2;
        if chars.get(i) == Some(&'{') {
            // A group: each item is a path of its own from here.
            let mut depth = 0;
            let mut item_start = i + 1;
            let mut j = i;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        let item: String = chars[item_start..j].iter().collect();
                        let item = item.trim();
                        if !item.is_empty() && item != "self" && item != "*" {
                            let item_chars: Vec<char> = item.chars().collect();
                            let (first, end) = {
                                let mut k = 0;
                                while k < item_chars.len()
                                    && (item_chars[k].is_alphanumeric() || item_chars[k] == '_')
                                {
                                    k += 1;
                                }
                                (item_chars[..k].iter().collect::<String>(), k)
                            };
                            let mut p = path.clone();
                            p.push(first);
                            collect(&item_chars, end, p, out);
                        }
                        if chars[j] == '}' {
                            out.push(path);
                            return;
                        }
                        item_start = j + 1;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
                if chars[j] == '{' && depth > 1 {
                    // Nested groups are read by the item's own collect.
                }
                j += 1;
            }
            out.push(path);
            return;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i == start {
            out.push(path);
            return;
        }
        path.push(chars[start..i].iter().collect());
    }
}

/// The module a path reaches: its longest prefix that is a module of the crate.
fn target(modules: &BTreeSet<String>, path: &[String]) -> Option<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// Whether one of `a` and `b` contains the other.
fn family(a: &str, b: &str) -> bool {
    let within = |inner: &str, outer: &str| {
        outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}::"))
    };
    within(a, b) || within(b, a)
}

fn graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(root, &mut all);
    let sources: Vec<(String, String)> = all
        .iter()
        .filter_map(|f| {
            Some((
                module_of(root, f)?,
                code_only(&std::fs::read_to_string(f).ok()?),
            ))
        })
        .collect();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &sources {
        let entry = edges.entry(module.clone()).or_default();
        for path in paths(module, code) {
            if let Some(t) = target(&modules, &path) {
                if !family(module, &t) {
                    entry.insert(t);
                }
            }
        }
    }
    edges
}

/// A cycle of the graph, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(next.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (name, root) in [
        ("presign-stack", repo.join("src")),
        ("presigner", repo.join("lambda-bundle/src")),
    ] {
        let edges = graph(&root);
        eprintln!("{name}:");
        for (from, to) in &edges {
            if !to.is_empty() {
                let to: Vec<&str> = to.iter().map(String::as_str).collect();
                eprintln!(
                    "  {} -> {}",
                    if from.is_empty() { "(root)" } else { from },
                    to.join(", ")
                );
            }
        }
        assert!(
            edges.values().map(BTreeSet::len).sum::<usize>() > 10,
            "{name}: too few imports found; the reader is broken"
        );
        if let Some(c) = cycle(&edges) {
            panic!("{name}: an import cycle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_reader_finds_paths_and_cycles() {
    let code = code_only(
        "use crate::a::{b, c::d};\n// use crate::nope;\nlet s = \"crate::nope\";\n\
         use super::e;\nfn f() { crate::g::h(); }",
    );
    let found = paths("x::y", &code);
    let want: Vec<Vec<String>> = [
        &["a", "b"][..],
        &["a", "c", "d"],
        &["a"],
        &["x", "e"],
        &["g", "h"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    for w in &want {
        assert!(found.contains(w), "{w:?} not in {found:?}");
    }
    assert!(
        !found.iter().any(|p| p.contains(&"nope".to_string())),
        "{found:?}"
    );
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&edges),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
    assert!(family("resources", "resources::bucket") && !family("sync", "stack"));
}
