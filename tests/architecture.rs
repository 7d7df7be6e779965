//! The arrows between our modules (ARCHITECTURE.md, "Code map"), checked on the source: no
//! import cycles among the files of the scopes in `ACYCLIC`, `src/domain` imports nothing of
//! ours but itself, and no edge in `FORBIDDEN` exists.
//!
//! A file depends on the files its crate-internal paths name: `use` trees (nested groups,
//! `self`, globs, `pub use`) and paths written in code (`crate::…`, `super::…`, `self::…`,
//! or a child module's name), each resolved from the module it is written in (inline `mod x {}`
//! included) to the longest path that is a file. A `mod child;` declaration is containment,
//! not use: counting it would make every child's `use super::*` a cycle. Code under
//! `#[cfg(test)]` is left out, since tests may borrow helpers across modules. `src/main.rs`
//! and `src/bin/` are crates of their own and use the library by its name.
//!
//! Dependency-free: a small lexer that skips comments, strings and char literals is enough.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Directories whose files must not import each other in a cycle, within or across them.
const ACYCLIC: &[&str] = &[
    "src/domain/",
    "src/card/",
    "src/ui/",
    "src/app/",
    "src/screens/",
];

/// An edge no file may have: from a file under `from` to a file under `to`.
struct Forbidden {
    from: &'static str,
    to: &'static str,
    why: &'static str,
}

const FORBIDDEN: &[Forbidden] = &[
    Forbidden {
        from: "src/card/",
        to: "src/app/",
        why: "the card thread answers by messages; it knows no screen",
    },
    Forbidden {
        from: "src/card/",
        to: "src/ui/",
        why: "the card thread knows no screen",
    },
    Forbidden {
        from: "src/card/",
        to: "src/db/",
        why: "card and database meet in cardflow, not in each other",
    },
    Forbidden {
        from: "src/db/",
        to: "src/app/",
        why: "the database layer knows no screen",
    },
    Forbidden {
        from: "src/db/",
        to: "src/ui/",
        why: "the database layer knows no screen",
    },
    Forbidden {
        from: "src/db/",
        to: "src/card/",
        why: "card and database meet in cardflow, not in each other",
    },
    Forbidden {
        from: "src/app/",
        to: "src/ui/",
        why: "the hub routes and holds state; ui draws it, never the other way",
    },
    Forbidden {
        from: "src/app/",
        to: "src/screens/",
        why: "the hub knows screens only through the Screen trait and the registry",
    },
    Forbidden {
        from: "src/ui/",
        to: "src/screens/",
        why: "ui is the shared drawing; a screen draws itself with it",
    },
    Forbidden {
        from: "src/ui/",
        to: "src/app/update.rs",
        why: "ui draws; only the loop drives update",
    },
    Forbidden {
        from: "src/app/",
        to: "src/tools/",
        why: "the tools use the product, never the other way",
    },
    Forbidden {
        from: "src/ui/",
        to: "src/tools/",
        why: "the tools use the product, never the other way",
    },
    Forbidden {
        from: "src/screens/",
        to: "src/tools/",
        why: "the tools use the product, never the other way",
    },
    Forbidden {
        from: "src/db/",
        to: "src/tools/",
        why: "the tools use the product, never the other way",
    },
    Forbidden {
        from: "src/card/",
        to: "src/tools/",
        why: "the tools use the product, never the other way (the card profile's unit tests drive the emulated card, in tests only)",
    },
];

/// One crate-internal dependency: `from` names something of `to` on `line`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of Rust source that matter for paths, each with its line; comments, strings,
/// char literals and lifetimes are dropped.
fn tokens(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips to just past the `"` closing a string opened before `from`, with `hashes` #s.
    let skip_string = |mut i: usize, hashes: usize, raw: bool, line: &mut usize| {
        while i < chars.len() {
            match chars[i] {
                '\n' => *line += 1,
                '\\' if !raw => i += 1,
                '"' if chars[i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&c| c == '#')
                    .count()
                    == hashes =>
                {
                    return i + 1 + hashes;
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(chars[i] == '\n');
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(i + 1, 0, false, &mut line),
            '\'' => {
                // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a, 'static).
                if next == Some('\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            ':' if next == Some(':') => {
                out.push((Token::PathSep, line));
                i += 2;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                if matches!(word.as_str(), "r" | "br" | "cr") && chars.get(i + hashes) == Some(&'"')
                {
                    i = skip_string(i + hashes + 1, hashes, true, &mut line);
                } else if matches!(word.as_str(), "b" | "c") && chars.get(i) == Some(&'"') {
                    i = skip_string(i + 1, 0, false, &mut line);
                } else {
                    out.push((Token::Ident(word), line));
                }
            }
            c if c.is_whitespace() => i += 1,
            c => {
                out.push((Token::Punct(c), line));
                i += 1;
            }
        }
    }
    out
}

fn is_punct(token: Option<&(Token, usize)>, c: char) -> bool {
    matches!(token, Some((Token::Punct(p), _)) if *p == c)
}

fn ident(token: Option<&(Token, usize)>) -> Option<&str> {
    match token {
        Some((Token::Ident(word), _)) => Some(word),
        _ => None,
    }
}

/// The tokens without the items under `#[cfg(test)]`.
fn without_tests(tokens: Vec<(Token, usize)>) -> Vec<(Token, usize)> {
    let cfg_test: Vec<Token> = ["#", "[", "cfg", "(", "test", ")", "]"]
        .iter()
        .map(|text| match *text {
            "cfg" | "test" => Token::Ident((*text).to_owned()),
            p => Token::Punct(p.chars().next().unwrap_or(' ')),
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let at_cfg_test = tokens.len() - i >= cfg_test.len()
            && tokens[i..i + cfg_test.len()]
                .iter()
                .map(|(token, _)| token)
                .eq(cfg_test.iter());
        if !at_cfg_test {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to a `;` outside brackets, or the end of its first `{}` block.
        i += cfg_test.len();
        let mut depth = 0usize;
        while i < tokens.len() {
            match &tokens[i].0 {
                Token::Punct('{' | '(' | '[') => depth += 1,
                Token::Punct(close @ ('}' | ')' | ']')) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && *close == '}' {
                        i += 1;
                        break;
                    }
                }
                Token::Punct(';') if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

/// The paths of a `use` tree starting at `tokens[*i]`, each prefixed by `prefix`; leaves `*i`
/// after the tree.
fn use_tree(tokens: &[(Token, usize)], i: &mut usize, prefix: &[String]) -> Vec<Vec<String>> {
    let mut path = prefix.to_vec();
    if matches!(tokens.get(*i), Some((Token::PathSep, _))) {
        *i += 1;
    }
    loop {
        match tokens.get(*i) {
            Some((Token::Punct('{'), _)) => {
                *i += 1;
                let mut paths = Vec::new();
                while *i < tokens.len() && !is_punct(tokens.get(*i), '}') {
                    paths.extend(use_tree(tokens, i, &path));
                    if is_punct(tokens.get(*i), ',') {
                        *i += 1;
                    }
                }
                *i += 1;
                return paths;
            }
            Some((Token::Punct('*'), _)) => {
                *i += 1;
                return vec![path];
            }
            Some((Token::Ident(word), _)) => {
                *i += 1;
                if word != "self" || path.is_empty() {
                    path.push(word.clone());
                }
                if matches!(tokens.get(*i), Some((Token::PathSep, _))) {
                    *i += 1;
                    continue;
                }
                if ident(tokens.get(*i)) == Some("as") {
                    *i += 2;
                }
                return vec![path];
            }
            _ => return vec![path],
        }
    }
}

/// The module path of a file: `src/a/b.rs` and `src/a/b/mod.rs` are `crate::a::b`.
fn module_of(file: &str) -> Vec<String> {
    let inner = file
        .trim_start_matches("src/")
        .trim_end_matches(".rs")
        .trim_end_matches("/mod")
        .trim_end_matches("lib");
    std::iter::once("crate")
        .chain(inner.split('/').filter(|part| !part.is_empty()))
        .map(str::to_owned)
        .collect()
}

/// Every crate-internal edge of every file, the files given as (path under the crate, source).
fn dependencies(files: &BTreeMap<String, String>) -> BTreeSet<Edge> {
    let modules: BTreeMap<Vec<String>, &String> =
        files.keys().map(|file| (module_of(file), file)).collect();
    let file_of = |path: &[String]| {
        (1..=path.len())
            .rev()
            .find_map(|len| modules.get(&path[..len]).copied())
    };
    let mut edges = BTreeSet::new();
    for (file, source) in files {
        let tokens = without_tests(tokens(source));
        let mut at = vec![module_of(file)];
        // Brace depths at which inline `mod x {` blocks opened.
        let mut inline_opened: Vec<usize> = Vec::new();
        let mut depth = 0;
        let mut i = 0;
        while i < tokens.len() {
            let here = at.last().cloned().unwrap_or_default();
            let mut found = Vec::new();
            let line = tokens[i].1;
            match &tokens[i].0 {
                Token::Punct('{') => {
                    depth += 1;
                    i += 1;
                }
                Token::Punct('}') => {
                    depth -= 1;
                    if inline_opened.last() == Some(&depth) {
                        inline_opened.pop();
                        at.pop();
                    }
                    i += 1;
                }
                Token::Ident(word) if word == "mod" => {
                    match (ident(tokens.get(i + 1)), tokens.get(i + 2)) {
                        (Some(name), Some((Token::Punct('{'), _))) => {
                            at.push([here.clone(), vec![name.to_owned()]].concat());
                            inline_opened.push(depth);
                            depth += 1;
                            i += 3;
                        }
                        _ => i += 1,
                    }
                }
                Token::Ident(word) if word == "use" => {
                    i += 1;
                    found = use_tree(&tokens, &mut i, &[]);
                }
                Token::Ident(word)
                    if matches!(tokens.get(i + 1), Some((Token::PathSep, _)))
                        && !matches!(
                            i.checked_sub(1).map(|j| &tokens[j].0),
                            Some(Token::PathSep)
                        ) =>
                {
                    let mut path = vec![word.clone()];
                    i += 2;
                    while let Some(next) = ident(tokens.get(i)) {
                        path.push(next.to_owned());
                        if !matches!(tokens.get(i + 1), Some((Token::PathSep, _))) {
                            break;
                        }
                        i += 2;
                    }
                    i += 1;
                    found = vec![path];
                }
                _ => i += 1,
            }
            for path in found {
                let absolute = match path.first().map(String::as_str) {
                    Some("crate") => path,
                    Some("self") => [here.clone(), path[1..].to_vec()].concat(),
                    Some("super") => {
                        let ups = path.iter().take_while(|part| *part == "super").count();
                        let base = &here[..here.len().saturating_sub(ups).max(1)];
                        [base.to_vec(), path[ups..].to_vec()].concat()
                    }
                    Some(child)
                        if modules
                            .contains_key(&[here.clone(), vec![child.to_owned()]].concat()) =>
                    {
                        [here.clone(), path].concat()
                    }
                    _ => continue,
                };
                if let Some(to) = file_of(&absolute).filter(|to| *to != file) {
                    edges.insert(Edge {
                        from: file.clone(),
                        to: to.clone(),
                        line,
                    });
                }
            }
        }
    }
    edges
}

/// A cycle among the files under `scopes`, as the files along it (first = last).
fn find_cycle(edges: &BTreeSet<Edge>, scopes: &[&str]) -> Option<Vec<String>> {
    let in_scope = |file: &str| scopes.iter().any(|scope| file.starts_with(scope));
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for edge in edges
        .iter()
        .filter(|e| in_scope(&e.from) && in_scope(&e.to))
    {
        next.entry(&edge.from).or_default().insert(&edge.to);
    }
    // Depth-first, keeping the path: meeting a file on the path closes a cycle.
    fn visit<'a>(
        file: &'a str,
        next: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on| *on == file) {
            let mut cycle: Vec<String> = path[start..].iter().map(|f| (*f).to_owned()).collect();
            cycle.push(file.to_owned());
            return Some(cycle);
        }
        if !done.insert(file) {
            return None;
        }
        path.push(file);
        for to in next.get(file).into_iter().flatten() {
            if let Some(cycle) = visit(to, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    next.keys()
        .find_map(|file| visit(file, &next, &mut Vec::new(), &mut done))
}

/// Every rule the edges break, as text naming the file and line.
fn violations(edges: &BTreeSet<Edge>, rules: &[Forbidden]) -> Vec<String> {
    let mut found = Vec::new();
    for edge in edges {
        let at = format!("{}:{} uses {}", edge.from, edge.line, edge.to);
        if edge.from.starts_with("src/domain/") && !edge.to.starts_with("src/domain/") {
            found.push(format!(
                "{at}: the domain imports nothing of ours but itself"
            ));
        }
        for rule in rules {
            if edge.from.starts_with(rule.from) && edge.to.starts_with(rule.to) {
                found.push(format!("{at}: {}", rule.why));
            }
        }
    }
    found
}

fn read_sources(dir: &Path, root: &Path, files: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if relative == "src/main.rs" || relative == "src/bin" {
            continue;
        }
        if path.is_dir() {
            read_sources(&path, root, files);
        } else if relative.ends_with(".rs") {
            files.insert(relative, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn our_edges() -> BTreeSet<Edge> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    read_sources(&root.join("src"), root, &mut files);
    dependencies(&files)
}

#[test]
fn no_import_cycles_in_the_acyclic_scopes() {
    let edges = our_edges();
    assert!(
        edges
            .iter()
            .any(|e| e.from == "src/card/reader.rs" && e.to == "src/domain/card_counter.rs"),
        "the checker sees the reader's use of the domain"
    );
    if let Some(cycle) = find_cycle(&edges, ACYCLIC) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn no_forbidden_imports() {
    let found = violations(&our_edges(), FORBIDDEN);
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
}

// ───────────────────────────── The checker itself ─────────────────────────────

fn synthetic(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, source)| ((*path).to_owned(), (*source).to_owned()))
        .collect()
}

fn edge_list(edges: &BTreeSet<Edge>) -> Vec<(&str, &str)> {
    edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect()
}

#[test]
fn the_checker_finds_a_cycle_through_nested_groups_and_inline_paths() {
    let files = synthetic(&[
        ("src/lib.rs", "pub mod domain;\npub mod db;"),
        ("src/domain/mod.rs", "pub mod a;\npub mod b;\npub mod c;"),
        (
            "src/domain/a.rs",
            "use super::{b::{self, Thing as Other}, x};\n\
             // crate::domain::c is only mentioned\n\
             /* and crate::db::d /* nested */ here */\n\
             fn f() -> &'static str { let c = '\"'; \"crate::domain::c\" }\n\
             #[cfg(test)]\nmod tests { use crate::domain::c::*; }",
        ),
        ("src/domain/b.rs", "pub fn g() { crate::domain::a::f(); }"),
        (
            "src/domain/c.rs",
            "use crate::domain::a;\nconst S: &str = r#\"crate::domain::b\"#;",
        ),
        ("src/db/d.rs", "fn h() { super::super::domain::c::h(); }"),
    ]);
    let edges = dependencies(&files);
    assert_eq!(
        edge_list(&edges),
        [
            ("src/db/d.rs", "src/domain/c.rs"),
            ("src/domain/a.rs", "src/domain/b.rs"),
            ("src/domain/a.rs", "src/domain/mod.rs"),
            ("src/domain/b.rs", "src/domain/a.rs"),
            ("src/domain/c.rs", "src/domain/a.rs"),
        ]
    );
    assert_eq!(
        find_cycle(&edges, &["src/domain/"]),
        Some(vec![
            "src/domain/a.rs".to_owned(),
            "src/domain/b.rs".to_owned(),
            "src/domain/a.rs".to_owned()
        ])
    );
    assert_eq!(find_cycle(&edges, &["src/db/", "src/domain/c.rs"]), None);
}

#[test]
fn the_checker_passes_a_tree_and_flags_forbidden_edges() {
    let files = synthetic(&[
        ("src/lib.rs", "pub mod domain;\npub mod db;\npub mod card;"),
        ("src/domain/mod.rs", "pub mod a;\npub mod b;"),
        (
            "src/domain/a.rs",
            "use super::b;\nfn f() { b::g(); crate::db::h(); }",
        ),
        (
            "src/domain/b.rs",
            "pub mod inner { pub fn i() { super::super::a::f(); } }",
        ),
        ("src/db/mod.rs", "pub fn h() {}\npub use crate::card::x;"),
        ("src/card/mod.rs", "pub mod x {}"),
    ]);
    let edges = dependencies(&files);
    // b's inline module reaches a through `super::super`: b → a, a cycle with a → b.
    assert!(find_cycle(&edges, &["src/domain/"]).is_some());
    let rules = [Forbidden {
        from: "src/db/",
        to: "src/card/",
        why: "no",
    }];
    assert_eq!(
        violations(&edges, &rules),
        [
            "src/db/mod.rs:2 uses src/card/mod.rs: no",
            "src/domain/a.rs:2 uses src/db/mod.rs: the domain imports nothing of ours but itself",
        ]
    );
    let tree = synthetic(&[
        ("src/domain/mod.rs", "pub mod a;\npub mod b;"),
        ("src/domain/a.rs", "use super::b;"),
        ("src/domain/b.rs", "pub use super::*;"),
    ]);
    // `use super::*` in b names the parent, not a: no cycle.
    assert_eq!(find_cycle(&dependencies(&tree), &["src/domain/"]), None);
}
