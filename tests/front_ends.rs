//! The front ends present what the core decides (ARCHITECTURE.md): no kind name, phase list or
//! error-text pattern in the JupyterLab extension's sources or the demo page. Kinds come from
//! the core's one table (`kaptain::kinds`), so a kind added there is checked here too.

use std::path::{Path, PathBuf};

use kaptain::kinds;

fn front_end_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (dir, extension) in [("jupyterlab-ext/src", "ts"), ("www", "js")] {
        let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            // Tests describe what the core gives; they may name kinds.
            if path.extension().is_some_and(|e| e == extension) {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "front-end sources found: {files:?}");
    files
}

/// Lines that are code, not comments (`//`, `/** … */` and ` * ` lines).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| (i + 1, line)).filter(|(_, line)| {
        let t = line.trim_start();
        !(t.starts_with("//") || t.starts_with("/*") || t.starts_with("* ") || t == "*" || t.starts_with("*/"))
    })
}

/// Logic that belongs to the core, each as the texts that give a copy of it away.
const RULES: [(&str, &[&str]); 3] = [
    ("a step's phases (Step::phases, given as CellSummary.phases)", &["['build',", "[\"build\","]),
    ("an error's position read from its text (the core's Error carries line and column)", &["line (\\d", "line \\d", "column (\\d", "column \\d"]),
    ("an interruption read from a reason's text (the core's events say what happened)", &["'run interrupted", "\"run interrupted", "/run interrupted"]),
];

fn rule_broken(line: &str) -> Option<&'static str> {
    RULES.iter().find(|(_, texts)| texts.iter().any(|t| line.contains(t))).map(|(what, _)| *what)
}

#[test]
fn no_front_end_names_a_kind_or_copies_a_rule_of_the_core() {
    let mut kind_names: Vec<&str> = kinds::INSPECTABLE_KINDS.iter().map(|k| k.kind).collect();
    kind_names.extend([kinds::TRIAL.kind, kinds::CONFIG_MAP.kind, kinds::POD.kind]);
    let mut found = Vec::new();
    for path in front_end_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in code_lines(&text) {
            for kind in &kind_names {
                for quote in ['\'', '"', '`'] {
                    if line.contains(&format!("{quote}{kind}{quote}")) {
                        found.push(format!("{}:{number}: the kind {kind} (ask the core: kinds.rs): {}", path.display(), line.trim()));
                    }
                }
            }
            if let Some(what) = rule_broken(line) {
                found.push(format!("{}:{number}: {what}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "front ends deciding what the core decides:\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_what_it_looks_for() {
    // The copies the check was written against, as they were.
    for copy in [
        "      return ['build', step];",
        "const m = /line (\\d+), column (\\d+)/.exec(text);",
        "detail: event.reason.startsWith(\"run interrupted\") ? x : y",
    ] {
        assert!(rule_broken(copy).is_some(), "missed: {copy}");
    }
    assert_eq!(rule_broken("const phases = summary.phases;"), None);
    assert_eq!(code_lines("// 'TFJob'\n * 'TFJob'\nx === 'TFJob'").count(), 1);
}
