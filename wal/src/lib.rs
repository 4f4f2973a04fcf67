//! Prometheus-compatible write-ahead log: segments, pages, records,
//! checkpoints, repair and tailing.
#![deny(unsafe_op_in_unsafe_fn)]
