//! Traversal helpers.

use super::expr::{Expr, VectorSelector};

/// Receives every node of a tree in pre-order (see [`Expr::accept`]).
pub trait Visitor<'a> {
    /// Called for `expr`, whose ancestors (root first) are `path`. Return
    /// `false` to skip the children of `expr`.
    fn visit(&mut self, expr: &'a Expr, path: &[&'a Expr]) -> bool;
}

impl<'a, F: FnMut(&'a Expr, &[&'a Expr]) -> bool> Visitor<'a> for F {
    fn visit(&mut self, expr: &'a Expr, path: &[&'a Expr]) -> bool {
        self(expr, path)
    }
}

impl Expr {
    /// The direct sub-expressions, left to right (an aggregation's body
    /// comes before its parameter, as in Prometheus).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Number(_)
            | Expr::String(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_) => Vec::new(),
            Expr::Subquery(s) => vec![&s.expr],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Aggregate(a) => {
                let mut v = vec![&*a.expr];
                if let Some(p) = &a.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(b) => vec![&b.lhs, &b.rhs],
            Expr::Unary(u) => vec![&u.expr],
            Expr::Paren(p) => vec![&p.expr],
            Expr::StepInvariant(s) => vec![&s.expr],
        }
    }

    /// The direct sub-expressions, mutably.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Number(_)
            | Expr::String(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_) => Vec::new(),
            Expr::Subquery(s) => vec![&mut s.expr],
            Expr::Call(c) => c.args.iter_mut().collect(),
            Expr::Aggregate(a) => {
                let mut v = vec![&mut *a.expr];
                if let Some(p) = &mut a.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(b) => vec![&mut b.lhs, &mut b.rhs],
            Expr::Unary(u) => vec![&mut u.expr],
            Expr::Paren(p) => vec![&mut p.expr],
            Expr::StepInvariant(s) => vec![&mut s.expr],
        }
    }

    /// Walks the tree in pre-order, giving each node with its ancestors.
    ///
    /// ```
    /// let e = aion_promql::parse("sum(rate(a[5m])) / sum(b)").unwrap();
    /// let mut calls = 0;
    /// e.accept(&mut |n: &aion_promql::ast::Expr, _path: &[&aion_promql::ast::Expr]| {
    ///     calls += matches!(n, aion_promql::ast::Expr::Call(_)) as usize;
    ///     true
    /// });
    /// assert_eq!(calls, 1);
    /// ```
    pub fn accept<'a>(&'a self, visitor: &mut impl Visitor<'a>) {
        let mut path = Vec::new();
        self.accept_inner(visitor, &mut path);
    }

    fn accept_inner<'a>(&'a self, visitor: &mut impl Visitor<'a>, path: &mut Vec<&'a Expr>) {
        if !visitor.visit(self, path) {
            return;
        }
        path.push(self);
        for c in self.children() {
            c.accept_inner(visitor, path);
        }
        path.pop();
    }

    /// Calls `f` on every node, parents before children; `f` returns
    /// whether to descend into the (possibly replaced) node's children.
    pub fn walk_mut(&mut self, f: &mut impl FnMut(&mut Expr) -> bool) {
        if f(self) {
            for c in self.children_mut() {
                c.walk_mut(f);
            }
        }
    }
}

/// Every vector selector of the tree (including those inside range
/// selectors), in query order: what a querier must select.
///
/// ```
/// let e = aion_promql::parse(r#"a{x="1"} + rate(b[5m])"#).unwrap();
/// let names: Vec<_> = aion_promql::ast::collect_selectors(&e)
///     .iter().map(|s| s.metric_name().unwrap()).collect();
/// assert_eq!(names, ["a", "b"]);
/// ```
pub fn collect_selectors(expr: &Expr) -> Vec<&VectorSelector> {
    fn go<'a>(e: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
        match e {
            Expr::VectorSelector(vs) => out.push(vs),
            Expr::MatrixSelector(m) => out.push(&m.selector),
            _ => {}
        }
        for c in e.children() {
            go(c, out);
        }
    }
    let mut out = Vec::new();
    go(expr, &mut out);
    out
}
