//! Typed decoding of the node tree into rule groups, with `yaml.v3`'s
//! rules and messages: unknown fields (when strict) and type mismatches are
//! collected as `yaml: unmarshal errors:` lines, a bad duration stops the
//! decoding with Prometheus's `model.ParseDuration` message.
//!
//! Prometheus decodes each file twice, strictly into `RuleGroups` and
//! leniently into its positioned twin `ruleGroups` (whose `record`, `alert`
//! and `expr` are raw nodes), and reports the errors of both passes; so do
//! we, with both passes' type names.

use aion_promql::parser::parse_duration;

use super::{Pos, Rule, RuleGroup, RuleGroups};
use crate::yaml::{parse_float, parse_int, Kind, Node, Tag};

/// Which of Prometheus's two decoding passes runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Into `rulefmt.RuleGroups`, with unknown fields as errors unless
    /// they are ignored.
    Strict { known_fields: bool },
    /// Into `rulefmt.ruleGroups` (never strict).
    Positions,
}

impl Pass {
    fn names(self) -> Names {
        match self {
            Pass::Strict { .. } => Names {
                top: "rulefmt.RuleGroups",
                groups: "[]rulefmt.RuleGroup",
                group: "rulefmt.RuleGroup",
                rules: "[]rulefmt.Rule",
                rule: "rulefmt.Rule",
            },
            Pass::Positions => Names {
                top: "rulefmt.ruleGroups",
                groups: "[]rulefmt.RuleGroupNode",
                group: "rulefmt.RuleGroupNode",
                rules: "[]rulefmt.RuleNode",
                rule: "rulefmt.RuleNode",
            },
        }
    }
}

struct Names {
    top: &'static str,
    groups: &'static str,
    group: &'static str,
    rules: &'static str,
    rule: &'static str,
}

/// Why a pass failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// `yaml: unmarshal errors:` and one line each.
    Unmarshal(Vec<String>),
    /// An error that stopped decoding (a bad duration).
    Fatal(String),
}

struct Decoder {
    pass: Pass,
    names: Names,
    terrors: Vec<String>,
}

/// Decodes `root` (`None` for an empty file) in `pass`.
pub(super) fn decode(root: Option<&Node>, pass: Pass) -> Result<RuleGroups, DecodeError> {
    let mut d = Decoder {
        pass,
        names: pass.names(),
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
        let value = match &n.kind {
            Kind::Scalar(s) if s.len() > 10 => {
                let mut cut = 7;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!(" `{}...`", &s[..cut])
            }
            Kind::Scalar(s) => format!(" `{s}`"),
            _ => String::new(),
        };
        self.terrors.push(format!(
            "line {}: cannot unmarshal {}{} into {}",
            n.line,
            n.tag.short(),
            value,
            into
        ));
    }

    /// The pairs of a mapping destined for a struct, or `None` (with a type
    /// error unless it is null).
    fn fields<'n>(&mut self, n: &'n Node, into: &str) -> Option<&'n [(Node, Node)]> {
        match &n.kind {
            Kind::Map(pairs) => Some(pairs),
            _ if n.tag == Tag::Null => None,
            _ => {
                self.terror(n, into);
                None
            }
        }
    }

    fn unknown(&mut self, key: &Node, into: &str) {
        if self.pass == (Pass::Strict { known_fields: true }) {
            self.terrors.push(format!(
                "line {}: field {} not found in type {}",
                key.line,
                key.text().unwrap_or(""),
                into
            ));
        }
    }

    fn top(&mut self, n: &Node, out: &mut RuleGroups) -> Fatal {
        let top = self.names.top;
        let Some(pairs) = self.fields(n, top) else {
            return Ok(());
        };
        for (k, v) in pairs {
            match k.text() {
                Some("groups") => {
                    let into = self.names.groups;
                    for g in self.items(v, into) {
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
        let into = self.names.group;
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
                    let into = self.names.rules;
                    for r in self.items(v, into) {
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
        let into = self.names.rule;
        let Some(pairs) = self.fields(n, into) else {
            return Ok(());
        };
        let raw = self.pass == Pass::Positions;
        for (k, v) in pairs {
            match k.text() {
                Some(f @ ("record" | "alert" | "expr")) => {
                    let (text, pos) = match f {
                        "record" => (&mut r.record, &mut r.record_pos),
                        "alert" => (&mut r.alert, &mut r.alert_pos),
                        _ => (&mut r.expr, &mut r.expr_pos),
                    };
                    *pos = Pos::of(v);
                    if raw {
                        // A yaml.Node field takes any node.
                        *text = v.text().unwrap_or_default().to_string();
                    } else {
                        self.string(v, text);
                    }
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
