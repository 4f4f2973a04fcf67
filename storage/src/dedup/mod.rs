//! HA deduplication: the series of several replicas of one source (a
//! Prometheus HA pair, two Thanos receivers) read as one, as Thanos's
//! querier does with `--query.replica-label`.
//!
//! [`DedupQueryable`] wraps any [`Queryable`](crate::Queryable). Its
//! selects drop the replica labels from every series; series whose labels
//! are then equal are replicas of one series, and become one series with
//! the replica labels removed. How their samples are merged is the
//! [`DedupMode`]:
//!
//! * [`DedupMode::Penalty`] (Thanos's default): follow one replica and
//!   switch to another only when the followed one has a gap longer than
//!   twice its last scrape interval, so two replicas scraping at shifted
//!   times do not double the sample rate. For the counter functions
//!   (`rate`, `increase`, `irate`, `resets`, read from the select hint) a
//!   switch to a replica whose counter is behind lifts that replica's
//!   values, so the switch is not a false counter reset (thanos#2401).
//! * [`DedupMode::Chain`]: every replica's samples united by timestamp,
//!   one sample per timestamp (Prometheus's chain merge), for receive-style
//!   replicas that hold identical samples.
//!
//! | file | holds |
//! |---|---|
//! | `grouping.rs` | [`DedupSeriesSet`]: adjacent equal label sets as one series |
//! | `counter.rs` | [`Adjustable`], [`CounterAdjust`], [`NoAdjust`]: the counter-aware value lift |
//! | `penalty.rs` | [`PenaltyIterator`], [`penalty_merge`]: Thanos's penalty algorithm |
//! | `queryable.rs` | [`DedupQueryable`], [`DedupQuerier`]: the wrapper over any storage |

mod counter;
mod grouping;
mod penalty;
mod queryable;

pub use counter::{Adjustable, CounterAdjust, NoAdjust};
pub use grouping::DedupSeriesSet;
pub use penalty::{penalty_merge, PenaltyIterator, INITIAL_PENALTY_MS};
pub use queryable::{DedupQuerier, DedupQueryable};

/// How the samples of a series' replicas become one series' samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DedupMode {
    /// Thanos's penalty algorithm: follow one replica, switch on gaps
    /// (`--deduplication.func=penalty`, the default).
    #[default]
    Penalty,
    /// Prometheus's chain merge: all replicas' samples, each timestamp
    /// once (`--deduplication.func=chain`).
    Chain,
}

impl DedupMode {
    /// The name Thanos's `--deduplication.func` flag gives the mode.
    pub fn name(self) -> &'static str {
        match self {
            DedupMode::Penalty => "penalty",
            DedupMode::Chain => "chain",
        }
    }
}

/// A deduplication mode name that is neither `penalty` nor `chain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deduplication mode {0:?}: want penalty or chain")]
pub struct ParseDedupModeError(pub String);

impl std::str::FromStr for DedupMode {
    type Err = ParseDedupModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "penalty" => Ok(DedupMode::Penalty),
            "chain" => Ok(DedupMode::Chain),
            _ => Err(ParseDedupModeError(s.to_string())),
        }
    }
}

/// Whether the function a selector feeds reads its input as a counter, so
/// the penalty merge must keep the merged counter from going down on a
/// replica switch: Thanos's rule (`isCounter` in `pkg/dedup/iter.go`).
pub fn is_counter_func(func: Option<&str>) -> bool {
    matches!(func, Some("rate" | "increase" | "irate" | "resets"))
}
