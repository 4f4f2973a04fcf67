//! Errors of the record decoders.

use thiserror::Error;

/// A record payload that does not decode.
///
/// `offset` counts bytes from the start of the record (the type byte is
/// byte 0).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{record} record, byte {offset}: {problem}")]
pub struct DecodeError {
    /// The record kind being decoded (e.g. `"samples"`).
    pub record: &'static str,
    /// Where in the record the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The record is empty (not even a type byte).
    #[error("empty record")]
    Empty,
    /// The type byte is not one this decoder reads.
    #[error("type byte {found} is not {expected}")]
    WrongType {
        /// The accepted types.
        expected: &'static str,
        /// The type byte found.
        found: u8,
    },
    /// The record ends inside a field.
    #[error("record ends inside {0}")]
    Truncated(&'static str),
    /// A varint longer than 64 bits.
    #[error("{0} overflows 64 bits")]
    VarintOverflow(&'static str),
    /// A value does not fit its field.
    #[error("{0} out of range")]
    OutOfRange(&'static str),
    /// A label name or value is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A label set has an empty name.
    #[error("label set has an empty label name")]
    EmptyLabelName,
    /// A label set names a label twice.
    #[error("label set has duplicate label name {0:?}")]
    DuplicateLabelName(String),
    /// An unknown histogram counter-reset hint.
    #[error("unknown counter reset hint {0}")]
    UnknownCounterResetHint(u8),
}
