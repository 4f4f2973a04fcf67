//! Sender-side encoders: remote write 1.0 and 2.0 requests built from
//! series and their samples (as an agent reads them from its WAL: a
//! series record gives the labels, sample records the values).
//!
//! | file | builds |
//! |---|---|
//! | `v1.rs` | [`WriteRequestBuilder`]: `prometheus.WriteRequest` |
//! | `interner.rs` | [`Interner`]: RW 2.0's symbol table |
//! | `v2.rs` | [`RequestBuilder`]: `io.prometheus.write.v2.Request` |

mod interner;
mod v1;
mod v2;

pub use interner::Interner;
pub use v1::WriteRequestBuilder;
pub use v2::{RequestBuilder, SeriesMetadata};
