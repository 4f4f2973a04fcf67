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

/// Read buffer size: several pages per system call.
const BUF_SIZE: usize = 16 * PAGE_SIZE;

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
    buf: Box<[u8]>,
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
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
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
