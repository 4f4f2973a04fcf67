//! Errors of the WAL crate.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::naming::segment_path;
use crate::record::DecodeError;

/// A byte position inside one segment file of a log directory.
///
/// Every read error carries one, so a caller can report it and hand it to
/// [`repair`](crate::repair()) to cut the log there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentPosition {
    /// The directory holding the segment (a `wal/` dir or a checkpoint).
    pub dir: PathBuf,
    /// The segment number (its file name is this number with 8 digits).
    pub segment: u32,
    /// Byte offset from the start of the segment file.
    pub offset: u64,
}

impl SegmentPosition {
    /// The segment file's path.
    pub fn path(&self) -> PathBuf {
        segment_path(&self.dir, self.segment)
    }
}

impl fmt::Display for SegmentPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment {} at offset {}",
            self.path().display(),
            self.offset
        )
    }
}

/// What is wrong with damaged segment bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The segment ends inside a fragment header or its data: a write was
    /// cut short (the typical crash signature).
    TruncatedFragment,
    /// The segment ends after the first fragments of a record, before its
    /// last fragment.
    TruncatedRecord,
    /// A fragment's data does not match its CRC32C.
    ChecksumMismatch {
        /// Checksum stored in the fragment header.
        stored: u32,
        /// Checksum of the data as read.
        computed: u32,
    },
    /// Fragment length larger than a page can hold.
    FragmentTooLong(u16),
    /// The low three bits of a header byte name no fragment type.
    UnknownFragmentType(u8),
    /// Header bits 5 to 7 are set; no writer sets them.
    UnknownHeaderFlags(u8),
    /// Fragment types out of order (e.g. a `middle` without a `first`).
    UnexpectedFragment {
        /// The fragment type found.
        found: &'static str,
        /// Whether a record was being assembled when it appeared.
        inside_record: bool,
    },
    /// Fragments of one record disagree on the compression flags.
    MixedCompression,
    /// A padding run (fragment type 0) holds a non-zero byte.
    NonZeroPadding,
    /// Snappy data that does not decode.
    Snappy(String),
    /// Snappy data that does not expand. Writers store a record compressed
    /// only when that makes it strictly smaller, so this is a flipped header
    /// bit, not a record.
    CompressionDoesNotShrink,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TruncatedFragment => {
                f.write_str("segment ends inside a fragment (torn write)")
            }
            Corruption::TruncatedRecord => {
                f.write_str("segment ends before the last fragment of a record (torn write)")
            }
            Corruption::ChecksumMismatch { stored, computed } => write!(
                f,
                "fragment checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Corruption::FragmentTooLong(n) => write!(f, "fragment length {n} exceeds a page"),
            Corruption::UnknownFragmentType(t) => write!(f, "unknown fragment type {t}"),
            Corruption::UnknownHeaderFlags(h) => {
                write!(f, "unknown flags in fragment header byte {h:#04x}")
            }
            Corruption::UnexpectedFragment {
                found,
                inside_record: true,
            } => {
                write!(f, "unexpected {found} fragment inside a record")
            }
            Corruption::UnexpectedFragment {
                found,
                inside_record: false,
            } => {
                write!(f, "unexpected {found} fragment outside a record")
            }
            Corruption::MixedCompression => {
                f.write_str("fragments of one record disagree on compression")
            }
            Corruption::NonZeroPadding => f.write_str("non-zero byte in page padding"),
            Corruption::Snappy(e) => write!(f, "invalid snappy data: {e}"),
            Corruption::CompressionDoesNotShrink => {
                f.write_str("snappy-flagged record does not expand when decompressed")
            }
        }
    }
}

impl Corruption {
    /// Whether this is the signature of a write cut short at the end of the
    /// data (as opposed to damaged bytes followed by more data).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            Corruption::TruncatedFragment | Corruption::TruncatedRecord
        )
    }
}

/// Everything that can go wrong reading, writing, repairing or
/// checkpointing a write-ahead log.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Segment bytes are damaged. `at` is where the record that could not
    /// be read starts: everything before it is intact, and
    /// [`repair`](crate::repair()) can cut the log there.
    #[error("corruption in {at}: {corruption}")]
    Corrupt {
        /// Start of the unreadable record.
        at: SegmentPosition,
        /// What is wrong.
        corruption: Corruption,
    },

    /// A record uses a feature this build cannot read, e.g. zstd
    /// compression (written by Prometheus ≥ 2.46 with
    /// `--storage.tsdb.wal-compression-type=zstd`). The data is not damaged;
    /// it is never repaired away automatically.
    #[error("unsupported record in {at}: {feature}")]
    Unsupported {
        /// Start of the record.
        at: SegmentPosition,
        /// What is not supported.
        feature: &'static str,
    },

    /// A record's payload did not decode.
    #[error("bad record in {at}: {source}")]
    Record {
        /// Where the record starts.
        at: SegmentPosition,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },

    /// Segment files are not numbered consecutively: a file is missing.
    #[error("segments in {} are not sequential: {missing:08} is missing", dir.display())]
    SegmentGap {
        /// The directory.
        dir: PathBuf,
        /// The first missing segment number.
        missing: u32,
    },

    /// A file name looks like a segment or checkpoint but cannot be one.
    #[error("unexpected entry {}: {reason}", path.display())]
    UnexpectedEntry {
        /// The entry.
        path: PathBuf,
        /// Why it is rejected.
        reason: &'static str,
    },

    /// Invalid writer options.
    #[error("invalid WAL options: {0}")]
    InvalidOptions(String),

    /// A write failed earlier (`cause`, e.g. no space left on the device)
    /// and making the writer usable again failed too (`recovery`): the
    /// call was not attempted. The next call tries again.
    #[error("the WAL writer failed earlier ({cause}) and cannot go on yet: {recovery}")]
    Failed {
        /// The first error.
        cause: String,
        /// Why recovering from it failed.
        recovery: String,
    },

    /// A request that contradicts the log's state (e.g. a checkpoint that
    /// would not be newer than the existing one).
    #[error("{0}")]
    InvalidRequest(String),
}

impl Error {
    pub(crate) fn io(
        context: &'static str,
        path: impl AsRef<Path>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The segment position of a read error, if it has one. Pass it to
    /// [`repair`](crate::repair()) to keep everything before it.
    pub fn position(&self) -> Option<&SegmentPosition> {
        match self {
            Error::Corrupt { at, .. }
            | Error::Unsupported { at, .. }
            | Error::Record { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
