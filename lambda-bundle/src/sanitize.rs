//! Turning a client-supplied filename into the last segment of an S3 key.
//!
//! Rules, in order:
//! 1. Only the last non-empty path segment is kept (split on `/` and `\`), so
//!    `../../etc/passwd` becomes `passwd` and `a/b\c.pdf` becomes `c.pdf`.
//! 2. The segment is normalised to NFC. Control characters (NUL, C0, DEL, C1) and invisible
//!    format characters (soft hyphen, zero-width space, LRM/RLM, word joiner and invisible
//!    operators, BOM, tag characters) are dropped; ZWJ and ZWNJ are kept only inside a word
//!    (between two characters that are neither ASCII punctuation nor spaces), where scripts
//!    and emoji need them.
//! 3. ASCII letters, digits and `- _ . ( )` are kept; any other ASCII character (spaces,
//!    quotes, `%`, `+`, `#`, `?`, `*`, ...) becomes `_`.
//! 4. Non-ASCII characters are kept (Arabic, Chinese, accented letters, combining marks,
//!    emoji and their joiners), except whitespace and characters used to disguise a name:
//!    bidirectional overrides/isolates, line/paragraph separators, private-use code points,
//!    non-characters, and look-alikes of `/`, `\` and `.` (one dot leader, fullwidth and
//!    small full stops, which could fake an extension): those become `_`.
//! 5. Runs of replacement `_` collapse to one; leading and trailing dots are removed (so the
//!    result is never `.`, `..` or a hidden file, and Windows keeps the name as is).
//! 6. The result is at most [`MAX_FILENAME_BYTES`] bytes, cut on a character boundary; a
//!    short alphanumeric extension (`.pdf`, `.jpeg`) is kept when the name is cut.
//! 7. An empty result becomes `file`.

/// Upper bound on the sanitised filename, in UTF-8 bytes.
pub const MAX_FILENAME_BYTES: usize = 128;
/// Longest extension (without the dot) preserved when a long name is shortened.
const MAX_EXTENSION_BYTES: usize = 16;
const FALLBACK: &str = "file";

/// Characters that show nothing: dropped (ZWJ and ZWNJ are judged by their neighbours).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{200B}'                    // zero-width space
        | '\u{200E}' | '\u{200F}'       // LRM, RLM
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{FEFF}'                    // BOM / zero-width no-break space
        | '\u{E0000}'..='\u{E007F}'     // tag characters
    )
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// A character a joiner may stand beside: not a space, ASCII punctuation or control.
fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !c.is_ascii_punctuation() && !is_invisible(c)
}

fn is_disguising(c: char) -> bool {
    matches!(c,
        '\u{061C}'                      // Arabic letter mark
        | '\u{2024}' | '\u{FE52}' | '\u{FF0E}' // look-alikes of `.`
        | '\u{2028}' | '\u{2029}'       // line / paragraph separator
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2066}'..='\u{2069}'       // bidi isolates
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{E000}'..='\u{F8FF}'       // private use
        | '\u{F0000}'..='\u{10FFFF}'    // supplementary private use planes
        | '\u{FDD0}'..='\u{FDEF}'       // non-characters
        | '\u{2044}' | '\u{2215}' | '\u{29F8}' | '\u{29F9}' | '\u{FF0F}' | '\u{FF3C}' // slashes
    ) || (c as u32 & 0xFFFE) == 0xFFFE // U+xxFFFE / U+xxFFFF non-characters
}

/// Sanitises a client filename into one safe key segment. See the module docs for the rules.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw
        .split(['/', '\\'])
        .rev()
        .find(|s| !s.is_empty())
        .unwrap_or("");

    use unicode_normalization::UnicodeNormalization as _;
    let mut chars = last.nfc().peekable();

    let mut out = String::with_capacity(last.len().min(4 * MAX_FILENAME_BYTES));
    let mut last_was_replacement = false;
    while let Some(c) = chars.next() {
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if is_joiner(c) {
            let before = out.chars().last().is_some_and(is_word_char) && !last_was_replacement;
            let after = chars
                .peek()
                .is_some_and(|n| is_word_char(*n) && !is_joiner(*n));
            if before && after {
                out.push(c);
            }
            continue;
        }
        let keep = if c.is_ascii() {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')
        } else {
            !c.is_whitespace() && !is_disguising(c)
        };
        if keep {
            out.push(c);
            last_was_replacement = false;
        } else if !last_was_replacement {
            out.push('_');
            last_was_replacement = true;
        }
        // Stop early on absurdly long input; enough is kept to find an extension.
        if out.len() > 8 * MAX_FILENAME_BYTES {
            break;
        }
    }
    // If we stopped early, keep the real extension from the end of the input.
    let out = if out.len() > 8 * MAX_FILENAME_BYTES {
        match extension_of(&sanitize_tail(last)) {
            Some(ext) => format!("{}.{}", &out[..floor_char_boundary(&out, 512)], ext),
            None => out,
        }
    } else {
        out
    };

    let trimmed = out.trim_matches('.');
    let bounded = bound_length(trimmed);
    let bounded = bounded.trim_matches('.');
    if bounded.is_empty() {
        FALLBACK.to_string()
    } else {
        bounded.to_string()
    }
}

/// Sanitises just the last 64 characters (to find the extension of a very long name).
fn sanitize_tail(s: &str) -> String {
    let start = s.char_indices().rev().nth(63).map(|(i, _)| i).unwrap_or(0);
    let tail = &s[start..];
    // Reuse the character rules on a short input (no recursion depth concern: the tail is
    // short, so the early-stop branch is not taken).
    sanitize_filename(tail)
}

/// The extension (without the dot) when it is short and alphanumeric and has a stem before it.
fn extension_of(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    let ok = !stem.trim_matches('.').is_empty()
        && !ext.is_empty()
        && ext.len() <= MAX_EXTENSION_BYTES
        && ext.chars().all(|c| c.is_alphanumeric());
    ok.then_some(ext)
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn bound_length(name: &str) -> String {
    if name.len() <= MAX_FILENAME_BYTES {
        return name.to_string();
    }
    match extension_of(name) {
        Some(ext) => {
            let stem = &name[..name.len() - ext.len() - 1];
            let room = MAX_FILENAME_BYTES - ext.len() - 1;
            let stem = stem[..floor_char_boundary(stem, room)].trim_end_matches(['.', '_']);
            if stem.trim_matches('.').is_empty() {
                name[..floor_char_boundary(name, MAX_FILENAME_BYTES)].to_string()
            } else {
                format!("{stem}.{ext}")
            }
        }
        None => name[..floor_char_boundary(name, MAX_FILENAME_BYTES)].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitiser_table() {
        let cases: &[(&str, &str)] = &[
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("a/b\\c.pdf", "c.pdf"),
            ("C:\\Users\\me\\Desktop\\scan 01.png", "scan_01.png"),
            ("dir/", "dir"),
            ("..", "file"),
            (".", "file"),
            ("../..", "file"),
            ("...", "file"),
            ("", "file"),
            ("/", "file"),
            ("\\\\", "file"),
            (".bashrc", "bashrc"),
            ("..hidden.txt", "hidden.txt"),
            ("name.", "name"),
            ("in\0side\u{1}\u{7f}\u{9f}.txt", "inside.txt"),
            ("line\nbreak\r\ttab.txt", "linebreaktab.txt"),
            ("\0\0\0", "file"),
            ("my report (final).pdf", "my_report_(final).pdf"),
            ("a  +  b.txt", "a_b.txt"),
            ("50%?#&=*'\"<>|:;.csv", "50_.csv"),
            ("تقرير مالي.pdf", "تقرير_مالي.pdf"),
            ("مُسْتَنَد.pdf", "مُسْتَنَد.pdf"),
            ("年度报告.docx", "年度报告.docx"),
            ("हिन्दी.txt", "हिन्दी.txt"),
            ("Résumé.PDF", "Résumé.PDF"),
            ("😀 party 🎉.png", "😀_party_🎉.png"),
            ("👩‍💻.png", "👩‍💻.png"),
            ("invoice\u{202E}fdp.exe", "invoice_fdp.exe"),
            ("zero\u{200B}width.txt", "zerowidth.txt"),
            ("soft\u{00AD}hy\u{2060}phen\u{E0041}.txt", "softhyphen.txt"),
            ("report\u{2024}pdf.exe", "report_pdf.exe"),
            ("report\u{FF0E}pdf.exe", "report_pdf.exe"),
            ("a\u{200D}.txt", "a.txt"),
            ("\u{200C}lead.txt", "lead.txt"),
            ("می\u{200C}خواهم.txt", "می\u{200C}خواهم.txt"),
            ("Re\u{0301}sume\u{0301}.pdf", "Résumé.pdf"),
            ("full\u{FF0F}width\u{2215}slash.txt", "full_width_slash.txt"),
            ("ideographic\u{3000}space.txt", "ideographic_space.txt"),
            ("\u{FEFF}bom.txt", "bom.txt"),
        ];
        for (input, want) in cases {
            let got = sanitize_filename(input);
            assert_eq!(&got, want, "input {input:?}");
            assert_invariants(&got);
        }
    }

    fn assert_invariants(s: &str) {
        assert!(!s.is_empty());
        assert!(s.len() <= MAX_FILENAME_BYTES, "{} bytes", s.len());
        assert!(!s.contains(['/', '\\']), "{s:?}");
        assert!(s != "." && s != "..");
        assert!(!s.starts_with('.'), "{s:?}");
        assert!(!s.chars().any(char::is_control), "{s:?}");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = "a".repeat(1000) + ".pdf";
        let got = sanitize_filename(&long);
        assert_eq!(got.len(), MAX_FILENAME_BYTES);
        assert!(got.ends_with(".pdf"));
        assert_invariants(&got);

        let long_no_ext = "b".repeat(1000);
        assert_eq!(sanitize_filename(&long_no_ext), "b".repeat(128));

        // A multi-byte name is cut on a character boundary.
        let chinese = "报".repeat(300) + ".txt";
        let got = sanitize_filename(&chinese);
        assert!(got.ends_with(".txt"));
        assert!(got.len() <= MAX_FILENAME_BYTES);
        assert_eq!(got, "报".repeat(41) + ".txt");
        assert_invariants(&got);

        let emoji = "😀".repeat(100);
        let got = sanitize_filename(&emoji);
        assert_eq!(got, "😀".repeat(32));

        // A huge input is handled without keeping it all.
        let huge = "x".repeat(1_000_000) + ".jpeg";
        let got = sanitize_filename(&huge);
        assert!(got.ends_with(".jpeg"), "{got}");
        assert_invariants(&got);

        // A name that is all extension is cut like any other name.
        let all_ext = ".".to_string() + &"e".repeat(300);
        assert_eq!(sanitize_filename(&all_ext), "e".repeat(128));
    }

    #[test]
    fn fuzz_invariants() {
        // Deterministic pseudo-random strings over a nasty alphabet.
        let alphabet: Vec<char> = "./\\\0\u{1}\n .a Z9-_()+%😀ب报\u{202E}\u{200D}\u{301}é"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 300) as usize;
            let s: String = (0..len)
                .map(|i| {
                    let x = state.rotate_left(i as u32 % 64) as usize;
                    alphabet[(x ^ i) % alphabet.len()]
                })
                .collect();
            assert_invariants(&sanitize_filename(&s));
        }
    }
}
