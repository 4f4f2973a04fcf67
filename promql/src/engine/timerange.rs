//! The time range a query reads, so one querier covers every selector
//! (Prometheus's `FindMinMaxTime`).

use super::eval::fixed;
use crate::ast::{AtModifier, Expr, VectorSelector};

struct Path {
    offset: i64,
    range: i64,
    at: Option<i64>,
}

/// `(mint, maxt)` in milliseconds, inclusive, of the samples evaluating
/// `expr` over `[start, end]` can touch; `(0, 0)` when it selects nothing.
pub(crate) fn query_time_range(expr: &Expr, start: i64, end: i64, lookback: i64) -> (i64, i64) {
    let mut bounds: Option<(i64, i64)> = None;
    let path = Path {
        offset: 0,
        range: 0,
        at: None,
    };
    walk(expr, &path, 0, start, end, lookback, &mut bounds);
    bounds.unwrap_or((0, 0))
}

fn selector_range(
    vs: &VectorSelector,
    path: &Path,
    eval_range: i64,
    start: i64,
    end: i64,
    lookback: i64,
) -> (i64, i64) {
    let (mut s, mut e) = match path.at {
        Some(t) => (t, t),
        None => (start, end),
    };
    match vs.at {
        Some(AtModifier::Timestamp(t)) => {
            s = t;
            e = t;
        }
        _ => {
            s = s.wrapping_sub(path.offset).wrapping_sub(path.range);
            e = e.wrapping_sub(path.offset);
        }
    }
    // Go's wrapping int64 arithmetic, not a panic, for absurd values.
    if eval_range == 0 {
        s = s.wrapping_sub(lookback - 1);
        if vs.smoothed {
            e = e.wrapping_add(lookback);
        }
    } else if vs.anchored {
        s = s.wrapping_sub(lookback.wrapping_add(eval_range) - 1);
    } else if vs.smoothed {
        s = s.wrapping_sub(lookback.wrapping_add(eval_range) - 1);
        e = e.wrapping_add(lookback);
    } else {
        s = s.wrapping_sub(eval_range - 1);
    }
    let offset = fixed(&vs.offset);
    (s.wrapping_sub(offset), e.wrapping_sub(offset))
}

fn walk(
    expr: &Expr,
    path: &Path,
    eval_range: i64,
    start: i64,
    end: i64,
    lookback: i64,
    bounds: &mut Option<(i64, i64)>,
) {
    match expr {
        Expr::VectorSelector(vs) => {
            let (s, e) = selector_range(vs, path, eval_range, start, end, lookback);
            *bounds = Some(match *bounds {
                Some((a, b)) => (a.min(s), b.max(e)),
                None => (s, e),
            });
        }
        Expr::MatrixSelector(ms) => {
            let sel = Expr::VectorSelector(ms.selector.clone());
            walk(&sel, path, fixed(&ms.range), start, end, lookback, bounds);
        }
        Expr::Subquery(sq) => {
            let (offset, range) = (fixed(&sq.offset), fixed(&sq.range));
            let inner = match sq.at {
                Some(AtModifier::Timestamp(t)) => Path {
                    offset,
                    range,
                    at: Some(t),
                },
                _ => Path {
                    offset: path.offset.wrapping_add(offset),
                    range: path.range.wrapping_add(range),
                    at: path.at,
                },
            };
            walk(&sq.expr, &inner, 0, start, end, lookback, bounds);
        }
        other => {
            for c in other.children() {
                walk(c, path, 0, start, end, lookback, bounds);
            }
        }
    }
}
