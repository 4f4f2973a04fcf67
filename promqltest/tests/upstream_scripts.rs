//! Every `eval` expression of Prometheus's own PromQL test scripts
//! (`tests/upstream/*.test`) must parse: upstream, a parse
//! error makes the whole file invalid, so the suite only exercises errors
//! that happen when a query runs.

mod common;

use aion_promql::{parse_with, ParseOptions};

/// The query of an eval header line (`docs/promql-test-scripts.md`,
/// section 6.1), or `None` for other lines.
fn eval_query(line: &str) -> Option<&str> {
    let line = line.trim();
    let mut rest = line;
    let word = |rest: &mut &str| -> Option<String> {
        let s = rest.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let w = s[..end].to_string();
        *rest = &s[end..];
        (!w.is_empty()).then_some(w)
    };
    let cmd = word(&mut rest)?;
    if !cmd.to_ascii_lowercase().starts_with("eval") {
        return None;
    }
    match word(&mut rest)?.as_str() {
        "instant" => {
            word(&mut rest)?; // at
            word(&mut rest)?; // time
        }
        "range" => {
            for _ in 0..6 {
                word(&mut rest)?; // from S to E step D
            }
        }
        other => panic!("unknown eval form {other:?} in {line:?}"),
    }
    Some(rest.trim())
}

#[test]
fn every_upstream_eval_expression_parses() {
    let dir = common::upstream_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read upstream dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let opts = ParseOptions::experimental();
    let mut total = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read test file");
        for (n, line) in text.lines().enumerate() {
            let Some(query) = eval_query(line) else {
                continue;
            };
            total += 1;
            match parse_with(query, &opts) {
                Ok(expr) => {
                    // The printed form must parse back to the same tree.
                    let printed = expr.to_string();
                    match parse_with(&printed, &opts) {
                        Ok(again) if again == expr => {}
                        other => failures.push(format!(
                            "{}:{}: {query}\n  printed {printed}\n  reparsed {other:?}",
                            file.display(),
                            n + 1
                        )),
                    }
                }
                Err(e) => failures.push(format!("{}:{}: {query}\n  {e}", file.display(), n + 1)),
            }
        }
    }
    // The README of the corpus counts 1754 evals in these files.
    assert!(total >= 1700, "only {total} eval lines found");
    assert!(
        failures.is_empty(),
        "{} of {total} expressions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
