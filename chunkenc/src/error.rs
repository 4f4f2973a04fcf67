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
