//! Record-by-record reading of one segment's byte stream.
//!
//! The cursor is shared by the sequential reader (where the end of the file
//! is the end of the data), the live reader (where it only means "nothing
//! more yet"), and repair (which needs exact record boundaries).

use std::io::{self, Read};

use crate::assembler::{Assembled, Assembler, AssemblyError};
use crate::error::Corruption;
use crate::fragment::{self, Parsed};
use crate::segment::PAGE_SIZE;

/// Largest read buffer: several pages per system call on long segments.
const BUF_SIZE: usize = 16 * PAGE_SIZE;

/// First read buffer: one page, which every fragment fits in. It grows to
/// [`BUF_SIZE`] once a read fills it (the source has more), so a short
/// segment (a checkpoint's, the live tail, a fuzz input) costs one page
/// instead of half a megabyte of zeroed memory, and a long one reads as
/// before after its first page.
const FIRST_BUF_SIZE: usize = PAGE_SIZE;

/// A failure at a segment offset.
#[derive(Debug)]
pub(crate) struct CursorError {
    /// Start of the record that could not be read (everything before it is
    /// intact).
    pub offset: u64,
    /// Whether fragments of the failed record had been read intact.
    pub record_begun: bool,
    pub kind: CursorErrorKind,
}

#[derive(Debug)]
pub(crate) enum CursorErrorKind {
    Corrupt(Corruption),
    Unsupported(&'static str),
    Io(io::Error),
}

/// What [`SegmentCursor::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A complete record starting at this offset; see
    /// [`SegmentCursor::record`].
    Record(u64),
    /// The end of the data. With `final_eof` this is a clean end; otherwise
    /// more may arrive later (live reading) and `advance` can be called
    /// again.
    End,
}

pub(crate) struct SegmentCursor<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Segment offset of `buf[pos]`.
    offset: u64,
    /// Offset just past the last complete record (or padding after it).
    clean_end: u64,
    asm: Assembler,
}

impl<R: Read> SegmentCursor<R> {
    pub(crate) fn new(src: R) -> Self {
        Self::with_offset(src, 0)
    }

    /// A cursor over a source already positioned at segment offset
    /// `offset`, which must be a record boundary.
    pub(crate) fn with_offset(src: R, offset: u64) -> Self {
        SegmentCursor {
            src,
            buf: vec![0; FIRST_BUF_SIZE],
            pos: 0,
            end: 0,
            offset,
            clean_end: offset,
            asm: Assembler::default(),
        }
    }

    /// The record found by the last [`Step::Record`].
    pub(crate) fn record(&self) -> &[u8] {
        self.asm.record()
    }

    /// Offset just past the last complete record or the padding after it:
    /// where a log would be cut to drop what follows.
    pub(crate) fn clean_end(&self) -> u64 {
        self.clean_end
    }

    /// Reads up to the next complete record.
    ///
    /// With `final_eof`, running out of bytes inside a fragment or record is
    /// a torn write and reported as corruption. Without it the cursor keeps
    /// its state and returns [`Step::End`]; a later call continues once the
    /// source has grown.
    pub(crate) fn advance(&mut self, final_eof: bool) -> Result<Step, CursorError> {
        loop {
            let parsed = fragment::parse(&self.buf[self.pos..self.end], self.offset);
            match parsed {
                Ok(Parsed::Fragment(f)) => {
                    let size = f.size();
                    let at = self.offset;
                    let pending = self.asm.pending_start();
                    let pushed = self.asm.push(f, at);
                    self.pos += size;
                    self.offset += size as u64;
                    match pushed {
                        Ok(Assembled::Incomplete) => {}
                        Ok(Assembled::Complete(start)) => {
                            self.clean_end = self.offset;
                            return Ok(Step::Record(start));
                        }
                        Err(e) => {
                            let kind = match e {
                                AssemblyError::Corrupt(c) => CursorErrorKind::Corrupt(c),
                                AssemblyError::Unsupported(what) => {
                                    CursorErrorKind::Unsupported(what)
                                }
                            };
                            return Err(CursorError {
                                offset: pending.unwrap_or(at),
                                record_begun: pending.is_some(),
                                kind,
                            });
                        }
                    }
                }
                Ok(Parsed::Padding(n)) => {
                    self.pos += n;
                    self.offset += n as u64;
                    if self.asm.pending_start().is_none() {
                        self.clean_end = self.offset;
                    }
                }
                Ok(parsed @ (Parsed::NeedMore | Parsed::PartialPadding)) => {
                    let partial_padding = parsed == Parsed::PartialPadding;
                    if self.fill()? {
                        continue;
                    }
                    // Nothing more to read for now.
                    if !final_eof {
                        return Ok(Step::End);
                    }
                    let clean = self.asm.pending_start().is_none()
                        && (self.pos == self.end || partial_padding);
                    if clean {
                        self.offset += (self.end - self.pos) as u64;
                        self.pos = self.end;
                        self.clean_end = self.offset;
                        return Ok(Step::End);
                    }
                    let corruption = if self.asm.pending_start().is_some() {
                        Corruption::TruncatedRecord
                    } else {
                        Corruption::TruncatedFragment
                    };
                    return Err(self.fail(CursorErrorKind::Corrupt(corruption)));
                }
                Err(c) => return Err(self.fail(CursorErrorKind::Corrupt(c))),
            }
        }
    }

    fn fail(&mut self, kind: CursorErrorKind) -> CursorError {
        let pending = self.asm.pending_start();
        self.asm.reset();
        CursorError {
            offset: pending.unwrap_or(self.offset),
            record_begun: pending.is_some(),
            kind,
        }
    }

    /// Moves unread bytes to the front and reads more. Returns whether any
    /// byte arrived.
    fn fill(&mut self) -> Result<bool, CursorError> {
        // `end` moves only here: a full buffer means the last read filled
        // it, so the source has more and a bigger buffer pays.
        if self.end == self.buf.len() && self.buf.len() < BUF_SIZE {
            self.buf.resize(BUF_SIZE, 0);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        debug_assert!(
            self.end < self.buf.len(),
            "a fragment always fits the buffer"
        );
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(CursorError {
                        offset: self.offset,
                        record_begun: false,
                        kind: CursorErrorKind::Io(e),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::segment_path;
    use crate::writer::{Wal, WalOptions};

    /// A source that hands out at most `max` bytes per read, as a pipe or a
    /// file still being written can.
    struct Trickle<'a> {
        data: &'a [u8],
        max: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(self.max).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all<R: Read>(cursor: &mut SegmentCursor<R>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Step::Record(_) = cursor.advance(true).unwrap() {
            out.push(cursor.record().to_vec());
        }
        out
    }

    #[test]
    fn the_buffer_starts_at_a_page_and_grows_only_on_long_segments() {
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&wal_dir, WalOptions::default()).unwrap();
        // Small records and ones spanning several pages.
        let records: Vec<Vec<u8>> = (0..200u32)
            .map(|i| {
                vec![
                    i as u8;
                    if i % 10 == 0 {
                        3 * PAGE_SIZE + 17
                    } else {
                        100 + i as usize
                    }
                ]
            })
            .collect();
        for r in &records {
            wal.log(&[r]).unwrap();
        }
        wal.close().unwrap();
        let bytes = std::fs::read(segment_path(&wal_dir, 0)).unwrap();
        assert!(
            bytes.len() > BUF_SIZE,
            "the segment spans more than the largest buffer"
        );

        let mut long = SegmentCursor::new(&bytes[..]);
        assert_eq!(read_all(&mut long), records);
        assert_eq!(long.buf.len(), BUF_SIZE);

        for max in [1, 7, PAGE_SIZE - 1, PAGE_SIZE + 1] {
            let mut trickle = SegmentCursor::new(Trickle { data: &bytes, max });
            assert_eq!(
                read_all(&mut trickle),
                records,
                "reads of at most {max} bytes"
            );
        }

        // Half a page of records: one page of buffer is all it takes.
        let mut short = SegmentCursor::new(&bytes[..PAGE_SIZE / 2]);
        while let Ok(Step::Record(_)) = short.advance(true) {}
        assert_eq!(short.buf.len(), FIRST_BUF_SIZE);
    }
}
