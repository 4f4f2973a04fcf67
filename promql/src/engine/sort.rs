//! `sort`, `sort_desc`, `sort_by_label` and `sort_by_label_desc`, with
//! the orders Prometheus produces: Go's `sort.Sort` (insertion sort for
//! short vectors) and natural order of label values.

use super::annotations::Annotation;
use super::args::{raw, string_arg};
use super::error::Result;
use super::eval::Evaluator;
use super::step::{Held, Sink, StepSeries};
use crate::ast::Call;

/// Go's `sort.Sort` for the short vectors PromQL sorts: insertion sort
/// (exactly Go's for up to 12 elements), a stable sort above.
pub(crate) fn go_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        v.sort_by(|a, b| {
            if less(a, b) {
                std::cmp::Ordering::Less
            } else if less(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
}

/// Natural order of label values (`facette/natsort`, which Prometheus's
/// `sort_by_label` uses): runs of digits compare as integers.
pub(crate) fn natural_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                if start < i {
                    out.push(&s[start..i]);
                }
                start = i;
            }
        }
        out
    }
    // Go's strconv.Atoi: optional sign, decimal digits, must fit in int64.
    fn atoi(s: &str) -> Option<i64> {
        s.parse::<i64>().ok()
    }
    let ca = chunks(a);
    let cb = chunks(b);
    for i in 0..ca.len() {
        let Some(&chunk_b) = cb.get(i) else {
            return false;
        };
        if let (Some(x), Some(y)) = (atoi(ca[i]), atoi(chunk_b)) {
            if x == y {
                if i == ca.len() - 1 {
                    return true;
                } else if i == cb.len() - 1 {
                    return false;
                }
                continue;
            }
            return x < y;
        }
        if ca[i] == chunk_b {
            if i == ca.len() - 1 {
                return true;
            } else if i == cb.len() - 1 {
                return false;
            }
            continue;
        }
        return ca[i] < chunk_b;
    }
    false
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_sort(&self, c: &Call, sink: Sink) -> Result<()> {
        if !self.is_instant() {
            // Range results are ordered by labels anyway.
            self.ctx.annotate(Annotation::sort_in_range_query(c.span));
            return self.stream(&c.args[0], sink);
        }
        let mut v = self.collect(&c.args[0])?;
        // Before anything changes `v`: the budget gives back what
        // collecting took.
        let _held = Held::new(&self.ctx.budget, &v);
        if matches!(c.func.name, "sort" | "sort_desc") {
            // Sorting by value skips histogram samples, as in Prometheus.
            v.retain_mut(|s| {
                s.hists.clear();
                !s.points.is_empty()
            });
        }
        // A histogram sample sorts as the value 0, as in Prometheus.
        let val = |s: &StepSeries| s.points.first().map_or(0.0, |p| p.f);
        match c.func.name {
            // Ascending, NaN last (Prometheus sorts descending with NaN
            // first and reverses).
            "sort" => go_sort(&mut v, |a, b| val(b).is_nan() || val(b) > val(a)),
            "sort_desc" => go_sort(&mut v, |a, b| val(b).is_nan() || val(b) < val(a)),
            by_label => {
                let names = c.args[1..]
                    .iter()
                    .map(|a| string_arg(a).map(raw))
                    .collect::<Result<Vec<String>>>()?;
                let desc = by_label == "sort_by_label_desc";
                let cmp = |a: &StepSeries, b: &StepSeries| {
                    for n in &names {
                        let x = a.metric.get(n).unwrap_or("");
                        let y = b.metric.get(n).unwrap_or("");
                        if x == y {
                            continue;
                        }
                        let less = natural_less(x, y);
                        return if less != desc {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Greater
                        };
                    }
                    let o = a.metric.cmp(&b.metric);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                };
                v.sort_by(cmp);
            }
        }
        for s in v {
            sink(s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("a", "b"));
        assert!(natural_less("1", "1a"));
        assert!(!natural_less("1a", "1"));
    }
}
