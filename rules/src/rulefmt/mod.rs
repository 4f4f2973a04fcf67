//! Rule files as Prometheus reads them (`model/rulefmt`): strict decoding,
//! then validation, with Prometheus's messages and `line:column`
//! positions.
//!
//! ```
//! use aion_rules::rulefmt::{parse, ParseOptions};
//! let groups = parse(
//!     b"groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
//!     &ParseOptions::default(),
//! )
//! .unwrap();
//! assert_eq!(groups.groups[0].rules[0].record, "job:up:sum");
//!
//! let errs = parse(
//!     b"groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n",
//!     &ParseOptions::default(),
//! )
//! .unwrap_err();
//! assert_eq!(
//!     errs[0].to_string(),
//!     r#"5:15: group "g", rule 1, "x": could not parse expression: 1:5: parse error: unclosed left parenthesis"#
//! );
//! ```

mod decode;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use aion_promql::ParseOptions as PromqlOptions;

use crate::yaml::{self, Node};
use decode::{decode, DecodeError};
pub use validate::NameValidation;

/// A 1-based line and column in a rule file; `0:0` where the node is
/// absent (Prometheus prints its zero node so).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line (0: absent).
    pub line: usize,
    /// 1-based column (0: absent).
    pub column: usize,
}

impl Pos {
    fn of(n: &Node) -> Pos {
        Pos {
            line: n.line,
            column: n.column,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The groups of one rule file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleGroups {
    /// Groups in file order.
    pub groups: Vec<RuleGroup>,
}

/// A list of rules evaluated in order at one interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleGroup {
    /// The group's name, unique within its file.
    pub name: String,
    /// Evaluation interval (ms); 0 means the global default.
    pub interval: i64,
    /// How far in the past to evaluate (ms); `None` means the global
    /// default.
    pub query_offset: Option<i64>,
    /// Most series a rule may produce (alerts: most firing or pending
    /// alerts); 0 is unlimited.
    pub limit: i64,
    /// Labels added to every rule's output, under the rules' own labels.
    pub labels: Vec<(String, String)>,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
    /// Where the group's mapping starts.
    pub pos: Pos,
}

/// A recording or alerting rule as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    /// Name of the series a recording rule writes (empty for alerts).
    pub record: String,
    /// Name of an alerting rule (empty for recording rules).
    pub alert: String,
    /// The PromQL expression.
    pub expr: String,
    /// How long an alert stays pending before it fires (ms).
    pub for_ms: i64,
    /// How long an alert keeps firing after its condition cleared (ms).
    pub keep_firing_for_ms: i64,
    /// Labels added to (or overriding) the output; alert labels are
    /// templates.
    pub labels: Vec<(String, String)>,
    /// Alert annotations (templates).
    pub annotations: Vec<(String, String)>,
    /// Where the rule's mapping starts.
    pub pos: Pos,
    /// Where the `record` value is (0:0 if absent).
    pub record_pos: Pos,
    /// Where the `alert` value is (0:0 if absent).
    pub alert_pos: Pos,
    /// Where the `expr` value is (0:0 if absent).
    pub expr_pos: Pos,
}

impl Rule {
    /// The alert name, or the recorded metric's name.
    pub fn name(&self) -> &str {
        if self.alert.is_empty() {
            &self.record
        } else {
            &self.alert
        }
    }
}

/// How rule files are read.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Accept fields Prometheus does not know (promtool's
    /// `--ignore-unknown-fields`); off by default.
    pub ignore_unknown_fields: bool,
    /// Which metric and label names are valid (Prometheus 3 default:
    /// UTF-8).
    pub names: NameValidation,
    /// How expressions are parsed.
    pub promql: PromqlOptions,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            ignore_unknown_fields: false,
            names: NameValidation::Utf8,
            promql: PromqlOptions::default(),
        }
    }
}

/// One problem in a rule file, displayed as Prometheus displays it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not valid YAML.
    #[error(transparent)]
    Syntax(#[from] yaml::SyntaxError),
    /// Unknown fields or type mismatches, one line each.
    #[error("yaml: unmarshal errors:\n  {}", .0.join("\n  "))]
    Unmarshal(Vec<String>),
    /// A value that stopped decoding (a bad duration).
    #[error("{0}")]
    Decode(String),
    /// A group-level problem (empty or repeated name), at the group.
    #[error("{pos}: {message}")]
    Group {
        /// Where the group starts.
        pos: Pos,
        /// Prometheus's message.
        message: String,
    },
    /// A group label that is not valid.
    #[error("{0}")]
    GroupLabel(String),
    /// A problem with one rule.
    #[error("{}group {}, rule {index}, {}: {message}", positions(.pos, .alt), yaml::go_quote(.group), yaml::go_quote(.rule))]
    Rule {
        /// The group's name.
        group: String,
        /// 1-based index of the rule in its group.
        index: usize,
        /// The rule's alert or record name.
        rule: String,
        /// Where, when Prometheus knows.
        pos: Option<Pos>,
        /// A second position (`record` and `alert` conflicts).
        alt: Option<Pos>,
        /// Prometheus's message.
        message: String,
    },
}

fn positions(pos: &Option<Pos>, alt: &Option<Pos>) -> String {
    match (pos, alt) {
        // An absent second node is not printed (promtool 2.42).
        (Some(p), Some(a)) if a.line != 0 => format!("{p}: {a}: "),
        (Some(p), _) => format!("{p}: "),
        _ => String::new(),
    }
}

/// An [`Error`] in a named file: `FILE: error`, as promtool prints it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read; worded as Go's `os.ReadFile` errors.
    #[error("{}: {}", .file.display(), go_io_error(.file, .source))]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's content is wrong.
    #[error("{}: {source}", .file.display())]
    Content {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        source: Error,
    },
}

/// Go's wording of the common `os.ReadFile` failures, as promtool prints
/// them.
fn go_io_error(file: &Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let f = file.display();
    match e.kind() {
        ErrorKind::NotFound => format!("open {f}: no such file or directory"),
        ErrorKind::PermissionDenied => format!("open {f}: permission denied"),
        ErrorKind::IsADirectory => format!("read {f}: is a directory"),
        _ => e.to_string(),
    }
}

/// Parses and validates rule file content. All problems are returned, in
/// Prometheus's order.
pub fn parse(content: &[u8], options: &ParseOptions) -> Result<RuleGroups, Vec<Error>> {
    let text = match std::str::from_utf8(content) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + content[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            let err = yaml::SyntaxError {
                line,
                column: 0,
                message: "invalid leading UTF-8 octet".into(),
            };
            // Prometheus's two decoding passes both fail.
            return Err(vec![err.clone().into(), err.into()]);
        }
    };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        // Prometheus's two decoding passes both fail.
        Err(e) => return Err(vec![e.clone().into(), e.into()]),
    };
    let groups = match decode(root.as_ref(), !options.ignore_unknown_fields) {
        Ok(g) => g,
        Err(DecodeError::Unmarshal(lines)) => return Err(vec![Error::Unmarshal(lines)]),
        Err(DecodeError::Fatal(m)) => return Err(vec![Error::Decode(m)]),
    };
    let errs = validate::validate(&groups, options);
    if errs.is_empty() {
        Ok(groups)
    } else {
        Err(errs)
    }
}

/// Reads and parses a rule file; errors name the file as given.
pub fn parse_file(file: &Path, options: &ParseOptions) -> Result<RuleGroups, Vec<FileError>> {
    let content = std::fs::read(file).map_err(|source| {
        vec![FileError::Io {
            file: file.to_path_buf(),
            source,
        }]
    })?;
    parse(&content, options).map_err(|errs| {
        errs.into_iter()
            .map(|source| FileError::Content {
                file: file.to_path_buf(),
                source,
            })
            .collect()
    })
}

#[cfg(test)]
mod tests;
