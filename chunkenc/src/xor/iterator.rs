//! Decoding XOR chunks.

use std::error::Error as StdError;

use super::{sign_extend, HEADER_LEN};
use crate::bstream::BitReader;
use crate::{Error, SampleIterator, ValueType};

/// A cursor over the samples of an XOR chunk, reading borrowed bytes.
///
/// It works on any byte slice, including one that is not a valid chunk:
/// malformed or truncated data ends iteration with [`ValueType::None`] and
/// an [`Error`] from [`XorIterator::error`] / [`SampleIterator::err`] that
/// names the sample and bit offset. Each step does a bounded amount of work
/// and allocates nothing.
///
/// ```
/// use aion_chunkenc::{SampleIterator, ValueType, XorIterator};
///
/// // A chunk claiming one sample, cut off after 3 bytes.
/// let mut it = XorIterator::new(&[0x00, 0x01, 0xd0]);
/// assert_eq!(it.next(), ValueType::None);
/// let err = it.err().unwrap().to_string();
/// assert!(err.contains("truncated"), "{err}");
/// ```
#[derive(Debug, Clone)]
pub struct XorIterator<'a> {
    reader: BitReader<'a>,
    num_total: u16,
    num_read: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    /// `None` has been returned; every later call returns `None` too.
    exhausted: bool,
    err: Option<Error>,
}

/// What an appender needs to continue the chunk this iterator has read to
/// its end.
pub(crate) struct EndState {
    pub(crate) num_samples: u16,
    pub(crate) t: i64,
    pub(crate) v: u64,
    pub(crate) t_delta: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
    pub(crate) bit_len: u64,
}

impl<'a> XorIterator<'a> {
    /// An iterator over the chunk data `bytes` (sample-count header first).
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut it = XorIterator {
            reader: BitReader::new(bytes, (HEADER_LEN * 8) as u64),
            num_total: 0,
            num_read: 0,
            t: i64::MIN,
            v: f64::NAN.to_bits(),
            t_delta: 0,
            leading: 0,
            trailing: 0,
            exhausted: false,
            err: None,
        };
        match bytes {
            [hi, lo, ..] => it.num_total = u16::from_be_bytes([*hi, *lo]),
            _ => it.err = Some(Error::MissingHeader { len: bytes.len() }),
        }
        it
    }

    /// Restarts on other chunk data, keeping nothing from before.
    pub fn reset(&mut self, bytes: &'a [u8]) {
        *self = XorIterator::new(bytes);
    }

    /// The sample count from the chunk header.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num_total)
    }

    /// Why iteration stopped early, as the concrete error type.
    pub fn error(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// The decoder state after the last sample read, or the error that
    /// stopped decoding.
    pub(crate) fn end_state(mut self) -> Result<EndState, Error> {
        while self.next() == ValueType::Float {}
        if let Some(err) = self.err {
            return Err(err);
        }
        Ok(EndState {
            num_samples: self.num_read,
            t: self.t,
            v: self.v,
            t_delta: self.t_delta,
            leading: self.leading,
            trailing: self.trailing,
            bit_len: self.reader.position(),
        })
    }

    fn fail(&mut self, err: Error) -> ValueType {
        self.err = Some(err);
        self.exhausted = true;
        ValueType::None
    }

    fn truncated(&self, bit_offset: u64) -> Error {
        Error::Truncated {
            sample: self.num_read,
            num_samples: self.num_total,
            bit_offset,
            len: (self.reader.len_bits() / 8) as usize,
        }
    }

    /// Sample 0: a varint timestamp and the raw value bits.
    fn read_first(&mut self) -> ValueType {
        let mut r = self.reader;
        let start = r.position();
        let Some(zigzag) = read_uvarint(&mut r) else {
            return self.fail(Error::VarintOverflow {
                sample: 0,
                byte_offset: (start / 8) as usize,
            });
        };
        let t = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        let v = r.read_bits(64);
        if r.overran() {
            return self.fail(self.truncated(start));
        }
        self.reader = r;
        self.t = t;
        self.v = v;
        self.num_read = 1;
        ValueType::Float
    }

    /// Sample 1: a uvarint timestamp delta and an XOR-compressed value.
    fn read_second(&mut self) -> ValueType {
        let mut r = self.reader;
        let start = r.position();
        let Some(t_delta) = read_uvarint(&mut r) else {
            return self.fail(Error::VarintOverflow {
                sample: 1,
                byte_offset: (start / 8) as usize,
            });
        };
        self.commit_value(r, start, t_delta)
    }

    /// Samples 2 and later: a delta-of-delta timestamp and an XOR value.
    #[inline(always)]
    fn read_later(&mut self) -> ValueType {
        let mut r = self.reader;
        let start = r.position();
        let w = r.peek();
        // The bucket is told by the number of leading one bits (at most 4
        // are read): 0 → dod 0, 10 → 14 bits, 110 → 17, 1110 → 20,
        // 1111 → a whole int64.
        let dod = match (!w).leading_zeros() {
            0 => {
                r.skip(1);
                0
            }
            1 => {
                r.skip(16);
                sign_extend((w << 2) >> 50, 14)
            }
            2 => {
                r.skip(20);
                sign_extend((w << 3) >> 47, 17)
            }
            3 => {
                r.skip(24);
                sign_extend((w << 4) >> 44, 20)
            }
            _ => {
                r.skip(4);
                r.read_bits(64) as i64
            }
        };
        let t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
        self.commit_value(r, start, t_delta)
    }

    /// Reads the XOR value that follows a timestamp, then commits the
    /// sample if the data held it entirely.
    #[inline(always)]
    fn commit_value(&mut self, mut r: BitReader<'a>, start: u64, t_delta: u64) -> ValueType {
        let w = r.peek();
        let (mut leading, mut trailing) = (self.leading, self.trailing);
        let delta = if w >> 63 == 0 {
            // `0`: value unchanged.
            r.skip(1);
            0
        } else {
            if (w >> 62) & 1 == 0 {
                // `10`: reuse the current window.
                r.skip(2);
            } else {
                // `11`: a new window, 5 bits of leading zeros and 6 bits of
                // significant-bit count (0 meaning 64).
                r.skip(13);
                leading = ((w >> 57) & 0x1f) as u8;
                let significant = match ((w >> 51) & 0x3f) as u8 {
                    0 => 64,
                    n => n,
                };
                if leading + significant > 64 {
                    return self.fail(Error::BadValueWindow {
                        sample: self.num_read,
                        bit_offset: start,
                        leading,
                        significant,
                    });
                }
                trailing = 64 - leading - significant;
            }
            // Reusing the window before any was read happens after a
            // resumed append (NOTES.md §4.2): the state is then 0/0 and the
            // window is all 64 bits, as in Prometheus's reader.
            let significant = 64 - u32::from(leading) - u32::from(trailing);
            r.read_bits(significant) << trailing
        };
        if r.overran() {
            return self.fail(self.truncated(start));
        }
        self.reader = r;
        self.t_delta = t_delta;
        self.t = self.t.wrapping_add(t_delta as i64);
        self.v ^= delta;
        self.leading = leading;
        self.trailing = trailing;
        self.num_read += 1;
        ValueType::Float
    }
}

/// Reads an unsigned LEB128 varint as Go's `binary.ReadUvarint` accepts it;
/// `None` if it overflows 64 bits. Bits past the end read as zero, which
/// ends the varint; the caller reports that as truncation.
#[inline]
fn read_uvarint(r: &mut BitReader<'_>) -> Option<u64> {
    let mut x = 0u64;
    let mut shift = 0;
    for i in 0..10 {
        let byte = r.read_bits(8) as u8;
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some(x | u64::from(byte) << shift);
        }
        x |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    None
}

impl SampleIterator for XorIterator<'_> {
    #[inline]
    fn next(&mut self) -> ValueType {
        if self.num_read == self.num_total || self.err.is_some() {
            self.exhausted = true;
            return ValueType::None;
        }
        match self.num_read {
            0 => self.read_first(),
            1 => self.read_second(),
            _ => self.read_later(),
        }
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.exhausted {
            return ValueType::None;
        }
        if self.num_read > 0 && self.t >= t {
            return ValueType::Float;
        }
        loop {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
            if self.t >= t {
                return ValueType::Float;
            }
        }
    }

    #[inline]
    fn at(&self) -> (i64, f64) {
        (self.t, f64::from_bits(self.v))
    }

    #[inline]
    fn at_t(&self) -> i64 {
        self.t
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.err.as_ref().map(|e| e as _)
    }
}
