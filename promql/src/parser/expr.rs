//! Expressions: precedence climbing over binary operators, unary signs,
//! primaries (literals, parentheses, selectors, calls, aggregations) and
//! the values of number and string tokens; the entry point that type
//! checks a finished tree.

use aion_model::gotext::go_quote;

use super::check;
use super::literals;
use super::state::{done, tok_span, PErr, PResult, Parser};
use super::token::{Keyword, Tok, Token};
use crate::ast::{
    BinaryExpr, BinaryOp, Expr, NumberLiteral, ParenExpr, Span, StringLiteral, UnaryExpr, UnaryOp,
};
use crate::duration::parse_duration;

pub(super) const POW_PRECEDENCE: u8 = 6;

impl<'a> Parser<'a> {
    pub(super) fn parse_top(&mut self) -> PResult<Expr> {
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

    pub(super) fn parse_expr(&mut self, min_prec: u8, depth: usize) -> PResult<Expr> {
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

    pub(super) fn number_literal(&mut self, t: &Token) -> PResult<NumberLiteral> {
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
    pub(super) fn unquote(&self, t: &Token) -> PResult<String> {
        let bytes = self.unquote_bytes(t)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    pub(super) fn unquote_bytes(&self, t: &Token) -> PResult<Vec<u8>> {
        let text = self.text(t);
        literals::unquote_bytes(text).or_else(|e| {
            done(
                tok_span(t),
                format!("error unquoting string {}: {e}", go_quote(text)),
            )
        })
    }
}
