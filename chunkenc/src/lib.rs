//! Prometheus-compatible chunk encodings.
//!
//! A chunk holds the samples of one series over a short time span in a
//! compressed bit stream. The formats are Prometheus's own (encoding byte
//! values included), so chunks move between Aion and Prometheus unchanged.
//!
//! * [`XorAppender`] encodes float samples into an XOR chunk (encoding 1),
//!   byte-identical to Prometheus 3.x.
//! * [`XorIterator`] decodes XOR chunk bytes in place (owned or borrowed,
//!   e.g. from an mmapped block) through the [`SampleIterator`] cursor.
//! * [`Chunk`] and [`Encoding`] pick the codec from a chunk's encoding byte.
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

mod bstream;
mod chunk;
mod encoding;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod histogram;
mod iterator;
pub mod synthetic;
mod xor;
mod xor2;

pub use chunk::{Chunk, ChunkIter};
pub use encoding::Encoding;
pub use error::{ChunkFull, Error, LayoutPart, Result};
pub use histogram::{
    AppendError as HistogramAppendError, AppendOutcome, FloatHistogramAppender,
    FloatHistogramChunk, FloatHistogramIterator, HistogramAppender, HistogramChunk,
    HistogramIterator,
};
pub use iterator::{
    is_stale_nan, EmptyIterator, SampleIterator, ValueType, STALE_NAN, STALE_NAN_BITS,
};
pub use xor::{XorAppender, XorChunk, XorIterator, MAX_SAMPLES};
pub use xor2::{Xor2Appender, Xor2Chunk, Xor2Iterator};
