//! A positioned YAML node tree and the decoding rules of Go's `yaml.v3`,
//! which Prometheus reads rule files with.
//!
//! Rule-file errors must name the same line and column and use the same
//! words as Prometheus, so this module does not go through serde: it builds
//! a small node tree from `saphyr-parser`'s events (which carry positions)
//! and resolves plain scalars the way `yaml.v3` does (`null`, `~` and the
//! empty scalar are null; `true`/`false` are booleans; Go integer and float
//! syntax). The typed decoding in [`crate::rulefmt`] then reports type
//! mismatches and unknown fields with `yaml.v3`'s texts.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// Deepest nesting accepted; deeper input is an error, not a stack risk.
const MAX_DEPTH: usize = 1000;
/// Most nodes alias expansion may produce (a "billion laughs" guard).
const MAX_NODES: usize = 1_000_000;

/// The core-schema type of a node, as `yaml.v3` resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Seq,
    Map,
}

impl Tag {
    /// The short tag `yaml.v3` prints in type errors (`!!str`).
    pub(crate) fn short(self) -> &'static str {
        match self {
            Tag::Null => "!!null",
            Tag::Bool => "!!bool",
            Tag::Int => "!!int",
            Tag::Float => "!!float",
            Tag::Str => "!!str",
            Tag::Seq => "!!seq",
            Tag::Map => "!!map",
        }
    }
}

/// A YAML node with its 1-based line and column.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub line: usize,
    pub column: usize,
    pub tag: Tag,
    pub kind: Kind,
}

/// A node's content.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar's text as written (after YAML unescaping).
    Scalar(String),
    Seq(Vec<Node>),
    /// Key/value pairs in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// `yaml.v3`'s type error for this node decoded into the Go type
    /// `into`: `line 3: cannot unmarshal !!str `abc` into float64`, with
    /// scalars over 10 bytes cut to 7 and an ellipsis as Go cuts them.
    pub(crate) fn type_error(&self, into: &str) -> String {
        let value = match &self.kind {
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
        format!(
            "line {}: cannot unmarshal {}{} into {}",
            self.line,
            self.tag.short(),
            value,
            into
        )
    }
}

/// A YAML syntax error, displayed as `yaml.v3` does (`yaml: line 3: ...`).
///
/// The words are the YAML parser's (`saphyr-parser`, a port of libyaml
/// like `yaml.v3`), which mostly but not always equal `yaml.v3`'s; the
/// line follows `yaml.v3`'s rules (see `from_scan`) as far as the parser
/// exposes positions, and is left out when 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("yaml: {}{message}", if *.line == 0 { String::new() } else { format!("line {}: ", .line) })]
pub struct SyntaxError {
    /// The line `yaml.v3` would print (see above); 0 when it prints none.
    pub line: usize,
    /// 1-based column of the error.
    pub column: usize,
    /// What the parser found wrong.
    pub message: String,
}

impl SyntaxError {
    fn at(line: usize, column: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Contexts of the parser's (not the scanner's) errors, and whether the
/// context's position is the innermost open collection's start.
const PARSER_CONTEXTS: [(&str, bool); 6] = [
    ("while parsing a node, ", false),
    ("while parsing node, ", false),
    ("while parsing a block mapping, ", true),
    ("while parsing a flow mapping, ", true),
    ("while parsing a flow sequence, ", true),
    ("while parsing a block collection, ", true),
];

impl SyntaxError {
    /// From the parser's error, placed and worded as yaml.v3 does: the
    /// problem without its context; the line of the context's position
    /// when that is not on the first line, else of the problem's, 0-based
    /// for parser errors and 1-based for scanner errors (yaml.v3's quirk),
    /// omitted when 0. `open` is the 1-based start line of the innermost
    /// open collection.
    fn from_scan(e: &ScanError, open: Option<usize>, input: &str) -> Self {
        let m = e.marker();
        let info = e.info();
        // At the end of input, the line is the input's last (saphyr marks
        // an unterminated scalar at its start).
        let problem0 = if m.index() >= input.chars().count()
            || info.ends_with("found unexpected end of stream")
        {
            input.bytes().filter(|&b| b == b'\n').count()
        } else {
            m.line().saturating_sub(1)
        };
        let parser = PARSER_CONTEXTS
            .iter()
            .find(|(c, _)| info.starts_with(c))
            .copied();
        let (line, message) = match parser {
            Some((c, at_collection)) => {
                let ctx0 = open.map_or(0, |l| l.saturating_sub(1));
                let line = if at_collection && ctx0 != 0 {
                    ctx0
                } else {
                    problem0
                };
                (line, &info[c.len()..])
            }
            None if info.starts_with("did not find expected <") => (problem0, info),
            None => {
                let problem = match info.strip_prefix("while ") {
                    Some(rest) => rest.split_once(", ").map_or(info, |(_, p)| p),
                    None => info,
                };
                (if problem0 == 0 { 0 } else { problem0 + 1 }, problem)
            }
        };
        SyntaxError::at(line, m.col() + 1, message)
    }
}

/// Parses the first document of `input`; `None` for a stream without one
/// (an empty file), which Prometheus reads as no groups.
pub(crate) fn parse(input: &str) -> Result<Option<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(input);
    // Open collections: the node being built and, for mappings, a pending key.
    let mut stack: Vec<(Node, Option<Node>, usize)> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev
            .map_err(|e| SyntaxError::from_scan(&e, stack.last().map(|(n, _, _)| n.line), input))?;
        let (line, column) = (span.start.line(), span.start.col() + 1);
        let (node, anchor) = match ev {
            Event::DocumentEnd if root.is_some() => break,
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => continue,
            Event::Scalar(text, style, anchor, tag) => {
                let tag = match tag.as_deref() {
                    Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                        match t.suffix.as_str() {
                            "null" => Tag::Null,
                            "bool" => Tag::Bool,
                            "int" => Tag::Int,
                            "float" => Tag::Float,
                            _ => Tag::Str,
                        }
                    }
                    Some(_) => Tag::Str,
                    None if style == ScalarStyle::Plain => resolve_plain(&text),
                    None => Tag::Str,
                };
                let node = Node {
                    line,
                    column,
                    tag,
                    kind: Kind::Scalar(text.into_owned()),
                };
                (node, anchor)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError::at(
                        line,
                        column,
                        format!("exceeded max depth of {MAX_DEPTH}"),
                    ));
                }
                let (tag, kind) = if matches!(ev, Event::SequenceStart(..)) {
                    (Tag::Seq, Kind::Seq(Vec::new()))
                } else {
                    (Tag::Map, Kind::Map(Vec::new()))
                };
                stack.push((
                    Node {
                        line,
                        column,
                        tag,
                        kind,
                    },
                    None,
                    anchor,
                ));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((mut node, _, anchor)) = stack.pop() else {
                    continue;
                };
                if let Kind::Map(pairs) = &mut node.kind {
                    expand_merge_keys(pairs);
                }
                // yaml.v3 positions a block mapping at its first key.
                if let Kind::Map(pairs) = &node.kind {
                    if let Some((k, _)) = pairs.first() {
                        if k.line > node.line || k.column > node.column {
                            node.line = k.line;
                            node.column = k.column;
                        }
                    }
                }
                (node, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(SyntaxError::at(line, column, "unknown anchor"));
                };
                nodes += count(target);
                if nodes > MAX_NODES {
                    return Err(SyntaxError::at(
                        line,
                        column,
                        "document contains excessive aliasing",
                    ));
                }
                (target.clone(), 0)
            }
        };
        nodes += 1;
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending, _)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(pairs) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => {
                        pairs.push((key, node));
                    }
                },
                Kind::Scalar(_) => unreachable!("scalars are never open collections"),
            },
        }
    }
    Ok(root)
}

/// YAML merge keys (`<<: *base`, `<<: [*a, *b]`), as `yaml.v3` applies
/// them: the merged mappings' pairs take the place of the `<<` entry,
/// except keys the mapping sets itself; of several merged mappings the
/// earlier wins.
fn expand_merge_keys(pairs: &mut Vec<(Node, Node)>) {
    if !pairs.iter().any(|(k, _)| k.text() == Some("<<")) {
        return;
    }
    let own: Vec<String> = pairs
        .iter()
        .filter_map(|(k, _)| k.text().filter(|t| *t != "<<").map(str::to_string))
        .collect();
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs.drain(..) {
        if k.text() != Some("<<") {
            out.push((k, v));
            continue;
        }
        let sources: Vec<Node> = match v.kind {
            Kind::Map(_) => vec![v],
            Kind::Seq(items) => items,
            // Not a mapping: left for the decoder to reject as a field.
            _ => {
                out.push((k, v));
                continue;
            }
        };
        for src in sources {
            let Kind::Map(src_pairs) = src.kind else {
                continue;
            };
            for (sk, sv) in src_pairs {
                let name = sk.text().map(str::to_string);
                let taken = name.as_ref().is_some_and(|n| {
                    own.contains(n) || out.iter().any(|(k, _)| k.text() == Some(n))
                });
                if !taken {
                    out.push((sk, sv));
                }
            }
        }
    }
    *pairs = out;
}

fn count(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar(_) => 1,
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

/// The tag `yaml.v3` resolves a plain scalar to.
fn resolve_plain(s: &str) -> Tag {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Tag::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Tag::Bool,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Tag::Float,
        _ => {}
    }
    if parse_int(s).is_some() {
        return Tag::Int;
    }
    let first = s.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && s.replace('_', "").parse::<f64>().is_ok()
        && !s.contains(['i', 'n', 'I', 'N'])
    {
        return Tag::Float;
    }
    Tag::Str
}

/// An integer in Go's `strconv.ParseInt(s, 0, 64)` syntax (with `_`
/// separators, `0x`/`0o`/`0b` prefixes), as `yaml.v3` resolves them.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let plain = body.replace('_', "");
    let (radix, digits) = if let Some(d) = plain.strip_prefix("0x").or(plain.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = plain.strip_prefix("0o").or(plain.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = plain.strip_prefix("0b").or(plain.strip_prefix("0B")) {
        (2, d)
    } else if plain.len() > 1 && plain.starts_with('0') {
        (8, &plain[1..])
    } else {
        (10, plain.as_str())
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// The float value of a scalar `yaml.v3` resolved as `!!float`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => s.replace('_', "").parse().ok(),
    }
}

pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::new();
    let _ = aion_model::gotext::write_go_quoted(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_maps_sit_at_their_first_key() {
        let n = parse("groups:\n  - name: a\n    rules: []\n")
            .unwrap()
            .unwrap();
        let Kind::Map(top) = &n.kind else { panic!() };
        assert_eq!((top[0].0.line, top[0].0.column), (1, 1));
        let Kind::Seq(groups) = &top[0].1.kind else {
            panic!()
        };
        assert_eq!((groups[0].line, groups[0].column), (2, 5));
        let Kind::Map(g) = &groups[0].kind else {
            panic!()
        };
        assert_eq!((g[0].1.line, g[0].1.column), (2, 11));
        assert_eq!(g[0].1.text(), Some("a"));
    }

    #[test]
    fn merge_keys_bring_in_pairs_the_mapping_does_not_set() {
        let n = parse("a: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\nd: {<<: [{x: 4}, *b]}\n")
            .unwrap()
            .unwrap();
        let Kind::Map(top) = &n.kind else { panic!() };
        let texts = |n: &Node| -> Vec<(String, String)> {
            let Kind::Map(p) = &n.kind else { panic!() };
            p.iter()
                .map(|(k, v)| (k.text().unwrap().into(), v.text().unwrap().into()))
                .collect()
        };
        let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(texts(&top[1].1), kv(&[("x", "1"), ("y", "3")]));
        assert_eq!(texts(&top[2].1), kv(&[("x", "4"), ("y", "2")]));
    }

    #[test]
    fn plain_scalars_resolve_as_yaml_v3() {
        for (s, t) in [
            ("", Tag::Null),
            ("~", Tag::Null),
            ("true", Tag::Bool),
            ("12", Tag::Int),
            ("0x1f", Tag::Int),
            ("-3", Tag::Int),
            ("1.5", Tag::Float),
            ("1e3", Tag::Float),
            (".inf", Tag::Float),
            ("5m", Tag::Str),
            ("inf", Tag::Str),
            ("nan", Tag::Str),
            ("up == 0", Tag::Str),
        ] {
            assert_eq!(resolve_plain(s), t, "{s:?}");
        }
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("99999999999999999999"), None);
    }

    #[test]
    fn quoted_scalars_are_strings_and_duplicates_are_kept() {
        let n = parse("a: '12'\n").unwrap().unwrap();
        let Kind::Map(m) = &n.kind else { panic!() };
        assert_eq!(m[0].1.tag, Tag::Str);
        // Duplicate keys are the decoder's error, as in yaml.v3.
        let n = parse("a: 1\na: 2\n").unwrap().unwrap();
        assert!(matches!(&n.kind, Kind::Map(m) if m.len() == 2));
    }

    #[test]
    fn syntax_errors_and_empty_input() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
        // yaml.v3's words and (0-based, for parser errors) line.
        let e = parse("groups: [\n").unwrap_err();
        // promtool 2.42 prints these for the same input.
        assert_eq!(
            e.to_string(),
            "yaml: line 1: did not find expected node content"
        );
        let e = parse("a: \"x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "yaml: line 2: found unexpected end of stream"
        );
        let e = parse("a: b: c\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "yaml: mapping values are not allowed in this context"
        );
        let e = parse("groups:\n  - name: a\n   rules: x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "yaml: line 1: did not find expected '-' indicator"
        );
        let deep = "[".repeat(5000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn aliases_expand_and_are_bounded() {
        let n = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let Kind::Map(m) = &n.kind else { panic!() };
        assert!(matches!(&m[1].1.kind, Kind::Seq(v) if v.len() == 2));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).is_err());
    }
}
