//! The arithmetic of one pair of floats under a binary operator, shared by
//! scalar expressions (`1 + 2`) and vector operations (`a > b`), with
//! Go's `math.Pow` special cases.

use crate::ast::BinaryOp;

/// `scalar op scalar` (comparisons give 0 or 1; the parser requires
/// `bool` there).
pub(crate) fn scalar_binop(op: BinaryOp, l: f64, r: f64) -> f64 {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => go_pow(l, r),
        BinaryOp::Mod => l % r,
        BinaryOp::Atan2 => l.atan2(r),
        BinaryOp::Eql => b(l == r),
        BinaryOp::Neq => b(l != r),
        BinaryOp::Gtr => b(l > r),
        BinaryOp::Lss => b(l < r),
        BinaryOp::Gte => b(l >= r),
        BinaryOp::Lte => b(l <= r),
        // Not valid between scalars; the parser rejects these.
        _ => f64::NAN,
    }
}

/// Go's `math.Pow`, whose special cases differ from C's in a few places.
fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 1.0;
    }
    if x == -1.0 && y.is_infinite() {
        return 1.0;
    }
    x.powf(y)
}

/// The result of `l op r` between two floats and whether the element is
/// kept (comparisons filter; arithmetic always keeps). `None`: the
/// operator does not apply to floats (`</`, `>/`).
pub(crate) fn elem_binop(op: BinaryOp, l: f64, r: f64) -> Option<(f64, bool)> {
    Some(match op {
        BinaryOp::Add => (l + r, true),
        BinaryOp::Sub => (l - r, true),
        BinaryOp::Mul => (l * r, true),
        BinaryOp::Div => (l / r, true),
        BinaryOp::Pow => (go_pow(l, r), true),
        BinaryOp::Mod => (l % r, true),
        BinaryOp::Atan2 => (l.atan2(r), true),
        BinaryOp::Eql => (l, l == r),
        BinaryOp::Neq => (l, l != r),
        BinaryOp::Gtr => (l, l > r),
        BinaryOp::Lss => (l, l < r),
        BinaryOp::Gte => (l, l >= r),
        BinaryOp::Lte => (l, l <= r),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_follows_go() {
        assert_eq!(go_pow(-1.0, f64::INFINITY), 1.0);
        assert_eq!(go_pow(f64::NAN, 0.0), 1.0);
        assert_eq!(go_pow(2.0, 10.0), 1024.0);
    }

    #[test]
    fn comparisons_filter_arithmetic_keeps() {
        assert_eq!(elem_binop(BinaryOp::Gtr, 1.0, 2.0), Some((1.0, false)));
        assert_eq!(elem_binop(BinaryOp::Add, 1.0, 2.0), Some((3.0, true)));
        assert_eq!(elem_binop(BinaryOp::TrimUpper, 1.0, 2.0), None);
        assert_eq!(scalar_binop(BinaryOp::Lte, 1.0, 1.0), 1.0);
    }
}
