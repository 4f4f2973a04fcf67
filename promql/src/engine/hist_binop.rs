//! Binary operators on native histogram samples: `*` and `/` by floats,
//! `</` and `>/` (trimming) by floats, `+` and `-` between histograms,
//! `==`/`!=` between histograms; every
//! other pairing is Prometheus's "incompatible sample types" info.
//!
//! Vector matching (`binary.rs`) works on `(series, f64)` entries per
//! step so the float path stays as fast as it is. A histogram takes part
//! as a *tagged* entry: a NaN whose payload holds its index in a side
//! table ([`tag`], [`untag`]). The tag is a signalling-NaN pattern that
//! no float computation produces; every place that reads an entry's value
//! checks for it before using the value as a float.

use aion_model::histogram::{CounterResetHint, FloatHistogram};

use crate::ast::BinaryOp;

/// Sign, exponent and the top of the mantissa of a tagged entry.
const TAG: u64 = 0xFFF5_0000_0000_0000;
const TAG_MASK: u64 = 0xFFFF_0000_0000_0000;

/// The entry value standing for histogram `idx` of the side table.
#[inline]
pub(crate) fn tag(idx: usize) -> f64 {
    f64::from_bits(TAG | (idx as u64 & 0xFFFF_FFFF_FFFF))
}

/// The side-table index of a tagged entry value.
#[inline]
pub(crate) fn untag(v: f64) -> Option<usize> {
    let b = v.to_bits();
    (b & TAG_MASK == TAG).then_some((b & !TAG_MASK) as usize)
}

/// The outcome of one element operation involving a histogram.
pub(crate) enum HistElem {
    /// A histogram result; `keep` false filters it out (comparisons).
    Hist(Box<FloatHistogram>, bool),
    /// The pairing is not defined: `(lhs type, rhs type)` for the info.
    Incompatible(&'static str, &'static str),
    /// `+`/`-` between exponential and custom buckets.
    MixedSchemas,
}

/// What an element operation reports besides its result.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HistOpNotes {
    pub collision: bool,
    pub reconciled: bool,
}

/// `l op r` where at least one side is a histogram.
pub(crate) fn hist_elem_binop(
    op: BinaryOp,
    l: (f64, Option<&FloatHistogram>),
    r: (f64, Option<&FloatHistogram>),
    notes: &mut HistOpNotes,
) -> HistElem {
    let ty = |h: Option<&FloatHistogram>| if h.is_some() { "histogram" } else { "float" };
    let incompatible = HistElem::Incompatible(ty(l.1), ty(r.1));
    let compacted = |mut h: FloatHistogram| {
        h.compact(0);
        Box::new(h)
    };
    match (l.1, r.1) {
        (None, Some(h)) => match op {
            BinaryOp::Mul => {
                let mut h = h.clone();
                h.mul(l.0);
                HistElem::Hist(compacted(h), true)
            }
            _ => incompatible,
        },
        (Some(h), None) => match op {
            BinaryOp::Mul => {
                let mut h = h.clone();
                h.mul(r.0);
                HistElem::Hist(compacted(h), true)
            }
            BinaryOp::Div => {
                let mut h = h.clone();
                h.div(r.0);
                HistElem::Hist(compacted(h), true)
            }
            BinaryOp::TrimUpper | BinaryOp::TrimLower => {
                let mut h = h.clone();
                h.trim_buckets(r.0, op == BinaryOp::TrimUpper);
                HistElem::Hist(Box::new(h), true)
            }
            _ => incompatible,
        },
        (Some(a), Some(b)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let mut h = a.clone();
                let r = if op == BinaryOp::Add {
                    h.add(b)
                } else {
                    h.sub(b)
                };
                match r {
                    Ok(o) => {
                        notes.collision |= o.counter_reset_collision;
                        notes.reconciled |= o.custom_bounds_reconciled;
                        if op == BinaryOp::Sub {
                            // A difference is a gauge, whatever its sign.
                            h.counter_reset_hint = CounterResetHint::Gauge;
                        }
                        HistElem::Hist(compacted(h), true)
                    }
                    Err(_) => HistElem::MixedSchemas,
                }
            }
            BinaryOp::Eql | BinaryOp::Neq => {
                let (mut x, mut y) = (a.clone(), b.clone());
                x.compact(0);
                y.compact(0);
                let eq = x.equals(&y);
                HistElem::Hist(Box::new(a.clone()), eq == (op == BinaryOp::Eql))
            }
            _ => incompatible,
        },
        (None, None) => incompatible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_are_not_floats() {
        for i in [0usize, 1, 12345, 1 << 40] {
            assert_eq!(untag(tag(i)), Some(i));
            assert!(tag(i).is_nan());
        }
        for f in [
            0.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            -f64::NAN,
            aion_chunkenc::STALE_NAN,
        ] {
            assert_eq!(untag(f), None);
        }
    }
}
