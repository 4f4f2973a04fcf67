//! Function calls (`rate(x[5m])`) and aggregations (`sum by (job) (x)`,
//! `topk(3, x)`), with their grouping labels.

use aion_model::gotext::go_quote;

use super::state::{done, tok_span, PErr, PResult, Parser};
use super::token::{Keyword, Tok};
use crate::ast::{function, AggregateExpr, AggregateOp, BinaryOp, Call, Expr, Span};

/// `(without, labels)` of an aggregation.
type Grouping = (bool, Vec<String>);

impl<'a> Parser<'a> {
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

    pub(super) fn parse_call(&mut self, depth: usize) -> PResult<Expr> {
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

    pub(super) fn parse_aggregate(&mut self, op: AggregateOp, depth: usize) -> PResult<Expr> {
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
    pub(super) fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
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
}
