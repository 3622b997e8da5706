//! The documents point at things that exist: every relative Markdown link resolves (to a
//! file, and to a heading when it names one), and every file a document or a code
//! comment names in backticks (`motion/detector.rs`, `scripts/test.sh`) is in the
//! repository. Names go stale when files move; this fails when one does.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's own files (not build output, caches or the virtual environment),
/// relative to its root with `/` separators.
fn files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with('.') || ["target", "node_modules", "__pycache__"].contains(&&*name)
            {
                continue;
            }
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let relative = path.strip_prefix(base).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &root(), &mut out);
    out
}

/// The anchor GitHub gives a heading: lower case, spaces to '-', punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// A backticked word that names a file: a path of word characters ending in an
/// extension the repository uses.
fn names_a_file(word: &str) -> bool {
    const EXTENSIONS: [&str; 9] = ["rs", "md", "sh", "py", "toml", "html", "js", "css", "pyi"];
    word.contains('/')
        && !word.contains("://")
        && !word.starts_with('/')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        && word
            .rsplit_once('.')
            .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext))
}

/// The words between backticks in `text`.
fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

#[test]
fn markdown_links_resolve() {
    let files = files();
    let mut broken = Vec::new();
    for doc in files.iter().filter(|f| f.ends_with(".md")) {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for link in text.split("](").skip(1) {
            let Some(target) = link.split(')').next() else {
                continue;
            };
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, heading) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() {
                PathBuf::from(doc)
            } else {
                dir.join(path)
            };
            let Ok(linked) = std::fs::read_to_string(root().join(&file)) else {
                broken.push(format!("{doc}: {target} (no such file)"));
                continue;
            };
            let has_heading = heading.is_empty()
                || linked
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| anchor(h.trim_start_matches('#')) == heading);
            if !has_heading {
                broken.push(format!("{doc}: {target} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn files_named_in_documents_and_comments_exist() {
    let files = files();
    let exists = |name: &str| {
        let name = name.trim_start_matches("./");
        files
            .iter()
            .any(|f| f == name || f.ends_with(&format!("/{name}")))
    };
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        let prose: Vec<&str> = if file.ends_with(".md") {
            text.lines().collect()
        } else if file.ends_with(".rs") {
            text.lines()
                .filter_map(|l| l.trim_start().strip_prefix("//"))
                .collect()
        } else {
            continue;
        };
        for (i, line) in prose.iter().enumerate() {
            for word in backticked(line).filter(|w| names_a_file(w)) {
                if !exists(word) {
                    missing.push(format!("{file} (line {} of its prose): `{word}`", i + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named but not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checks_tell_names_and_anchors() {
    assert!(names_a_file("motion/detector.rs") && names_a_file("docs/api.md"));
    assert!(!names_a_file("detector.rs") && !names_a_file("http://x/a.md"));
    assert!(!names_a_file("/api/cameras/{name}/ws"));
    assert_eq!(anchor("GET `/api/cameras`, twice"), "get-apicameras-twice");
    assert_eq!(backticked("a `b` c `d`").collect::<Vec<_>>(), ["b", "d"]);
}
