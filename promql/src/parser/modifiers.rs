//! The postfix modifiers of selectors and subqueries: `[range]` and
//! `[range:step]` subqueries, `offset`, `@ <time>` / `@ start()` /
//! `@ end()`, and the experimental `anchored` / `smoothed`.

use super::duration_expr::seconds_to_ms;
use super::state::{done, PErr, PResult, Parser};
use super::token::{Keyword, Tok};
use crate::ast::{
    AtModifier, BinaryOp, Duration, DurationExprKind, Expr, MatrixSelector, Span, SubqueryExpr,
};

enum AtValue {
    Seconds(f64),
    Start,
    End,
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

impl<'a> Parser<'a> {
    pub(super) fn parse_postfix(&mut self, mut expr: Expr, depth: usize) -> PResult<Expr> {
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
}
