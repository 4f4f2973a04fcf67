//! Prometheus-compatible chunk encodings.
//!
//! A chunk holds the samples of one series over a short time span in a
//! compressed bit stream. The formats are Prometheus's own (encoding byte
//! values included), so chunks move between Aion and Prometheus unchanged.
#![deny(unsafe_op_in_unsafe_fn)]

mod iterator;

pub use iterator::{
    is_stale_nan, EmptyIterator, SampleIterator, ValueType, STALE_NAN, STALE_NAN_BITS,
};
