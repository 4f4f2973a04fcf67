//! Typed decoding of the node tree into rule groups, with `yaml.v3`'s
//! rules and messages: unknown fields (when strict) and type mismatches are
//! collected as `yaml: unmarshal errors:` lines, a bad duration stops the
//! decoding with Prometheus's `model.ParseDuration` message.
//!
//! Prometheus decodes each file a second time for node positions; that
//! pass adds only its syntax errors (promtool 2.42 prints type errors
//! once and syntax errors twice), so only the syntax error is doubled, in
//! [`super::parse`].

use aion_promql::parser::parse_duration;

use super::{Pos, Rule, RuleGroup, RuleGroups};
use crate::yaml::{parse_float, parse_int, Kind, Node, Tag};

/// Type names as Prometheus 3's strict pass prints them.
const TOP: &str = "rulefmt.RuleGroups";
const GROUPS: &str = "[]rulefmt.RuleGroup";
const GROUP: &str = "rulefmt.RuleGroup";
const RULES: &str = "[]rulefmt.Rule";
const RULE: &str = "rulefmt.Rule";

/// Why a pass failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// `yaml: unmarshal errors:` and one line each.
    Unmarshal(Vec<String>),
    /// An error that stopped decoding (a bad duration).
    Fatal(String),
}

struct Decoder {
    known_fields: bool,
    terrors: Vec<String>,
}

/// Decodes `root` (`None` for an empty file); unknown fields are errors
/// when `known_fields`.
pub(super) fn decode(root: Option<&Node>, known_fields: bool) -> Result<RuleGroups, DecodeError> {
    let mut d = Decoder {
        known_fields,
        terrors: Vec::new(),
    };
    let mut out = RuleGroups::default();
    if let Some(root) = root {
        d.top(root, &mut out).map_err(DecodeError::Fatal)?;
    }
    if d.terrors.is_empty() {
        Ok(out)
    } else {
        Err(DecodeError::Unmarshal(d.terrors))
    }
}

type Fatal = Result<(), String>;

impl Decoder {
    fn terror(&mut self, n: &Node, into: &str) {
        self.terrors.push(n.type_error(into));
    }

    /// The pairs of a mapping destined for a struct, or `None` (with a type
    /// error unless it is null).
    fn fields<'n>(&mut self, n: &'n Node, into: &str) -> Option<&'n [(Node, Node)]> {
        match &n.kind {
            Kind::Map(pairs) => {
                self.duplicate_keys(pairs);
                Some(pairs)
            }
            _ if n.tag == Tag::Null => None,
            _ => {
                self.terror(n, into);
                None
            }
        }
    }

    /// yaml.v3's unique-key check: one error per later repeat of a key.
    fn duplicate_keys(&mut self, pairs: &[(Node, Node)]) {
        for (i, (k, _)) in pairs.iter().enumerate() {
            let Some(text) = k.text() else { continue };
            for (later, _) in &pairs[i + 1..] {
                if later.text() == Some(text) {
                    self.terrors.push(format!(
                        "line {}: mapping key {} already defined at line {}",
                        later.line,
                        crate::yaml::go_quote(text),
                        k.line
                    ));
                }
            }
        }
    }

    fn unknown(&mut self, key: &Node, into: &str) {
        if self.known_fields {
            self.terrors.push(format!(
                "line {}: field {} not found in type {}",
                key.line,
                key.text().unwrap_or(""),
                into
            ));
        }
    }

    fn top(&mut self, n: &Node, out: &mut RuleGroups) -> Fatal {
        let top = TOP;
        let Some(pairs) = self.fields(n, top) else {
            return Ok(());
        };
        for (k, v) in pairs {
            match k.text() {
                Some("groups") => {
                    for g in self.items(v, GROUPS) {
                        let mut group = RuleGroup {
                            pos: Pos::of(g),
                            ..RuleGroup::default()
                        };
                        self.group(g, &mut group)?;
                        out.groups.push(group);
                    }
                }
                _ => self.unknown(k, top),
            }
        }
        Ok(())
    }

    fn items<'n>(&mut self, n: &'n Node, into: &str) -> &'n [Node] {
        match &n.kind {
            Kind::Seq(items) => items,
            _ => {
                if n.tag != Tag::Null {
                    self.terror(n, into);
                }
                &[]
            }
        }
    }

    fn group(&mut self, n: &Node, g: &mut RuleGroup) -> Fatal {
        let into = GROUP;
        let Some(pairs) = self.fields(n, into) else {
            return Ok(());
        };
        for (k, v) in pairs {
            match k.text() {
                Some("name") => self.string(v, &mut g.name),
                Some("interval") => g.interval = self.duration(v)?.unwrap_or(0),
                Some("query_offset") => g.query_offset = self.duration(v)?,
                Some("limit") => g.limit = self.int(v),
                Some("labels") => g.labels = self.string_map(v),
                Some("rules") => {
                    for r in self.items(v, RULES) {
                        let mut rule = Rule {
                            pos: Pos::of(r),
                            ..Rule::default()
                        };
                        self.rule(r, &mut rule)?;
                        g.rules.push(rule);
                    }
                }
                _ => self.unknown(k, into),
            }
        }
        Ok(())
    }

    fn rule(&mut self, n: &Node, r: &mut Rule) -> Fatal {
        let into = RULE;
        let Some(pairs) = self.fields(n, into) else {
            return Ok(());
        };
        for (k, v) in pairs {
            match k.text() {
                Some(f @ ("record" | "alert" | "expr")) => {
                    let (text, pos) = match f {
                        "record" => (&mut r.record, &mut r.record_pos),
                        "alert" => (&mut r.alert, &mut r.alert_pos),
                        _ => (&mut r.expr, &mut r.expr_pos),
                    };
                    *pos = Pos::of(v);
                    self.string(v, text);
                }
                Some("for") => r.for_ms = self.duration(v)?.unwrap_or(0),
                Some("keep_firing_for") => r.keep_firing_for_ms = self.duration(v)?.unwrap_or(0),
                Some("labels") => r.labels = self.string_map(v),
                Some("annotations") => r.annotations = self.string_map(v),
                _ => self.unknown(k, into),
            }
        }
        Ok(())
    }

    fn string(&mut self, n: &Node, out: &mut String) {
        match &n.kind {
            Kind::Scalar(_) if n.tag == Tag::Null => out.clear(),
            Kind::Scalar(s) => s.clone_into(out),
            _ => self.terror(n, "string"),
        }
    }

    fn int(&mut self, n: &Node) -> i64 {
        let text = n.text().unwrap_or_default();
        match n.tag {
            Tag::Null => 0,
            Tag::Int => match parse_int(text) {
                Some(v) => v,
                None => {
                    self.terror(n, "int");
                    0
                }
            },
            // yaml.v3 truncates a float that fits into the integer.
            Tag::Float => match parse_float(text) {
                Some(f) if f.is_finite() && f.abs() < 9.2e18 => f as i64,
                _ => {
                    self.terror(n, "int");
                    0
                }
            },
            _ => {
                self.terror(n, "int");
                0
            }
        }
    }

    /// A `model.Duration` (ms); `None` for null. Its unmarshaler reads a
    /// string, then parses it; a parse failure stops the decoding.
    fn duration(&mut self, n: &Node) -> Result<Option<i64>, String> {
        if n.tag == Tag::Null {
            return Ok(None);
        }
        let Kind::Scalar(s) = &n.kind else {
            self.terror(n, "string");
            return Ok(None);
        };
        parse_duration(s).map(Some)
    }

    fn string_map(&mut self, n: &Node) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        match &n.kind {
            Kind::Map(pairs) => {
                self.duplicate_keys(pairs);
                for (k, v) in pairs {
                    let mut key = String::new();
                    let mut value = String::new();
                    self.string(k, &mut key);
                    self.string(v, &mut value);
                    match out.iter_mut().find(|(x, _)| *x == key) {
                        Some(slot) => slot.1 = value,
                        None => out.push((key, value)),
                    }
                }
            }
            _ if n.tag == Tag::Null => {}
            _ => self.terror(n, "map[string]string"),
        }
        out
    }
}
