//! Tokens: their kinds (operators, keywords, literals, identifiers) and
//! how Prometheus names them in "unexpected ..." messages.

use aion_model::gotext::go_quote;

use crate::ast::{AggregateOp, BinaryOp};

/// Keywords that are not operators or aggregators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors (Prometheus lists them apart from keywords).
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl Keyword {
    pub(super) fn lookup(lower: &str) -> Option<Keyword> {
        Some(match lower {
            "bool" => Keyword::Bool,
            "by" => Keyword::By,
            "group_left" => Keyword::GroupLeft,
            "group_right" => Keyword::GroupRight,
            "fill" => Keyword::Fill,
            "fill_left" => Keyword::FillLeft,
            "fill_right" => Keyword::FillRight,
            "ignoring" => Keyword::Ignoring,
            "offset" => Keyword::Offset,
            "smoothed" => Keyword::Smoothed,
            "anchored" => Keyword::Anchored,
            "on" => Keyword::On,
            "without" => Keyword::Without,
            "start" => Keyword::Start,
            "end" => Keyword::End,
            "step" => Keyword::Step,
            "range" => Keyword::Range,
            "max_of" => Keyword::MaxOf,
            "min_of" => Keyword::MinOf,
            _ => return None,
        })
    }

    /// Preprocessors are described by their quoted text in messages,
    /// real keywords as `<kw>`.
    fn is_preprocessor(self) -> bool {
        matches!(
            self,
            Keyword::Start
                | Keyword::End
                | Keyword::Step
                | Keyword::Range
                | Keyword::MaxOf
                | Keyword::MinOf
        )
    }
}

/// Token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Eof,
    Comma,
    Colon,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    /// `=` (label matching).
    Eql,
    /// `=~`
    EqlRegex,
    /// `!~`
    NeqRegex,
    /// A binary operator, including `!=` (which is also a matcher).
    Op(BinaryOp),
    At,
    Number,
    Duration,
    String,
    Identifier,
    MetricIdentifier,
    Keyword(Keyword),
    Aggregator(AggregateOp),
}

/// A token and where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// How Prometheus describes a token in "unexpected ..." messages.
pub(crate) fn describe(tok: &Token, input: &str) -> String {
    let text = &input[tok.start..tok.end];
    match tok.tok {
        Tok::Eof => "end of input".into(),
        Tok::Identifier => format!("identifier {}", go_quote(text)),
        Tok::MetricIdentifier => format!("metric identifier {}", go_quote(text)),
        Tok::Number => format!("number {}", go_quote_truncated(text)),
        Tok::Duration => format!("duration {}", go_quote_truncated(text)),
        Tok::String => format!("string {}", go_quote_truncated(text)),
        Tok::Keyword(k) if !k.is_preprocessor() => format!("<{text}>"),
        Tok::Op(_) | Tok::At | Tok::EqlRegex | Tok::NeqRegex => format!("<op:{text}>"),
        Tok::Aggregator(_) => format!("<aggr:{text}>"),
        _ => go_quote_truncated(text),
    }
}

/// Go's `%.10q...` for long values, `%q` otherwise.
fn go_quote_truncated(s: &str) -> String {
    if s.len() > 10 {
        let head: String = s.chars().take(10).collect();
        format!("{}...", go_quote(&head))
    } else {
        go_quote(s)
    }
}
