//! Semantic checks of decoded rule groups, in Prometheus's order and with
//! its messages (`RuleGroups.Validate`, `Rule.Validate`).

use aion_model::{is_legacy_label_name, METRIC_NAME};

use super::{Error, ParseOptions, Pos, Rule, RuleGroups};

/// Which names are valid, as Prometheus's `model.ValidationScheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Any non-empty UTF-8 name (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` metric names and `[a-zA-Z_][a-zA-Z0-9_]*`
    /// label names (Prometheus 2).
    Legacy,
}

impl NameValidation {
    /// Whether `name` may be a label name.
    pub fn label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_legacy_label_name(name),
        }
    }

    /// Whether `name` may be a metric name.
    pub fn metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => {
                let mut b = name.bytes();
                matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
                    && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
            }
        }
    }
}

pub(super) fn validate(groups: &RuleGroups, options: &ParseOptions) -> Vec<Error> {
    let names = options.names;
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in &groups.groups {
        if g.name.is_empty() {
            errs.push(Error::Group {
                pos: g.pos,
                message: "Groupname must not be empty".into(),
            });
        }
        if !seen.insert(g.name.as_str()) {
            errs.push(Error::Group {
                pos: g.pos,
                message: format!("groupname: \"{}\" is repeated in the same file", g.name),
            });
        }
        for (k, _) in &g.labels {
            if !names.label_name(k) || k == METRIC_NAME {
                errs.push(Error::GroupLabel(format!("invalid label name: {k}")));
            }
        }
        for (i, r) in g.rules.iter().enumerate() {
            for (pos, alt, message) in validate_rule(r, options) {
                errs.push(Error::Rule {
                    group: g.name.clone(),
                    index: i + 1,
                    rule: r.name().to_string(),
                    pos,
                    alt,
                    message,
                });
            }
        }
    }
    errs
}

type Problem = (Option<Pos>, Option<Pos>, String);

fn validate_rule(r: &Rule, options: &ParseOptions) -> Vec<Problem> {
    let names = options.names;
    let mut out: Vec<Problem> = Vec::new();
    let at = |p: Pos| Some(p);
    if !r.record.is_empty() && !r.alert.is_empty() {
        out.push((
            at(r.record_pos),
            at(r.alert_pos),
            "only one of 'record' and 'alert' must be set".into(),
        ));
    }
    if r.record.is_empty() && r.alert.is_empty() {
        out.push((
            at(r.record_pos),
            at(r.alert_pos),
            "one of 'record' or 'alert' must be set".into(),
        ));
    }
    if r.expr.is_empty() {
        out.push((
            at(r.expr_pos),
            None,
            "field 'expr' must be set in rule".into(),
        ));
    } else if let Err(e) = aion_promql::parse_with(&r.expr, &options.promql) {
        out.push((
            at(r.expr_pos),
            None,
            format!("could not parse expression: {e}"),
        ));
    }
    if !r.record.is_empty() {
        let p = at(r.record_pos);
        if !r.annotations.is_empty() {
            out.push((
                p,
                None,
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
        if r.for_ms != 0 {
            out.push((p, None, "invalid field 'for' in recording rule".into()));
        }
        if r.keep_firing_for_ms != 0 {
            out.push((
                p,
                None,
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if !names.metric_name(&r.record) {
            out.push((
                p,
                None,
                format!("invalid recording rule name: {}", r.record),
            ));
        }
        if r.record.contains(['{', '}']) {
            out.push((
                p,
                None,
                format!(
                    "braces present in the recording rule name; should it be in expr?: {}",
                    r.record
                ),
            ));
        }
    }
    // Label values are Rust strings, so always valid UTF-8: Prometheus's
    // "invalid label value" cannot occur.
    for (k, _) in &r.labels {
        if !names.label_name(k) || k == METRIC_NAME {
            out.push((None, None, format!("invalid label name: {k}")));
        }
    }
    for (k, _) in &r.annotations {
        if !names.label_name(k) {
            out.push((None, None, format!("invalid annotation name: {k}")));
        }
    }
    // Alert templates are checked at load, as Prometheus does.
    if !r.alert.is_empty() {
        let name = format!("__alert_{}", r.alert);
        for (kind, set) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in set {
                if let Err(e) = crate::template::Template::parse(&name, v) {
                    out.push((
                        None,
                        None,
                        format!("{kind} {}: {e}", crate::yaml::go_quote(k)),
                    ));
                }
            }
        }
    }
    out
}
