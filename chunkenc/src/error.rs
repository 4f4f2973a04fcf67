//! Errors of the chunk codecs.
//!
//! Offsets are counted from the first byte of the chunk data (the
//! sample-count header included), so they line up with a hex dump of the
//! bytes a chunk segment file stores after the encoding byte.

use thiserror::Error;

use crate::Encoding;

/// Why chunk bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The chunk is shorter than its 2-byte sample-count header.
    #[error("chunk is {len} byte(s) long, shorter than its 2-byte sample-count header")]
    MissingHeader {
        /// Length of the chunk data.
        len: usize,
    },

    /// The header promises more samples than the bytes hold.
    #[error(
        "XOR chunk truncated: sample {sample} of {num_samples} starts at byte {} bit {} \
         and runs past the end of the {len}-byte chunk",
        .bit_offset / 8, .bit_offset % 8
    )]
    Truncated {
        /// Index (0-based) of the sample that could not be read.
        sample: u16,
        /// Sample count from the chunk header.
        num_samples: u16,
        /// Bit offset at which the sample starts.
        bit_offset: u64,
        /// Length of the chunk data in bytes.
        len: usize,
    },

    /// A timestamp varint of the first or second sample is longer than a
    /// 64-bit integer allows.
    #[error("XOR chunk corrupt: the timestamp varint of sample {sample} at byte {byte_offset} overflows 64 bits")]
    VarintOverflow {
        /// Index of the sample (0 or 1).
        sample: u16,
        /// Byte offset at which the varint starts.
        byte_offset: usize,
    },

    /// A value's leading-zero count and significant-bit count add up to more
    /// than 64 bits, which no encoder produces.
    #[error(
        "XOR chunk corrupt: sample {sample} at byte {} bit {} declares {leading} leading zeros \
         and {significant} significant bits, more than the 64 bits of a float",
        .bit_offset / 8, .bit_offset % 8
    )]
    BadValueWindow {
        /// Index of the sample.
        sample: u16,
        /// Bit offset at which the sample starts.
        bit_offset: u64,
        /// Declared leading zeros (5-bit field).
        leading: u8,
        /// Declared significant bits (6-bit field, 0 meaning 64).
        significant: u8,
    },

    /// A histogram chunk is shorter than its 3-byte header (sample count
    /// and counter-reset flags).
    #[error("{encoding} chunk is {len} byte(s) long, shorter than its 3-byte header")]
    MissingHistogramHeader {
        /// The chunk's encoding.
        encoding: Encoding,
        /// Length of the chunk data.
        len: usize,
    },

    /// A histogram chunk's bit stream ends inside a sample (or inside the
    /// bucket layout, reported as sample 0).
    #[error(
        "{encoding} chunk truncated: sample {sample} of {num_samples} starts at byte {} bit {} \
         and runs past the end of the {len}-byte chunk",
        .bit_offset / 8, .bit_offset % 8
    )]
    HistogramTruncated {
        /// The chunk's encoding.
        encoding: Encoding,
        /// Index (0-based) of the sample that could not be read.
        sample: u16,
        /// Sample count from the chunk header.
        num_samples: u16,
        /// Bit offset (from the start of the chunk data) where it starts.
        bit_offset: u64,
        /// Length of the chunk data in bytes.
        len: usize,
    },

    /// The bucket layout of a histogram chunk declares more spans, buckets
    /// or custom bounds than the rest of the chunk could possibly encode.
    #[error(
        "{encoding} chunk corrupt: the bucket layout at byte {} bit {} declares {count} {what}, \
         more than the rest of the chunk can hold",
        .bit_offset / 8, .bit_offset % 8
    )]
    HistogramLayoutTooLarge {
        /// The chunk's encoding.
        encoding: Encoding,
        /// What was counted.
        what: LayoutPart,
        /// The declared count.
        count: u64,
        /// Bit offset of the count.
        bit_offset: u64,
    },

    /// A histogram chunk's layout names a schema Aion cannot read.
    #[error(
        "{encoding} chunk has histogram schema {schema}; Aion reads schemas -9..=8 \
         (exponential buckets) and -53 (custom buckets)"
    )]
    UnsupportedHistogramSchema {
        /// The chunk's encoding.
        encoding: Encoding,
        /// The schema found (as decoded, before narrowing to 32 bits).
        schema: i64,
    },

    /// An XOR-compressed field of a histogram sample declares a window
    /// wider than 64 bits.
    #[error(
        "{encoding} chunk corrupt: sample {sample} at byte {} bit {} declares {leading} leading \
         zeros and {significant} significant bits, more than the 64 bits of a float",
        .bit_offset / 8, .bit_offset % 8
    )]
    HistogramBadValueWindow {
        /// The chunk's encoding.
        encoding: Encoding,
        /// Index of the sample.
        sample: u16,
        /// Bit offset at which the sample starts.
        bit_offset: u64,
        /// Declared leading zeros.
        leading: u8,
        /// Declared significant bits.
        significant: u8,
    },

    /// An XOR2 chunk is shorter than its 3-byte header.
    #[error("XOR2 chunk is {len} byte(s) long, shorter than its 3-byte header")]
    MissingXor2Header {
        /// Length of the chunk data.
        len: usize,
    },

    /// An XOR2 chunk's bit stream ends inside a sample.
    #[error(
        "XOR2 chunk truncated: sample {sample} of {num_samples} starts at byte {} bit {} \
         and runs past the end of the {len}-byte chunk",
        .bit_offset / 8, .bit_offset % 8
    )]
    Xor2Truncated {
        /// Index (0-based) of the sample that could not be read.
        sample: u16,
        /// Sample count from the chunk header.
        num_samples: u16,
        /// Bit offset at which the sample starts.
        bit_offset: u64,
        /// Length of the chunk data in bytes.
        len: usize,
    },

    /// A varint of sample 0 or 1 of an XOR2 chunk overflows 64 bits.
    #[error("XOR2 chunk corrupt: a varint of sample {sample} (starting at byte {byte_offset}) overflows 64 bits")]
    Xor2VarintOverflow {
        /// Index of the sample (0 or 1).
        sample: u16,
        /// Byte offset at which the sample starts.
        byte_offset: usize,
    },

    /// An XOR2 value declares a window wider than 64 bits.
    #[error(
        "XOR2 chunk corrupt: sample {sample} at byte {} bit {} declares {leading} leading zeros \
         and {significant} significant bits, more than the 64 bits of a float",
        .bit_offset / 8, .bit_offset % 8
    )]
    Xor2BadValueWindow {
        /// Index of the sample.
        sample: u16,
        /// Bit offset at which the sample starts.
        bit_offset: u64,
        /// Declared leading zeros.
        leading: u8,
        /// Declared significant bits.
        significant: u8,
    },

    /// The encoding byte names no encoding Prometheus defines.
    #[error("unknown chunk encoding byte {0} (Prometheus defines 1 XOR, 2 histogram, 3 float histogram, 4 XOR2, 5 histogramST, 6 floathistogramST)")]
    UnknownEncoding(u8),

    /// The encoding is Prometheus's but this version of Aion cannot read it.
    #[error("chunk encoding {encoding} (byte {}) is not supported by this version of Aion", *.encoding as u8)]
    UnsupportedEncoding {
        /// The encoding found.
        encoding: Encoding,
    },

    /// Encoding 0 ("none") marks no data; it never appears on disk.
    #[error("chunk encoding byte 0 (\"none\") is not a valid encoding for stored chunks")]
    NoneEncoding,
}

/// A part of a histogram chunk's bucket layout, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutPart {
    /// The positive bucket spans.
    PositiveSpans,
    /// The negative bucket spans.
    NegativeSpans,
    /// The buckets the spans address.
    Buckets,
    /// The custom bucket bounds (schema -53).
    CustomBounds,
}

impl std::fmt::Display for LayoutPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LayoutPart::PositiveSpans => "positive spans",
            LayoutPart::NegativeSpans => "negative spans",
            LayoutPart::Buckets => "buckets",
            LayoutPart::CustomBounds => "custom bounds",
        })
    }
}

/// Appending failed because the chunk already holds the most samples its
/// 16-bit header can count (65535).
///
/// Prometheus cuts chunks long before that (120–240 samples), so this only
/// happens to callers that never cut chunks themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("chunk is full: it already holds the maximum of 65535 samples")]
pub struct ChunkFull;

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
