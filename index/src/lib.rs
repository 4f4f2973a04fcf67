//! Labels, matchers, postings and Prometheus's index v2 format.
//!
//! * [`Labels`] identify series; [`Matcher`]s select them.
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod hash;
mod labels;
mod matcher;

pub use error::{Error, Result};
pub use hash::xxh64;
pub use labels::{
    is_legacy_label_name, write_go_quoted, Label, Labels, LabelsBuilder, LabelsIter, METRIC_NAME,
};
pub use matcher::{MatchType, Matcher};
