//! Type checking of a parsed tree (Prometheus's `checkAST`): operand and
//! argument types, modifiers that only make sense between vectors, and the
//! selector rules. Also settles the vector matching of each binary
//! operation (none unless both sides are vectors; many-to-many for set
//! operators), as Prometheus does at this stage.

use aion_model::{gotext::go_quote, METRIC_NAME};

use crate::ast::{BinaryExpr, Cardinality, Expr, Span, ValueType, VectorSelector};

type CheckResult<T> = Result<T, (String, Span)>;

fn fail<T>(span: Span, message: impl Into<String>) -> CheckResult<T> {
    Err((message.into(), span))
}

/// Checks `expr` and returns its type, or the first error in Prometheus's
/// order (children before parents, left to right).
pub(super) fn check(expr: &mut Expr, input: &str) -> CheckResult<ValueType> {
    let span = expr.span();
    match expr {
        Expr::Number(_) => Ok(ValueType::Scalar),
        Expr::String(_) => Ok(ValueType::String),
        Expr::Paren(p) => check(&mut p.expr, input),
        Expr::StepInvariant(s) => check(&mut s.expr, input),
        Expr::VectorSelector(vs) => check_selector(vs).map(|_| ValueType::Vector),
        Expr::MatrixSelector(m) => check_selector(&m.selector).map(|_| ValueType::Matrix),
        Expr::Subquery(s) => {
            let t = check(&mut s.expr, input)?;
            if t != ValueType::Vector {
                return fail(
                    span,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        t.api_name()
                    ),
                );
            }
            Ok(ValueType::Matrix)
        }
        Expr::Unary(u) => {
            let t = check(&mut u.expr, input)?;
            if t != ValueType::Scalar && t != ValueType::Vector {
                return fail(
                    span,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got \"{}\"",
                        t.documented_name()
                    ),
                );
            }
            Ok(t)
        }
        Expr::Aggregate(a) => {
            expect_type(
                &mut a.expr,
                ValueType::Vector,
                "aggregation expression",
                input,
            )?;
            if let (Some(want), Some(param)) = (a.op.param_type(), a.param.as_mut()) {
                expect_type(param, want, "aggregation parameter", input)?;
            }
            Ok(ValueType::Vector)
        }
        Expr::Call(c) => {
            let f = c.func;
            let n = c.args.len();
            if f.variadic == 0 {
                if n != f.arg_types.len() {
                    return fail(
                        span,
                        format!(
                            "expected {} argument(s) in call to \"{}\", got {n}",
                            f.arg_types.len(),
                            f.name
                        ),
                    );
                }
            } else if f.min_args() > n {
                return fail(
                    span,
                    format!(
                        "expected at least {} argument(s) in call to \"{}\", got {n}",
                        f.min_args(),
                        f.name
                    ),
                );
            } else if let Some(max) = f.max_args().filter(|&m| m < n) {
                return fail(
                    span,
                    format!(
                        "expected at most {max} argument(s) in call to \"{}\", got {n}",
                        f.name
                    ),
                );
            }
            if f.name == "info" && n > 1 {
                let t = c.args[1].value_type();
                if t != ValueType::Vector {
                    return fail(
                        span,
                        format!(
                            "expected type instant vector in call to function \"info\", got {}",
                            t.documented_name()
                        ),
                    );
                }
                let arg_span = c.args[1].span();
                match &mut c.args[1] {
                    Expr::VectorSelector(vs) if vs.name.is_some() => {
                        return fail(
                            arg_span,
                            "expected label selectors only, got vector selector instead",
                        )
                    }
                    Expr::VectorSelector(vs) => vs.bypass_empty_matcher_check = true,
                    _ => return fail(arg_span, "expected label selectors only"),
                }
            }
            for (i, arg) in c.args.iter_mut().enumerate() {
                let Some(want) = f.arg_type(i) else { break };
                let arg_span = arg.span();
                let t = check(arg, input)?;
                if t != want {
                    return fail(
                        arg_span,
                        format!(
                            "expected type {} in call to function \"{}\", got {}",
                            want.documented_name(),
                            f.name,
                            t.documented_name()
                        ),
                    );
                }
            }
            Ok(f.return_type)
        }
        Expr::Binary(b) => check_binary(b, span, input),
    }
}

fn expect_type(e: &mut Expr, want: ValueType, context: &str, input: &str) -> CheckResult<()> {
    let span = e.span();
    let t = check(e, input)?;
    if t != want {
        return fail(
            span,
            format!(
                "expected type {} in {context}, got {}",
                want.documented_name(),
                t.documented_name()
            ),
        );
    }
    Ok(())
}

/// The operator's position: from the end of the left operand to the start
/// of the right one, without surrounding whitespace.
fn op_span(b: &BinaryExpr, input: &str) -> Span {
    let bytes = input.as_bytes();
    let mut start = b.lhs.span().end;
    let mut end = b.rhs.span().start.saturating_sub(1);
    while start < bytes.len() && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && end < bytes.len() && bytes[end].is_ascii_whitespace() {
        end -= 1;
    }
    Span::new(start, end)
}

fn check_binary(b: &mut BinaryExpr, span: Span, input: &str) -> CheckResult<ValueType> {
    let lt = check(&mut b.lhs, input)?;
    let rt = check(&mut b.rhs, input)?;
    let op = b.op;
    if b.return_bool && !op.is_comparison() {
        return fail(
            op_span(b, input),
            "bool modifier can only be used on comparison operators",
        );
    }
    if op.is_comparison() && !b.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
        return fail(
            op_span(b, input),
            "comparisons between scalars must use BOOL modifier",
        );
    }
    let ops = op_span(b, input);
    if let Some(m) = b.matching.as_mut() {
        if op.is_set_operator() && m.card == Cardinality::OneToOne {
            m.card = Cardinality::ManyToMany;
        }
        if m.on {
            if let Some(l) = m.matching_labels.iter().find(|l| m.include.contains(l)) {
                return fail(
                    ops,
                    format!("label \"{l}\" must not occur in ON and GROUP clause at once"),
                );
            }
        }
    }
    for (t, side) in [(lt, &b.lhs), (rt, &b.rhs)] {
        if t != ValueType::Scalar && t != ValueType::Vector {
            return fail(
                side.span(),
                "binary expression must contain only scalar and instant vector types",
            );
        }
    }
    if lt != ValueType::Vector || rt != ValueType::Vector {
        if let Some(m) = b.matching.take() {
            if !m.matching_labels.is_empty() {
                return fail(span, "vector matching only allowed between instant vectors");
            }
            if m.fill.lhs.is_some() || m.fill.rhs.is_some() {
                return fail(
                    span,
                    "filling in missing series only allowed between instant vectors",
                );
            }
        }
    } else if op.is_set_operator() {
        if let Some(m) = &b.matching {
            if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                return fail(span, format!("no grouping allowed for \"{op}\" operation"));
            }
            if m.card != Cardinality::ManyToMany {
                return fail(span, "set operations must always be many-to-many");
            }
            if m.fill.lhs.is_some() || m.fill.rhs.is_some() {
                return fail(
                    span,
                    "filling in missing series not allowed for set operators",
                );
            }
        }
    }
    if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set_operator() {
        return fail(
            span,
            format!("set operator \"{op}\" not allowed in binary scalar expression"),
        );
    }
    Ok(if lt == ValueType::Scalar && rt == ValueType::Scalar {
        ValueType::Scalar
    } else {
        ValueType::Vector
    })
}

fn check_selector(vs: &VectorSelector) -> CheckResult<()> {
    if let Some(name) = &vs.name {
        let explicit = &vs.matchers[..vs.matchers.len().saturating_sub(1)];
        if let Some(m) = explicit.iter().find(|m| m.name() == METRIC_NAME) {
            return fail(
                vs.span,
                format!(
                    "metric name must not be set twice: {} or {}",
                    go_quote(name),
                    go_quote(m.value())
                ),
            );
        }
        return Ok(());
    }
    if !vs.bypass_empty_matcher_check && vs.matchers.iter().all(|m| m.matches_empty()) {
        return fail(
            vs.span,
            "vector selector must contain at least one non-empty matcher",
        );
    }
    Ok(())
}
