//! Conversions between the wire messages and Aion's model types, with the
//! validation the spec asks of a receiver.
//!
//! | file | converts |
//! |---|---|
//! | `labels.rs` | label pairs ⇄ [`Labels`](aion_model::Labels), checking order, uniqueness and names |
//! | `histogram.rs` | [`proto::Histogram`](crate::proto::Histogram) ⇄ [`aion_model::histogram`] |

mod histogram;
mod labels;

pub use histogram::{
    from_float_histogram, from_histogram, to_model_histogram, HistogramError, ModelHistogram,
};
pub use labels::{labels_from_pairs, labels_to_proto, LabelsError};
