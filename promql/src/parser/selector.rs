//! Vector selectors: the metric name and the `{label op "value", ...}`
//! matchers (quoted UTF-8 names included).

use aion_model::{MatchType, Matcher, METRIC_NAME};

use super::state::{done, tok_span, PErr, PResult, Parser};
use super::token::{Tok, Token};
use crate::ast::{BinaryOp, Duration, Expr, Span, VectorSelector};

impl<'a> Parser<'a> {
    pub(super) fn parse_vector_selector(&mut self, name: Option<Token>) -> PResult<Expr> {
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
}
