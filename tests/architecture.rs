//! The layout rules of `ARCHITECTURE.md`, checked on the source text of `src/`:
//! - no file-level import cycle (file A uses something of file B while B, directly or through
//!   other files, uses A);
//! - the core library imports no egui crate (only `src/ui/` does);
//! - `src/main.rs` stays a thin entry point (under 100 lines);
//! - no function is longer than 150 lines, except flat `match` dispatch tables.
//!
//! The source is read by a small lexer (comments, strings and character literals blanked out)
//! rather than by `syn`: `syn` gives line numbers only with proc-macro2's `span-locations`
//! feature, and proc-macro2 is a normal dependency of burn's GPU stack (cubecl-core → pliron →
//! awint), so turning that feature on would rebuild all of burn.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FN_LINES: usize = 150;
const MAX_MAIN_LINES: usize = 100;
const GUI_CRATES: [&str; 4] = ["egui", "eframe", "egui_plot", "egui_extras"];

/// Every `.rs` file below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("src/ is readable").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source with comments, string literals and character literals replaced by spaces (line
/// breaks kept), so that braces and paths can be found by plain scanning.
fn blank_non_code(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, 0usize);
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = raw_string_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' || rest.starts_with(b"b\"") {
            let start = if rest[0] == b'"' { 1 } else { 2 };
            let mut j = start;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let len = (j + 1).min(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only the first is
            // closed by a quote within a few bytes.
            let len = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                let ch_len = std::str::from_utf8(&rest[1..rest.len().min(5)])
                    .ok()
                    .or_else(|| std::str::from_utf8(&rest[1..rest.len().min(2)]).ok())
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + ch_len) == Some(&b'\'')).then_some(ch_len + 2)
            };
            match len {
                Some(len) => {
                    blank(&mut out, &rest[..len]);
                    i += len;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let ch = src[i..].chars().next().expect("i is on a char boundary");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Length of a raw string literal (`r"…"`, `r#"…"#`, `br#"…"#`) starting at `s`, if one does.
fn raw_string_len(s: &[u8]) -> Option<usize> {
    let start = if s.starts_with(b"br") {
        2
    } else if s.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = start + hashes + 1;
    s[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map(|p| body + p + close.len())
}

/// Index of the brace that closes the one at `open`.
fn matching_brace(code: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, &c) in code.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    code.len() - 1
}

/// Blanks out every item marked `#[cfg(test)]` (test modules and test-only helpers).
fn without_test_items(code: &str) -> String {
    let mut b = code.as_bytes().to_vec();
    let marker = b"#[cfg(test)]";
    let mut from = 0;
    while let Some(p) = b[from..].windows(marker.len()).position(|w| w == marker) {
        let at = from + p;
        let end = match b[at..].iter().position(|&c| c == b'{' || c == b';') {
            Some(q) if b[at + q] == b'{' => matching_brace(&b, at + q),
            Some(q) => at + q,
            None => b.len() - 1,
        };
        for c in &mut b[at..=end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end + 1;
    }
    String::from_utf8(b).expect("only ASCII bytes were replaced")
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The module path of a file (`src/sweep/run.rs` → `sweep::run`); `None` for `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts == ["main"] {
        return None;
    }
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    Some(parts)
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths (`a::b`, `a::c::d`, `a::c::e`).
fn expand_use(tree: &str) -> Vec<String> {
    // `x as y` becomes `x@y`; then no whitespace is left.
    let spaced = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree: String = spaced
        .replace(" as ", "@")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    parts.push(cur);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use(p)
                .into_iter()
                .map(move |q| format!("{prefix}{q}"))
        })
        .collect()
}

/// The paths a file names (from `use` items and from paths in code), each with the module
/// the naming code is in (a file's inline `mod x { … }` blocks shift `super`).
fn named_paths(code: &str, module: &[String], children: &[String]) -> Vec<(Vec<String>, String)> {
    let b = code.as_bytes();
    // Inline modules: byte range → module path.
    let mut inline: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("mod ") {
        let at = i + p;
        i = at + 4;
        if at > 0 && is_ident(b[at - 1]) {
            continue;
        }
        let name: String = code[at + 4..]
            .trim_start()
            .chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_')
            .collect();
        let after = code[at + 4..].trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with('{') {
            let open = code.len() - after.len();
            let close = matching_brace(b, open);
            let outer = inline
                .iter()
                .rev()
                .find(|(s, e, _)| *s < open && open < *e)
                .map_or(module.to_vec(), |(_, _, m)| m.clone());
            let mut m = outer;
            m.push(name);
            inline.push((open, close, m));
        }
    }
    let module_at = |pos: usize| {
        inline
            .iter()
            .rev()
            .find(|(s, e, _)| *s < pos && pos < *e)
            .map_or(module.to_vec(), |(_, _, m)| m.clone())
    };
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("use ") {
        let at = i + p;
        i = at + 4;
        if at > 0 && is_ident(b[at - 1]) {
            continue;
        }
        if let Some(end) = code[at..].find(';') {
            for path in expand_use(&code[at + 4..at + end]) {
                let first = path.split("::").next().unwrap_or_default();
                // `use child::X` in a module file means `use self::child::X`.
                let path = if children.iter().any(|c| c == first) {
                    format!("self::{path}")
                } else {
                    path
                };
                out.push((module_at(at), path));
            }
        }
    }
    // Paths in code: from the crate root, relative (`super::`, `self::`), or through a child
    // module of this file (`layouts::detect(…)` in `dataset/mod.rs`).
    let mut roots: Vec<String> = ["crate::", "super::", "self::", "leukolens::"]
        .map(String::from)
        .to_vec();
    roots.extend(children.iter().map(|c| format!("{c}::")));
    for root in &roots {
        let mut i = 0;
        while let Some(p) = code[i..].find(root) {
            let at = i + p;
            i = at + root.len();
            if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b':') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            let path = &code[at..end];
            let path = if root.starts_with(|c: char| c.is_ascii_lowercase())
                && !["crate::", "super::", "self::", "leukolens::"].contains(&root.as_str())
            {
                format!("self::{path}")
            } else {
                path.to_string()
            };
            out.push((module_at(at), path));
        }
    }
    out
}

/// The file a path names: the longest module prefix of it that is a file of `src/`.
fn resolve(
    path: &str,
    from: &[String],
    in_bin: bool,
    files: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<PathBuf> {
    let segs: Vec<&str> = path
        .split("::")
        .filter(|s| !s.is_empty())
        .map(|s| s.split('@').next().unwrap_or(s))
        .collect();
    let (mut base, mut rest): (Vec<String>, &[&str]) = match *segs.first()? {
        "crate" => (Vec::new(), &segs[1..]),
        "leukolens" if in_bin => (Vec::new(), &segs[1..]),
        "self" => (from.to_vec(), &segs[1..]),
        "super" => (from.to_vec(), &segs[..]),
        _ => return None,
    };
    while rest.first() == Some(&"super") {
        base.pop();
        rest = &rest[1..];
    }
    let full: Vec<String> = base
        .into_iter()
        .chain(rest.iter().map(|s| s.to_string()))
        .collect();
    (0..=full.len())
        .rev()
        .find_map(|n| files.get(&full[..n].to_vec()).cloned())
}

struct Source {
    files: BTreeMap<PathBuf, String>,
    modules: BTreeMap<Vec<String>, PathBuf>,
    src: PathBuf,
}

fn read_source() -> Source {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    let mut modules = BTreeMap::new();
    for f in rust_files(&src) {
        let text = std::fs::read_to_string(&f).expect("source files are UTF-8");
        if let Some(m) = module_of(&src, &f) {
            modules.insert(m, f.clone());
        }
        files.insert(f, blank_non_code(&text));
    }
    Source {
        files,
        modules,
        src,
    }
}

/// File → the files it imports.
fn import_graph(s: &Source) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut graph = BTreeMap::new();
    for (file, code) in &s.files {
        let module = module_of(&s.src, file);
        let in_bin = module.is_none();
        let module = module.unwrap_or_default();
        let children: Vec<String> = if in_bin {
            Vec::new()
        } else {
            s.modules
                .keys()
                .filter(|m| m.len() == module.len() + 1 && m.starts_with(&module))
                .filter_map(|m| m.last().cloned())
                .collect()
        };
        let mut targets = BTreeSet::new();
        for (from, path) in named_paths(&without_test_items(code), &module, &children) {
            if let Some(t) = resolve(&path, &from, in_bin, &s.modules)
                && &t != file
            {
                targets.insert(t);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// The strongly connected components with more than one file (Tarjan).
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// (name, first line, line count) of every function with a body in `code`.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && is_ident(b[at - 1]) {
            continue;
        }
        let name: String = code[at + 3..]
            .chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_')
            .collect();
        if name.is_empty() {
            continue; // `fn(` pointer types
        }
        let Some(q) = code[at..].find(['{', ';']) else {
            continue;
        };
        if b[at + q] == b';' {
            continue; // a declaration without a body
        }
        let close = matching_brace(b, at + q);
        let first = code[..at].matches('\n').count() + 1;
        let last = code[..close].matches('\n').count() + 1;
        if !is_dispatch_table(&code[at + q..=close]) {
            out.push((name, first, last - first + 1));
        }
    }
    out
}

/// A body that is one `match` whose arms are each short (a flat dispatch table).
fn is_dispatch_table(body: &str) -> bool {
    let inner = body[1..body.len() - 1].trim();
    let Some(rest) = inner.strip_prefix("match ") else {
        return false;
    };
    let Some(open) = rest.find('{') else {
        return false;
    };
    let b = rest.as_bytes();
    let close = matching_brace(b, open);
    if !rest[close + 1..].trim().is_empty() {
        return false;
    }
    // Arms: split at depth-1 commas and closing braces; none longer than 25 lines.
    let (mut depth, mut arm_start) = (0usize, open + 1);
    for (j, &c) in b.iter().enumerate().take(close).skip(open) {
        match c {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            _ => {}
        }
        let arm_ends = depth == 1 && (c == b',' || c == b'}');
        if arm_ends {
            if rest[arm_start..j].matches('\n').count() > 25 {
                return false;
            }
            arm_start = j + 1;
        }
    }
    true
}

#[test]
fn no_file_level_import_cycle() {
    let s = read_source();
    let graph = import_graph(&s);
    assert!(
        graph.values().map(BTreeSet::len).sum::<usize>() > 50,
        "the import graph was not read: {graph:?}"
    );
    let found = cycles(&graph);
    let show: Vec<String> = found
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| {
                    let to: Vec<String> = graph[f]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(|t| t.strip_prefix(&s.src).unwrap_or(t).display().to_string())
                        .collect();
                    format!(
                        "{} → {}",
                        f.strip_prefix(&s.src).unwrap_or(f).display(),
                        to.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n  ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles:\n  {}",
        show.join("\n\n  ")
    );
}

#[test]
fn the_core_library_imports_no_gui_crate() {
    let s = read_source();
    let ui = s.src.join("ui");
    let mut offenders = Vec::new();
    for (file, code) in &s.files {
        if file.starts_with(&ui) {
            continue;
        }
        for krate in GUI_CRATES {
            for (n, line) in code.lines().enumerate() {
                let hit = line.match_indices(&format!("{krate}::")).any(|(at, _)| {
                    at == 0 || !(is_ident(line.as_bytes()[at - 1]) || line[..at].ends_with(':'))
                });
                if hit {
                    offenders.push(format!("{}:{}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "GUI crates used outside src/ui/: {offenders:?}"
    );
}

#[test]
fn main_rs_is_a_thin_entry_point() {
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs");
    let lines = std::fs::read_to_string(main)
        .expect("src/main.rs")
        .lines()
        .count();
    assert!(lines < MAX_MAIN_LINES, "src/main.rs has {lines} lines");
}

#[test]
fn no_function_is_longer_than_150_lines() {
    let s = read_source();
    let mut long = Vec::new();
    for (file, code) in &s.files {
        for (name, line, len) in functions(code) {
            if len > MAX_FN_LINES {
                long.push(format!("{}:{line} {name} ({len} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long:#?}"
    );
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    // The lexer blanks comments and strings but keeps code and line breaks.
    let code = blank_non_code("let a = \"{ use crate::x; }\"; // crate::y\nlet c = '{';\n");
    assert!(!code.contains("crate::"));
    assert_eq!(code.matches('{').count(), 0);
    assert_eq!(code.lines().count(), 2);
    // Use trees expand; paths resolve to the longest module that is a file.
    assert_eq!(
        expand_use("crate::a::{b, c::{d, e as f}}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e@f"]
    );
    let files: BTreeMap<Vec<String>, PathBuf> = [
        (vec![], PathBuf::from("lib.rs")),
        (vec!["a".to_string()], PathBuf::from("a/mod.rs")),
        (
            vec!["a".to_string(), "b".to_string()],
            PathBuf::from("a/b.rs"),
        ),
    ]
    .into_iter()
    .collect();
    let from = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        resolve("crate::a::b::Thing", &[], false, &files),
        Some(PathBuf::from("a/b.rs"))
    );
    assert_eq!(
        resolve("super::Other", &from, false, &files),
        Some(PathBuf::from("a/mod.rs"))
    );
    // A two-file cycle is found; a chain is not.
    let g: BTreeMap<PathBuf, BTreeSet<PathBuf>> =
        [("x", vec!["y"]), ("y", vec!["x"]), ("z", vec!["x"])]
            .into_iter()
            .map(|(a, bs)| {
                (
                    PathBuf::from(a),
                    bs.into_iter().map(PathBuf::from).collect(),
                )
            })
            .collect();
    assert_eq!(
        cycles(&g),
        vec![vec![PathBuf::from("x"), PathBuf::from("y")]]
    );
    // Test items are ignored; function lengths count lines; dispatch tables are exempt.
    assert!(!without_test_items("#[cfg(test)]\nmod tests { use crate::a; }").contains("crate"));
    let f = functions(
        "fn long() {\n\n\n}\nfn table(x: u8) {\n    match x {\n        0 => a(),\n        _ => b(),\n    }\n}\n",
    );
    assert_eq!(f, vec![("long".to_string(), 1, 4)]);
}
