//! `aion test rules FILE...`: runs rule unit-test files as `promtool test
//! rules` (Prometheus 3) does, with its output and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use aion_rules::unittest::{junit, run_file, Options};
use clap::Args;

#[derive(Args)]
pub struct RulesArgs {
    /// The unit-test files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only run test groups whose name matches this regular expression
    /// (repeatable; any may match).
    #[arg(long)]
    pub run: Vec<String>,
    /// Ignore unknown fields in the test files and rule files.
    #[arg(long)]
    pub ignore_unknown_fields: bool,
    /// PromQL features rules and test expressions may use (comma
    /// separated, repeatable), as promtool's --enable-feature.
    #[arg(long, value_name = "FEATURES")]
    pub enable_feature: Vec<String>,
    /// Also write a JUnit XML report of the results to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print promtool's debug lines: each test group's start and end, and
    /// a dump of all its data (input series and rule output).
    #[arg(long)]
    pub debug: bool,
}

pub const HELP: &str = "\
Each FILE is a promtool unit-test file: `rule_files` (relative to FILE,
globs allowed), `evaluation_interval`, `group_eval_order` and `tests`, each
with `input_series` in the expanding notation (`1+2x3`, `_`, `stale`),
`alert_rule_test`, `promql_expr_test`, `external_labels`, `external_url`.
The rule files are evaluated every evaluation_interval from 0 up to the
latest eval_time over an in-memory store, as promtool does.

For each FILE prints `  SUCCESS`, or `  FAILED:` and each failure on
stderr, then an empty line, as promtool 3 does (promtool 2 also printed a
`Unit Testing:  FILE` line first). Native histograms are `{{...}}`
literals in input_series values and in exp_samples' histogram field.
--junit writes promtool's JUnit XML report (promtool takes
the flag as `promtool test --junit FILE rules`).

Exit codes: 0 every test passed, 1 a test failed or a file is invalid,
2 usage error.

Examples:
  aion test rules tests.yml
  aion test rules --run 'instance down' tests/*.yml
  aion test rules --debug tests.yml";

/// Runs the tests; the exit code is promtool's.
pub fn rules(args: RulesArgs) -> ExitCode {
    let run = match Options::run_filter(&args.run) {
        Ok(re) => re,
        Err(e) => {
            eprintln!("aion: --run: {e}");
            return ExitCode::from(2);
        }
    };
    let promql = crate::features::promql_features(&args.enable_feature);
    let options = Options {
        run,
        ignore_unknown_fields: args.ignore_unknown_fields,
        debug: args.debug,
        promql: promql.0,
        delayed_name_removal: promql.1,
        ..Options::default()
    };
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut outcomes = Vec::new();
    for file in &args.files {
        let outcome = run_file(file, &options);
        for line in outcome.warnings.iter().chain(&outcome.debug) {
            let _ = writeln!(err, "{line}");
        }
        if outcome.errors.is_empty() {
            let _ = writeln!(out, "  SUCCESS");
        } else {
            failed = true;
            let _ = writeln!(err, "  FAILED:");
            for e in &outcome.errors {
                let _ = writeln!(err, "{e}");
                let _ = err.flush();
                let _ = writeln!(out);
                let _ = out.flush();
            }
        }
        let _ = writeln!(out);
        let _ = out.flush();
        outcomes.push((file.display().to_string(), outcome));
    }
    if let Some(path) = &args.junit {
        let files: Vec<(&str, &_)> = outcomes.iter().map(|(f, o)| (f.as_str(), o)).collect();
        if let Err(e) = std::fs::write(path, junit::report(&files)) {
            let _ = writeln!(err, "failed to write JUnit XML: {e}");
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
