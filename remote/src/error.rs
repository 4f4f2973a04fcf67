//! Errors decoding remote-write and remote-read bodies: each names the
//! message and the byte counts involved, so a 400 answer tells the sender
//! what was wrong with what.

use thiserror::Error;

/// A body that cannot be turned into a message.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The snappy block is damaged (or is not a snappy block at all: a
    /// framed-format stream, a gzip body).
    #[error("snappy block of {compressed} bytes cannot be decompressed: {source}")]
    Snappy {
        /// Size of the compressed body.
        compressed: usize,
        /// What the snappy decoder met.
        #[source]
        source: snap::Error,
    },
    /// The snappy header announces more bytes than the host allows; the
    /// body was refused before allocating for it.
    #[error(
        "snappy block of {compressed} bytes decodes to {decoded} bytes, over the limit of {limit}"
    )]
    TooLarge {
        /// Size of the compressed body.
        compressed: usize,
        /// Decoded length the header announces.
        decoded: usize,
        /// The host's limit.
        limit: usize,
    },
    /// The decompressed bytes are not the protobuf message expected; the
    /// source names the field path where decoding stopped.
    #[error("{len} bytes are not a valid {message}: {source}")]
    Protobuf {
        /// The message type, e.g. `prometheus.WriteRequest`.
        message: &'static str,
        /// Size of the decompressed message.
        len: usize,
        /// prost's error, with the path of fields it was in.
        #[source]
        source: prost::DecodeError,
    },
}
