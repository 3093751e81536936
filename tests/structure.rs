//! The workspace's layering, read from the sources: no two files of a crate import each
//! other, directly or round a loop (cargo already refuses cycles between crates), so each
//! concern can be read, tested and replaced from the bottom up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of `file` below the crate's `src` folder (`lib.rs`/`main.rs` = root).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("below src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

/// The file holding the longest prefix of `path` that is a module.
fn file_of(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<PathBuf> {
    (0..=path.len())
        .rev()
        .find_map(|k| modules.get(&path[..k]).cloned())
}

/// The code of a file before its tests, without comment lines.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("source");
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths a file names: `crate::…`, `super::…`, `self::…` and its own child modules `m::…`,
/// with `prefix::{a, b::c}` groups expanded one level.
fn named_paths(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut starts = vec!["crate".to_string(), "super".into(), "self".into()];
    starts.extend(children.iter().cloned());
    let words =
        regex::Regex::new(r"\b([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{([^{}]*)\})?")
            .expect("regex");
    let mut out = Vec::new();
    for m in words.captures_iter(code) {
        let head = &m[1];
        if !starts.iter().any(|s| s == head) {
            continue;
        }
        // Only a path (`head::…`) names a module, not a lone word like `self`.
        if m.get(2).is_none_or(|g| g.as_str().is_empty()) && m.get(3).is_none() {
            continue;
        }
        let mut base = vec![head.to_string()];
        base.extend(
            m[2].split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        match m.get(4) {
            Some(group) => {
                for item in group.as_str().split(',') {
                    let mut path = base.clone();
                    path.extend(
                        item.trim()
                            .split("::")
                            .map(str::trim)
                            .filter(|s| !s.is_empty() && *s != "self")
                            .map(str::to_string),
                    );
                    out.push(path);
                }
            }
            None => out.push(base),
        }
    }
    out
}

/// Resolves a named path to absolute module segments, as seen from module `me`.
fn absolute(me: &[String], path: &[String]) -> Vec<String> {
    let mut at: Vec<String> = match path[0].as_str() {
        "crate" => Vec::new(),
        "super" => me[..me.len().saturating_sub(1)].to_vec(),
        "self" => me.to_vec(),
        child => {
            let mut m = me.to_vec();
            m.push(child.to_string());
            m
        }
    };
    let mut rest = path[1..].iter().peekable();
    while rest.peek().is_some_and(|s| *s == "super") {
        at.pop();
        rest.next();
    }
    at.extend(rest.cloned());
    at
}

/// Re-exported names (`pub use path::Name;` in module `me` makes `me::Name` stand for
/// `path::Name`), so an import of `crate::Error` counts as one of `error.rs`, where it is
/// defined, not of `lib.rs`, which re-exports it.
fn aliases(me: &[String], code: &str, children: &[String]) -> Vec<(Vec<String>, Vec<String>)> {
    code.split(';')
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l.starts_with("pub use ") || l.starts_with("pub(crate) use "))
        .flat_map(|l| named_paths(&l, children))
        .filter(|p| p.last().is_some_and(|n| n != "*"))
        .map(|p| {
            let mut name = me.to_vec();
            name.push(p.last().cloned().unwrap_or_default());
            (name, absolute(me, &p))
        })
        .collect()
}

/// File → the other files of the crate it imports from.
fn import_graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let child =
        regex::Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_0-9]+);").expect("regex");
    let mut texts = Vec::new();
    let mut alias = BTreeMap::new();
    for file in &files {
        let me = module_of(src, file);
        let text = code(file);
        let children: Vec<String> = child
            .captures_iter(&text)
            .map(|c| c[1].to_string())
            .collect();
        alias.extend(aliases(&me, &text, &children));
        texts.push((file, me, text, children));
    }
    // Follows re-exports (a few hops at most) from the longest aliased prefix of `path`.
    let resolve = |mut path: Vec<String>| {
        for _ in 0..8 {
            let Some(k) = (1..=path.len())
                .rev()
                .find(|&k| alias.contains_key(&path[..k]))
            else {
                break;
            };
            let mut to: Vec<String> = alias[&path[..k]].clone();
            to.extend(path[k..].iter().cloned());
            path = to;
        }
        file_of(&modules, &path)
    };
    let mut graph = BTreeMap::new();
    for (file, me, text, children) in texts {
        let targets: BTreeSet<PathBuf> = named_paths(&text, &children)
            .iter()
            .filter_map(|p| resolve(absolute(&me, p)))
            .filter(|t| t != file)
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

/// The groups of files that import each other round a loop (Tarjan's strongly connected
/// components of more than one file).
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a PathBuf) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    group.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_file_imports_round_a_loop_in_any_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crates = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).expect("crates") {
        crates.push(entry.expect("crate").path().join("src"));
    }
    let mut found = Vec::new();
    for src in &crates {
        let graph = import_graph(src);
        assert!(graph.len() > 1, "{}: no sources read", src.display());
        found.extend(cycles(&graph));
    }
    assert!(found.is_empty(), "files importing each other: {found:#?}");
}

#[test]
fn the_loop_finder_finds_a_loop() {
    // Three files, a → b → c → a, and d → a outside the loop.
    let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(f, to)| {
        (
            PathBuf::from(f),
            to.into_iter().map(PathBuf::from).collect(),
        )
    })
    .collect();
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    let mut group = found[0].clone();
    group.sort();
    assert_eq!(
        group,
        vec![PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")]
    );
    // What the real sources name: a group import and a relative child path.
    let paths = named_paths(
        "use super::{registry::Analysis, rfm};\nlet a = rfm::ANALYSIS;\nlet s = &self.x;",
        &["rfm".to_string()],
    );
    assert!(paths.contains(&vec!["super".into(), "registry".into(), "Analysis".into()]));
    assert!(paths.contains(&vec!["rfm".into(), "ANALYSIS".into()]));
    assert_eq!(paths.len(), 3, "{paths:?}");
    // A re-export stands for what it names.
    let me = vec!["analysis".to_string()];
    let found = aliases(
        &me,
        "pub use registry::{Analysis, Chart};",
        &["registry".into()],
    );
    assert_eq!(
        found[0],
        (
            vec!["analysis".into(), "Analysis".into()],
            vec!["analysis".into(), "registry".into(), "Analysis".into()]
        )
    );
}
