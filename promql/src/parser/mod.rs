//! The PromQL parser: text to a type-checked [`Expr`].
//!
//! A hand-written precedence-climbing parser over the tokens of
//! `lexer.rs`, following the accept/reject decisions and the error
//! messages of Prometheus's yacc grammar (`generated_parser.y`), including
//! its error contexts ("unexpected X in aggregation", "... in offset,
//! expected ...").
//!
//! Like Prometheus, checking happens in two stages: errors found while
//! reading (unknown function, bad duration, misplaced `offset`) and, only
//! for input that parsed cleanly, type checking (`check.rs`). The first
//! error is reported.

//!
//! | module | concept |
//! |---|---|
//! | `options.rs` | [`ParseOptions`]: feature flags, nesting limit |
//! | `token.rs` | token kinds and how messages name them |
//! | `lexer.rs` | text to tokens, with Prometheus's lexer modes and messages |
//! | `literals.rs` | values of string and number tokens |
//! | `state.rs` | the parser state: look-ahead, spans, depth, its error |
//! | `expr.rs` | precedence climbing, unary, primaries |
//! | `bin_modifiers.rs` | `bool`, `on`/`ignoring`, `group_*`, `fill` |
//! | `selector.rs` | vector selectors and label matchers |
//! | `calls.rs` | function calls and aggregations |
//! | `modifiers.rs` | `[range]`, subqueries, `offset`, `@`, `anchored`/`smoothed` |
//! | `duration_expr.rs` | duration literals and duration arithmetic |
//! | `check.rs` | type checking of a parsed tree |
//! | `error.rs` | [`ParseError`] with line:column |
//! | [`series_desc`] | series in the expanding value notation of test files (`1+2x3 _ stale`) |

mod bin_modifiers;
mod calls;
mod check;
mod duration_expr;
mod error;
mod expr;
mod lexer;
pub(crate) mod literals;
mod modifiers;
mod options;
mod selector;
pub mod series_desc;
mod state;
mod token;

use aion_model::Matcher;

use crate::ast::{Duration, Expr, Span};
pub use crate::duration::{format_duration, parse_duration};
pub use error::ParseError;
pub use options::{ParseOptions, DEFAULT_MAX_DEPTH};
use state::{done, into_parse_error, PErr, Parser};
use token::Tok;

/// Parses a PromQL expression with the default (Prometheus 3) options.
///
/// ```
/// let e = aion_promql::parse(r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))"#).unwrap();
/// assert_eq!(e.to_string(), r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))"#);
/// let err = aion_promql::parse("1 +").unwrap_err();
/// assert_eq!(err.to_string(), "1:4: parse error: unexpected end of input");
/// ```
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, &ParseOptions::default())
}

/// Parses a PromQL expression with the given options.
pub fn parse_with(input: &str, options: &ParseOptions) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input, options);
    let result = p.parse_top();
    result.map_err(|e| into_parse_error(e, input))
}

/// Parses a series selector such as `up{job="api"}` into its matchers, as
/// Prometheus's `parser.ParseMetricSelector` does for tools
/// (`promtool tsdb dump --match`, the `match[]` API parameter): only a
/// vector selector without `offset` or `@`, and, unlike in a query, one
/// whose matchers all match the empty string (`{__name__=~".*"}`) is
/// allowed.
///
/// ```
/// let ms = aion_promql::parse_metric_selector(r#"up{job=~"a|b"}"#).unwrap();
/// assert_eq!(ms.len(), 2);
/// assert!(aion_promql::parse_metric_selector("{__name__=~'(?s:.*)'}").is_ok());
/// assert!(aion_promql::parse_metric_selector("rate(up[5m])").is_err());
/// ```
pub fn parse_metric_selector(input: &str) -> Result<Vec<Matcher>, ParseError> {
    let options = ParseOptions::default();
    let mut p = Parser::new(input, &options);
    let result = (|| {
        let first = p.peek()?;
        if first.tok == Tok::Eof {
            return done(Span::new(0, 0), "no expression found in input");
        }
        let expr = p.parse_expr(0, 0)?;
        let t = p.next()?;
        if t.tok != Tok::Eof {
            return Err(PErr::Unexpected(t));
        }
        match expr {
            Expr::VectorSelector(vs)
                if matches!(vs.offset, Duration::Fixed(0)) && vs.at.is_none() =>
            {
                Ok(vs.matchers)
            }
            Expr::VectorSelector(vs) => done(vs.span, "series selectors take no modifiers"),
            _ => done(Span::new(0, input.len()), "not a series selector"),
        }
    })();
    result.map_err(|e| into_parse_error(e, input))
}

#[cfg(test)]
mod tests;
