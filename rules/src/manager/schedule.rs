//! A group's evaluation times: Prometheus's slots (see [`crate::slot`]),
//! one evaluation per due check, and iterations skipped when an
//! evaluation overran its interval counted as missed
//! (`prometheus_rule_group_iterations_missed_total`).

use crate::slot::eval_timestamp_ns;

/// Where a group is in its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    interval_ns: i64,
    /// The last slot evaluated (before the first: the slot at or before
    /// the time the group was loaded, which is not evaluated).
    last_ns: i64,
}

/// One evaluation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The slot to evaluate at (ns).
    pub slot_ns: i64,
    /// Slots skipped since the last evaluation.
    pub missed: u64,
}

impl Schedule {
    /// The schedule of group `name` of `file` loaded at `now_ns`: the
    /// first evaluation is at the group's next slot after `now_ns`, as
    /// Prometheus waits for it before the first evaluation.
    pub fn new(name: &str, file: &str, interval_ms: i64, now_ns: i64) -> Self {
        Schedule {
            interval_ns: interval_ms.max(1) * 1_000_000,
            last_ns: eval_timestamp_ns(name, file, interval_ms, now_ns),
        }
    }

    /// When the next evaluation is due (ns).
    pub fn next_ns(&self) -> i64 {
        self.last_ns + self.interval_ns
    }

    /// The evaluation due at `now_ns`, if any, and moves past it. Late by
    /// more than an interval (an evaluation overran, or the host called
    /// late), the evaluation is at the latest slot at or before `now_ns`
    /// and the slots in between are missed, as Prometheus computes
    /// `missed := time.Since(evalTimestamp)/interval - 1`.
    pub fn take(&mut self, now_ns: i64) -> Option<Due> {
        if now_ns < self.next_ns() {
            return None;
        }
        let missed = (now_ns - self.last_ns) / self.interval_ns - 1;
        self.last_ns += (missed + 1) * self.interval_ns;
        Some(Due {
            slot_ns: self.last_ns,
            missed: missed as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::eval_offset_ns;

    const S: i64 = 1_000_000_000;

    #[test]
    fn first_evaluation_is_the_next_slot() {
        let now = 1_700_000_000 * S;
        let mut s = Schedule::new("g", "f.yml", 10_000, now);
        let next = s.next_ns();
        assert!(next > now && next <= now + 10 * S);
        assert_eq!((next - eval_offset_ns("g", "f.yml", 10_000)) % (10 * S), 0);
        assert_eq!(s.take(next - 1), None);
        assert_eq!(
            s.take(next),
            Some(Due {
                slot_ns: next,
                missed: 0
            })
        );
        assert_eq!(s.take(next + 9 * S), None);
    }

    #[test]
    fn overruns_count_missed_slots() {
        let mut s = Schedule::new("g", "f.yml", 10_000, 0);
        let first = s.take(s.next_ns()).unwrap().slot_ns;
        // The evaluation took 35 s: slots +10 s, +20 s are missed, +30 s
        // runs.
        assert_eq!(
            s.take(first + 35 * S),
            Some(Due {
                slot_ns: first + 30 * S,
                missed: 2
            })
        );
        assert_eq!(s.next_ns(), first + 40 * S);
    }

    proptest::proptest! {
        #[test]
        fn evaluations_land_on_slots(start in 0i64..1_000_000 * S, steps in proptest::collection::vec(0i64..100 * S, 1..20)) {
            let mut s = Schedule::new("g", "f", 15_000, start);
            let off = eval_offset_ns("g", "f", 15_000);
            let mut now = start;
            let mut last = None;
            for d in steps {
                now += d;
                if let Some(due) = s.take(now) {
                    proptest::prop_assert!(due.slot_ns <= now);
                    proptest::prop_assert!(now - due.slot_ns < 15 * S);
                    proptest::prop_assert_eq!((due.slot_ns - off).rem_euclid(15 * S), 0);
                    if let Some(l) = last {
                        proptest::prop_assert_eq!((due.slot_ns - l) / (15 * S) - 1, due.missed as i64);
                    }
                    last = Some(due.slot_ns);
                }
            }
        }
    }
}
