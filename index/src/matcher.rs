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
use crate::labels::{is_legacy_label_name, write_go_quoted};

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
#[derive(Clone)]
pub(crate) enum FastRegex {
    /// `.*`: everything.
    Any,
    /// `.+`: everything but `""`.
    NonEmpty,
    /// No metacharacters: plain equality.
    Literal(String),
    /// `lit.*`
    Prefix(String),
    /// `a|b|c` of literals: set lookup.
    Set(HashSet<String>),
    /// Anything else.
    Full(Regex),
}

const META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

fn is_literal(s: &str) -> bool {
    !s.contains(META)
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
        Ok(if pattern == ".*" {
            FastRegex::Any
        } else if pattern == ".+" {
            FastRegex::NonEmpty
        } else if is_literal(pattern) {
            FastRegex::Literal(pattern.to_string())
        } else if let Some(p) = pattern.strip_suffix(".*").filter(|p| is_literal(p)) {
            FastRegex::Prefix(p.to_string())
        } else if pattern.contains('|') && pattern.split('|').all(is_literal) {
            FastRegex::Set(pattern.split('|').map(str::to_string).collect())
        } else {
            FastRegex::Full(full)
        })
    }

    #[inline]
    fn is_match(&self, v: &str) -> bool {
        match self {
            FastRegex::Any => true,
            FastRegex::NonEmpty => !v.is_empty(),
            FastRegex::Literal(l) => v == l,
            FastRegex::Prefix(p) => v.starts_with(p.as_str()),
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
}

/// One label matcher, e.g. `code=~"5.."`.
///
/// ```
/// use aion_index::{Matcher, MatchType};
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
    pub(crate) fn regex_literal_set(&self) -> Option<Vec<&str>> {
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
    fn fast_paths_agree_with_full_regex() {
        let patterns = [
            "", ".*", ".+", "abc", "abc.*", "a|b|cd", "foo|", "a.b", "(a|b)",
        ];
        let inputs = ["", "a", "b", "cd", "abc", "abcd", "foo", "a.b", "axb", "\n"];
        for p in patterns {
            let fast = FastRegex::compile("l", p).unwrap();
            let full = Regex::new(&format!("^(?s:{p})$")).unwrap();
            for i in inputs {
                assert_eq!(
                    fast.is_match(i),
                    full.is_match(i),
                    "pattern {p:?} input {i:?}"
                );
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
