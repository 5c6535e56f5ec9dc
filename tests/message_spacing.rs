//! No message carries a run of spaces from a lost line continuation. A long literal broken
//! over lines with `\` drops the newline and the next line's indentation; without the `\`
//! (or with it lost in an edit) the indentation lands in the text the user reads, as in
//! "add that, or remove                          `cloudfront`". Every string literal in the
//! sources of both crates is read as Rust reads it, and a run of three spaces or more in its
//! value is an error, unless it indents a line of rendered output (at the start of the value
//! or after an escaped `\n`, or in a raw string after a line break) or is one of the column
//! layouts listed in `ALIGNED`.

use std::path::{Path, PathBuf};

/// Literals that align columns for the reader: (file, a piece of the literal's value that
/// holds the run). Each must still be found, so the list stays exact.
const ALIGNED: &[(&str, &str)] = &[
    // `validate`'s summary: the names of the stack's resources in a column.
    ("src/cli/output.rs", "  website bucket    {}"),
    ("src/cli/output.rs", "  function          {}"),
    ("src/cli/output.rs", "  role              {}"),
    // `bundle`'s answer: `name = value` lines with the `=` in a column.
    ("src/cli/output.rs", "digest      = {}"),
    // A drift finding's expected and found values, one above the other.
    ("src/drift.rs", "found:    {found}"),
    ("src/drift.rs", "found:    {}"),
    // `init`'s next steps: commands with their comments in a column.
    ("src/init.rs", "presign-stack dev        # "),
    ("src/init.rs", "presign-stack plan       # "),
    ("src/init.rs", "presign-stack up         # "),
    // The spec `init` writes: YAML with its comments in a column.
    ("src/init.rs", "uploads_prefix: uploads/   # "),
    // `outputs`: `name = value` lines with the `=` in a column.
    ("src/stack/mod.rs", "website_url      = {}"),
    ("src/stack/mod.rs", "presigner_url    = {}"),
    ("src/stack/mod.rs", "website_bucket   = {}"),
    ("src/stack/mod.rs", "role_arn         = {}"),
    ("src/stack/mod.rs", "function_arn     = {}"),
    ("src/stack/mod.rs", "user_pool_id     = {}"),
    ("src/stack/mod.rs", "client_id        = {}"),
    ("src/stack/mod.rs", "sign_in_url      = {url}"),
];

/// A run of this many spaces is not a sentence's spacing.
const RUN: usize = 3;

struct Literal {
    line: usize,
    value: String,
    /// Where in `value` (byte offsets) a line break of the source itself stands: in a raw
    /// string a line of the text, in any other literal a missing `\`.
    source_breaks: Vec<usize>,
    raw: bool,
}

impl Literal {
    /// Whether a run of spaces follows text on its line, or a line break a missing `\` left:
    /// anything but the indentation of a rendered line.
    fn has_suspect_run(&self) -> bool {
        let bytes = self.value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b' ' {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i - start < RUN {
                continue;
            }
            let indents = start == 0
                || (bytes[start - 1] == b'\n'
                    && (self.raw || !self.source_breaks.contains(&(start - 1))));
            if !indents {
                return true;
            }
        }
        false
    }
}

#[test]
fn no_message_holds_a_run_of_spaces() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "lambda-bundle/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("src/cli/output.rs")),
        "the scan found no sources under {}",
        root.display()
    );

    let mut offenders = Vec::new();
    let mut used = vec![false; ALIGNED.len()];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for lit in literals(&text).unwrap_or_else(|e| panic!("{rel}: {e}")) {
            if !lit.has_suspect_run() {
                continue;
            }
            let aligned = ALIGNED
                .iter()
                .position(|(f, piece)| *f == rel && lit.value.contains(piece));
            match aligned {
                Some(i) => used[i] = true,
                None => offenders.push(format!("{rel}:{}: {:?}", lit.line, lit.value)),
            }
        }
    }
    let stale: Vec<_> = ALIGNED
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|((f, piece), _)| format!("{f}: {piece:?}"))
        .collect();
    assert!(
        stale.is_empty(),
        "listed in ALIGNED but no longer found; remove them from the list:\n{}",
        stale.join("\n")
    );
    assert!(
        offenders.is_empty(),
        "string literals with a run of {RUN}+ spaces inside their text (a missing `\\` line \
         continuation?); fix them, or list a deliberate column layout in ALIGNED:\n{}",
        offenders.join("\n")
    );
}

/// The scanner reads values as Rust does, and tells indentation from a lost continuation.
#[test]
fn the_scanner_reads_literals_as_rust_does() {
    let src = r####"
        // "a comment    with spaces"
        /* "a block /* nested */ comment    with spaces" */
        let q = '"'; let e = '\''; fn f<'a>(x: &'a str) {}
        let a = "joined by a \
                 continuation";
        let b = "lost         continuation";
        let c = r#"raw "quoted"    text"#;
        let d = b"bytes\"    escaped";
        let n = "line
            break";
        let i = "   indented\n      and again";
        let t = r"a raw
            text";
    "####;
    let found = literals(src).unwrap();
    let values: Vec<(usize, &str, bool)> = found
        .iter()
        .map(|l| (l.line, l.value.as_str(), l.has_suspect_run()))
        .collect();
    assert_eq!(
        values,
        [
            (5, "joined by a continuation", false),
            (7, "lost         continuation", true),
            (8, "raw \"quoted\"    text", true),
            (9, "bytes\"    escaped", true),
            (10, "line\n            break", true),
            (12, "   indented\n      and again", false),
            (13, "a raw\n            text", false),
        ]
    );
    assert!(literals("let s = \"never closed;").is_err());
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every string literal of a Rust source (plain, byte, C and raw), with its value as the
/// compiler reads it; escapes other than the line continuation and the quote count as one
/// character that is not a space, which is all a search for runs of spaces needs.
fn literals(src: &str) -> Result<Vec<Literal>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let starts_token = i == 0 || !ident(chars[i - 1]);
        let raw = if starts_token {
            raw_string_start(&chars, i)
        } else {
            None
        };
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                match (at(i), at(i + 1)) {
                    ('\0', _) => return Err(format!("line {line}: unclosed block comment")),
                    ('/', '*') => (depth, i) = (depth + 1, i + 2),
                    ('*', '/') => (depth, i) = (depth - 1, i + 2),
                    ('\n', _) => (line, i) = (line + 1, i + 1),
                    _ => i += 1,
                }
                if depth == 0 {
                    break;
                }
            }
        } else if c == '\'' {
            // A character literal, or else a lifetime (`'a` with no closing quote).
            if at(i + 1) == '\\' {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if let Some((hashes, open)) = raw {
            let start_line = line;
            let mut j = open + 1;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while !chars[j..].starts_with(&close) {
                if j == chars.len() {
                    return Err(format!("line {start_line}: unclosed raw string"));
                }
                if chars[j] == '\n' {
                    line += 1;
                }
                j += 1;
            }
            found.push(Literal {
                line: start_line,
                value: chars[open + 1..j].iter().collect(),
                source_breaks: Vec::new(),
                raw: true,
            });
            i = j + close.len();
        } else if c == '"' || (starts_token && matches!(c, 'b' | 'c') && at(i + 1) == '"') {
            let start_line = line;
            let mut j = if c == '"' { i + 1 } else { i + 2 };
            let mut value = String::new();
            let mut source_breaks = Vec::new();
            loop {
                match at(j) {
                    '\0' => return Err(format!("line {start_line}: unclosed string")),
                    '"' => break,
                    '\\' if at(j + 1) == '\n' => {
                        j += 1;
                        while at(j).is_whitespace() {
                            if at(j) == '\n' {
                                line += 1;
                            }
                            j += 1;
                        }
                    }
                    '\\' => {
                        // Only spaces and line breaks matter here: any other escape stands
                        // for a character that is neither.
                        value.push(match at(j + 1) {
                            'n' => '\n',
                            '"' => '"',
                            _ => '\\',
                        });
                        j += 2;
                    }
                    ch => {
                        if ch == '\n' {
                            line += 1;
                            source_breaks.push(value.len());
                        }
                        value.push(ch);
                        j += 1;
                    }
                }
            }
            found.push(Literal {
                line: start_line,
                value,
                source_breaks,
                raw: false,
            });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    Ok(found)
}

/// At `i`, the start of a raw string (`r"`, `r#"`, `br"`, `cr#"`, ...): the number of `#`
/// and the index of the opening quote.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if matches!(chars[j], 'b' | 'c') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some((hashes, j + hashes))
}
