//! Prometheus-compatible chunk encodings.
//!
//! A chunk holds the samples of one series over a short time span in a
//! compressed bit stream. The formats are Prometheus's own (encoding byte
//! values included), so chunks move between Aion and Prometheus unchanged.
//!
//! | module/item | concept |
//! |---|---|
//! | [`XorAppender`], [`XorIterator`], [`XorChunk`] (`xor/`) | XOR chunks (encoding 1): encoded byte-identical to Prometheus 3.x, decoded in place from owned or borrowed (mmapped) bytes |
//! | [`SampleIterator`], [`ValueType`] (`iterator.rs`) | the sample cursor every layer speaks; stale markers |
//! | [`Chunk`], [`ChunkIter`] (`chunk.rs`) | a chunk of any encoding behind one type |
//! | [`ChunkAppender`] (`appender.rs`) | appending to a chunk of any writable encoding |
//! | [`Encoding`] (`encoding.rs`) | the chunk encoding byte |
//! | [`Error`], [`ChunkFull`] (`error.rs`) | decoding errors naming sample and bit offset; a full chunk |
//! | `bstream/` | the bit streams chunk payloads are made of |
//! | [`synthetic`] | deterministic scrape-shaped series for benchmarks and interop tests |
//! | `fuzz` | the properties the fuzz targets check |
//!
//! The byte layouts are described in `docs/formats.md#chunk-encodings`.
//!
//! ```
//! use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType, XorAppender};
//!
//! let mut app = XorAppender::new();
//! for i in 0..120 {
//!     app.append(1_700_000_000_000 + i * 15_000, i as f64).unwrap();
//! }
//! let chunk = Chunk::from_bytes(Encoding::Xor, app.bytes()).unwrap();
//! let mut it = chunk.iter();
//! let mut sum = 0.0;
//! while it.next() == ValueType::Float {
//!     sum += it.at().1;
//! }
//! assert!(it.err().is_none());
//! assert_eq!(sum, (0..120).sum::<i64>() as f64);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod appender;
mod bstream;
mod chunk;
mod encoding;
mod error;
// The fuzz targets' property checks: a harness, not product API, so only
// with the `fuzzing` feature (which `fuzz/Cargo.toml` turns on) and in
// this crate's own tests (its proptests run the same checks on stable).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
mod histogram;
mod iterator;
pub mod synthetic;
mod xor;
mod xor2;

pub use appender::{ChunkAppender, SampleAppendError};
pub use chunk::{Chunk, ChunkIter};
pub use encoding::Encoding;
pub use error::{ChunkFull, Error, LayoutPart, Result};
pub use histogram::{
    AppendError as HistogramAppendError, AppendOutcome, FloatHistogramAppender,
    FloatHistogramChunk, FloatHistogramIterator, HistogramAppender, HistogramChunk,
    HistogramIterator,
};
pub use iterator::{
    is_stale_nan, read_floats_stepwise, EmptyIterator, SampleIterator, ValueType, STALE_NAN,
    STALE_NAN_BITS,
};
pub use xor::{XorAppender, XorChunk, XorIterator, MAX_SAMPLES};
pub use xor2::{Xor2Appender, Xor2Chunk, Xor2Iterator};
