//! The arguments of function calls: arity against the signature (so a
//! hand-built tree cannot index past them), string literal arguments, and
//! the label name rule those arguments must follow.

use super::error::{Error, Result};
use crate::ast::{Call, Expr, StringLiteral};

/// Prometheus's label name validity in UTF-8 mode: non-empty, valid UTF-8.
pub(crate) fn is_valid_label_name(bytes: &[u8]) -> bool {
    !bytes.is_empty() && std::str::from_utf8(bytes).is_ok()
}

/// The literal of a string-typed argument (through parentheses and step
/// invariance).
pub(crate) fn string_arg(e: &Expr) -> Result<&StringLiteral> {
    match e {
        Expr::String(s) => Ok(s),
        Expr::Paren(p) => string_arg(&p.expr),
        Expr::StepInvariant(s) => string_arg(&s.expr),
        // The parser type-checks string arguments; a hand-built tree may
        // not have.
        other => Err(Error::eval(format!(
            "expected a string literal argument, got {}",
            other.value_type()
        ))),
    }
}

/// Checks a call's argument count against its signature, so hand-built
/// trees cannot make evaluation index past the arguments.
pub(crate) fn check_arity(c: &Call) -> Result<()> {
    let n = c.args.len();
    if n < c.func.min_args() || c.func.max_args().is_some_and(|max| n > max) {
        return Err(Error::eval(format!(
            "wrong number of arguments for {}(): {n}",
            c.func.name
        )));
    }
    Ok(())
}

/// The raw text of a string argument, as Go's `%s` would print it.
pub(crate) fn raw(s: &StringLiteral) -> String {
    String::from_utf8_lossy(s.bytes()).into_owned()
}
