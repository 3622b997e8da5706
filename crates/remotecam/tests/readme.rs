//! The README's tables are the hub's: its options table lists exactly the flags of
//! `remotecam --help`, and its HTTP API table exactly the routes the router serves, with
//! their methods. So neither can drift from the code again.

use std::collections::BTreeSet;

const README: &str = include_str!("../../../README.md");
const ROUTER: &str = include_str!("../src/web/mod.rs");

/// The first cells of the table rows in the README section headed `heading`.
fn first_cells(heading: &str) -> Vec<&'static str> {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has a section {heading:?}"));
    let section = &README[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .collect()
}

#[test]
fn the_options_table_lists_every_flag_of_help() {
    let documented: BTreeSet<String> = first_cells("Options")
        .iter()
        .flat_map(|cell| cell.split('`'))
        .filter(|t| t.starts_with("--"))
        .map(str::to_owned)
        .collect();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_remotecam"))
        .arg("--help")
        .output()
        .expect("run remotecam --help");
    let help = String::from_utf8(help.stdout).expect("UTF-8 help");
    let flags: BTreeSet<String> = help
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .split([' ', ','])
                .find(|t| t.starts_with("--"))
        })
        .filter(|f| !["--help", "--version"].contains(f))
        .map(str::to_owned)
        .collect();
    assert!(!flags.is_empty(), "{help}");
    assert_eq!(
        documented, flags,
        "README's options table against remotecam --help"
    );
}

/// `/a/{name}/b.jpg` and `/a/{id}.mp4` as `/a/{}/b.jpg` and `/a/{}`: a placeholder
/// takes its whole segment.
fn normalised(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_api_table_lists_every_route_with_its_methods() {
    let mut documented = BTreeSet::new();
    for cell in first_cells("HTTP API") {
        let path = cell
            .split(['`', ' '])
            .find(|t| t.starts_with('/'))
            .unwrap_or_else(|| panic!("a path in {cell:?}"));
        let path = normalised(path.split('?').next().unwrap_or(path));
        for method in ["GET", "PUT", "POST", "DELETE"] {
            if cell.split(['`', ' ', ',']).any(|t| t == method) {
                documented.insert(format!("{method} {path}"));
            }
        }
    }
    // The router: `.route("<path>", get(..).put(..))` calls; the API's come first, then
    // it is nested under /api.
    let (api, pages) = ROUTER
        .split_once(".nest(\"/api\", api)")
        .expect("the router nests the API");
    let mut served = BTreeSet::new();
    for (prefix, part) in [("/api", api), ("", pages)] {
        for call in part.split(".route(").skip(1) {
            let call = call.split(".fallback(").next().unwrap_or(call);
            let path = call.split('"').nth(1).expect("a route path");
            if path.starts_with("/assets/") {
                continue; // the pages' files, not an endpoint
            }
            for (method, handler) in [
                ("GET", "get("),
                ("PUT", "put("),
                ("POST", "post("),
                ("DELETE", "delete("),
            ] {
                if call.contains(handler) {
                    served.insert(format!(
                        "{method} {}",
                        normalised(&format!("{prefix}{path}"))
                    ));
                }
            }
        }
    }
    assert!(served.len() > 10, "{served:?}");
    assert_eq!(
        documented, served,
        "README's HTTP API table against the router"
    );
}
