//! Decoding XOR chunks.

use std::error::Error as StdError;

use super::{sign_extend, HEADER_LEN};
use crate::bstream::{BitReader, REFILL_BITS};
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
    /// The header's sample count.
    declared: u16,
    /// Samples this iterator will read: `declared`, or fewer after an error.
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
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut it = XorIterator {
            reader: BitReader::new(bytes, (HEADER_LEN * 8) as u64),
            declared: 0,
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
            [hi, lo, ..] => {
                it.declared = u16::from_be_bytes([*hi, *lo]);
                it.num_total = it.declared;
            }
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
        usize::from(self.declared)
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

    #[inline(always)]
    fn fail(&mut self, err: Error) -> ValueType {
        self.num_total = self.num_read;
        self.err = Some(err);
        self.exhausted = true;
        ValueType::None
    }

    /// The sample being decoded starts where the committed reader stands.
    fn sample_offset(&self) -> u64 {
        self.reader.position()
    }

    fn truncated(&self) -> Error {
        Error::Truncated {
            sample: self.num_read,
            num_samples: self.declared,
            bit_offset: self.sample_offset(),
            len: (self.reader.len_bits() / 8) as usize,
        }
    }

    /// Everything but the hot path: the first two samples and the end.
    #[inline(always)]
    fn next_cold(&mut self) -> ValueType {
        if self.num_read == self.num_total || self.err.is_some() {
            self.exhausted = true;
            return ValueType::None;
        }
        match self.num_read {
            0 => self.read_first(),
            _ => self.read_second(),
        }
    }

    /// Sample 0: a varint timestamp and the raw value bits.
    #[inline(always)]
    fn read_first(&mut self) -> ValueType {
        let mut r = self.reader;
        let Some(zigzag) = read_uvarint(&mut r) else {
            return self.fail(Error::VarintOverflow {
                sample: 0,
                byte_offset: (self.sample_offset() / 8) as usize,
            });
        };
        let t = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        let v = r.read_bits(64);
        if r.overran() {
            return self.fail(self.truncated());
        }
        self.reader = r;
        self.t = t;
        self.v = v;
        self.num_read = 1;
        ValueType::Float
    }

    /// Sample 1: a uvarint timestamp delta and an XOR-compressed value.
    #[inline(always)]
    fn read_second(&mut self) -> ValueType {
        let mut r = self.reader;
        let Some(t_delta) = read_uvarint(&mut r) else {
            return self.fail(Error::VarintOverflow {
                sample: 1,
                byte_offset: (self.sample_offset() / 8) as usize,
            });
        };
        r.refill();
        self.finish_sample(r, t_delta)
    }

    /// Samples 2 and later: a delta-of-delta timestamp and an XOR value.
    ///
    /// The hot path. Fields are cut from the reader's 64-bit buffer by
    /// shifts; the buffer is topped up once per sample at most, plus once
    /// more for a long value payload.
    ///
    /// This and everything it calls are `inline(always)`, the cold first
    /// samples and error paths included: only when no call receives the
    /// iterator by reference can the compiler keep its fields in registers
    /// across a caller's `while it.next() == Float` loop, which halves the
    /// time per sample.
    #[inline(always)]
    fn read_later(&mut self) -> ValueType {
        let mut r = self.reader;
        if r.available() < REFILL_BITS {
            r.refill();
        }
        let w = r.peek();
        // Regular scrapes give dod 0 (`0`) or a few ms of jitter (`10` +
        // 14 bits), tested first; the rarer wider buckets come after.
        let dod = if (w as i64) >= 0 {
            r.consume(1);
            0
        } else if ((w << 1) as i64) >= 0 {
            r.consume(16);
            sign_extend((w << 2) >> 50, 14)
        } else {
            read_wide_dod(&mut r, w)
        };
        let t_delta = self.t_delta.wrapping_add(dod as u64);
        self.finish_sample(r, t_delta)
    }

    /// Decodes the XOR value at `r` (which holds at least 13 buffered
    /// bits), then commits the sample if the data held all of it.
    #[inline(always)]
    fn finish_sample(&mut self, mut r: BitReader<'a>, t_delta: u64) -> ValueType {
        let w = r.peek();
        let (mut leading, mut trailing) = (self.leading, self.trailing);
        let delta = if (w as i64) >= 0 {
            // `0`: value unchanged.
            r.consume(1);
            0
        } else {
            if ((w << 1) as i64) >= 0 {
                // `10`: reuse the current window. Before any window was
                // read the state is 0/0, a 64-bit window, as in
                // Prometheus's reader (a resumed appender writes that).
                r.consume(2);
            } else {
                // `11`: 5 bits of leading zeros, 6 bits of significant-bit
                // count (0 meaning 64).
                r.consume(13);
                leading = ((w >> 57) & 0x1f) as u8;
                let significant = match ((w >> 51) & 0x3f) as u8 {
                    0 => 64,
                    n => n,
                };
                if leading + significant > 64 {
                    return self.fail(Error::BadValueWindow {
                        sample: self.num_read,
                        bit_offset: self.sample_offset(),
                        leading,
                        significant,
                    });
                }
                trailing = 64 - leading - significant;
            }
            r.read_bits(64 - u32::from(leading) - u32::from(trailing)) << trailing
        };
        if r.overran() {
            return self.fail(self.truncated());
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

/// The 17-bit, 20-bit and whole-int64 dod buckets (`110`, `1110`, `1111`),
/// read from `w`, the buffer of `r` (holding at least 56 bits); leaves at
/// least 13 bits buffered for the value's control bits.
#[inline(always)]
fn read_wide_dod(r: &mut BitReader<'_>, w: u64) -> i64 {
    match (!w).leading_zeros() {
        2 => {
            r.consume(20);
            sign_extend((w << 3) >> 47, 17)
        }
        3 => {
            r.consume(24);
            sign_extend((w << 4) >> 44, 20)
        }
        _ => {
            r.consume(4);
            let dod = r.read_bits(64) as i64;
            r.refill();
            dod
        }
    }
}

/// Reads an unsigned LEB128 varint as Go's `binary.ReadUvarint` accepts it;
/// `None` if it overflows 64 bits. Bits past the end read as zero, which
/// ends the varint; the caller reports that as truncation.
#[inline(always)]
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
        // A failure freezes `num_total` at `num_read`, so this one range
        // test also covers the error state.
        if self.num_read >= 2 && self.num_read < self.num_total {
            return self.read_later();
        }
        self.next_cold()
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
