//! Splits template text into text runs and action tokens, as Go's
//! `text/template/parse` lexer does for the supported subset.

use super::ParseError;

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `if`, `else`, `end` and other identifiers (functions, keywords).
    Ident(String),
    /// `$name` (`$` alone is `Var("")`) and the fields chained to it
    /// (`$labels.instance`).
    Var(String, Vec<String>),
    /// `.A.b`: fields of the dot.
    Field(Vec<String>),
    /// `.a.b` right after a `)`: fields of the parenthesised value.
    Chain(Vec<String>),
    /// `.` alone.
    Dot,
    /// A string constant, unquoted.
    Str(String),
    /// A number constant as written.
    Number(String),
    /// A character constant's value.
    Char(char),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
}

/// A piece of the template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item {
    Text(String),
    /// An action's tokens, with the 1-based line and byte offset its `{{`
    /// starts at.
    Action {
        toks: Vec<(Tok, usize)>,
        line: usize,
        offset: usize,
    },
}

pub(super) fn lex(src: &str) -> Result<Vec<Item>, ParseError> {
    let mut items = Vec::new();
    let mut i = 0;
    let b = src.as_bytes();
    let line_at = |pos: usize| 1 + src[..pos].bytes().filter(|&c| c == b'\n').count();
    while i < src.len() {
        let Some(rel) = src[i..].find("{{") else {
            items.push(Item::Text(src[i..].to_string()));
            break;
        };
        let start = i + rel;
        let mut text = &src[i..start];
        let mut j = start + 2;
        // `{{- ` trims the white space before it.
        if b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(|c| c.is_ascii_whitespace()) {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            j += 2;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let line = line_at(start);
        let err = |m: &str| ParseError {
            line,
            message: m.to_string(),
        };
        // Comments.
        if src[j..].starts_with("/*") {
            let Some(end) = src[j..].find("*/") else {
                return Err(err("unclosed comment"));
            };
            let mut k = j + end + 2;
            let mut trim = false;
            if src[k..].starts_with(" -}}") {
                trim = true;
                k += 4;
            } else if src[k..].starts_with("}}") {
                k += 2;
            } else {
                return Err(err("comment ends before closing delimiter"));
            }
            i = skip_trim(src, k, trim);
            continue;
        }
        let mut toks = Vec::new();
        loop {
            while b
                .get(j)
                .is_some_and(|c| *c == b' ' || *c == b'\t' || *c == b'\r')
            {
                j += 1;
            }
            if j >= src.len() {
                return Err(err("unclosed action"));
            }
            if b[j] == b'\n' {
                j += 1;
                continue;
            }
            if src[j..].starts_with("}}") {
                i = j + 2;
                break;
            }
            if src[j..].starts_with("-}}") && b[j - 1].is_ascii_whitespace() {
                i = skip_trim(src, j + 3, true);
                break;
            }
            let at = j;
            let c = b[j];
            let tok = match c {
                b'(' => {
                    j += 1;
                    Tok::LParen
                }
                b')' => {
                    j += 1;
                    toks.push((Tok::RParen, at));
                    if b.get(j) == Some(&b'.') && ident_len(&src[j + 1..]) > 0 {
                        let (fields, n) = fields(&src[j..]);
                        toks.push((Tok::Chain(fields), j));
                        j += n;
                    }
                    continue;
                }
                b'|' => {
                    j += 1;
                    Tok::Pipe
                }
                b':' if b.get(j + 1) == Some(&b'=') => {
                    j += 2;
                    Tok::Declare
                }
                b'=' => {
                    j += 1;
                    Tok::Assign
                }
                b'"' => {
                    let (s, n) =
                        quoted(&src[j..]).ok_or_else(|| err("unterminated quoted string"))?;
                    j += n;
                    Tok::Str(s)
                }
                b'`' => {
                    let Some(end) = src[j + 1..].find('`') else {
                        return Err(err("unterminated raw quoted string"));
                    };
                    let s = src[j + 1..j + 1 + end].to_string();
                    j += end + 2;
                    Tok::Str(s)
                }
                b'\'' => {
                    let body = &src[j + 1..];
                    let mut chars = body.chars();
                    let ch = match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            _ => return Err(err("unterminated character constant")),
                        },
                        Some(c) => c,
                        None => return Err(err("unterminated character constant")),
                    };
                    if chars.next() != Some('\'') {
                        return Err(err("unterminated character constant"));
                    }
                    j += 1 + body.len() - chars.as_str().len();
                    Tok::Char(ch)
                }
                b'$' => {
                    let n = ident_len(&src[j + 1..]);
                    let name = src[j + 1..j + 1 + n].to_string();
                    j += 1 + n;
                    let (chain, m) = fields(&src[j..]);
                    j += m;
                    Tok::Var(name, chain)
                }
                b'.' if !b.get(j + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    let (chain, n) = fields(&src[j..]);
                    if n == 0 {
                        j += 1;
                        Tok::Dot
                    } else {
                        j += n;
                        Tok::Field(chain)
                    }
                }
                b'0'..=b'9' | b'+' | b'-' | b'.' => {
                    let n = src[j..]
                        .char_indices()
                        .find(|&(k, ch)| {
                            !(ch.is_ascii_alphanumeric()
                                || ch == '.'
                                || ch == '_'
                                || (k == 0 && (ch == '+' || ch == '-'))
                                || ((ch == '+' || ch == '-')
                                    && matches!(
                                        src.as_bytes()[j + k - 1],
                                        b'e' | b'E' | b'p' | b'P'
                                    )))
                        })
                        .map_or(src.len() - j, |(k, _)| k);
                    let s = src[j..j + n].to_string();
                    j += n;
                    Tok::Number(s)
                }
                c if c == b'_' || c.is_ascii_alphabetic() => {
                    let n = ident_len(&src[j..]);
                    j += n;
                    Tok::Ident(src[at..j].to_string())
                }
                _ => {
                    let ch = src[j..].chars().next().unwrap_or('?');
                    return Err(err(&format!("unexpected {} in command", go_char(ch))));
                }
            };
            toks.push((tok, at));
        }
        items.push(Item::Action {
            toks,
            line,
            offset: start,
        });
    }
    Ok(items)
}

fn skip_trim(src: &str, k: usize, trim: bool) -> usize {
    if trim {
        k + (src[k..].len() - src[k..].trim_start_matches([' ', '\t', '\r', '\n']).len())
    } else {
        k
    }
}

/// `.a.b.c` at the start of `s`: the names and the length consumed.
fn fields(s: &str) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut k = 0;
    while s[k..].starts_with('.') {
        let n = ident_len(&s[k + 1..]);
        if n == 0 {
            break;
        }
        out.push(s[k + 1..k + 1 + n].to_string());
        k += 1 + n;
    }
    (out, k)
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
        .map_or(s.len(), |(k, _)| k)
}

/// A Go double-quoted string at the start of `s`: its value and length.
fn quoted(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut it = s.char_indices().skip(1);
    while let Some((k, c)) = it.next() {
        match c {
            '"' => return Some((out, k + 1)),
            '\n' => return None,
            '\\' => {
                let (_, e) = it.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(it.next()?.1);
                        }
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

pub(super) fn go_char(c: char) -> String {
    let mut s = String::from("<");
    s.push(c);
    s.push('>');
    s
}
