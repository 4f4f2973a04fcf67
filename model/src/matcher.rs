//! Label matchers: the `{name op "value"}` terms of a selector.
//!
//! Semantics are Prometheus 3's:
//! * a regex is fully anchored (`=~"a.*"` means `^(?s:a.*)$`; `.` matches
//!   newlines too);
//! * a series that lacks a label behaves as if it had it with the empty
//!   value, so a matcher that matches `""` also selects series without the
//!   label;
//! * `__name__` is an ordinary label.

use std::collections::HashSet;
use std::fmt;

use regex::Regex;

use crate::error::{Error, Result};
use crate::gotext::write_go_quoted;
use crate::labels::is_legacy_label_name;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }

    /// Whether the operator negates its test (`!=`, `!~`).
    pub fn is_negative(self) -> bool {
        matches!(self, MatchType::NotEqual | MatchType::NotRegex)
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled anchored regex with fast paths for the shapes selectors use
/// most, so the common cases never run the regex engine.
///
/// Every fast path is proven equal to the full `^(?s:…)$` regex by the
/// `fast_paths_agree_with_full_regex` proptest below.
#[derive(Clone)]
pub(crate) enum FastRegex {
    /// `.*`: everything.
    Any,
    /// `.+`: everything but `""`.
    NonEmpty,
    /// A literal (metacharacters escaped with `\` allowed): equality.
    Literal(String),
    /// `lit.*`
    Prefix(String),
    /// `lit.+`: the prefix and at least one more character.
    PrefixNonEmpty(String),
    /// `.*lit`
    Suffix(String),
    /// `.*lit.*`
    Contains(String),
    /// `a|b|c` of literals, optionally in one `( )` or `(?: )` group: set
    /// lookup.
    Set(HashSet<String>),
    /// Anything else.
    Full(Regex),
}

/// Characters with a meaning in regex syntax outside classes.
const META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

/// The string a pattern fragment matches literally, if it is a plain
/// literal: no metacharacters except escaped punctuation (`\.` is `.`;
/// `\d`, `\w` and other escapes of letters or digits are classes, not
/// literals).
fn parse_literal(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.push(e),
                _ => return None,
            }
        } else if META.contains(&c) {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `a|b|c` (optionally grouped) as its literal alternatives.
fn parse_set(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern
        .strip_prefix("(?:")
        .or_else(|| pattern.strip_prefix('('))
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or(pattern);
    // Splitting on `|` is only right when no alternative contains an
    // escaped `|`; such patterns fall back to the regex.
    if inner.contains("\\|") {
        return None;
    }
    inner.split('|').map(parse_literal).collect()
}

impl FastRegex {
    fn compile(label: &str, pattern: &str) -> Result<Self> {
        // Always compile the real regex first: an invalid pattern is an
        // error even when a fast path would have matched its shape.
        let full = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| Error::InvalidRegex {
            label: label.to_string(),
            pattern: pattern.to_string(),
            source: Box::new(e),
        })?;
        if pattern == ".*" {
            return Ok(FastRegex::Any);
        }
        if pattern == ".+" {
            return Ok(FastRegex::NonEmpty);
        }
        if let Some(l) = parse_literal(pattern) {
            return Ok(FastRegex::Literal(l));
        }
        if let Some(mid) = pattern
            .strip_prefix(".*")
            .and_then(|p| p.strip_suffix(".*"))
        {
            if let Some(l) = parse_literal(mid).filter(|_| !mid.ends_with('\\')) {
                return Ok(FastRegex::Contains(l));
            }
        }
        if let Some(p) = pattern.strip_suffix(".*").filter(|p| !p.ends_with('\\')) {
            if let Some(l) = parse_literal(p) {
                return Ok(FastRegex::Prefix(l));
            }
        }
        if let Some(p) = pattern.strip_suffix(".+").filter(|p| !p.ends_with('\\')) {
            if let Some(l) = parse_literal(p) {
                return Ok(FastRegex::PrefixNonEmpty(l));
            }
        }
        if let Some(l) = pattern.strip_prefix(".*").and_then(parse_literal) {
            return Ok(FastRegex::Suffix(l));
        }
        if let Some(set) = parse_set(pattern) {
            return Ok(FastRegex::Set(set.into_iter().collect()));
        }
        Ok(FastRegex::Full(full))
    }

    #[inline]
    fn is_match(&self, v: &str) -> bool {
        match self {
            FastRegex::Any => true,
            FastRegex::NonEmpty => !v.is_empty(),
            FastRegex::Literal(l) => v == l,
            FastRegex::Prefix(p) => v.starts_with(p.as_str()),
            FastRegex::PrefixNonEmpty(p) => v.len() > p.len() && v.starts_with(p.as_str()),
            FastRegex::Suffix(s) => v.ends_with(s.as_str()),
            FastRegex::Contains(s) => v.contains(s.as_str()),
            FastRegex::Set(s) => s.contains(v),
            FastRegex::Full(r) => r.is_match(v),
        }
    }

    /// The literal alternatives, when the regex is a finite set of strings.
    fn set_matches(&self) -> Option<Vec<&str>> {
        match self {
            FastRegex::Literal(l) => Some(vec![l.as_str()]),
            FastRegex::Set(s) => {
                let mut v: Vec<&str> = s.iter().map(String::as_str).collect();
                v.sort_unstable();
                Some(v)
            }
            _ => None,
        }
    }

    /// Which path a pattern took (for tests).
    #[cfg(test)]
    fn kind(&self) -> &'static str {
        match self {
            FastRegex::Any => "any",
            FastRegex::NonEmpty => "non-empty",
            FastRegex::Literal(_) => "literal",
            FastRegex::Prefix(_) => "prefix",
            FastRegex::PrefixNonEmpty(_) => "prefix-non-empty",
            FastRegex::Suffix(_) => "suffix",
            FastRegex::Contains(_) => "contains",
            FastRegex::Set(_) => "set",
            FastRegex::Full(_) => "full",
        }
    }
}

/// One label matcher, e.g. `code=~"5.."`.
///
/// ```
/// use aion_model::{Matcher, MatchType};
/// let m = Matcher::new(MatchType::Regex, "code", "5..").unwrap();
/// assert!(m.matches("503"));
/// assert!(!m.matches("5030"));          // fully anchored
/// let absent = Matcher::new(MatchType::Equal, "env", "").unwrap();
/// assert!(absent.matches_empty());      // selects series without `env`
/// ```
#[derive(Clone)]
pub struct Matcher {
    kind: MatchType,
    name: String,
    value: String,
    re: Option<FastRegex>,
}

impl Matcher {
    /// Builds a matcher; regex matchers are compiled (and can fail) here.
    pub fn new(kind: MatchType, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let re = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(FastRegex::compile(&name, &value)?),
            _ => None,
        };
        Ok(Matcher {
            kind,
            name,
            value,
            re,
        })
    }

    /// `name="value"`: never fails.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            kind: MatchType::Equal,
            name: name.into(),
            value: value.into(),
            re: None,
        }
    }

    /// The operator.
    pub fn kind(&self) -> MatchType {
        self.kind
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value or pattern as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value (`""` for an absent label) satisfies the
    /// matcher.
    #[inline]
    pub fn matches(&self, v: &str) -> bool {
        match self.kind {
            MatchType::Equal => v == self.value,
            MatchType::NotEqual => v != self.value,
            MatchType::Regex => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchType::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether the series with `labels` satisfies the matcher (an absent
    /// label counts as the empty value).
    pub fn matches_labels(&self, labels: &crate::Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether the matcher matches the empty value, i.e. also selects
    /// series that do not have the label at all.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` and for regexes that are a finite alternation of literals,
    /// the exact values that match, sorted. Lets postings lookups go
    /// straight to those values instead of scanning all of them.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self.kind {
            MatchType::Equal => Some(vec![self.value.as_str()]),
            MatchType::Regex => self.re.as_ref().and_then(FastRegex::set_matches),
            _ => None,
        }
    }

    /// For `=~` and `!~` whose regex is a finite alternation of literals,
    /// the literals (the values the *regex* matches, before negation).
    pub fn regex_literal_set(&self) -> Option<Vec<&str>> {
        self.re.as_ref().and_then(FastRegex::set_matches)
    }

    /// The matcher with its operator negated (`=` ↔ `!=`, `=~` ↔ `!~`).
    pub fn inverse(&self) -> Matcher {
        let kind = match self.kind {
            MatchType::Equal => MatchType::NotEqual,
            MatchType::NotEqual => MatchType::Equal,
            MatchType::Regex => MatchType::NotRegex,
            MatchType::NotRegex => MatchType::Regex,
        };
        Matcher {
            kind,
            ..self.clone()
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.name == other.name && self.value == other.value
    }
}
impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.name.hash(state);
        self.value.hash(state);
    }
}

impl fmt::Display for Matcher {
    /// As Prometheus prints it: `name="value"`, with the name quoted when it
    /// is not a legacy identifier.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_legacy_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_go_quoted(f, &self.name)?;
        }
        f.write_str(self.kind.as_str())?;
        write_go_quoted(f, &self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn m(kind: MatchType, v: &str) -> Matcher {
        Matcher::new(kind, "l", v).unwrap()
    }

    #[test]
    fn anchored_and_dotall() {
        let r = m(MatchType::Regex, "a.c");
        assert!(r.matches("abc"));
        assert!(r.matches("a\nc"));
        assert!(!r.matches("xabc"));
        assert!(!r.matches("abcx"));
    }

    #[test]
    fn empty_semantics() {
        assert!(m(MatchType::Equal, "").matches_empty());
        assert!(!m(MatchType::NotEqual, "").matches_empty());
        assert!(m(MatchType::Regex, ".*").matches_empty());
        assert!(!m(MatchType::Regex, ".+").matches_empty());
        assert!(m(MatchType::NotRegex, "x").matches_empty());
    }

    #[test]
    fn fast_path_shapes() {
        let cases = [
            (".*", "any"),
            (".+", "non-empty"),
            ("", "literal"),
            ("abc", "literal"),
            ("a\\.b", "literal"),
            ("abc.*", "prefix"),
            ("a\\.b.*", "prefix"),
            ("abc.+", "prefix-non-empty"),
            (".*abc", "suffix"),
            (".*abc.*", "contains"),
            ("a|b|cd", "set"),
            ("(a|b)", "set"),
            ("(?:a|b|)", "set"),
            ("foo|", "set"),
            ("a\\d", "full"),
            ("a\\|b", "literal"),
            ("a\\|b|c", "full"),
            ("(a|b).*", "full"),
            ("a.b", "full"),
            ("abc\\.*", "full"),
            ("(?i)abc", "full"),
        ];
        for (p, kind) in cases {
            assert_eq!(FastRegex::compile("l", p).unwrap().kind(), kind, "{p:?}");
        }
        assert_eq!(
            m(MatchType::Regex, "(a|b|c)").set_matches(),
            Some(vec!["a", "b", "c"])
        );
        assert_eq!(
            m(MatchType::Regex, "a\\.b").set_matches(),
            Some(vec!["a.b"])
        );
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop::sample::select(
            &[
                "a", "b", "ab", "ba", "\\.", "\\|", "\\\\", "\\*", "\\d", "é", ".", ".*", ".+",
                "|", "(", ")", "(?:", "?", "[ab]", "x", "\n",
            ][..],
        )
        .prop_map(str::to_string)
    }

    fn shaped_pattern() -> impl Strategy<Value = String> {
        let lit = prop::collection::vec(
            prop::sample::select(&["a", "b", "é", "\\.", "\\*", "\\\\", "x", ""][..]),
            0..4,
        )
        .prop_map(|v| v.concat());
        prop_oneof![
            lit.clone(),
            lit.clone().prop_map(|l| format!("{l}.*")),
            lit.clone().prop_map(|l| format!("{l}.+")),
            lit.clone().prop_map(|l| format!(".*{l}")),
            lit.clone().prop_map(|l| format!(".*{l}.*")),
            prop::collection::vec(lit.clone(), 1..4).prop_map(|v| v.join("|")),
            prop::collection::vec(lit.clone(), 1..4).prop_map(|v| format!("({})", v.join("|"))),
            prop::collection::vec(lit, 1..4).prop_map(|v| format!("(?:{})", v.join("|"))),
            prop::collection::vec(fragment(), 0..6).prop_map(|v| v.concat()),
        ]
    }

    fn input() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(&["a", "b", ".", "*", "|", "\\", "é", "x", "\n", "d", "1"][..]),
            0..6,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn fast_paths_agree_with_full_regex(p in shaped_pattern(), inputs in prop::collection::vec(input(), 1..12)) {
            let Ok(fast) = FastRegex::compile("l", &p) else {
                // Invalid patterns must be rejected by both.
                let anchored = format!("^(?s:{p})$");
                prop_assert!(Regex::new(&anchored).is_err());
                return Ok(());
            };
            let full = Regex::new(&format!("^(?s:{p})$")).unwrap();
            // Inputs built from the pattern's own characters hit the
            // literals; random ones probe the rest.
            let mut all = inputs;
            all.push(p.replace('\\', ""));
            all.push(p.replace(".*", "").replace(".+", "x").replace('\\', ""));
            for alt in p.split('|') {
                all.push(alt.replace(['\\', '(', ')', '?', ':'], ""));
            }
            for i in &all {
                prop_assert_eq!(fast.is_match(i), full.is_match(i), "pattern {:?} ({}) input {:?}", p, fast.kind(), i);
            }
            if let Some(set) = fast.set_matches() {
                for s in set {
                    prop_assert!(full.is_match(s), "set member {:?} of {:?}", s, p);
                }
            }
        }
    }

    #[test]
    fn invalid_regex_is_an_error() {
        let e = Matcher::new(MatchType::Regex, "job", "a(").unwrap_err();
        assert!(e.to_string().contains("job"), "{e}");
    }

    #[test]
    fn display() {
        assert_eq!(m(MatchType::NotRegex, "a\"b").to_string(), r#"l!~"a\"b""#);
    }
}
