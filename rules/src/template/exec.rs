//! Executes a parsed template over an alert's data, with Go's rules for
//! printing, truthiness, fields, variables and pipelines.

use aion_model::gotext::format_go_g;

use super::funcs;
use super::parse::{Arg, Node, Pipe};
use super::value::Value;
use super::Expander;

pub(super) struct Exec<'a> {
    pub data: &'a Expander<'a>,
    pub vars: Vec<(String, Value)>,
    pub out: String,
}

/// An execution error: the message and the pipeline it happened in.
pub(super) struct ExecError {
    pub pipe_offset: usize,
    pub line: usize,
    pub context: String,
    pub message: String,
}

impl Exec<'_> {
    pub(super) fn run(&mut self, nodes: &[Node]) -> Result<(), ExecError> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p)?;
                    if p.decl.is_none() {
                        self.out.push_str(&v.to_text());
                    }
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        if self.pipe(cond)?.truth() {
                            self.run(body)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.run(otherwise)?;
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe) -> Result<Value, ExecError> {
        let fail = |message: String| ExecError {
            pipe_offset: p.offset,
            line: p.line,
            context: p.text.clone(),
            message,
        };
        let mut prev: Option<Value> = None;
        for cmd in &p.cmds {
            let v = self.command(cmd, prev.take()).map_err(fail)?;
            prev = Some(v);
        }
        let v = prev.unwrap_or(Value::Nil);
        if let Some((name, declare)) = &p.decl {
            if *declare {
                self.vars.push((name.clone(), v.clone()));
            } else if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v.clone();
            }
        }
        Ok(v)
    }

    fn command(&mut self, cmd: &[Arg], piped: Option<Value>) -> Result<Value, String> {
        match &cmd[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(cmd.len());
                for a in &cmd[1..] {
                    args.push(self.operand(a)?);
                }
                if let Some(v) = piped {
                    args.push(v);
                }
                funcs::call(name, args)
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(format!(
                        "can't give argument to non-function {}",
                        describe(first)
                    ));
                }
                self.operand(first)
            }
        }
    }

    fn operand(&mut self, a: &Arg) -> Result<Value, String> {
        Ok(match a {
            Arg::Dot => Value::Data,
            Arg::Field(f) => fields(Value::Data, f, self.data)?,
            Arg::Var(name, f) => {
                let v = if name.is_empty() {
                    Value::Data
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("undefined variable: ${name}"))?
                };
                fields(v, f, self.data)?
            }
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil => return Err("nil is not a command".into()),
            Arg::Func(name) => funcs::call(name, Vec::new())?,
            Arg::Sub(p, f) => {
                let v = self.pipe(p).map_err(|e| e.message)?;
                fields(v, f, self.data)?
            }
        })
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Field(f) => format!(".{}", f.join(".")),
        Arg::Var(n, f) if f.is_empty() => format!("${n}"),
        Arg::Var(n, f) => format!("${n}.{}", f.join(".")),
        Arg::Str(s) => aion_model::gotext::go_quote(s),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => format_go_g(*f),
        Arg::Bool(b) => b.to_string(),
        Arg::Nil => "nil".into(),
        Arg::Func(f) => f.clone(),
        Arg::Sub(p, _) => format!("({})", p.text),
    }
}

const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }";

fn fields(mut v: Value, names: &[String], data: &Expander) -> Result<Value, String> {
    for name in names {
        v = match v {
            Value::Data => match name.as_str() {
                "Labels" => Value::Map(pairs(data.labels)),
                "ExternalLabels" => Value::Map(pairs(data.external_labels)),
                "ExternalURL" => Value::Str(data.external_url.to_string()),
                "Value" => Value::Float(data.value),
                _ => return Err(format!("can't evaluate field {name} in type {DATA_TYPE}")),
            },
            Value::Map(m) => m
                .into_iter()
                .find(|(k, _)| k == name)
                // Prometheus runs templates with `missingkey=zero`.
                .map_or(Value::Str(String::new()), |(_, v)| Value::Str(v)),
            Value::Nil => return Err(format!("nil pointer evaluating interface {{}}.{name}")),
            other => {
                return Err(format!(
                    "can't evaluate field {name} in type {}",
                    other.go_type()
                ))
            }
        };
    }
    Ok(v)
}

fn pairs(l: &aion_model::Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}
