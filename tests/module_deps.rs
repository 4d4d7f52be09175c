//! No cycles between the library's top-level modules (`src/X.rs` or `src/X/`): reads every
//! `crate::` path in src/ (code and `#[cfg(test)]` code alike; comments are skipped) and
//! fails, naming the edges, if module A reaches B and B reaches A, directly or through
//! others. `src/main.rs` and `src/bin/` are binaries over the library and not counted.
//!
//! `cargo test --test module_deps -- --nocapture` prints the whole graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file under src/ belongs to (None: the crate root or a binary).
fn top_module(rel: &Path) -> Option<String> {
    let mut parts = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    match first.as_str() {
        "lib.rs" | "main.rs" | "bin" => None,
        f => Some(f.strip_suffix(".rs").unwrap_or(f).to_string()),
    }
}

/// The line without its `//` comment (a `//` inside a string literal is rare enough in
/// these paths' lines to ignore).
fn code_of(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("//") {
        return "";
    }
    match line.find("//") {
        Some(i) if !line[..i].contains('"') => &line[..i],
        _ => line,
    }
}

/// The top-level modules named after each `crate::` in `text`, with `crate::{a::x, b}`
/// groups opened.
fn crate_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `lvsd_crate::` or `$crate::` are not ours
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // the group's items at depth 0, each named by its first identifier
            let mut depth = 0usize;
            let mut items = vec![String::new()];
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(String::new()),
                    _ => {}
                }
                if let Some(item) = items.last_mut().filter(|_| c != ',' || depth > 0) {
                    item.push(c);
                }
            }
            for item in items {
                let name: String = item
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// module -> module it reaches -> files where it does.
fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut tops = BTreeSet::new();
    for f in &files {
        if let Some(m) = top_module(f.strip_prefix(&src).expect("under src")) {
            tops.insert(m);
        }
    }
    let mut g = Graph::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let Some(from) = top_module(rel) else {
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // one statement may span lines (`use crate::{\n a,\n b};`): join the code first
        let code: String = text.lines().map(code_of).collect::<Vec<_>>().join("\n");
        let edges = g.entry(from.clone()).or_default();
        for to in crate_refs(&code) {
            if to != from && tops.contains(&to) {
                edges
                    .entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct St<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        let g = s.g;
        for w in g.get(v).into_iter().flat_map(|e| e.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_cycles_between_top_level_modules() {
    let g = graph();
    for (from, edges) in &g {
        let to: Vec<&str> = edges.keys().map(String::as_str).collect();
        println!("{from} -> {}", to.join(", "));
    }
    let found = cycles(&g);
    let mut msg = String::new();
    for comp in &found {
        msg.push_str(&format!("cycle among {}:\n", comp.join(", ")));
        for from in comp {
            for (to, files) in &g[from] {
                if comp.contains(to) {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    msg.push_str(&format!("  {from} -> {to}  ({})\n", files.join(", ")));
                }
            }
        }
    }
    assert!(found.is_empty(), "{msg}");
}

#[test]
fn the_reader_sees_groups_and_skips_comments() {
    assert_eq!(
        crate_refs("use crate::{config::{A, B}, lvs::x, vrrp};"),
        ["config", "lvs", "vrrp"]
    );
    assert_eq!(crate_refs("let x = crate::ipvs::Service::new();"), ["ipvs"]);
    assert!(crate_refs("$crate::foo; other_crate::bar").is_empty());
    assert_eq!(code_of("/// see [`crate::daemon`]"), "");
    assert_eq!(code_of("let a = 1; // crate::daemon"), "let a = 1; ");
    let g: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(f, t)| {
        (
            f.to_string(),
            t.into_iter()
                .map(|t| (t.to_string(), BTreeSet::new()))
                .collect(),
        )
    })
    .collect();
    assert_eq!(cycles(&g), [["a", "b", "c"]]);
}
