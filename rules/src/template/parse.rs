//! Parses lexed template items into a tree, with Go's parse-time checks:
//! functions must exist, variables must be declared, control structures
//! must be closed.

use super::funcs::{is_supported, is_unsupported_prometheus};
use super::lex::{Item, Tok};
use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If {
        branches: Vec<(Pipe, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
}

/// A pipeline, optionally declaring (`:=`) or assigning (`=`) a variable.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pipe {
    pub decl: Option<(String, bool)>,
    pub cmds: Vec<Vec<Arg>>,
    pub line: usize,
    /// Byte offset of the action in the template text.
    pub offset: usize,
    /// The pipeline's text, for error messages (`at <...>`).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    /// A number constant: integral ones are `int`, others `float64`.
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Box<Pipe>, Vec<String>),
}

type Toks = Vec<(Tok, usize)>;

struct Parser<'a> {
    items: std::vec::IntoIter<Item>,
    vars: Vec<String>,
    src: &'a str,
    line: usize,
    /// The tokens after an `{{else` just read, with its line and offset.
    pending_else: Option<(Toks, usize, usize)>,
}

pub(super) fn parse(items: Vec<Item>, src: &str, vars: &[&str]) -> Result<Vec<Node>, ParseError> {
    let mut p = Parser {
        items: items.into_iter(),
        vars: vars.iter().map(|v| v.to_string()).collect(),
        src,
        line: 1,
        pending_else: None,
    };
    let (nodes, end) = p.list()?;
    match end {
        None => Ok(nodes),
        Some(kw) => Err(p.err(format!("unexpected {{{{{kw}}}}}"))),
    }
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    /// Nodes up to `{{end}}` or `{{else ...}}` (returned as the keyword
    /// and, for `else if`, left for the caller) or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Option<String>), ParseError> {
        let mut out = Vec::new();
        while let Some(item) = self.items.next() {
            match item {
                Item::Text(t) => {
                    self.line += t.bytes().filter(|&b| b == b'\n').count();
                    out.push(Node::Text(t));
                }
                Item::Action { toks, line, offset } => {
                    self.line = line;
                    let first = toks.first().map(|(t, _)| t.clone());
                    match first {
                        Some(Tok::Ident(kw)) if kw == "end" => {
                            if toks.len() > 1 {
                                return Err(self.err("unexpected <end> in end"));
                            }
                            return Ok((out, Some("end".into())));
                        }
                        Some(Tok::Ident(kw)) if kw == "else" => {
                            // `else if ...` is handed back with its tokens.
                            self.pending_else = Some((toks[1..].to_vec(), line, offset));
                            return Ok((out, Some("else".into())));
                        }
                        Some(Tok::Ident(kw)) if kw == "if" => {
                            out.push(self.if_node(toks[1..].to_vec(), line, offset)?);
                        }
                        Some(Tok::Ident(kw))
                            if matches!(
                                kw.as_str(),
                                "range"
                                    | "with"
                                    | "define"
                                    | "template"
                                    | "block"
                                    | "break"
                                    | "continue"
                            ) =>
                        {
                            return Err(self.err(format!(
                                "{{{{{kw}}}}} is not supported by aion's templates"
                            )));
                        }
                        _ => {
                            let pipe = self.pipe(&toks, line, offset, true, "command")?;
                            out.push(Node::Action(pipe));
                        }
                    }
                }
            }
        }
        Ok((out, None))
    }

    fn if_node(&mut self, toks: Toks, line: usize, offset: usize) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let cond = self.pipe(&toks, line, offset, true, "if")?;
        let inner = self.vars.len();
        let (body, end) = self.list()?;
        self.vars.truncate(inner);
        let mut node = Node::If {
            branches: vec![(cond, body)],
            otherwise: Vec::new(),
        };
        match end.as_deref() {
            None => return Err(self.err("unexpected EOF")),
            Some("end") => {}
            _ => {
                let (rest, l, o) = self.pending_else.take().unwrap_or_default();
                let otherwise = match rest.first() {
                    Some((Tok::Ident(kw), _)) if kw == "if" => {
                        vec![self.if_node(rest[1..].to_vec(), l, o)?]
                    }
                    Some(_) => return Err(self.err("unexpected <else> in else")),
                    None => {
                        let (other, end) = self.list()?;
                        match end.as_deref() {
                            None => return Err(self.err("unexpected EOF")),
                            Some("end") => other,
                            _ => return Err(self.err("expected end; found {{else}}")),
                        }
                    }
                };
                if let Node::If { otherwise: o, .. } = &mut node {
                    *o = otherwise;
                }
            }
        }
        self.vars.truncate(mark);
        Ok(node)
    }

    fn pipe(
        &mut self,
        toks: &[(Tok, usize)],
        line: usize,
        offset: usize,
        top: bool,
        context: &str,
    ) -> Result<Pipe, ParseError> {
        let mut toks = toks;
        let mut decl = None;
        if top {
            if let [(Tok::Var(name, chain), _), (op @ (Tok::Declare | Tok::Assign), _), ..] = toks {
                if chain.is_empty() {
                    let declare = *op == Tok::Declare;
                    if !declare && !self.vars.contains(name) {
                        return Err(self.err(format!("undefined variable \"${name}\"")));
                    }
                    decl = Some((name.clone(), declare));
                    toks = &toks[2..];
                }
            }
        }
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (tok, _) = &toks[i];
            i += 1;
            let arg = match tok {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(self.err(format!("missing value for {context}")));
                    }
                    cmds.push(std::mem::take(&mut cmd));
                    continue;
                }
                Tok::LParen => {
                    let start = i;
                    let mut depth = 1;
                    while i < toks.len() {
                        match toks[i].0 {
                            Tok::LParen => depth += 1,
                            Tok::RParen => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    if depth != 0 {
                        return Err(self.err("unclosed left paren"));
                    }
                    let inner = self.pipe(
                        &toks[start..i],
                        line,
                        offset,
                        false,
                        "parenthesized pipeline",
                    )?;
                    i += 1;
                    let chain = match toks.get(i) {
                        Some((Tok::Chain(c), _)) => {
                            i += 1;
                            c.clone()
                        }
                        _ => Vec::new(),
                    };
                    Arg::Sub(Box::new(inner), chain)
                }
                Tok::RParen => return Err(self.err("unexpected right paren")),
                Tok::Chain(_) => return Err(self.err("unexpected . after term")),
                Tok::Declare | Tok::Assign => {
                    return Err(self.err(format!("unexpected \"=\" in {context}")))
                }
                Tok::Dot => Arg::Dot,
                Tok::Field(f) => Arg::Field(f.clone()),
                Tok::Var(name, chain) => {
                    if !name.is_empty() && !self.vars.contains(name) {
                        return Err(self.err(format!("undefined variable \"${name}\"")));
                    }
                    Arg::Var(name.clone(), chain.clone())
                }
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Char(c) => Arg::Int(*c as i64),
                Tok::Number(n) => {
                    number(n).ok_or_else(|| self.err(format!("bad number syntax: \"{n}\"")))?
                }
                Tok::Ident(id) => match id.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" => {
                        return Err(self.err(format!("unexpected <{id}> in {context}")))
                    }
                    f if is_supported(f) => Arg::Func(f.to_string()),
                    f if is_unsupported_prometheus(f) => {
                        return Err(self.err(format!(
                            "function \"{f}\" is not supported by aion's templates"
                        )))
                    }
                    f => return Err(self.err(format!("function \"{f}\" not defined"))),
                },
            };
            cmd.push(arg);
        }
        if cmd.is_empty() {
            return Err(self.err(format!("missing value for {context}")));
        }
        cmds.push(cmd);
        if let Some((name, true)) = &decl {
            self.vars.push(name.clone());
        }
        let end = self.src[offset..]
            .find("}}")
            .map_or(self.src.len(), |e| offset + e);
        let text = self.src[offset + 2..end]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim()
            .to_string();
        Ok(Pipe {
            decl,
            cmds,
            line,
            offset,
            text,
        })
    }
}

/// A Go number constant: `int` when integral in syntax, else `float64`.
fn number(s: &str) -> Option<Arg> {
    if let Some(i) = crate::yaml::parse_int(s) {
        return Some(Arg::Int(i));
    }
    let f: f64 = s.replace('_', "").parse().ok()?;
    if s.contains(['i', 'n', 'I', 'N']) {
        return None;
    }
    Some(Arg::Float(f))
}
