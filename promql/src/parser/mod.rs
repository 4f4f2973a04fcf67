//! The PromQL parser: text to a type-checked [`Expr`].
//!
//! A hand-written precedence-climbing parser over the tokens of
//! [`lexer`], following the accept/reject decisions and the error
//! messages of Prometheus's yacc grammar (`generated_parser.y`), including
//! its error contexts ("unexpected X in aggregation", "... in offset,
//! expected ...").
//!
//! Like Prometheus, checking happens in two stages: errors found while
//! reading (unknown function, bad duration, misplaced `offset`) and, only
//! for input that parsed cleanly, type checking ([`check`]). The first
//! error is reported.

mod check;
mod error;
mod lexer;
pub(crate) mod literals;

use std::collections::VecDeque;

use aion_model::{gotext::go_quote, MatchType, Matcher, METRIC_NAME};

use crate::ast::{
    function, AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Cardinality,
    Duration, DurationExpr, DurationExprKind, DurationOp, Expr, FillValues, MatrixSelector,
    NumberLiteral, ParenExpr, Span, StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp,
    VectorMatching, VectorSelector,
};
pub use crate::duration::{format_duration, parse_duration};
pub use error::ParseError;
use lexer::{describe, Keyword, LexError, Lexer, Tok, Token};

/// Which optional PromQL features the parser accepts.
///
/// The default is what a stock Prometheus 3 accepts; the experimental
/// features correspond to Prometheus's feature flags.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Experimental functions and aggregations (`limitk`, `info`,
    /// `sort_by_label`, `mad_over_time`, ...):
    /// `--enable-feature=promql-experimental-functions`.
    pub experimental_functions: bool,
    /// Duration arithmetic in ranges, steps and offsets (`[5m+step()]`):
    /// `--enable-feature=promql-duration-expr`.
    pub duration_expressions: bool,
    /// The `anchored` and `smoothed` modifiers:
    /// `--enable-feature=promql-extended-range-selectors`.
    pub extended_range_selectors: bool,
    /// `fill(...)`, `fill_left(...)`, `fill_right(...)` on binary operators:
    /// `--enable-feature=promql-binop-fill-modifiers`.
    pub binop_fill_modifiers: bool,
    /// Accept Prometheus 2's `holt_winters` (removed in Prometheus 3).
    pub holt_winters: bool,
    /// Deepest allowed nesting of the syntax tree; deeper input is an
    /// error rather than a risk to the stack.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            experimental_functions: false,
            duration_expressions: false,
            extended_range_selectors: false,
            binop_fill_modifiers: false,
            holt_winters: false,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl ParseOptions {
    /// Every experimental feature enabled, as Prometheus's own test suite
    /// runs (`holt_winters` stays off, as in Prometheus 3).
    pub fn experimental() -> Self {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
            ..ParseOptions::default()
        }
    }
}

/// Nesting limit of [`ParseOptions::default`]: 128 levels of parentheses
/// or operators, 64 of function calls or aggregations. Real queries stay
/// far below; it keeps the recursive parser, checker, printer and `Drop`
/// inside a 2 MiB thread stack even in debug builds.
pub const DEFAULT_MAX_DEPTH: usize = 128;

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
    result.map_err(|e| {
        let (message, span) = match e {
            PErr::Unexpected(tok) => (unexpected_message(&tok, input, "", ""), tok_span(&tok)),
            PErr::Done { message, span } => (message, span),
        };
        ParseError::new(input, message, span)
    })
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
    result.map_err(|e| {
        let (message, span) = match e {
            PErr::Unexpected(tok) => (unexpected_message(&tok, input, "", ""), tok_span(&tok)),
            PErr::Done { message, span } => (message, span),
        };
        ParseError::new(input, message, span)
    })
}

/// An error while parsing: either a finished message, or an unexpected
/// token whose message depends on the innermost construct with an error
/// rule (as yacc's error recovery decides in Prometheus).
#[derive(Debug)]
enum PErr {
    Unexpected(Token),
    Done { message: String, span: Span },
}

type PResult<T> = Result<T, PErr>;

fn tok_span(t: &Token) -> Span {
    Span::new(t.start, t.end)
}

fn unexpected_message(tok: &Token, input: &str, context: &str, expected: &str) -> String {
    let mut m = format!("unexpected {}", describe(tok, input));
    if !context.is_empty() {
        m.push_str(" in ");
        m.push_str(context);
    }
    if !expected.is_empty() {
        m.push_str(", expected ");
        m.push_str(expected);
    }
    m
}

fn done<T>(span: Span, message: impl Into<String>) -> PResult<T> {
    Err(PErr::Done {
        message: message.into(),
        span,
    })
}

/// Converts a seconds value to whole milliseconds, truncating sub-ms parts
/// as Prometheus's `time.Duration` to milliseconds conversion does, but
/// without its float noise (`101d9h36m9s427ms` stays ...427, not ...426).
fn seconds_to_ms(v: f64) -> i64 {
    let ms = v * 1000.0;
    if (ms - ms.round()).abs() < 1e-6 * ms.abs().max(1.0) {
        ms.round() as i64
    } else {
        ms.trunc() as i64
    }
}

/// Prometheus's `durationLiteralOutOfRange`.
fn duration_out_of_range(v: f64) -> bool {
    !(-9_223_372_036.854_775..=9_223_372_036.854_775).contains(&v)
}

/// Go's `%f` formatting of a float.
fn go_percent_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:.6}")
    }
}

const POW_PRECEDENCE: u8 = 6;

struct Parser<'a> {
    input: &'a str,
    lexer: Lexer<'a>,
    peeked: VecDeque<Token>,
    /// End of the last `)`, `]`, `}`, number or duration lexed, used for
    /// the end of spans as Prometheus computes them.
    last_closing: usize,
    opts: &'a ParseOptions,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, opts: &'a ParseOptions) -> Self {
        Parser {
            input,
            lexer: Lexer::new(input),
            peeked: VecDeque::new(),
            last_closing: 0,
            opts,
        }
    }

    fn lex(&mut self) -> PResult<Token> {
        match self.lexer.next_token() {
            Ok(t) => {
                if matches!(
                    t.tok,
                    Tok::RBrace | Tok::RParen | Tok::RBracket | Tok::Duration | Tok::Number
                ) {
                    self.last_closing = t.end;
                }
                Ok(t)
            }
            Err(LexError { message, pos }) => done(Span::new(pos, self.input.len()), message),
        }
    }

    fn peek_nth(&mut self, n: usize) -> PResult<Token> {
        while self.peeked.len() <= n {
            let t = self.lex()?;
            self.peeked.push_back(t);
        }
        Ok(self.peeked[n])
    }

    fn peek(&mut self) -> PResult<Token> {
        self.peek_nth(0)
    }

    fn next(&mut self) -> PResult<Token> {
        self.peek()?;
        Ok(self.peeked.pop_front().expect("peeked above"))
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.input[t.start..t.end]
    }

    fn expect(&mut self, tok: Tok) -> PResult<Token> {
        let t = self.next()?;
        if t.tok == tok {
            Ok(t)
        } else {
            Err(PErr::Unexpected(t))
        }
    }

    fn depth_check(&mut self, depth: usize) -> PResult<()> {
        if depth > self.opts.max_depth {
            let t = self.peek()?;
            return done(
                tok_span(&t),
                format!(
                    "expression nesting too deep (more than {} levels)",
                    self.opts.max_depth
                ),
            );
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Expr> {
        let first = self.peek()?;
        if first.tok == Tok::Eof {
            return done(Span::new(0, 0), "no expression found in input");
        }
        let mut expr = self.parse_expr(0, 0)?;
        let t = self.next()?;
        if t.tok != Tok::Eof {
            return Err(PErr::Unexpected(t));
        }
        check::check(&mut expr, self.input)
            .map_err(|(message, span)| PErr::Done { message, span })?;
        Ok(expr)
    }

    // ---- expressions -------------------------------------------------

    fn parse_expr(&mut self, min_prec: u8, depth: usize) -> PResult<Expr> {
        self.depth_check(depth)?;
        let mut lhs = self.parse_unary(depth)?;
        let mut chain = 0;
        loop {
            let t = self.peek()?;
            let Tok::Op(op) = t.tok else { break };
            if op.precedence() < min_prec {
                break;
            }
            self.next()?;
            let (return_bool, matching) = self.parse_bin_modifiers()?;
            chain += 1;
            self.depth_check(depth + chain)?;
            let next_min = if op.is_right_associative() {
                op.precedence()
            } else {
                op.precedence() + 1
            };
            let rhs = self.parse_expr(next_min, depth + chain)?;
            let fill = matching.fill;
            let b = Expr::Binary(BinaryExpr {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                matching: Some(matching),
                return_bool,
            });
            if !self.opts.binop_fill_modifiers && (fill.lhs.is_some() || fill.rhs.is_some()) {
                return done(
                    b.span(),
                    "binop fill modifiers are experimental and not enabled",
                );
            }
            lhs = b;
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self, depth: usize) -> PResult<Expr> {
        let t = self.peek()?;
        if let Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) = t.tok {
            self.next()?;
            let operand = self.parse_expr(POW_PRECEDENCE, depth + 1)?;
            let neg = op == BinaryOp::Sub;
            return Ok(match operand {
                Expr::Number(mut n) => {
                    if neg {
                        n.value = -n.value;
                    }
                    n.span.start = t.start;
                    Expr::Number(n)
                }
                other => {
                    let end = other.span().end;
                    Expr::Unary(UnaryExpr {
                        op: if neg { UnaryOp::Neg } else { UnaryOp::Plus },
                        expr: Box::new(other),
                        span: Span::new(t.start, end),
                    })
                }
            });
        }
        let primary = self.parse_primary(depth)?;
        self.parse_postfix(primary, depth)
    }

    fn parse_primary(&mut self, depth: usize) -> PResult<Expr> {
        let t = self.peek()?;
        match t.tok {
            Tok::Number | Tok::Duration => {
                self.next()?;
                let lit = self.number_literal(&t)?;
                Ok(Expr::Number(lit))
            }
            Tok::String => {
                self.next()?;
                let bytes = self.unquote_bytes(&t)?;
                let (value, invalid_utf8) = match String::from_utf8(bytes) {
                    Ok(s) => (s, None),
                    Err(e) => (
                        String::from_utf8_lossy(e.as_bytes()).into_owned(),
                        Some(e.into_bytes().into_boxed_slice()),
                    ),
                };
                Ok(Expr::String(StringLiteral {
                    value,
                    invalid_utf8,
                    span: tok_span(&t),
                }))
            }
            Tok::LParen => {
                self.next()?;
                let inner = self.parse_expr(0, depth + 1)?;
                let close = self.expect(Tok::RParen)?;
                Ok(Expr::Paren(ParenExpr {
                    expr: Box::new(inner),
                    span: Span::new(t.start, close.end),
                }))
            }
            Tok::LBrace => self.parse_vector_selector(None),
            Tok::Identifier => {
                if self.peek_nth(1)?.tok == Tok::LParen {
                    self.parse_call(depth)
                } else {
                    self.next()?;
                    self.parse_vector_selector(Some(t))
                }
            }
            Tok::MetricIdentifier
            | Tok::Op(BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
            | Tok::Keyword(
                Keyword::By
                | Keyword::Without
                | Keyword::Offset
                | Keyword::Anchored
                | Keyword::Smoothed
                | Keyword::Fill
                | Keyword::FillLeft
                | Keyword::FillRight,
            ) => {
                self.next()?;
                self.parse_vector_selector(Some(t))
            }
            Tok::Keyword(
                Keyword::Start
                | Keyword::End
                | Keyword::Step
                | Keyword::Range
                | Keyword::MaxOf
                | Keyword::MinOf,
            ) => {
                if self.peek_nth(1)?.tok == Tok::LParen {
                    self.parse_call(depth)
                } else {
                    self.next()?;
                    self.parse_vector_selector(Some(t))
                }
            }
            Tok::Aggregator(op) => {
                let next = self.peek_nth(1)?.tok;
                if matches!(
                    next,
                    Tok::LParen | Tok::Keyword(Keyword::By | Keyword::Without)
                ) {
                    self.parse_aggregate(op, depth)
                } else {
                    self.next()?;
                    self.parse_vector_selector(Some(t))
                }
            }
            _ => {
                self.next()?;
                Err(PErr::Unexpected(t))
            }
        }
    }

    fn number_literal(&mut self, t: &Token) -> PResult<NumberLiteral> {
        let text = self.text(t);
        let span = tok_span(t);
        if t.tok == Tok::Duration {
            let ms = match parse_duration(text) {
                Ok(ms) => ms,
                Err(e) => return done(span, e),
            };
            Ok(NumberLiteral {
                value: ms as f64 / 1000.0,
                duration: true,
                span,
            })
        } else {
            match literals::number(text) {
                Ok(value) => Ok(NumberLiteral {
                    value,
                    duration: false,
                    span,
                }),
                Err(e) => done(span, format!("error parsing number: {e}")),
            }
        }
    }

    /// A string that must be UTF-8 (label names and values; invalid bytes
    /// become U+FFFD, which no stored label value contains).
    fn unquote(&self, t: &Token) -> PResult<String> {
        let bytes = self.unquote_bytes(t)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn unquote_bytes(&self, t: &Token) -> PResult<Vec<u8>> {
        let text = self.text(t);
        literals::unquote_bytes(text).or_else(|e| {
            done(
                tok_span(t),
                format!("error unquoting string {}: {e}", go_quote(text)),
            )
        })
    }

    // ---- postfix modifiers -------------------------------------------

    fn parse_postfix(&mut self, mut expr: Expr, depth: usize) -> PResult<Expr> {
        let mut chain = 0;
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::LBracket => {
                    chain += 1;
                    self.depth_check(depth + chain)?;
                    expr = self.parse_range_or_subquery(expr)?;
                }
                Tok::Keyword(Keyword::Offset) => {
                    self.next()?;
                    let offset = self.parse_offset_value().map_err(|e| {
                        self.in_context(e, "offset", "number, duration, step(), or range()")
                    })?;
                    self.add_offset(&mut expr, offset)?;
                }
                Tok::At => {
                    self.next()?;
                    self.parse_at(&mut expr)?;
                }
                Tok::Keyword(k @ (Keyword::Anchored | Keyword::Smoothed)) => {
                    self.next()?;
                    self.set_extended(&mut expr, k == Keyword::Anchored)?;
                }
                _ => return Ok(expr),
            }
        }
    }

    fn in_context(&self, e: PErr, context: &str, expected: &str) -> PErr {
        match e {
            PErr::Unexpected(t) => PErr::Done {
                message: unexpected_message(&t, self.input, context, expected),
                span: tok_span(&t),
            },
            d => d,
        }
    }

    fn parse_range_or_subquery(&mut self, expr: Expr) -> PResult<Expr> {
        let open = self.next()?;
        let range = self.parse_positive_duration().map_err(|e| {
            self.in_context(
                e,
                "subquery or range selector",
                "number, duration, step(), or range()",
            )
        })?;
        let t = self.next()?;
        match t.tok {
            Tok::RBracket => {
                let sel = match expr {
                    Expr::VectorSelector(vs) => vs,
                    _ => {
                        return done(
                            Span::new(open.start, t.end),
                            "ranges only allowed for vector selectors",
                        )
                    }
                };
                if !matches!(sel.offset, Duration::Fixed(0) | Duration::Expr(_)) {
                    return done(
                        Span::new(open.start, t.end),
                        "no offset modifiers allowed before range",
                    );
                }
                if matches!(sel.at, Some(AtModifier::Timestamp(_))) {
                    return done(
                        Span::new(open.start, t.end),
                        "no @ modifiers allowed before range",
                    );
                }
                let start = sel.span.start;
                Ok(Expr::MatrixSelector(MatrixSelector {
                    selector: sel,
                    range,
                    span: Span::new(start, self.last_closing),
                }))
            }
            Tok::Colon => {
                let t2 = self.peek()?;
                let step = if t2.tok == Tok::RBracket {
                    None
                } else {
                    let step = self.parse_positive_duration().map_err(|e| {
                        self.in_context(
                            e,
                            "subquery selector",
                            "number, duration, step(), range(), or \"]\"",
                        )
                    })?;
                    Some(step)
                };
                let close = self.next()?;
                if close.tok != Tok::RBracket {
                    let ctx = if step.is_some() {
                        ("subquery selector", "\"]\"")
                    } else {
                        (
                            "subquery selector",
                            "number, duration, step(), range(), or \"]\"",
                        )
                    };
                    return Err(self.in_context(PErr::Unexpected(close), ctx.0, ctx.1));
                }
                let start = expr.span().start;
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(expr),
                    range,
                    step,
                    offset: Duration::Fixed(0),
                    at: None,
                    span: Span::new(start, close.end),
                }))
            }
            _ => Err(self.in_context(PErr::Unexpected(t), "subquery or range", "\":\" or \"]\"")),
        }
    }

    /// A range or step: a duration expression whose literal value must be
    /// positive.
    fn parse_positive_duration(&mut self) -> PResult<Duration> {
        let d = self.parse_duration_expr(0, 0)?;
        if let DurationExprKind::Number(n) = &d.kind {
            // Ranges are kept in milliseconds: a positive value below 1ms
            // would print as `0s` and could not be parsed back.
            if n.value <= 0.0 || seconds_to_ms(n.value) <= 0 || n.value.is_nan() {
                return done(n.span, "duration must be greater than 0");
            }
            return Ok(Duration::Fixed(seconds_to_ms(n.value)));
        }
        Ok(Duration::Expr(Box::new(d)))
    }

    fn experimental_duration(&self, span: Span) -> PResult<()> {
        if self.opts.duration_expressions {
            Ok(())
        } else {
            done(span, "experimental duration expression is not enabled")
        }
    }

    fn duration_literal(&mut self, t: &Token) -> PResult<DurationExpr> {
        let n = self.number_literal(t)?;
        if duration_out_of_range(n.value) {
            return done(n.span, "duration out of range");
        }
        Ok(DurationExpr {
            span: n.span,
            kind: DurationExprKind::Number(n),
            wrapped: false,
        })
    }

    fn parse_duration_expr(&mut self, min_prec: u8, depth: usize) -> PResult<DurationExpr> {
        self.depth_check(depth)?;
        let mut lhs = self.parse_duration_unary(depth)?;
        let mut chain = 0;
        loop {
            let t = self.peek()?;
            let op = match t.tok {
                Tok::Op(BinaryOp::Add) => DurationOp::Add,
                Tok::Op(BinaryOp::Sub) => DurationOp::Sub,
                Tok::Op(BinaryOp::Mul) => DurationOp::Mul,
                Tok::Op(BinaryOp::Div) => DurationOp::Div,
                Tok::Op(BinaryOp::Mod) => DurationOp::Mod,
                Tok::Op(BinaryOp::Pow) => DurationOp::Pow,
                _ => break,
            };
            let prec = match op {
                DurationOp::Add | DurationOp::Sub => 4,
                DurationOp::Pow => POW_PRECEDENCE,
                _ => 5,
            };
            if prec < min_prec {
                break;
            }
            self.next()?;
            chain += 1;
            self.depth_check(depth + chain)?;
            let next_min = if op == DurationOp::Pow {
                prec
            } else {
                prec + 1
            };
            let rhs = self.parse_duration_expr(next_min, depth + chain)?;
            self.experimental_duration(lhs.span)?;
            if let DurationExprKind::Number(n) = &rhs.kind {
                if n.value == 0.0 && op == DurationOp::Div {
                    return done(tok_span(&t), "division by zero");
                }
                if n.value == 0.0 && op == DurationOp::Mod {
                    return done(tok_span(&t), "modulo by zero");
                }
            }
            let span = lhs.span.to(rhs.span);
            lhs = DurationExpr {
                kind: DurationExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                wrapped: false,
                span,
            };
        }
        Ok(lhs)
    }

    fn parse_duration_unary(&mut self, depth: usize) -> PResult<DurationExpr> {
        let t = self.peek()?;
        match t.tok {
            Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) => {
                self.next()?;
                let operand = self.parse_duration_expr(POW_PRECEDENCE, depth + 1)?;
                self.apply_duration_sign(&t, op == BinaryOp::Sub, operand, false)
            }
            _ => self.parse_duration_primary(depth),
        }
    }

    /// Prometheus's `applyUnaryOpToDurationExpr`.
    fn apply_duration_sign(
        &mut self,
        op: &Token,
        neg: bool,
        mut e: DurationExpr,
        wrapped: bool,
    ) -> PResult<DurationExpr> {
        match &mut e.kind {
            DurationExprKind::Number(n) => {
                if neg {
                    n.value = -n.value;
                }
                if duration_out_of_range(n.value) {
                    return done(tok_span(op), "duration out of range");
                }
                n.span.start = op.start;
                e.span.start = op.start;
                Ok(e)
            }
            _ => {
                if wrapped {
                    e.wrapped = true;
                }
                if !neg {
                    return Ok(e);
                }
                let end = e.span.end;
                Ok(DurationExpr {
                    kind: DurationExprKind::Neg(Box::new(e)),
                    wrapped: false,
                    span: Span::new(op.start, end),
                })
            }
        }
    }

    fn parse_duration_primary(&mut self, depth: usize) -> PResult<DurationExpr> {
        let t = self.next()?;
        match t.tok {
            Tok::Number | Tok::Duration => self.duration_literal(&t),
            Tok::LParen => {
                let mut inner = self.parse_duration_expr(0, depth + 1)?;
                self.expect(Tok::RParen)?;
                self.experimental_duration(inner.span)?;
                if !matches!(inner.kind, DurationExprKind::Number(_)) {
                    inner.wrapped = true;
                }
                Ok(inner)
            }
            Tok::Keyword(k @ (Keyword::Step | Keyword::Range)) => {
                self.expect(Tok::LParen)?;
                let close = self.expect(Tok::RParen)?;
                let span = Span::new(t.start, close.end);
                self.experimental_duration(span)?;
                Ok(DurationExpr {
                    kind: if k == Keyword::Step {
                        DurationExprKind::Step
                    } else {
                        DurationExprKind::Range
                    },
                    wrapped: false,
                    span,
                })
            }
            Tok::Keyword(k @ (Keyword::MaxOf | Keyword::MinOf)) => {
                self.expect(Tok::LParen)?;
                let a = self.parse_duration_expr(0, depth + 1)?;
                self.expect(Tok::Comma)?;
                let b = self.parse_duration_expr(0, depth + 1)?;
                let close = self.expect(Tok::RParen)?;
                let span = Span::new(t.start, close.end);
                self.experimental_duration(span)?;
                let (a, b) = (Box::new(a), Box::new(b));
                Ok(DurationExpr {
                    kind: if k == Keyword::MaxOf {
                        DurationExprKind::MaxOf(a, b)
                    } else {
                        DurationExprKind::MinOf(a, b)
                    },
                    wrapped: false,
                    span,
                })
            }
            _ => Err(PErr::Unexpected(t)),
        }
    }

    /// The argument of `offset`: one signed literal or call-like duration,
    /// or a parenthesized duration expression (Prometheus's
    /// `offset_duration_expr`, so that `x offset 5m + 1` adds 1 to the
    /// offset selector rather than to the offset).
    fn parse_offset_value(&mut self) -> PResult<Duration> {
        let t = self.peek()?;
        let d = match t.tok {
            Tok::Number | Tok::Duration => {
                self.next()?;
                self.duration_literal(&t)?
            }
            Tok::Keyword(Keyword::Step | Keyword::Range | Keyword::MaxOf | Keyword::MinOf) => {
                self.parse_duration_primary(0)?
            }
            // Prometheus's grammar would go on with `+ ...` after a
            // parenthesized offset; stopping at the `)` keeps
            // `x offset (1m) + 1` a binary operation whatever the offset
            // looks like, so printed trees parse back the same.
            Tok::LParen => self.parse_duration_primary(0)?,
            Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) => {
                let t2 = self.peek_nth(1)?;
                let neg = op == BinaryOp::Sub;
                match t2.tok {
                    Tok::Number | Tok::Duration => {
                        self.next()?;
                        self.next()?;
                        let lit = self.duration_literal(&t2)?;
                        self.apply_duration_sign(&t, neg, lit, false)?
                    }
                    Tok::Keyword(
                        Keyword::Step | Keyword::Range | Keyword::MaxOf | Keyword::MinOf,
                    ) => {
                        self.next()?;
                        let inner = self.parse_duration_primary(0)?;
                        self.apply_duration_sign(&t, neg, inner, false)?
                    }
                    Tok::LParen => {
                        self.next()?;
                        self.next()?;
                        let inner = self.parse_duration_expr(0, 1)?;
                        self.expect(Tok::RParen)?;
                        self.apply_duration_sign(&t, neg, inner, true)?
                    }
                    _ => {
                        self.next()?;
                        let inner = self.parse_duration_unary(1)?;
                        self.apply_duration_sign(&t, neg, inner, false)?
                    }
                }
            }
            _ => {
                self.next()?;
                return Err(PErr::Unexpected(t));
            }
        };
        Ok(match d.kind {
            DurationExprKind::Number(n) => Duration::Fixed(seconds_to_ms(n.value)),
            _ => Duration::Expr(Box::new(d)),
        })
    }

    fn add_offset(&mut self, expr: &mut Expr, offset: Duration) -> PResult<()> {
        let span = expr.span();
        let end = self.last_closing;
        let (slot, span_end) = match expr {
            Expr::VectorSelector(vs) => (&mut vs.offset, &mut vs.span.end),
            Expr::MatrixSelector(m) => (&mut m.selector.offset, &mut m.span.end),
            Expr::Subquery(s) => (&mut s.offset, &mut s.span.end),
            _ => return done(span, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        };
        if !slot.is_zero() {
            return done(span, "offset may not be set multiple times");
        }
        *slot = offset;
        *span_end = end;
        Ok(())
    }

    fn parse_at(&mut self, expr: &mut Expr) -> PResult<()> {
        let at = self
            .parse_at_value()
            .map_err(|e| self.in_context(e, "@", "timestamp"))?;
        let span = expr.span();
        if let AtValue::Seconds(ts) = at {
            if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                return done(
                    span,
                    format!(
                        "timestamp out of bounds for @ modifier: {}",
                        go_percent_f(ts)
                    ),
                );
            }
        }
        let end = self.last_closing;
        let (slot, span_end) = match expr {
            Expr::VectorSelector(vs) => (&mut vs.at, &mut vs.span.end),
            Expr::MatrixSelector(m) => (&mut m.selector.at, &mut m.span.end),
            Expr::Subquery(s) => (&mut s.at, &mut s.span.end),
            _ => return done(span, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        };
        if slot.is_some() {
            return done(span, "@ <timestamp> may not be set multiple times");
        }
        *slot = Some(match at {
            AtValue::Seconds(ts) => AtModifier::Timestamp((ts * 1000.0).round() as i64),
            AtValue::Start => AtModifier::Start,
            AtValue::End => AtModifier::End,
        });
        *span_end = end;
        Ok(())
    }

    fn parse_at_value(&mut self) -> PResult<AtValue> {
        let t = self.next()?;
        match t.tok {
            Tok::Number | Tok::Duration => Ok(AtValue::Seconds(self.number_literal(&t)?.value)),
            Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) => {
                let n = self.next()?;
                if !matches!(n.tok, Tok::Number | Tok::Duration) {
                    return Err(PErr::Unexpected(n));
                }
                let v = self.number_literal(&n)?.value;
                Ok(AtValue::Seconds(if op == BinaryOp::Sub { -v } else { v }))
            }
            Tok::Keyword(k @ (Keyword::Start | Keyword::End)) => {
                self.expect(Tok::LParen)?;
                self.expect(Tok::RParen)?;
                Ok(if k == Keyword::Start {
                    AtValue::Start
                } else {
                    AtValue::End
                })
            }
            _ => Err(PErr::Unexpected(t)),
        }
    }

    fn set_extended(&mut self, expr: &mut Expr, anchored: bool) -> PResult<()> {
        let name = if anchored { "anchored" } else { "smoothed" };
        let span = expr.span();
        if !self.opts.extended_range_selectors {
            return done(
                span,
                format!("{name} modifier is experimental and not enabled"),
            );
        }
        let vs = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(m) => &mut m.selector,
            Expr::Subquery(_) => {
                return done(
                    span,
                    format!("{name} modifier is not supported for subqueries"),
                )
            }
            _ => return done(span, format!("{name} modifier not implemented")),
        };
        if anchored {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        if vs.anchored && vs.smoothed {
            return done(
                span,
                "anchored and smoothed modifiers cannot be used together",
            );
        }
        Ok(())
    }

    // ---- selectors ---------------------------------------------------

    fn parse_vector_selector(&mut self, name: Option<Token>) -> PResult<Expr> {
        let mut matchers = Vec::new();
        let mut span = name.map(|t| tok_span(&t));
        if self.peek()?.tok == Tok::LBrace {
            let open = self.next()?;
            let close = self.parse_label_matchers(&mut matchers)?;
            span = Some(Span::new(span.map_or(open.start, |s| s.start), close.end));
        }
        let name = name.map(|t| self.text(&t).to_string());
        if let Some(n) = &name {
            matchers.push(Matcher::equal(METRIC_NAME, n.clone()));
        }
        Ok(Expr::VectorSelector(VectorSelector {
            name,
            matchers,
            offset: Duration::Fixed(0),
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            span: span.unwrap_or_default(),
        }))
    }

    /// After `{`: matchers up to and including `}`.
    fn parse_label_matchers(&mut self, out: &mut Vec<Matcher>) -> PResult<Token> {
        let ctx = |p: &Parser, e: PErr, expected: &str| p.in_context(e, "label matching", expected);
        if self.peek()?.tok == Tok::RBrace {
            return self.next();
        }
        loop {
            let t = self.next()?;
            let (label, label_span) = match t.tok {
                Tok::Identifier => (self.text(&t).to_string(), tok_span(&t)),
                Tok::String => (self.unquote(&t)?, tok_span(&t)),
                _ => return Err(ctx(self, PErr::Unexpected(t), "identifier or \"}\"")),
            };
            let op_tok = self.peek()?;
            let kind = match op_tok.tok {
                Tok::Eql => Some(MatchType::Equal),
                Tok::Op(BinaryOp::Neq) => Some(MatchType::NotEqual),
                Tok::EqlRegex => Some(MatchType::Regex),
                Tok::NeqRegex => Some(MatchType::NotRegex),
                _ => None,
            };
            match kind {
                Some(kind) => {
                    self.next()?;
                    let v = self.next()?;
                    if v.tok != Tok::String {
                        return Err(ctx(self, PErr::Unexpected(v), "string"));
                    }
                    let value = self.unquote(&v)?;
                    match Matcher::new(kind, label, value) {
                        Ok(m) => out.push(m),
                        Err(e) => return done(label_span.to(tok_span(&v)), e.to_string()),
                    }
                }
                None if t.tok == Tok::String => out.push(Matcher::equal(METRIC_NAME, label)),
                None => {
                    self.next()?;
                    return Err(ctx(
                        self,
                        PErr::Unexpected(op_tok),
                        "label matching operator",
                    ));
                }
            }
            let sep = self.next()?;
            match sep.tok {
                Tok::RBrace => return Ok(sep),
                Tok::Comma => {
                    if self.peek()?.tok == Tok::RBrace {
                        return self.next();
                    }
                }
                _ => return Err(ctx(self, PErr::Unexpected(sep), "\",\" or \"}\"")),
            }
        }
    }

    // ---- calls and aggregations ----------------------------------------

    /// `(args)` of a call or aggregation, from `(` to `)`.
    /// Calls and aggregations cost two levels: their frames are the
    /// largest on the recursion path.
    fn parse_call_args(&mut self, depth: usize) -> PResult<Vec<Expr>> {
        let depth = depth + 1;
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if self.peek()?.tok == Tok::RParen {
            self.next()?;
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr(0, depth + 1)?);
            let t = self.next()?;
            match t.tok {
                Tok::RParen => return Ok(args),
                Tok::Comma => {
                    if self.peek()?.tok == Tok::RParen {
                        return done(
                            tok_span(&t),
                            "trailing commas not allowed in function call args",
                        );
                    }
                }
                _ => return Err(PErr::Unexpected(t)),
            }
        }
    }

    fn parse_call(&mut self, depth: usize) -> PResult<Expr> {
        let name_tok = self.next()?;
        let args = self.parse_call_args(depth)?;
        let name = self.text(&name_tok);
        let func = match function(name) {
            Some(f) => f,
            None if name == "holt_winters" && self.opts.holt_winters => &crate::ast::HOLT_WINTERS,
            None => {
                return done(
                    tok_span(&name_tok),
                    format!("unknown function with name {}", go_quote(name)),
                )
            }
        };
        if func.experimental && !self.opts.experimental_functions {
            return done(
                tok_span(&name_tok),
                format!("function {} is not enabled", go_quote(name)),
            );
        }
        Ok(Expr::Call(Call {
            func,
            args,
            span: Span::new(name_tok.start, self.last_closing),
        }))
    }

    fn parse_aggregate(&mut self, op: AggregateOp, depth: usize) -> PResult<Expr> {
        let op_tok = self.next()?;
        let body = (|| -> PResult<(Vec<Expr>, Option<Grouping>)> {
            let mut modifier = self.parse_aggregate_modifier()?;
            let args = self.parse_call_args(depth)?;
            if modifier.is_none() {
                modifier = self.parse_aggregate_modifier()?;
            }
            Ok((args, modifier))
        })()
        .map_err(|e| self.in_context(e, "aggregation", ""))?;
        let (mut args, modifier) = body;
        let span = Span::new(op_tok.start, self.last_closing);
        if args.is_empty() {
            return done(span, "no arguments for aggregate expression provided");
        }
        let mut wanted = 1;
        if op.param_type().is_some() {
            if op.is_experimental() && !self.opts.experimental_functions {
                return done(
                    span,
                    format!(
                        "{op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions"
                    ),
                );
            }
            wanted = 2;
        }
        if args.len() != wanted {
            return done(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {wanted}, got {}",
                    args.len()
                ),
            );
        }
        let expr = args.pop().expect("checked length");
        let param = args.pop().map(Box::new);
        let (without, grouping) = modifier.unwrap_or((false, Vec::new()));
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
            span,
        }))
    }

    fn parse_aggregate_modifier(&mut self) -> PResult<Option<Grouping>> {
        let t = self.peek()?;
        let without = match t.tok {
            Tok::Keyword(Keyword::By) => false,
            Tok::Keyword(Keyword::Without) => true,
            _ => return Ok(None),
        };
        self.next()?;
        Ok(Some((without, self.parse_grouping_labels()?)))
    }

    /// `(label, ...)` after `by`, `without`, `on`, `ignoring`, `group_*`.
    fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        let open = self.next()?;
        if open.tok != Tok::LParen {
            return Err(self.in_context(PErr::Unexpected(open), "grouping opts", "\"(\""));
        }
        let mut labels = Vec::new();
        if self.peek()?.tok == Tok::RParen {
            self.next()?;
            return Ok(labels);
        }
        loop {
            let t = self.next()?;
            let label = match t.tok {
                Tok::String => {
                    let bytes = self.unquote_bytes(&t)?;
                    match String::from_utf8(bytes) {
                        Ok(l) if !l.is_empty() => l,
                        Ok(_) => {
                            return done(tok_span(&t), "invalid label name for grouping: \"\"")
                        }
                        Err(e) => {
                            let mut q = String::new();
                            let _ = aion_model::gotext::write_go_quoted_bytes(&mut q, e.as_bytes());
                            return done(
                                tok_span(&t),
                                format!("invalid label name for grouping: {q}"),
                            );
                        }
                    }
                }
                Tok::Identifier
                | Tok::MetricIdentifier
                | Tok::Aggregator(_)
                | Tok::Op(BinaryOp::And | BinaryOp::Or | BinaryOp::Unless | BinaryOp::Atan2) => {
                    self.text(&t).to_string()
                }
                Tok::Keyword(k) if k != Keyword::Without => self.text(&t).to_string(),
                _ => return Err(self.in_context(PErr::Unexpected(t), "grouping opts", "label")),
            };
            labels.push(label);
            let sep = self.next()?;
            match sep.tok {
                Tok::RParen => return Ok(labels),
                Tok::Comma => {
                    if self.peek()?.tok == Tok::RParen {
                        self.next()?;
                        return Ok(labels);
                    }
                }
                _ => {
                    return Err(self.in_context(
                        PErr::Unexpected(sep),
                        "grouping opts",
                        "\",\" or \")\"",
                    ))
                }
            }
        }
    }

    /// `bool`, `on`/`ignoring`, `group_left`/`group_right`, `fill*` after a
    /// binary operator.
    fn parse_bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let mut m = VectorMatching {
            card: Cardinality::OneToOne,
            matching_labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill: FillValues::default(),
        };
        let mut return_bool = false;
        if self.peek()?.tok == Tok::Keyword(Keyword::Bool) {
            self.next()?;
            return_bool = true;
        }
        if let Tok::Keyword(k @ (Keyword::On | Keyword::Ignoring)) = self.peek()?.tok {
            self.next()?;
            m.on = k == Keyword::On;
            m.matching_labels = self.parse_grouping_labels()?;
            if let Tok::Keyword(g @ (Keyword::GroupLeft | Keyword::GroupRight)) = self.peek()?.tok {
                self.next()?;
                m.card = if g == Keyword::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                if self.peek()?.tok == Tok::LParen {
                    m.include = self.parse_grouping_labels()?;
                }
            }
        }
        if let Tok::Keyword(k @ (Keyword::Fill | Keyword::FillLeft | Keyword::FillRight)) =
            self.peek()?.tok
        {
            self.next()?;
            let v = self.parse_fill_value()?;
            match k {
                Keyword::Fill => {
                    m.fill.lhs = Some(v);
                    m.fill.rhs = Some(v);
                }
                Keyword::FillLeft => {
                    m.fill.lhs = Some(v);
                    if self.peek()?.tok == Tok::Keyword(Keyword::FillRight) {
                        self.next()?;
                        m.fill.rhs = Some(self.parse_fill_value()?);
                    }
                }
                _ => {
                    m.fill.rhs = Some(v);
                    if self.peek()?.tok == Tok::Keyword(Keyword::FillLeft) {
                        self.next()?;
                        m.fill.lhs = Some(self.parse_fill_value()?);
                    }
                }
            }
        }
        Ok((return_bool, m))
    }

    fn parse_fill_value(&mut self) -> PResult<f64> {
        self.expect(Tok::LParen)?;
        let mut t = self.next()?;
        let mut sign = 1.0;
        if let Tok::Op(op @ (BinaryOp::Add | BinaryOp::Sub)) = t.tok {
            if op == BinaryOp::Sub {
                sign = -1.0;
            }
            t = self.next()?;
        }
        if !matches!(t.tok, Tok::Number | Tok::Duration) {
            return Err(PErr::Unexpected(t));
        }
        let v = self.number_literal(&t)?.value * sign;
        self.expect(Tok::RParen)?;
        Ok(v)
    }
}

/// `(without, labels)` of an aggregation.
type Grouping = (bool, Vec<String>);

enum AtValue {
    Seconds(f64),
    Start,
    End,
}

#[cfg(test)]
mod tests;
