//! The parser's state and its error: a [`Parser`] reads tokens from the
//! [`Lexer`] with look-ahead, tracks where spans end and how deep the tree
//! is, and fails with a [`PErr`] — an unexpected token whose message
//! depends on the innermost construct ("unexpected X in aggregation,
//! expected Y", as yacc's error rules decide in Prometheus), or a
//! finished message.

use std::collections::VecDeque;

use super::error::ParseError;
use super::lexer::{LexError, Lexer};
use super::options::ParseOptions;
use super::token::{describe, Tok, Token};
use crate::ast::Span;

/// An error while parsing: either a finished message, or an unexpected
/// token whose message depends on the innermost construct with an error
/// rule (as yacc's error recovery decides in Prometheus).
#[derive(Debug)]
pub(super) enum PErr {
    Unexpected(Token),
    Done { message: String, span: Span },
}

pub(super) type PResult<T> = Result<T, PErr>;

pub(super) fn tok_span(t: &Token) -> Span {
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

pub(super) fn done<T>(span: Span, message: impl Into<String>) -> PResult<T> {
    Err(PErr::Done {
        message: message.into(),
        span,
    })
}

/// The [`ParseError`] for `input` that a failed parse ends with.
pub(super) fn into_parse_error(e: PErr, input: &str) -> ParseError {
    let (message, span) = match e {
        PErr::Unexpected(tok) => (unexpected_message(&tok, input, "", ""), tok_span(&tok)),
        PErr::Done { message, span } => (message, span),
    };
    ParseError::new(input, message, span)
}

/// A recursive-descent parse in progress over one input.
pub(super) struct Parser<'a> {
    pub(super) input: &'a str,
    lexer: Lexer<'a>,
    peeked: VecDeque<Token>,
    /// End of the last `)`, `]`, `}`, number or duration lexed, used for
    /// the end of spans as Prometheus computes them.
    pub(super) last_closing: usize,
    pub(super) opts: &'a ParseOptions,
}

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a str, opts: &'a ParseOptions) -> Self {
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

    pub(super) fn peek_nth(&mut self, n: usize) -> PResult<Token> {
        while self.peeked.len() <= n {
            let t = self.lex()?;
            self.peeked.push_back(t);
        }
        Ok(self.peeked[n])
    }

    pub(super) fn peek(&mut self) -> PResult<Token> {
        self.peek_nth(0)
    }

    pub(super) fn next(&mut self) -> PResult<Token> {
        self.peek()?;
        Ok(self.peeked.pop_front().expect("peeked above"))
    }

    pub(super) fn text(&self, t: &Token) -> &'a str {
        &self.input[t.start..t.end]
    }

    pub(super) fn expect(&mut self, tok: Tok) -> PResult<Token> {
        let t = self.next()?;
        if t.tok == tok {
            Ok(t)
        } else {
            Err(PErr::Unexpected(t))
        }
    }

    pub(super) fn depth_check(&mut self, depth: usize) -> PResult<()> {
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

    pub(super) fn in_context(&self, e: PErr, context: &str, expected: &str) -> PErr {
        match e {
            PErr::Unexpected(t) => PErr::Done {
                message: unexpected_message(&t, self.input, context, expected),
                span: tok_span(&t),
            },
            d => d,
        }
    }
}
