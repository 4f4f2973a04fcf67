//! `aion check rules FILE...`: validates rule files as `promtool check
//! rules` does, with its output and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use aion_rules::rulefmt::{parse_file, NameValidation, ParseOptions, RuleGroup};
use clap::{Args, ValueEnum};

#[derive(Args)]
pub struct RulesArgs {
    /// The rule files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Linting checks to apply.
    #[arg(long, value_enum, default_value = "duplicate-rules")]
    pub lint: Lint,
    /// Make lint errors exit with exit code 3.
    #[arg(long)]
    pub lint_fatal: bool,
    /// Ignore fields Prometheus does not know instead of failing.
    #[arg(long)]
    pub ignore_unknown_fields: bool,
    /// Which metric and label names are valid: `utf8` (Prometheus 3) or
    /// `legacy` (Prometheus 2).
    #[arg(long, value_enum, default_value = "utf8")]
    pub name_validation: Names,
    /// PromQL features rule expressions may use (comma separated,
    /// repeatable): promql-experimental-functions,
    /// promql-extended-range-selectors, promql-binop-fill-modifiers,
    /// promql-duration-expr.
    #[arg(long, value_name = "FEATURES")]
    pub enable_feature: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lint {
    All,
    DuplicateRules,
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Names {
    Utf8,
    Legacy,
}

pub const HELP: &str = "\
For each FILE, prints `Checking FILE`, then `  SUCCESS: N rules found` or, on
stderr, `  FAILED:` and one error per line (`FILE: line:column: group \"g\",
rule 1, \"name\": message`), then an empty line, exactly as promtool.
Rules with the same name and labels are reported as a lint error
unless --lint=none.

Exit codes: 0 all files valid (lint errors included, unless --lint-fatal),
1 a file is invalid, 3 only lint errors and --lint-fatal, 2 usage error.

Examples:
  aion check rules rules.yml
  aion check rules --lint=none alerts/*.yml";

/// Runs the check; the exit code is promtool's.
pub fn rules(args: RulesArgs) -> ExitCode {
    let options = ParseOptions {
        ignore_unknown_fields: args.ignore_unknown_fields,
        promql: crate::features::promql_features(&args.enable_feature).0,
        names: match args.name_validation {
            Names::Utf8 => NameValidation::Utf8,
            Names::Legacy => NameValidation::Legacy,
        },
    };
    let (mut failed, mut has_errors) = (false, false);
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for file in &args.files {
        let _ = writeln!(out, "Checking {}", file.display());
        let _ = out.flush();
        match parse_file(file, &options) {
            Err(errs) => {
                failed = true;
                has_errors = true;
                let _ = writeln!(err, "  FAILED:");
                for e in errs {
                    let _ = writeln!(err, "{e}");
                }
            }
            Ok(groups) => {
                let n: usize = groups.groups.iter().map(|g| g.rules.len()).sum();
                let lint = match args.lint {
                    Lint::None => None,
                    Lint::All | Lint::DuplicateRules => duplicates(&groups.groups),
                };
                match lint {
                    Some(message) => {
                        failed = true;
                        let _ = writeln!(err, "  FAILED:");
                        let _ = writeln!(err, "lint error {message}");
                    }
                    None => {
                        let _ = writeln!(out, "  SUCCESS: {n} rules found");
                    }
                }
            }
        }
        let _ = err.flush();
        let _ = writeln!(out);
        let _ = out.flush();
    }
    if failed && has_errors {
        ExitCode::from(1)
    } else if failed && args.lint_fatal {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// promtool's duplicate-rules lint: rules (recording or alerting) with
/// the same name and labels, each reported once, in name and label order.
fn duplicates(groups: &[RuleGroup]) -> Option<String> {
    let mut rules: Vec<(&str, Vec<(&str, &str)>)> = groups
        .iter()
        .flat_map(|g| g.rules.iter().map(move |r| (g, r)))
        .map(|(g, r)| {
            // Group labels under the rule's own, as Prometheus 3 merges them.
            let mut labels: Vec<(&str, &str)> = g
                .labels
                .iter()
                .filter(|(k, _)| !r.labels.iter().any(|(rk, _)| rk == k))
                .chain(&r.labels)
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.sort();
            (r.name(), labels)
        })
        .collect();
    rules.sort();
    let mut dups: Vec<&(&str, Vec<(&str, &str)>)> = Vec::new();
    for w in rules.windows(2) {
        if w[0] == w[1] && dups.last() != Some(&&w[1]) {
            dups.push(&w[1]);
        }
    }
    if dups.is_empty() {
        return None;
    }
    let mut m = format!("{} duplicate rule(s) found.\n", dups.len());
    for (metric, labels) in dups {
        m.push_str(&format!("Metric: {metric}\nLabel(s):\n"));
        for (k, v) in labels {
            m.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    m.push_str("Might cause inconsistency while recording expressions");
    Some(m)
}
