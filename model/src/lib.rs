//! The data model every Aion crate shares, and Prometheus's byte and text
//! rules, each written once.
//!
//! | module | holds |
//! |---|---|
//! | [`Labels`], [`LabelsBuilder`] (`labels.rs`) | a series' identity, in one shared allocation |
//! | [`Matcher`] (`matcher.rs`) | `=`, `!=`, `=~`, `!~` label matchers with Prometheus's regex semantics |
//! | [`xxh64`] (`hash.rs`) | the stable label-set hash |
//! | [`histogram`] | native histogram samples (integer and float) |
//! | [`SeriesRef`] | a series' reference within one store |
//! | [`encoding`] | uvarints, varints, big-endian integers, length-prefixed strings, CRC32C |
//! | [`gotext`] | Go's float text, string quoting and JSON escaping |
//! | [`civil`] | calendar arithmetic and RFC 3339 times as Go's `time` reads and writes them |
//! | [`Error`] | what building labels and matchers can refuse |
//!
//! Nothing here does I/O; every crate above (chunk encodings, index, WAL,
//! storage, TSDB, PromQL) builds on it.
//!
//! ```
//! use aion_model::{Labels, Matcher, MatchType};
//! let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]).unwrap();
//! let m = Matcher::new(MatchType::Regex, "job", "a.*").unwrap();
//! assert!(m.matches_labels(&l));
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

pub mod civil;
pub mod encoding;
mod error;
pub mod gotext;
mod hash;
pub mod histogram;
mod labels;
mod matcher;

pub use error::{Error, Result};
pub use hash::xxh64;
pub use labels::{is_legacy_label_name, Label, Labels, LabelsBuilder, LabelsIter, METRIC_NAME};
pub use matcher::{MatchType, Matcher};

/// Identifies a series within one store: in a block it is the series'
/// byte offset / 16 (index v2), in the head an ever-increasing counter.
pub type SeriesRef = u64;
