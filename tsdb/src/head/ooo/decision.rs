//! Where a sample goes: Prometheus's `memSeries.appendable`, decided once
//! when the sample is appended (against committed data) and again at
//! commit (against what earlier samples of the batch and concurrent
//! commits changed).

use crate::Error;

/// Where an acceptable sample goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Newer than the series' newest in-order sample: appended to its
    /// in-order chunk.
    InOrder,
    /// The series' newest in-order sample again, with the same value bits:
    /// accepted, and dropped at commit.
    IdenticalDuplicate,
    /// Older, but inside the out-of-order window: inserted into the
    /// series' out-of-order chunk.
    OutOfOrder,
}

/// What the decision needs besides the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Oldest time an in-order sample may have (the batch's
    /// `appendableMinValidTime`).
    pub min_valid: i64,
    /// The head's newest sample time when the batch started.
    pub head_max_time: i64,
    /// The out-of-order window (ms); 0 when out-of-order ingestion is off.
    pub window: i64,
}

/// Decides where `(t, v)` goes, given the series' newest in-order sample
/// `last` (`None` if it has none): exactly Prometheus's rules, including
/// which error a refused sample gets.
#[inline]
pub(crate) fn appendable(
    t: i64,
    v: f64,
    last: Option<(i64, f64)>,
    b: &Bounds,
) -> Result<Placement, Error> {
    let last_v = last.map_or(0.0, |l| l.1);
    appendable_at(t, last.map(|l| l.0), b, || {
        if last_v.to_bits() != v.to_bits() {
            return Err(Error::DuplicateSampleForTimestamp {
                timestamp: t,
                existing: last_v,
                new_value: v,
            });
        }
        Ok(())
    })
}

/// [`appendable`] for any sample: `last_t` is the time of the series'
/// newest in-order sample, and `same` decides (only when `t` is that time)
/// whether the sample is an identical duplicate (`Ok`) or the error to
/// refuse it with — Prometheus's `appendableHistogram` and
/// `appendableFloatHistogram` differ from `appendable` only there.
#[inline]
pub(crate) fn appendable_at(
    t: i64,
    last_t: Option<i64>,
    b: &Bounds,
    same: impl FnOnce() -> Result<(), Error>,
) -> Result<Placement, Error> {
    if t >= b.min_valid {
        match last_t {
            None => return Ok(Placement::InOrder),
            Some(last_t) if t > last_t => return Ok(Placement::InOrder),
            Some(last_t) if t == last_t => {
                // Only the newest in-order sample is checked, as in
                // Prometheus; the out-of-order chunk drops its own
                // duplicates at commit.
                same()?;
                return Ok(Placement::IdenticalDuplicate);
            }
            Some(_) => {}
        }
    }
    if b.window > 0 {
        if t >= b.head_max_time.saturating_sub(b.window) {
            return Ok(Placement::OutOfOrder);
        }
        return Err(Error::TooOldSample);
    }
    if t < b.min_valid {
        return Err(Error::OutOfBounds);
    }
    Err(Error::OutOfOrderSample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Want {
        In,
        Dup,
        Ooo,
        DupErr,
        TooOld,
        Oob,
        OutOfOrder,
    }

    fn run(t: i64, v: f64, last: Option<(i64, f64)>, window: i64) -> Want {
        let b = Bounds {
            min_valid: 1_000,
            head_max_time: 10_000,
            window,
        };
        match appendable(t, v, last, &b) {
            Ok(Placement::InOrder) => Want::In,
            Ok(Placement::IdenticalDuplicate) => Want::Dup,
            Ok(Placement::OutOfOrder) => Want::Ooo,
            Err(Error::DuplicateSampleForTimestamp { .. }) => Want::DupErr,
            Err(Error::TooOldSample) => Want::TooOld,
            Err(Error::OutOfBounds) => Want::Oob,
            Err(Error::OutOfOrderSample) => Want::OutOfOrder,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn decision_table_matches_prometheus_appendable() {
        use Want::*;
        let last = Some((5_000, 1.0));
        // (t, v, last, window, expected)
        type Row = (i64, f64, Option<(i64, f64)>, i64, Want);
        let table: &[Row] = &[
            // No window: Prometheus's defaults.
            (6_000, 1.0, last, 0, In),
            (1_500, 1.0, None, 0, In),
            (5_000, 1.0, last, 0, Dup),
            (5_000, 2.0, last, 0, DupErr),
            (4_000, 1.0, last, 0, OutOfOrder),
            (999, 1.0, last, 0, Oob),
            (999, 1.0, None, 0, Oob),
            // A window of 3 s behind the head's max time (10 s).
            (6_000, 1.0, last, 3_000, In),
            (5_000, 1.0, last, 3_000, Dup),
            (5_000, 2.0, last, 3_000, DupErr),
            // Older than the series' newest sample but inside the window.
            (7_000, 1.0, Some((8_000, 1.0)), 3_000, Ooo),
            // Exactly at the window's edge is still accepted.
            (7_000, 1.0, Some((9_000, 1.0)), 3_000, Ooo),
            (6_999, 1.0, Some((9_000, 1.0)), 3_000, TooOld),
            (4_000, 1.0, last, 3_000, TooOld),
            // Below the minimum valid time: out of order if in the window
            // (even for a series without samples), else too old.
            (900, 1.0, None, 9_500, Ooo),
            (900, 1.0, last, 9_500, Ooo),
            (400, 1.0, last, 9_500, TooOld),
            // The value bits decide duplicates: NaN equals itself, -0 is not 0.
            (5_000, f64::NAN, Some((5_000, f64::NAN)), 0, Dup),
            (5_000, -0.0, Some((5_000, 0.0)), 0, DupErr),
        ];
        for (i, (t, v, last, window, want)) in table.iter().enumerate() {
            assert_eq!(&run(*t, *v, *last, *window), want, "row {i}: t={t}");
        }
    }

    #[test]
    fn refusals_are_bad_input_for_receivers() {
        for e in [
            Error::TooOldSample,
            Error::OutOfBounds,
            Error::OutOfOrderSample,
            Error::DuplicateSampleForTimestamp {
                timestamp: 1,
                existing: 1.0,
                new_value: 2.0,
            },
        ] {
            assert!(e.kind().is_bad_input(), "{e}");
            assert!(e.is_sample_error(), "{e}");
        }
        assert_eq!(Error::TooOldSample.to_string(), "too old sample");
    }
}
