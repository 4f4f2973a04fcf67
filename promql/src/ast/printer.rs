//! Renders trees back to PromQL, the way Prometheus's `String()` methods
//! do: `sum by (job) (rate(x[5m]))`, matchers sorted, durations in
//! `1h30m` form, `@` timestamps with three decimals.

use std::fmt::{self, Write};

use aion_model::{
    gotext::{format_float, write_go_quoted, write_go_quoted_bytes},
    is_legacy_label_name, MatchType, METRIC_NAME,
};

use super::duration_expr::{Duration, DurationExpr, DurationExprKind};
use super::expr::{AtModifier, Expr, VectorSelector};
use super::literals::same_float;
use super::operators::{BinaryOp, Cardinality, UnaryOp, VectorMatching};
use crate::duration::format_duration;

impl fmt::Display for Expr {
    /// Canonical PromQL; parsing it gives back an equal tree.
    ///
    /// ```
    /// let e = aion_promql::parse("sum without(instance)(rate(x[300s])) > bool 0").unwrap();
    /// assert_eq!(e.to_string(), "sum without (instance) (rate(x[5m])) > bool 0");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer { explicit: false }.expr(self, f)
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer { explicit: false }.duration_expr(self, f)
    }
}

/// Prints a tree with every binary and unary operation in `«…»`, so the
/// grouping the parser chose is visible: `«a + «b * c»»`. Used by tests
/// and for debugging precedence.
pub struct TreeDisplay<'a>(pub &'a Expr);

impl fmt::Display for TreeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer { explicit: true }.expr(self.0, f)
    }
}

struct Printer {
    explicit: bool,
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn write_float(f: &mut impl Write, v: f64) -> fmt::Result {
    if v.is_nan() {
        f.write_str("NaN")
    } else if v == f64::INFINITY {
        f.write_str("+Inf")
    } else if v == f64::NEG_INFINITY {
        f.write_str("-Inf")
    } else {
        // `strconv.FormatFloat(v, 'f', -1, 64)` as Prometheus 3 prints a
        // number literal: Go's shortest digits, which differ from Rust's
        // `{v}` on exact 17-digit ties (2679575.54150390625 prints as
        // ...062 in Go, ...063 in Rust).
        f.write_str(&format_float(v))
    }
}

fn write_labels(f: &mut impl Write, labels: &[String]) -> fmt::Result {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if is_legacy_label_name(l) {
            f.write_str(l)?;
        } else {
            write_go_quoted(f, l)?;
        }
    }
    Ok(())
}

fn write_duration(f: &mut impl Write, ms: i64) -> fmt::Result {
    let mut s = String::new();
    format_duration(ms, &mut s);
    f.write_str(&s)
}

fn write_at(f: &mut impl Write, at: Option<AtModifier>) -> fmt::Result {
    match at {
        None => Ok(()),
        Some(AtModifier::Start) => f.write_str(" @ start()"),
        Some(AtModifier::End) => f.write_str(" @ end()"),
        Some(AtModifier::Timestamp(ms)) => {
            let sign = if ms < 0 { "-" } else { "" };
            let abs = ms.unsigned_abs();
            write!(f, " @ {sign}{}.{:03}", abs / 1000, abs % 1000)
        }
    }
}

impl Printer {
    fn write_offset(&self, f: &mut fmt::Formatter<'_>, offset: &Duration) -> fmt::Result {
        match offset {
            Duration::Fixed(0) => Ok(()),
            Duration::Fixed(ms) if *ms > 0 => {
                f.write_str(" offset ")?;
                write_duration(f, *ms)
            }
            Duration::Fixed(ms) => {
                f.write_str(" offset -")?;
                write_duration(f, -*ms)
            }
            Duration::Expr(e) => {
                f.write_str(" offset ")?;
                self.duration_expr(e, f)
            }
        }
    }

    fn duration(&self, f: &mut fmt::Formatter<'_>, d: &Duration) -> fmt::Result {
        match d {
            Duration::Fixed(ms) => write_duration(f, *ms),
            Duration::Expr(e) => self.duration_expr(e, f),
        }
    }

    fn duration_expr(&self, d: &DurationExpr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if d.wrapped {
            f.write_char('(')?;
        }
        match &d.kind {
            DurationExprKind::Number(n) => self.number(n.value, n.duration, f)?,
            DurationExprKind::Step => f.write_str("step()")?,
            DurationExprKind::Range => f.write_str("range()")?,
            DurationExprKind::MinOf(a, b) | DurationExprKind::MaxOf(a, b) => {
                let name = if matches!(d.kind, DurationExprKind::MinOf(..)) {
                    "min_of("
                } else {
                    "max_of("
                };
                f.write_str(name)?;
                self.duration_expr(a, f)?;
                f.write_str(", ")?;
                self.duration_expr(b, f)?;
                f.write_char(')')?;
            }
            DurationExprKind::Neg(e) => {
                f.write_char('-')?;
                self.duration_expr(e, f)?;
            }
            DurationExprKind::Binary(op, a, b) => {
                self.duration_expr(a, f)?;
                write!(f, " {} ", op.as_str())?;
                self.duration_expr(b, f)?;
            }
        }
        if d.wrapped {
            f.write_char(')')?;
        }
        Ok(())
    }

    fn number(&self, v: f64, duration: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if duration && v.is_finite() {
            let ms = (v * 1000.0).round() as i64;
            if ms < 0 {
                f.write_char('-')?;
            }
            return write_duration(f, ms);
        }
        write_float(f, v)
    }

    fn selector(&self, vs: &VectorSelector, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = vs.name.as_deref();
        let mut rendered: Vec<String> = vs
            .matchers
            .iter()
            .filter(|m| {
                !(m.name() == METRIC_NAME
                    && m.kind() == MatchType::Equal
                    && Some(m.value()) == name
                    && !m.value().is_empty())
            })
            .map(|m| m.to_string())
            .collect();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        if name.is_none() && rendered.is_empty() {
            // Only `info`'s data-label argument may have no matcher at
            // all; it must print as a selector, not as nothing.
            return f.write_str("{}");
        }
        if !rendered.is_empty() {
            rendered.sort();
            f.write_char('{')?;
            f.write_str(&rendered.join(","))?;
            f.write_char('}')?;
        }
        Ok(())
    }

    fn matching(&self, m: &VectorMatching, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
        if !m.matching_labels.is_empty() || m.on || grouped {
            f.write_str(if m.on { " on (" } else { " ignoring (" })?;
            write_labels(f, &m.matching_labels)?;
            f.write_char(')')?;
        }
        if grouped {
            f.write_str(if m.card == Cardinality::ManyToOne {
                " group_left ("
            } else {
                " group_right ("
            })?;
            write_labels(f, &m.include)?;
            f.write_char(')')?;
        }
        match (m.fill.lhs, m.fill.rhs) {
            (Some(l), Some(r)) if same_float(l, r) => {
                f.write_str(" fill (")?;
                write_float(f, l)?;
                f.write_char(')')?;
            }
            (l, r) => {
                if let Some(l) = l {
                    f.write_str(" fill_left (")?;
                    write_float(f, l)?;
                    f.write_char(')')?;
                }
                if let Some(r) = r {
                    f.write_str(" fill_right (")?;
                    write_float(f, r)?;
                    f.write_char(')')?;
                }
            }
        }
        Ok(())
    }

    fn expr(&self, e: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match e {
            Expr::Number(n) => self.number(n.value, n.duration, f),
            Expr::String(s) => write_go_quoted_bytes(f, s.bytes()),
            Expr::Paren(p) => {
                f.write_char('(')?;
                self.expr(&p.expr, f)?;
                f.write_char(')')
            }
            Expr::StepInvariant(s) => self.expr(&s.expr, f),
            Expr::Unary(u) => {
                if self.explicit {
                    f.write_char('«')?;
                }
                f.write_char(if u.op == UnaryOp::Neg { '-' } else { '+' })?;
                self.expr(&u.expr, f)?;
                if self.explicit {
                    f.write_char('»')?;
                }
                Ok(())
            }
            Expr::Binary(b) => {
                if self.explicit {
                    f.write_char('«')?;
                }
                match &*b.lhs {
                    // "+Inf ^ x" would parse as +(Inf ^ x).
                    Expr::Number(n) if b.op == BinaryOp::Pow && n.value == f64::INFINITY => {
                        f.write_str("Inf")?
                    }
                    lhs => self.expr(lhs, f)?,
                }
                write!(f, " {}", b.op)?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    self.matching(m, f)?;
                }
                f.write_char(' ')?;
                self.expr(&b.rhs, f)?;
                if self.explicit {
                    f.write_char('»')?;
                }
                Ok(())
            }
            Expr::Call(c) => {
                f.write_str(c.func.name)?;
                f.write_char('(')?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    self.expr(a, f)?;
                }
                f.write_char(')')
            }
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.without {
                    f.write_str(" without (")?;
                    write_labels(f, &a.grouping)?;
                    f.write_str(") ")?;
                } else if !a.grouping.is_empty() {
                    f.write_str(" by (")?;
                    write_labels(f, &a.grouping)?;
                    f.write_str(") ")?;
                }
                f.write_char('(')?;
                if let Some(p) = &a.param {
                    self.expr(p, f)?;
                    f.write_str(", ")?;
                }
                self.expr(&a.expr, f)?;
                f.write_char(')')
            }
            Expr::VectorSelector(vs) => {
                self.selector(vs, f)?;
                write_at(f, vs.at)?;
                if vs.anchored {
                    f.write_str(" anchored")?;
                } else if vs.smoothed {
                    f.write_str(" smoothed")?;
                }
                self.write_offset(f, &vs.offset)
            }
            Expr::MatrixSelector(m) => {
                let vs = &m.selector;
                self.selector(vs, f)?;
                f.write_char('[')?;
                self.duration(f, &m.range)?;
                f.write_char(']')?;
                if vs.anchored {
                    f.write_str(" anchored")?;
                } else if vs.smoothed {
                    f.write_str(" smoothed")?;
                }
                write_at(f, vs.at)?;
                self.write_offset(f, &vs.offset)
            }
            Expr::Subquery(s) => {
                self.expr(&s.expr, f)?;
                f.write_char('[')?;
                self.duration(f, &s.range)?;
                f.write_char(':')?;
                if let Some(step) = &s.step {
                    self.duration(f, step)?;
                }
                f.write_char(']')?;
                write_at(f, s.at)?;
                self.write_offset(f, &s.offset)
            }
        }
    }
}
