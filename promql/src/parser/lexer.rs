//! The PromQL lexer.
//!
//! PromQL's lexing is context sensitive, exactly as in Prometheus: inside
//! `{...}` keywords are plain label names; inside `[...]` only numbers,
//! durations, `step()`/`range()`/`min_of`/`max_of` and arithmetic are
//! allowed; `fill` is a keyword only when `(` follows. The lexer therefore
//! keeps Prometheus's modes and is pulled one token at a time by the parser,
//! so a lexical error far to the right is only reported if parsing gets
//! there, as in Prometheus.
//!
//! The token scanners are `nom` parsers over `&str`.

use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char as nom_char;
use nom::combinator::recognize;
use nom::sequence::pair;
use nom::{IResult, Parser};

use super::token::{Keyword, Tok, Token};
use crate::ast::{AggregateOp, BinaryOp};

/// A lexical error: message and the byte offset Prometheus reports.
#[derive(Debug, Clone)]
pub(crate) struct LexError {
    pub message: String,
    pub pos: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Statements,
    DurationExpr,
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    mode: Mode,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    done: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Go's `%q` of a rune, as used in Prometheus's lexer messages.
pub(crate) fn quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        '\n' => "'\\n'".into(),
        '\t' => "'\\t'".into(),
        '\r' => "'\\r'".into(),
        '\x07' => "'\\a'".into(),
        '\x08' => "'\\b'".into(),
        '\x0c' => "'\\f'".into(),
        '\x0b' => "'\\v'".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c if c.is_control() => format!("'\\u{:04x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// Go's `%#U` of a rune: `U+0063 'c'`.
fn go_sharp_u(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

fn identifier(s: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| is_alpha(c) || c == ':'),
        take_while(|c: char| is_alnum(c) || c == ':'),
    ))
    .parse(s)
}

fn label_identifier(s: &str) -> IResult<&str, &str> {
    recognize(pair(take_while1(is_alpha), take_while(is_alnum))).parse(s)
}

fn spaces(s: &str) -> IResult<&str, &str> {
    take_while(is_space)(s)
}

fn line_comment(s: &str) -> IResult<&str, &str> {
    recognize(pair(nom_char('#'), take_while(|c| c != '\n' && c != '\r'))).parse(s)
}

/// Scans what Prometheus's `scanNumber` accepts (decimal, hex, exponent,
/// digit separators). `Ok(len)` for a number; `Err(pos)` where scanning
/// stopped otherwise (a duration scan continues from there).
fn scan_number(s: &str) -> Result<usize, usize> {
    let b = s.as_bytes();
    let peek = |i: usize| b.get(i).copied();
    let mut i = 0;
    let mut hex = false;
    if peek(0) == Some(b'0') && matches!(peek(1), Some(b'x' | b'X')) {
        i = 2;
        if peek(i) == Some(b'_') {
            i += 1;
        }
        hex = true;
    } else if peek(0) == Some(b'0') {
        // Prometheus accepts the "0" before looking for "x".
        i = 1;
    }
    let is_digit = |c: u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    if peek(i) == Some(b'.') {
        i += 1;
    }
    if peek(i).is_some_and(is_digit) {
        i += 1;
    }
    let mut dot = false;
    let mut exp = false;
    while let Some(c) = peek(i) {
        let is_exp = c == b'e' || c == b'E';
        if !(is_digit(c) || c == b'.' || c == b'_' || is_exp) {
            break;
        }
        if c == b'.' && dot {
            return Err(i + 1);
        }
        if is_exp && exp {
            return Err(i + 1);
        }
        if c == b'.' {
            dot = true;
            i += 1;
            if matches!(peek(i), Some(b'_' | b'.')) {
                return Err(i + 1);
            }
            if hex {
                return Err(i);
            }
            continue;
        }
        if is_exp {
            exp = true;
            i += 1;
            if matches!(peek(i), Some(b'+' | b'-')) {
                i += 1;
            }
            match peek(i) {
                Some(b'.' | b'_' | b'e' | b'E') => return Err(i + 1),
                None => return Err(i),
                _ => {}
            }
            continue;
        }
        if c == b'_' {
            i += 1;
            match peek(i) {
                Some(b'.' | b'_' | b'e' | b'E') => return Err(i + 1),
                None => return Err(i),
                _ => {}
            }
            continue;
        }
        while peek(i).is_some_and(is_digit) {
            i += 1;
        }
    }
    if i == 0 {
        return Err(0);
    }
    match s[i..].chars().next() {
        Some(c) if is_alnum(c) => Err(i),
        _ => Ok(i),
    }
}

/// Prometheus's `acceptRemainingDuration`, continuing at `from` where the
/// number scan stopped. `Ok(len)` or `Err(pos)` as for [`scan_number`].
fn scan_duration(s: &str, from: usize) -> Result<usize, usize> {
    let b = s.as_bytes();
    let unit = |i: usize, set: &[u8]| b.get(i).is_some_and(|c| set.contains(c));
    let mut i = from;
    if !unit(i, b"smhdwy") {
        return Err(i);
    }
    i += 1;
    if b.get(i) == Some(&b's') {
        i += 1;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit()) {
        while b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if !unit(i, b"smhdw") {
            return Err(i);
        }
        i += 1;
        if b.get(i) == Some(&b's') {
            i += 1;
        }
    }
    match s[i..].chars().next() {
        Some(c) if is_alnum(c) => Err(i + c.len_utf8()),
        _ => Ok(i),
    }
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            mode: Mode::Statements,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            got_duration: false,
            done: false,
        }
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn tok(&mut self, tok: Tok, start: usize, len: usize) -> Result<Token, LexError> {
        self.pos = start + len;
        Ok(Token {
            tok,
            start,
            end: start + len,
        })
    }

    fn err<T>(&mut self, pos: usize, message: String) -> Result<T, LexError> {
        self.done = true;
        Err(LexError { message, pos })
    }

    /// The next token, skipping comments.
    pub(crate) fn next_token(&mut self) -> Result<Token, LexError> {
        if self.done {
            return Ok(Token {
                tok: Tok::Eof,
                start: self.input.len(),
                end: self.input.len(),
            });
        }
        loop {
            let t = if self.brace_open {
                self.lex_inside_braces()?
            } else if self.mode == Mode::DurationExpr {
                self.lex_duration_expr()?
            } else {
                self.lex_statements()?
            };
            if let Some(t) = t {
                if t.tok == Tok::Eof {
                    self.done = true;
                }
                return Ok(t);
            }
        }
    }

    fn skip_spaces(&mut self) {
        let (rest, _) = spaces(self.rest()).unwrap_or((self.rest(), ""));
        self.pos = self.input.len() - rest.len();
    }

    fn skip_comment(&mut self) {
        if let Ok((rest, _)) = line_comment(self.rest()) {
            self.pos = self.input.len() - rest.len();
        }
    }

    fn lex_statements(&mut self) -> Result<Option<Token>, LexError> {
        let start = self.pos;
        if self.rest().starts_with('#') {
            self.skip_comment();
            return Ok(None);
        }
        let Some(c) = self.peek_char() else {
            if self.paren_depth != 0 {
                return self.err(start, "unclosed left parenthesis".into());
            }
            if self.bracket_open {
                return self.err(start, "unclosed left bracket".into());
            }
            return self.tok(Tok::Eof, start, 0).map(Some);
        };
        let next = self.rest()[c.len_utf8()..].chars().next();
        let t = match c {
            ',' => self.tok(Tok::Comma, start, 1)?,
            c if is_space(c) => {
                self.skip_spaces();
                return Ok(None);
            }
            '*' => self.tok(Tok::Op(BinaryOp::Mul), start, 1)?,
            '/' => self.tok(Tok::Op(BinaryOp::Div), start, 1)?,
            '%' => self.tok(Tok::Op(BinaryOp::Mod), start, 1)?,
            '+' => self.tok(Tok::Op(BinaryOp::Add), start, 1)?,
            '-' => self.tok(Tok::Op(BinaryOp::Sub), start, 1)?,
            '^' => self.tok(Tok::Op(BinaryOp::Pow), start, 1)?,
            '=' => match next {
                Some('=') => self.tok(Tok::Op(BinaryOp::Eql), start, 2)?,
                Some('~') => return self.err(start, "unexpected character after '=': '~'".into()),
                _ => self.tok(Tok::Eql, start, 1)?,
            },
            '!' => match next {
                Some('=') => self.tok(Tok::Op(BinaryOp::Neq), start, 2)?,
                other => {
                    let q = quote_rune(other.unwrap_or('\u{fffd}'));
                    return self.err(start, format!("unexpected character after '!': {q}"));
                }
            },
            '<' => match next {
                Some('=') => self.tok(Tok::Op(BinaryOp::Lte), start, 2)?,
                Some('/') => self.tok(Tok::Op(BinaryOp::TrimUpper), start, 2)?,
                _ => self.tok(Tok::Op(BinaryOp::Lss), start, 1)?,
            },
            '>' => match next {
                Some('=') => self.tok(Tok::Op(BinaryOp::Gte), start, 2)?,
                Some('/') => self.tok(Tok::Op(BinaryOp::TrimLower), start, 2)?,
                _ => self.tok(Tok::Op(BinaryOp::Gtr), start, 1)?,
            },
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                self.lex_number_or_duration()?
            }
            '"' | '\'' => self.lex_string(c)?,
            '`' => self.lex_raw_string()?,
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    return self.lex_keyword_or_identifier().map(Some);
                }
                if c == ':' {
                    if self.got_colon {
                        return self.err(start, "unexpected colon ':'".into());
                    }
                    self.got_colon = true;
                    self.tok(Tok::Colon, start, 1)?
                } else if let Some(t) = self.scan_duration_keyword() {
                    t
                } else {
                    return self.err(
                        start,
                        format!("unexpected character: {}, expected ':'", quote_rune(c)),
                    );
                }
            }
            '(' => {
                self.paren_depth += 1;
                self.tok(Tok::LParen, start, 1)?
            }
            ')' => {
                let t = self.tok(Tok::RParen, start, 1)?;
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.err(start + 1, "unexpected right parenthesis ')'".into());
                }
                t
            }
            '{' => {
                self.brace_open = true;
                self.tok(Tok::LBrace, start, 1)?
            }
            '[' => {
                if self.bracket_open {
                    return self.err(start, "unexpected left bracket '['".into());
                }
                self.got_colon = false;
                let t = self.tok(Tok::LBracket, start, 1)?;
                self.skip_spaces();
                self.bracket_open = true;
                self.mode = Mode::DurationExpr;
                t
            }
            ']' => {
                if !self.bracket_open {
                    return self.err(start, "unexpected right bracket ']'".into());
                }
                self.bracket_open = false;
                self.tok(Tok::RBracket, start, 1)?
            }
            '@' => self.tok(Tok::At, start, 1)?,
            c => {
                return self.err(start, format!("unexpected character: {}", quote_rune(c)));
            }
        };
        Ok(Some(t))
    }

    fn lex_number_or_duration(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        match scan_number(self.rest()) {
            Ok(n) => self.tok(Tok::Number, start, n),
            Err(stop) => match scan_duration(self.rest(), stop) {
                Ok(n) => self.tok(Tok::Duration, start, n),
                Err(n) => {
                    let n = n.min(self.rest().len());
                    let end = (start + n..=self.input.len())
                        .find(|&e| self.input.is_char_boundary(e))
                        .unwrap_or(self.input.len());
                    let bad = &self.input[start..end];
                    self.err(start, format!("bad number or duration syntax: {bad:?}"))
                }
            },
        }
    }

    fn scan_duration_keyword(&mut self) -> Option<Token> {
        let start = self.pos;
        let word_len = self
            .rest()
            .bytes()
            .take_while(|&b| is_alpha(b as char))
            .count();
        let word = self.rest()[..word_len].to_ascii_lowercase();
        let kw = match word.as_str() {
            "step" => Keyword::Step,
            "range" => Keyword::Range,
            "max_of" => Keyword::MaxOf,
            "min_of" => Keyword::MinOf,
            _ => return None,
        };
        self.tok(Tok::Keyword(kw), start, word_len).ok()
    }

    fn lex_keyword_or_identifier(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        let (_, word) = identifier(self.rest()).map_err(|_| LexError {
            message: "internal: identifier expected".into(),
            pos: start,
        })?;
        let lower = word.to_ascii_lowercase();
        let tok = if lower == "inf" || lower == "nan" {
            Tok::Number
        } else if let Some(op) = AggregateOp::from_keyword(&lower) {
            Tok::Aggregator(op)
        } else if let Some(op) = match lower.as_str() {
            "and" => Some(BinaryOp::And),
            "or" => Some(BinaryOp::Or),
            "unless" => Some(BinaryOp::Unless),
            "atan2" => Some(BinaryOp::Atan2),
            _ => None,
        } {
            Tok::Op(op)
        } else if let Some(kw) = Keyword::lookup(&lower) {
            let paren_follows = || {
                self.input[start + word.len()..]
                    .chars()
                    .find(|c| !is_space(*c))
                    == Some('(')
            };
            if matches!(kw, Keyword::Fill | Keyword::FillLeft | Keyword::FillRight)
                && !paren_follows()
            {
                Tok::Identifier
            } else {
                Tok::Keyword(kw)
            }
        } else if word.contains(':') {
            Tok::MetricIdentifier
        } else {
            Tok::Identifier
        };
        self.tok(tok, start, word.len())
    }

    fn lex_inside_braces(&mut self) -> Result<Option<Token>, LexError> {
        let start = self.pos;
        if self.rest().starts_with('#') {
            self.skip_comment();
            return Ok(None);
        }
        let Some(c) = self.peek_char() else {
            return self.err(start, "unexpected end of input inside braces".into());
        };
        let next = self.rest()[c.len_utf8()..].chars().next();
        let t = match c {
            c if is_space(c) => {
                self.skip_spaces();
                return Ok(None);
            }
            c if is_alpha(c) => {
                let (_, word) = label_identifier(self.rest()).map_err(|_| LexError {
                    message: "internal: label expected".into(),
                    pos: start,
                })?;
                self.tok(Tok::Identifier, start, word.len())?
            }
            ',' => self.tok(Tok::Comma, start, 1)?,
            '"' | '\'' => self.lex_string(c)?,
            '`' => self.lex_raw_string()?,
            '=' => {
                if next == Some('~') {
                    self.tok(Tok::EqlRegex, start, 2)?
                } else {
                    self.tok(Tok::Eql, start, 1)?
                }
            }
            '!' => match next {
                Some('~') => self.tok(Tok::NeqRegex, start, 2)?,
                Some('=') => self.tok(Tok::Op(BinaryOp::Neq), start, 2)?,
                other => {
                    let q = quote_rune(other.unwrap_or('\u{fffd}'));
                    return self.err(
                        start,
                        format!("unexpected character after '!' inside braces: {q}"),
                    );
                }
            },
            '{' => return self.err(start, "unexpected left brace '{'".into()),
            '}' => {
                self.brace_open = false;
                self.tok(Tok::RBrace, start, 1)?
            }
            c => {
                return self.err(
                    start,
                    format!("unexpected character inside braces: {}", quote_rune(c)),
                )
            }
        };
        Ok(Some(t))
    }

    fn lex_duration_expr(&mut self) -> Result<Option<Token>, LexError> {
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return self.err(
                start,
                "unexpected end of input in duration expression".into(),
            );
        };
        let next = self.rest()[c.len_utf8()..].chars().next();
        let t = match c {
            ']' => {
                self.bracket_open = false;
                self.got_colon = false;
                self.mode = Mode::Statements;
                self.tok(Tok::RBracket, start, 1)?
            }
            ':' => {
                if !self.got_duration {
                    return self.err(
                        start + 1,
                        "unexpected colon before duration in duration expression".into(),
                    );
                }
                if self.got_colon {
                    return self.err(
                        start + 1,
                        "unexpected repeated colon in duration expression".into(),
                    );
                }
                self.got_colon = true;
                self.tok(Tok::Colon, start, 1)?
            }
            '(' => {
                self.paren_depth += 1;
                self.tok(Tok::LParen, start, 1)?
            }
            ')' => {
                let t = self.tok(Tok::RParen, start, 1)?;
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.err(start + 1, "unexpected right parenthesis ')'".into());
                }
                t
            }
            c if is_space(c) => {
                self.skip_spaces();
                return Ok(None);
            }
            '+' => self.tok(Tok::Op(BinaryOp::Add), start, 1)?,
            '-' => self.tok(Tok::Op(BinaryOp::Sub), start, 1)?,
            '*' => self.tok(Tok::Op(BinaryOp::Mul), start, 1)?,
            '/' => self.tok(Tok::Op(BinaryOp::Div), start, 1)?,
            '%' => self.tok(Tok::Op(BinaryOp::Mod), start, 1)?,
            '^' => self.tok(Tok::Op(BinaryOp::Pow), start, 1)?,
            ',' => self.tok(Tok::Comma, start, 1)?,
            c if matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm') => {
                match self.scan_duration_keyword() {
                    Some(t) => t,
                    None => {
                        return self.err(
                            start,
                            format!(
                                "unexpected character in duration expression: {}",
                                quote_rune(c)
                            ),
                        )
                    }
                }
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                self.got_duration = true;
                self.mode = Mode::Statements;
                self.lex_number_or_duration()?
            }
            c => {
                return self.err(
                    start,
                    format!(
                        "unexpected character in duration expression: {}",
                        quote_rune(c)
                    ),
                )
            }
        };
        Ok(Some(t))
    }

    /// A `"` or `'` string; escapes are validated here (as Prometheus's
    /// lexer does) and resolved later by [`super::literals::unquote_bytes`].
    fn lex_string(&mut self, quote: char) -> Result<Token, LexError> {
        let start = self.pos;
        let mut chars = self.input[start + 1..].char_indices();
        loop {
            let Some((_, c)) = chars.next() else {
                return self.err(start, "unterminated quoted string".into());
            };
            match c {
                '\n' => return self.err(start, "unterminated quoted string".into()),
                '\\' => {
                    let Some((_, e)) = chars.next() else {
                        return self.err(start, "escape sequence not terminated".into());
                    };
                    let (n, base, max): (usize, u32, u32) = match e {
                        'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => continue,
                        e if e == quote => continue,
                        '0'..='7' => (3, 8, 255),
                        'x' => (2, 16, 255),
                        'u' => (4, 16, 0x10ffff),
                        'U' => (8, 16, 0x10ffff),
                        e => {
                            return self
                                .err(start, format!("unknown escape sequence {}", go_sharp_u(e)))
                        }
                    };
                    let mut value: u32 = 0;
                    let mut first = if base == 8 { Some(e) } else { None };
                    for _ in 0..n {
                        let d = match first.take().or_else(|| chars.next().map(|x| x.1)) {
                            None => {
                                return self.err(start, "escape sequence not terminated".into())
                            }
                            Some(d) => d,
                        };
                        match d.to_digit(base) {
                            Some(v) => value = value.saturating_mul(base).saturating_add(v),
                            None => {
                                return self.err(
                                    start,
                                    format!(
                                        "illegal character {} in escape sequence",
                                        go_sharp_u(d)
                                    ),
                                )
                            }
                        }
                    }
                    if value > max || (0xD800..0xE000).contains(&value) {
                        return self.err(
                            start,
                            "escape sequence is an invalid Unicode code point".into(),
                        );
                    }
                }
                c if c == quote => {
                    let len = chars
                        .next()
                        .map_or(self.input.len() - start, |(i, _)| i + 1);
                    return self.tok(Tok::String, start, len);
                }
                _ => {}
            }
        }
    }

    fn lex_raw_string(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        match self.input[start + 1..].find('`') {
            Some(i) => self.tok(Tok::String, start, i + 2),
            None => self.err(start, "unterminated raw string".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s);
        let mut out = vec![];
        loop {
            let t = l.next_token().unwrap();
            out.push(t.tok);
            if t.tok == Tok::Eof {
                return out;
            }
        }
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(scan_number("1.5e3 "), Ok(5));
        assert_eq!(scan_number("0x1f)"), Ok(4));
        assert_eq!(scan_number("1_000"), Ok(5));
        assert!(scan_number("5m").is_err());
        assert_eq!(scan_duration("5m]", 1), Ok(2));
        assert_eq!(scan_duration("1h30m", 1), Ok(5));
        assert_eq!(scan_duration("20ms", 2), Ok(4));
        assert_eq!(scan_duration("5mm", 1), Err(3));
        assert_eq!(scan_number("0deadbeef"), Err(1));
        assert_eq!(scan_duration("0deadbeef", 1), Err(3));
    }

    #[test]
    fn modes() {
        use Tok::*;
        assert_eq!(
            kinds(r#"sum by (on) (foo{by="x"}[5m:]) # c"#),
            vec![
                Aggregator(AggregateOp::Sum),
                Keyword(super::Keyword::By),
                LParen,
                Keyword(super::Keyword::On),
                RParen,
                LParen,
                Identifier,
                LBrace,
                Identifier,
                Eql,
                String,
                RBrace,
                LBracket,
                Duration,
                Colon,
                RBracket,
                RParen,
                Eof
            ]
        );
        assert_eq!(kinds("fill + fill_left")[0], Identifier);
        assert_eq!(kinds("Inf")[0], Number);
    }
}
