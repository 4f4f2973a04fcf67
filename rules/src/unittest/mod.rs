//! Unit tests of rule files, as `promtool test rules` runs them: the
//! test-file format (`rule_files`, `evaluation_interval`,
//! `group_eval_order`, `tests` with `input_series` in the expanding value
//! notation, `alert_rule_test`, `promql_expr_test`, `external_labels`,
//! `external_url`, `start_timestamp`, `fuzzy_compare`), its evaluation
//! and promtool's failure messages.
//!
//! | module | concept |
//! |---|---|
//! | [`file`] | the test file as promtool decodes it |
//! | `glob.rs` | `rule_files` globs, as Go's `filepath.Glob` |
//! | [`format`] | promtool's printing of alerts and samples |
//! | [`junit`] | the JUnit XML report of `promtool test --junit` |
//! | `run.rs` | one test group: load, evaluate, compare |
//!
//! Native histograms are written as the notation's `{{...}}` literals in
//! `input_series` (loaded as float histograms) and in `exp_samples`'
//! `histogram` field (compared, as promtool compares them, by their
//! compacted literal text).
//!
//! Not supported: `--diff`.
//!
//! ```
//! use aion_rules::unittest::{run_file, Options};
//! let dir = std::env::temp_dir().join(format!("aion-unittest-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("rules.yml"), "groups:
//!   - name: g
//!     rules:
//!       - record: job:up:sum
//!         expr: sum by (job) (up)
//! ").unwrap();
//! std::fs::write(dir.join("test.yml"), r#"rule_files: [rules.yml]
//! tests:
//!   - input_series:
//!       - series: 'up{job="a", instance="x"}'
//!         values: 1+1x10
//!     promql_expr_test:
//!       - expr: job:up:sum
//!         eval_time: 5m
//!         exp_samples:
//!           - labels: 'job:up:sum{job="a"}'
//!             value: 6
//! "#).unwrap();
//! let outcome = run_file(&dir.join("test.yml"), &Options::default());
//! assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod file;
pub mod format;
mod glob;
pub mod junit;
mod run;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;

pub use file::{parse_test_file, TestFile};

/// How test files are run (promtool's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--run`: only test groups whose name matches (unanchored, as Go's
    /// `MatchString`).
    pub run: Option<Regex>,
    /// `--ignore-unknown-fields`: unknown fields of the test file and of
    /// the rule files are not errors.
    pub ignore_unknown_fields: bool,
    /// Refuse the `@` modifier, which the promtool command always allows
    /// (Prometheus's own tests also run with it off).
    pub disable_at_modifier: bool,
    /// Refuse negative offsets, which the promtool command always allows.
    pub disable_negative_offset: bool,
    /// PromQL syntax features of rule files and test expressions
    /// (promtool's `--enable-feature`).
    pub promql: aion_promql::ParseOptions,
    /// Delayed metric-name removal (`promql-delayed-name-removal`).
    pub delayed_name_removal: bool,
    /// `--debug`: promtool's `DEBUG:` lines (start and end of each test
    /// group, a dump of all its data) in [`Outcome::debug`].
    pub debug: bool,
}

impl Options {
    /// The `--run` filter of promtool: the patterns joined with `|`, no
    /// filter when there are none.
    pub fn run_filter(patterns: &[String]) -> Result<Option<Regex>, String> {
        if patterns.is_empty() {
            return Ok(None);
        }
        Regex::new(&patterns.join("|"))
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// The result of one test file.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Warnings printed before the verdict (rule-file patterns matching
    /// nothing), each a full line.
    pub warnings: Vec<String>,
    /// The failures, each promtool's message; empty when the file passed.
    pub errors: Vec<String>,
    /// With [`Options::debug`]: promtool's `DEBUG:` lines, in order.
    pub debug: Vec<String>,
    /// The file itself could not be used (unreadable, invalid, a bad
    /// rule-file pattern or evaluation order): [`Outcome::errors`] holds
    /// that one error and no test group ran.
    pub aborted: bool,
    /// The test groups run (those `--run` selected), with their failures.
    pub cases: Vec<Case>,
    /// When the groups started (ms since the epoch), once the file was
    /// read and its rule files found.
    pub started_ms: Option<i64>,
}

/// One test group's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    /// The group's `name`, or `unnamed#<index>`.
    pub name: String,
    /// Its failures, each promtool's message.
    pub failures: Vec<String>,
}

impl Outcome {
    fn abort(mut self, message: String) -> Outcome {
        self.errors.push(message);
        self.aborted = true;
        self
    }
}

/// Runs every test group of the unit-test file `path`.
pub fn run_file(path: &Path, options: &Options) -> Outcome {
    let mut out = Outcome::default();
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return out.abort(go_read_error(path, &e)),
    };
    let mut file = match parse_test_file(&text, options.ignore_unknown_fields) {
        Ok(f) => f,
        Err(e) => return out.abort(e),
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut rule_files: Vec<PathBuf> = Vec::new();
    for rf in &file.rule_files {
        let full = if !rf.is_empty() && !Path::new(rf).is_absolute() {
            clean_join(base, rf)
        } else {
            rf.clone()
        };
        match glob::glob(&full) {
            Ok(m) if m.is_empty() => out
                .warnings
                .push(format!("  WARNING: no file match pattern {full}")),
            Ok(m) => rule_files.extend(m),
            Err(e) => return out.abort(e),
        }
    }
    out.started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64);
    if file.evaluation_interval == 0 {
        file.evaluation_interval = 60_000;
    }
    let mut order = HashMap::new();
    for (i, name) in file.group_eval_order.iter().enumerate() {
        if order.insert(name.clone(), i).is_some() {
            return out.abort(format!("group name repeated in evaluation order: {name}"));
        }
    }
    let ctx = run::Context {
        eval_interval: file.evaluation_interval,
        order: &order,
        fuzzy: file.fuzzy_compare,
        rule_files: &rule_files,
        ignore_unknown_fields: options.ignore_unknown_fields,
        debug: options.debug,
        at_modifier: !options.disable_at_modifier,
        negative_offset: !options.disable_negative_offset,
        promql: &options.promql,
        delayed_name_removal: options.delayed_name_removal,
    };
    for (i, tg) in file.tests.iter_mut().enumerate() {
        if let Some(re) = &options.run {
            if !re.is_match(&tg.name) {
                continue;
            }
        }
        if tg.interval == 0 {
            tg.interval = file.evaluation_interval;
        }
        let name = if tg.name.is_empty() {
            format!("unnamed#{i}")
        } else {
            tg.name.clone()
        };
        let began = std::time::Instant::now();
        if options.debug {
            out.debug.push(format!("DEBUG: Starting test {name}"));
        }
        let failures = run::run_group(tg, &ctx, &mut out.debug);
        out.errors.extend(failures.iter().cloned());
        out.cases.push(Case {
            name: name.clone(),
            failures,
        });
        if options.debug {
            out.debug.push(format!(
                "DEBUG: Test {name} finished, took {:?}",
                began.elapsed()
            ));
        }
    }
    out
}

/// Go's `filepath.Join(base, rel)` (which cleans the result) for the
/// common cases: `.` components dropped, `..` resolved against earlier
/// ones.
fn clean_join(base: &Path, rel: &str) -> String {
    let joined = if base.as_os_str().is_empty() {
        rel.to_string()
    } else {
        format!("{}/{rel}", base.display())
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            p => parts.push(p),
        }
    }
    let s = parts.join("/");
    match (absolute, s.is_empty()) {
        (true, _) => format!("/{s}"),
        (false, true) => ".".to_string(),
        (false, false) => s,
    }
}

/// Go's wording of an `os.ReadFile` failure.
fn go_read_error(path: &Path, e: &std::io::Error) -> String {
    let f = path.display();
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("open {f}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => format!("open {f}: permission denied"),
        std::io::ErrorKind::IsADirectory => format!("read {f}: is a directory"),
        _ => format!("open {f}: {e}"),
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
