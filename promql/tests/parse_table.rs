//! Table test: expressions with the result Prometheus gives for them
//! (see the header of `parse_table.txt` for the format and sources).

use aion_promql::ast::TreeDisplay;
use aion_promql::{parse_with, ParseOptions};

fn options(name: &str) -> ParseOptions {
    match name {
        // Prometheus's TestParseExpressions.
        "parse_test" => ParseOptions {
            binop_fill_modifiers: false,
            ..ParseOptions::experimental()
        },
        // Prometheus's TestExprString.
        "printer_test" => ParseOptions {
            experimental_functions: false,
            ..ParseOptions::experimental()
        },
        "default" => ParseOptions::default(),
        "experimental" => ParseOptions::experimental(),
        other => panic!("unknown options {other}"),
    }
}

#[test]
fn parse_table() {
    let table = include_str!("parse_table.txt");
    let mut opts = ParseOptions::default();
    let mut input: Option<(usize, String)> = None;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in table.lines().enumerate() {
        let lineno = n + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("@opts ") {
            opts = options(name.trim());
        } else if let Some(json) = line.strip_prefix(">> ") {
            input = Some((lineno, serde_json::from_str(json).expect("JSON input")));
        } else if let Some(raw) = line.strip_prefix("> ") {
            input = Some((lineno, raw.to_string()));
        } else {
            let (at, q) = input
                .clone()
                .unwrap_or_else(|| panic!("line {lineno}: no input"));
            let (kind, want) = line.split_at(2);
            let got = parse_with(&q, &opts);
            checked += 1;
            let ok = match (kind, &got) {
                ("= ", Ok(e)) => TreeDisplay(e).to_string() == want,
                ("~ ", Ok(e)) => e.to_string() == want,
                ("! ", Err(err)) => {
                    let (off, msg) = want.split_once(' ').unwrap_or((want, ""));
                    off.parse::<usize>().ok() == Some(err.offset()) && err.message == msg
                }
                _ => false,
            };
            if !ok {
                let got = match &got {
                    Ok(e) => format!("= {}\n        ~ {e}", TreeDisplay(e)),
                    Err(e) => format!("! {} {}", e.offset(), e.message),
                };
                failures.push(format!(
                    "line {at}: {q:?}\n  want {kind}{want}\n  got  {got}"
                ));
            }
        }
    }
    assert!(checked >= 300, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
