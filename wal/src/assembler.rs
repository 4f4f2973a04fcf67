//! Joins fragments into records and decompresses them.
//!
//! The assembler keeps its buffers between records, so reading a log
//! allocates only while records keep getting bigger.

use crate::error::Corruption;
use crate::fragment::{Compression, Fragment, FragmentType};

/// Why a fragment could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AssemblyError {
    /// The bytes are damaged.
    Corrupt(Corruption),
    /// The record is intact but uses something this build cannot read.
    Unsupported(&'static str),
}

impl From<Corruption> for AssemblyError {
    fn from(c: Corruption) -> Self {
        AssemblyError::Corrupt(c)
    }
}

/// Outcome of adding one fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assembled {
    /// More fragments are needed.
    Incomplete,
    /// [`Assembler::record`] holds a complete record starting at this
    /// segment offset.
    Complete(u64),
}

#[derive(Debug, Clone, Copy)]
struct InProgress {
    start: u64,
    compression: Compression,
}

/// Snappy expands at most ~21× (a 3-byte copy yields 64 bytes); a claimed
/// size beyond this bound is damage, and refusing it avoids allocating
/// whatever a corrupt length varint asks for.
const MAX_SNAPPY_EXPANSION: usize = 32;

#[derive(Default)]
pub(crate) struct Assembler {
    record: Vec<u8>,
    compressed: Vec<u8>,
    in_progress: Option<InProgress>,
    snappy: snap::raw::Decoder,
}

impl Assembler {
    /// The last completed record.
    pub(crate) fn record(&self) -> &[u8] {
        &self.record
    }

    /// Start offset of a record whose first fragments were seen but not its
    /// last one.
    pub(crate) fn pending_start(&self) -> Option<u64> {
        self.in_progress.map(|p| p.start)
    }

    /// Drops a partly assembled record (e.g. after an error).
    pub(crate) fn reset(&mut self) {
        self.in_progress = None;
    }

    /// Adds the fragment found at segment offset `offset`.
    ///
    /// On error the partial record is dropped; the error belongs at
    /// [`Self::pending_start`] read *before* the call, or at `offset`.
    pub(crate) fn push(
        &mut self,
        fragment: Fragment<'_>,
        offset: u64,
    ) -> Result<Assembled, AssemblyError> {
        let result = self.push_inner(fragment, offset);
        if result.is_err() {
            self.in_progress = None;
        }
        result
    }

    fn push_inner(&mut self, f: Fragment<'_>, offset: u64) -> Result<Assembled, AssemblyError> {
        let unexpected = |inside_record| Corruption::UnexpectedFragment {
            found: f.typ.name(),
            inside_record,
        };
        let current = match (f.typ.starts_record(), self.in_progress) {
            (true, Some(_)) => return Err(unexpected(true).into()),
            (false, None) => return Err(unexpected(false).into()),
            (true, None) => {
                if f.compression == Compression::Zstd {
                    return Err(AssemblyError::Unsupported(
                        "zstd-compressed record (Prometheus --storage.tsdb.wal-compression-type=zstd)",
                    ));
                }
                self.record.clear();
                self.compressed.clear();
                InProgress {
                    start: offset,
                    compression: f.compression,
                }
            }
            (false, Some(p)) => {
                if p.compression != f.compression {
                    return Err(Corruption::MixedCompression.into());
                }
                p
            }
        };
        match current.compression {
            Compression::None => self.record.extend_from_slice(f.data),
            _ => self.compressed.extend_from_slice(f.data),
        }
        if !f.typ.ends_record() {
            self.in_progress = Some(current);
            return Ok(Assembled::Incomplete);
        }
        self.in_progress = None;
        if current.compression == Compression::Snappy && !self.compressed.is_empty() {
            self.decompress()?;
        }
        debug_assert!(matches!(f.typ, FragmentType::Full | FragmentType::Last));
        Ok(Assembled::Complete(current.start))
    }

    fn decompress(&mut self) -> Result<(), Corruption> {
        let n = self.compressed.len();
        let len = snap::raw::decompress_len(&self.compressed)
            .map_err(|e| Corruption::Snappy(e.to_string()))?;
        if len > n.saturating_mul(MAX_SNAPPY_EXPANSION) + 64 {
            return Err(Corruption::Snappy(format!(
                "claims {len} bytes from {n} compressed bytes"
            )));
        }
        if len <= n {
            return Err(Corruption::CompressionDoesNotShrink);
        }
        self.record.resize(len, 0);
        let got = self
            .snappy
            .decompress(&self.compressed, &mut self.record)
            .map_err(|e| Corruption::Snappy(e.to_string()))?;
        self.record.truncate(got);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(typ: FragmentType, data: &[u8]) -> Fragment<'_> {
        Fragment {
            typ,
            compression: Compression::None,
            data,
        }
    }

    #[test]
    fn joins_fragments() {
        let mut a = Assembler::default();
        assert_eq!(
            a.push(frag(FragmentType::First, b"ab"), 10),
            Ok(Assembled::Incomplete)
        );
        assert_eq!(a.pending_start(), Some(10));
        assert_eq!(
            a.push(frag(FragmentType::Middle, b""), 20),
            Ok(Assembled::Incomplete)
        );
        assert_eq!(
            a.push(frag(FragmentType::Last, b"c"), 30),
            Ok(Assembled::Complete(10))
        );
        assert_eq!(a.record(), b"abc");
        assert_eq!(
            a.push(frag(FragmentType::Full, b""), 40),
            Ok(Assembled::Complete(40))
        );
        assert_eq!(a.record(), b"");
    }

    #[test]
    fn rejects_bad_sequences() {
        let mut a = Assembler::default();
        assert!(a.push(frag(FragmentType::Last, b"x"), 0).is_err());
        assert!(a.push(frag(FragmentType::Middle, b"x"), 0).is_err());
        a.push(frag(FragmentType::First, b"x"), 0).unwrap();
        assert!(a.push(frag(FragmentType::Full, b"x"), 0).is_err());
        assert_eq!(a.pending_start(), None);
        a.push(frag(FragmentType::First, b"x"), 0).unwrap();
        let snappy = Fragment {
            typ: FragmentType::Last,
            compression: Compression::Snappy,
            data: b"x",
        };
        assert_eq!(
            a.push(snappy, 0),
            Err(AssemblyError::Corrupt(Corruption::MixedCompression))
        );
    }

    #[test]
    fn decompresses_and_checks_expansion() {
        let plain = vec![7u8; 1000];
        let packed = snap::raw::Encoder::new().compress_vec(&plain).unwrap();
        let mut a = Assembler::default();
        let f = Fragment {
            typ: FragmentType::Full,
            compression: Compression::Snappy,
            data: &packed,
        };
        assert_eq!(a.push(f, 0), Ok(Assembled::Complete(0)));
        assert_eq!(a.record(), &plain[..]);

        // Uncompressed bytes with a flipped snappy bit: a valid-looking but
        // non-expanding stream is rejected.
        let tiny = snap::raw::Encoder::new().compress_vec(b"a").unwrap();
        let f = Fragment {
            typ: FragmentType::Full,
            compression: Compression::Snappy,
            data: &tiny,
        };
        assert_eq!(
            a.push(f, 0),
            Err(AssemblyError::Corrupt(Corruption::CompressionDoesNotShrink))
        );
    }

    #[test]
    fn zstd_is_unsupported() {
        let mut a = Assembler::default();
        let f = Fragment {
            typ: FragmentType::Full,
            compression: Compression::Zstd,
            data: b"x",
        };
        assert!(matches!(a.push(f, 0), Err(AssemblyError::Unsupported(_))));
    }
}
