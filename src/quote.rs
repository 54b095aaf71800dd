//! Quoting user input in messages: names and text from files are shown in quotes, with line
//! breaks and other control characters escaped (a file name with a newline must not break a
//! report line), and cut to a few hundred characters (a 200 MB garbage line must not be
//! printed whole).

use std::path::Path;

/// The most characters of user input a message quotes.
pub const MAX_QUOTED: usize = 200;

/// `text` in double quotes, control characters and quotes escaped, cut to [`MAX_QUOTED`]
/// characters with the number left out said.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_QUOTED) + 2);
    out.push('"');
    let mut shown = 0;
    for c in text.chars() {
        if shown == MAX_QUOTED {
            break;
        }
        shown += 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('"');
    let total = text.chars().count();
    if total > shown {
        out.push_str(&format!(" (… {} more characters)", total - shown));
    }
    out
}

/// A path quoted as [`quote`] does (invalid UTF-8 shown as U+FFFD).
pub fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

/// `text` cut to [`MAX_QUOTED`] characters (no quotes, no escaping), saying how much was cut:
/// for messages from parsers that may repeat their input.
pub fn clip(text: &str) -> String {
    let total = text.chars().count();
    if total <= MAX_QUOTED {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX_QUOTED).collect();
    format!("{head}… ({} more characters)", total - MAX_QUOTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(quote("a\nb\"c"), "\"a\\nb\\\"c\"");
        assert_eq!(quote("tab\there"), "\"tab\\there\"");
        let long = "x".repeat(10_000);
        let q = quote(&long);
        assert!(q.len() < MAX_QUOTED + 50, "{q}");
        assert!(q.ends_with("(… 9800 more characters)"), "{q}");
        let c = clip(&long);
        assert!(c.len() < MAX_QUOTED + 40 && c.contains("9800 more"), "{c}");
        assert_eq!(clip("short"), "short");
    }
}
