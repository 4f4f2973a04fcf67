//! The parse error type.

use std::fmt;

use crate::ast::Span;

/// A PromQL syntax or type error, positioned in the query text.
///
/// Displays as Prometheus does: `1:7: parse error: unexpected end of input`
/// (line and column are 1-based; the column counts bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// What is wrong, worded as close to Prometheus as practical.
    pub message: String,
    /// The bytes the error refers to.
    pub span: Span,
    /// 1-based line of `span.start` (0 for an empty query).
    pub line: usize,
    /// 1-based byte column of `span.start` within its line (0 for an empty
    /// query).
    pub column: usize,
}

impl ParseError {
    pub(crate) fn new(input: &str, message: String, span: Span) -> Self {
        let (line, column) = if input.is_empty() {
            (0, 0)
        } else {
            let pos = span.start.min(input.len());
            let before = &input.as_bytes()[..pos];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            (line, pos - line_start + 1)
        };
        ParseError {
            message,
            span,
            line,
            column,
        }
    }

    /// The byte offset the error starts at.
    pub fn offset(&self) -> usize {
        self.span.start
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "unknown position: parse error: {}", self.message)
        } else {
            write!(
                f,
                "{}:{}: parse error: {}",
                self.line, self.column, self.message
            )
        }
    }
}
