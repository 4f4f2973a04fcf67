//! Native histogram chunks: integer histograms (encoding 2) and float
//! histograms (encoding 3), byte-identical to Prometheus's
//! `tsdb/chunkenc/histogram.go` and `float_histogram.go`.
//!
//! Layout (`docs/formats.md#histogram-chunks`):
//!
//! ```text
//! be16 num_samples
//! u8   flags                    top 2 bits: counter-reset header
//! zero threshold, schema, positive spans, negative spans, [custom bounds]
//! sample 0                      absolute values
//! sample 1…                     deltas of deltas (integer) / XOR (float)
//! padding
//! ```
//!
//! The first sample fixes the bucket layout. A later histogram with new
//! buckets makes the appender re-encode the whole chunk to the wider
//! layout; one that cannot share the chunk at all (schema or zero
//! threshold change, counter reset, gauge/counter switch, a non-stale
//! sample after a stale marker) is written to a new chunk the appender
//! hands back: see [`AppendOutcome`].

mod float_appender;
mod float_iterator;
mod int_appender;
mod int_iterator;
mod layout;
mod spans;
pub(crate) mod varbit;
mod xor_value;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod proptests;

pub use float_appender::FloatHistogramAppender;
pub use float_iterator::FloatHistogramIterator;
pub use int_appender::HistogramAppender;
pub use int_iterator::HistogramIterator;

use aion_model::histogram::{CounterResetHint, Span};
use thiserror::Error;

use crate::{Encoding, Error, Result};

/// The bucket indices a span list addresses, in order (for the checks in
/// `crate::fuzz`).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn bucket_indices(spans: &[Span]) -> impl Iterator<Item = i64> + '_ {
    spans::BucketIndices::new(spans)
}

/// Length of the histogram chunk header: sample count and flags byte.
pub(crate) const HEADER_LEN: usize = 3;

/// The two counter-reset bits of the flags byte.
const HEADER_MASK: u8 = 0b1100_0000;

/// The flags-byte bits of a counter-reset header (`docs/formats.md#histogram-chunks`).
pub(crate) fn header_bits(hint: CounterResetHint) -> u8 {
    match hint {
        CounterResetHint::Unknown => 0b0000_0000,
        CounterResetHint::CounterReset => 0b1000_0000,
        CounterResetHint::NotCounterReset => 0b0100_0000,
        CounterResetHint::Gauge => 0b1100_0000,
    }
}

/// The counter-reset header stored in a flags byte.
pub(crate) fn header_from_bits(flags: u8) -> CounterResetHint {
    match flags & HEADER_MASK {
        0b1000_0000 => CounterResetHint::CounterReset,
        0b0100_0000 => CounterResetHint::NotCounterReset,
        0b1100_0000 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// The hint a decoded sample carries: a gauge chunk holds only gauges;
/// after the first sample of a counter chunk there are no resets; the
/// first sample's relation to the chunk before it cannot be trusted by a
/// reader (the previous chunk may be gone or replaced), so it is unknown –
/// Prometheus's `counterResetHint`.
pub(crate) fn sample_hint(header: CounterResetHint, num_read: u16) -> CounterResetHint {
    match header {
        CounterResetHint::Gauge => CounterResetHint::Gauge,
        _ if num_read > 1 => CounterResetHint::NotCounterReset,
        _ => CounterResetHint::Unknown,
    }
}

/// What appending a histogram did.
#[derive(Debug, Clone)]
pub enum AppendOutcome<A> {
    /// The sample was appended to this chunk.
    Appended,
    /// New buckets appeared: the chunk was re-encoded to a wider layout
    /// (its bytes changed, earlier copies of them are outdated), then the
    /// sample was appended.
    Recoded,
    /// The sample cannot share this chunk (counter reset, schema or zero
    /// threshold change, counter/gauge switch, non-stale after stale): this
    /// chunk is unchanged and complete, and the returned appender holds a
    /// new chunk whose first sample it is, with the counter-reset header
    /// set as Prometheus sets it. Cut the chunk and continue with it.
    NewChunk(A),
}

/// Why a histogram could not be appended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The chunk already holds 65535 samples.
    #[error("histogram chunk is full: it already holds the maximum of 65535 samples")]
    Full,
    /// The histogram's spans address a different number of buckets than it
    /// has values for.
    #[error(
        "histogram has {buckets} {side} bucket value(s) but its {side} spans address {addressed}"
    )]
    BucketCountMismatch {
        /// "positive" or "negative".
        side: &'static str,
        /// Buckets the spans address.
        addressed: u64,
        /// Bucket values given.
        buckets: usize,
    },
    /// A span after the first has a negative offset (bucket indices would
    /// go backwards).
    #[error("histogram {side} span {index} has negative offset {offset}; only the first span may")]
    NegativeSpanOffset {
        /// "positive" or "negative".
        side: &'static str,
        /// Index of the span.
        index: usize,
        /// Its offset.
        offset: i32,
    },
    /// An append-only append (no re-encoding, no new chunk) was refused.
    #[error("histogram cannot be appended in place: {0}")]
    NotAppendable(&'static str),
}

/// Validates both sides of a histogram for encoding.
pub(crate) fn check_sides(
    positive: &[Span],
    positive_len: usize,
    negative: &[Span],
    negative_len: usize,
) -> Result<(), AppendError> {
    for (side, spans, len) in [
        ("positive", positive, positive_len),
        ("negative", negative, negative_len),
    ] {
        match spans::check_side(spans, len) {
            Ok(()) => {}
            Err(spans::SideProblem::NegativeOffset { index, offset }) => {
                return Err(AppendError::NegativeSpanOffset {
                    side,
                    index,
                    offset,
                })
            }
            Err(spans::SideProblem::CountMismatch { addressed }) => {
                return Err(AppendError::BucketCountMismatch {
                    side,
                    addressed,
                    buckets: len,
                })
            }
        }
    }
    Ok(())
}

macro_rules! chunk_type {
    ($(#[$doc:meta])* $name:ident, $iter:ident, $encoding:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name<B = Vec<u8>> {
            bytes: B,
        }

        impl<B: AsRef<[u8]>> $name<B> {
            /// Wraps chunk data (the bytes after the encoding byte). Fails
            /// only if the 3-byte header is missing; the rest is validated
            /// while iterating.
            pub fn from_bytes(bytes: B) -> Result<Self> {
                let len = bytes.as_ref().len();
                if len < HEADER_LEN {
                    return Err(Error::MissingHistogramHeader {
                        encoding: $encoding,
                        len,
                    });
                }
                Ok($name { bytes })
            }

            /// The encoded chunk.
            #[inline]
            pub fn bytes(&self) -> &[u8] {
                self.bytes.as_ref()
            }

            /// Gives up the byte container.
            pub fn into_inner(self) -> B {
                self.bytes
            }

            /// The sample count from the header.
            pub fn num_samples(&self) -> usize {
                let b = self.bytes();
                usize::from(u16::from_be_bytes([b[0], b[1]]))
            }

            /// The counter-reset header: what the writer knew about a
            /// counter reset between the previous chunk and this one.
            pub fn counter_reset_header(&self) -> CounterResetHint {
                header_from_bits(self.bytes()[2])
            }

            /// A cursor over the samples.
            pub fn iter(&self) -> $iter<'_> {
                $iter::new(self.bytes())
            }
        }

        impl<B: AsRef<[u8]>> AsRef<[u8]> for $name<B> {
            fn as_ref(&self) -> &[u8] {
                self.bytes()
            }
        }
    };
}

chunk_type!(
    /// A finished integer histogram chunk (encoding 2) over bytes of any
    /// ownership (owned, or borrowed from an mmapped block).
    ///
    /// ```
    /// use aion_chunkenc::{HistogramAppender, HistogramChunk, SampleIterator, ValueType};
    /// use aion_model::histogram::{Histogram, Span};
    ///
    /// let mut app = HistogramAppender::new();
    /// let h = Histogram {
    ///     count: 3,
    ///     sum: 4.5,
    ///     zero_threshold: 2f64.powi(-128),
    ///     positive_spans: vec![Span { offset: 0, length: 2 }],
    ///     positive_buckets: vec![1, 1], // counts 1 and 2, delta-encoded
    ///     ..Histogram::default()
    /// };
    /// app.append(1_000, &h).unwrap();
    /// let chunk = HistogramChunk::from_bytes(app.bytes()).unwrap();
    /// let mut it = chunk.iter();
    /// assert_eq!(it.next(), ValueType::Histogram);
    /// let mut got = Histogram::default();
    /// assert_eq!(it.at_histogram(&mut got), 1_000);
    /// assert_eq!(got, h);
    /// ```
    HistogramChunk,
    HistogramIterator,
    Encoding::Histogram
);

chunk_type!(
    /// A finished float histogram chunk (encoding 3) over bytes of any
    /// ownership.
    FloatHistogramChunk,
    FloatHistogramIterator,
    Encoding::FloatHistogram
);
