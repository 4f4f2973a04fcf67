//! Alert label and annotation templates: the part of Go's `text/template`
//! with Prometheus's functions that rule files use.
//!
//! Templates are parsed when rules are loaded (Prometheus checks them at
//! load too), so a template that would not run is a load error; at
//! evaluation an execution error becomes the value
//! `<error expanding template: ...>`, as in Prometheus.
//!
//! # What is supported
//!
//! * text and actions `{{ ... }}`, trim markers `{{- ` and ` -}}`,
//!   comments `{{/* ... */}}`;
//! * the variables `$labels`, `$externalLabels`, `$externalURL`, `$value`
//!   and `$` (the data), the data's fields `.Labels`, `.ExternalLabels`,
//!   `.ExternalURL`, `.Value`, map fields (`$labels.instance`; a missing
//!   label is the empty string: Prometheus runs templates with
//!   `missingkey=zero`), field chains on parenthesised pipelines;
//! * constants: strings (`"..."` with Go escapes, `` `raw` ``), numbers
//!   (integers are Go `int`, others `float64`: `gt $value 10` is Go's
//!   "incompatible types for comparison", write `10.0`), characters,
//!   `true`, `false`;
//! * pipelines (`{{ $value | humanize }}`), parenthesised pipelines,
//!   variable declaration and assignment (`{{ $x := ... }}`, `{{ $x = ... }}`);
//! * `{{ if }}`, `{{ else if }}`, `{{ else }}`, `{{ end }}`;
//! * Go's functions `and or not eq ne lt le gt ge len index print printf
//!   println` (`printf` with the verbs `%v %s %d %f %e %g %q %x %t %c`,
//!   flags, width and precision);
//! * Prometheus's functions `humanize humanize1024 humanizeDuration
//!   humanizePercentage humanizeTimestamp toUpper toLower title stripPort
//!   match reReplaceAll safeHtml parseDuration`.
//!
//! # What is not
//!
//! `range`, `with`, `define`, `template`, `block`, `break`, `continue`,
//! and the functions needing a query engine or more Go types (`query`,
//! `first`, `label`, `value`, `sortByLabel`, `strvalue`, `args`, `tmpl`,
//! `graphLink`, `tableLink`, `pathPrefix`, `externalURL`, `stripDomain`,
//! `toTime`, `toDuration`, `now`, `html`, `js`, `urlquery`, `call`,
//! `slice`). A template using one is refused at load with a message
//! naming it. Execution error texts follow Go's form
//! (`template: NAME:LINE:COL: executing "NAME" at <...>: ...`) but their
//! column and context are approximate.
//!
//! ```
//! use aion_model::Labels;
//! use aion_rules::template::{Expander, Template};
//!
//! let t = Template::parse("__alert_Down", "{{ $labels.job }} at {{ $value | humanize }}").unwrap();
//! let labels = Labels::from_pairs(&[("job", "api")]).unwrap();
//! let e = Expander { labels: &labels, external_labels: &Labels::new(), external_url: "", value: 1234567.0 };
//! assert_eq!(e.expand(&t).unwrap(), "api at 1.235M");
//!
//! let err = Template::parse("__alert_x", "{{ $labels.instance ").unwrap_err();
//! assert_eq!(err.to_string(), "template: __alert_x:1: unclosed action");
//! ```

mod exec;
pub(crate) mod funcs;
mod lex;
mod parse;
mod printf;
mod value;

use aion_model::Labels;

pub(crate) use value::Value;

/// The variables Prometheus defines before every alert template.
const VARIABLES: [&str; 4] = ["labels", "externalLabels", "externalURL", "value"];

/// What Prometheus prepends to every alert template; execution error
/// columns count it.
const DEFS_LEN: usize = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}".len();

/// A parse error, displayed as Go's (`template: NAME:LINE: message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A template that does not parse or would not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct TemplateError {
    /// The template's name (`__alert_<alertname>` for rule templates).
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// An execution failure, displayed as Prometheus's `Expand` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error executing template {name}: template: {name}:{line}:{column}: executing \"{name}\" at <{context}>: {message}")]
pub struct ExpandError {
    /// The template's name.
    pub name: String,
    /// 1-based line of the failing action.
    pub line: usize,
    /// Byte column of the failing action, counting Prometheus's prepended
    /// variable definitions on line 1.
    pub column: usize,
    /// The failing action's text.
    pub context: String,
    /// What went wrong (`error calling humanize: ...`).
    pub message: String,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    name: String,
    text: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `text`; `name` appears in errors (Prometheus names alert
    /// templates `__alert_<alertname>`).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let err = |e: ParseError| TemplateError {
            name: name.to_string(),
            line: e.line,
            message: e.message,
        };
        let nodes = if text.contains("{{") {
            let items = lex::lex(text).map_err(err)?;
            parse::parse(items, text, &VARIABLES).map_err(err)?
        } else {
            vec![parse::Node::Text(text.to_string())]
        };
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            nodes,
        })
    }

    /// The template's source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The data an alert template is expanded with.
#[derive(Debug, Clone, Copy)]
pub struct Expander<'a> {
    /// The alert's series labels (`$labels`).
    pub labels: &'a Labels,
    /// The host's external labels (`$externalLabels`).
    pub external_labels: &'a Labels,
    /// The host's external URL (`$externalURL`).
    pub external_url: &'a str,
    /// The series' value (`$value`).
    pub value: f64,
}

impl Expander<'_> {
    /// Expands `t`.
    pub fn expand(&self, t: &Template) -> Result<String, ExpandError> {
        let mut ex = exec::Exec {
            data: self,
            vars: vec![
                ("labels".into(), exec_field(self, "Labels")),
                ("externalLabels".into(), exec_field(self, "ExternalLabels")),
                (
                    "externalURL".into(),
                    Value::Str(self.external_url.to_string()),
                ),
                ("value".into(), Value::Float(self.value)),
            ],
            out: String::new(),
        };
        ex.run(&t.nodes).map_err(|e| {
            let line_start = t.text[..e.pipe_offset.min(t.text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let mut column = e.pipe_offset - line_start;
            if e.line == 1 {
                column += DEFS_LEN;
            }
            ExpandError {
                name: t.name.clone(),
                line: e.line,
                column,
                context: e.context,
                message: e.message,
            }
        })?;
        Ok(ex.out)
    }

    /// Expands `t`, or gives Prometheus's error value
    /// `<error expanding template: ...>`.
    pub fn expand_or_message(&self, t: &Template) -> String {
        self.expand(t)
            .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }
}

fn exec_field(e: &Expander, name: &str) -> Value {
    let l = if name == "Labels" {
        e.labels
    } else {
        e.external_labels
    };
    Value::Map(
        l.iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
