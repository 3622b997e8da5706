//! The hub's top-level modules depend on each other without a cycle: `camera` (the frame
//! bus) knows nothing of who consumes its frames, `motion` and `record` nothing of the
//! hub or the web. A dependency is any `crate::<module>` in a module's files (code,
//! `use` lines and doc links alike), so a cycle cannot hide in a path written out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module -> the top-level modules it names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |path: &Path| -> String {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        first.to_str().unwrap().trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| module_of(p)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let module = module_of(path);
        let text = std::fs::read_to_string(path).unwrap();
        let named = text.split("crate::").skip(1).filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            modules.contains(&name).then_some(name)
        });
        let deps = graph.entry(module.clone()).or_default();
        deps.extend(named.filter(|n| *n != module));
    }
    graph
}

/// A cycle through `graph`, as the modules on it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for dep in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(graph, dep, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_hubs_modules_have_no_dependency_cycle() {
    let graph = dependencies();
    assert!(graph.contains_key("camera") && graph.contains_key("motion"));
    if let Some(found) = cycle(&graph) {
        panic!(
            "modules depend on each other in a cycle: {}",
            found.join(" -> ")
        );
    }
    for (module, consumer) in [
        ("camera", "motion"),
        ("camera", "record"),
        ("motion", "hub"),
    ] {
        assert!(
            !graph[module].contains(consumer),
            "{module} must not know {consumer}"
        );
    }
}

#[test]
fn a_cycle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(m, d)| (m.to_owned(), BTreeSet::from([d.to_owned()])))
        .collect();
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
}

/// Every source file of the workspace is short enough to read as one thing: at most
/// 700 lines (split by responsibility past that).
#[test]
fn no_source_file_is_over_700_lines() {
    // Every crate of the workspace, not only the hub's.
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            (lines > 700).then(|| format!("{} ({lines})", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "over 700 lines: {long:?}");
}

/// The modules where callers decide on an error's kind (the recorder's state, a
/// stage's, a publisher's close code, an RTSP client's status) say it with a type, never
/// a `String`: an error written as `Result<_, String>` there is one nobody can tell
/// apart.
#[test]
fn errors_are_typed_in_record_video_stage_picture_and_rtsp_server() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for module in ["record", "video", "stage", "picture", "rtsp_server"] {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            // A return type ends the signature: `-> Result<..., String>` and
            // `-> Result<..., String> {` alike, over one line or several.
            let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let typed_out =
                flat.matches(", String> {").count() + flat.matches(", String>;").count();
            if typed_out > 0 {
                found.push(format!("{} ({typed_out})", path.display()));
            }
        }
    }
    assert!(found.is_empty(), "Result<_, String> in: {found:?}");
}
