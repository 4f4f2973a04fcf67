//! Durations in ranges, steps and offsets: literals (`5m`, `300`) and,
//! with `--enable-feature=promql-duration-expr`, duration arithmetic
//! (`[5m + step()]`, `min(1h, range())`), with Prometheus's range checks.

use super::expr::POW_PRECEDENCE;
use super::state::{done, tok_span, PErr, PResult, Parser};
use super::token::{Keyword, Tok, Token};
use crate::ast::{BinaryOp, Duration, DurationExpr, DurationExprKind, DurationOp, Span};

/// Converts a seconds value to whole milliseconds, truncating sub-ms parts
/// as Prometheus's `time.Duration` to milliseconds conversion does, but
/// without its float noise (`101d9h36m9s427ms` stays ...427, not ...426).
pub(super) fn seconds_to_ms(v: f64) -> i64 {
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

impl<'a> Parser<'a> {
    /// A range or step: a duration expression whose literal value must be
    /// positive.
    pub(super) fn parse_positive_duration(&mut self) -> PResult<Duration> {
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

    pub(super) fn duration_literal(&mut self, t: &Token) -> PResult<DurationExpr> {
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

    pub(super) fn parse_duration_expr(
        &mut self,
        min_prec: u8,
        depth: usize,
    ) -> PResult<DurationExpr> {
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

    pub(super) fn parse_duration_unary(&mut self, depth: usize) -> PResult<DurationExpr> {
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
    pub(super) fn apply_duration_sign(
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

    pub(super) fn parse_duration_primary(&mut self, depth: usize) -> PResult<DurationExpr> {
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
}
