//! Decoding XOR2 chunks.

use std::error::Error as StdError;

use super::HEADER_LEN;
use crate::bstream::BitReader;
use crate::histogram::varbit::read_varbit_int;
use crate::{Error, SampleIterator, ValueType, STALE_NAN_BITS};

/// A cursor over the samples of an XOR2 chunk, reading the bytes in place;
/// [`SampleIterator::at_st`] gives each sample's start timestamp (0 if the
/// chunk has none). It allocates nothing and never panics on corrupt data.
#[derive(Debug, Clone)]
pub struct Xor2Iterator<'a> {
    data: &'a [u8],
    r: BitReader<'a>,
    num_total: u16,
    num_read: u16,
    first_st_known: bool,
    first_st_change: u16,
    leading: u8,
    trailing: u8,
    st: i64,
    t: i64,
    v: u64,
    t_delta: u64,
    st_diff: i64,
    baseline: u64,
    err: Option<Error>,
    done: bool,
}

/// Why a sample could not be read (turned into an [`Error`] with context).
enum Fault {
    Truncated,
    Varint,
    Window(u8, u8),
}

impl<'a> Xor2Iterator<'a> {
    /// A cursor over chunk data (the bytes after the encoding byte).
    pub fn new(data: &'a [u8]) -> Self {
        let mut it = Xor2Iterator {
            data,
            r: BitReader::new(data, 0),
            num_total: 0,
            num_read: 0,
            first_st_known: false,
            first_st_change: 0,
            leading: 0,
            trailing: 0,
            st: 0,
            t: i64::MIN,
            v: 0,
            t_delta: 0,
            st_diff: 0,
            baseline: 0,
            err: None,
            done: false,
        };
        if data.len() < HEADER_LEN {
            it.err = Some(Error::MissingXor2Header { len: data.len() });
            it.done = true;
            return it;
        }
        it.r = BitReader::new(data, 8 * HEADER_LEN as u64);
        it.num_total = u16::from_be_bytes([data[0], data[1]]);
        it.first_st_known = data[2] & 0x80 != 0;
        it.first_st_change = u16::from(data[2] & 0x7f);
        it
    }

    /// The sample count from the header.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num_total)
    }

    /// The decoding error, if iteration stopped because of one.
    pub fn error(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    fn read_uvarint(&mut self) -> Result<u64, Fault> {
        let mut x = 0u64;
        for i in 0..10 {
            let b = self.r.read_bits(8);
            if i == 9 && b > 1 {
                return Err(Fault::Varint);
            }
            x |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err(Fault::Varint)
    }

    fn read_varint(&mut self) -> Result<i64, Fault> {
        let u = self.read_uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    /// `<varbit_xor2>` after its first bits are known not to be a joint
    /// control code.
    fn read_value(&mut self) -> Result<(), Fault> {
        if self.r.read_bits(1) == 0 {
            self.v = self.baseline;
            return Ok(());
        }
        if self.r.read_bits(1) == 0 {
            return self.reuse_window();
        }
        if self.r.read_bits(1) == 0 {
            return self.new_window();
        }
        self.v = STALE_NAN_BITS;
        Ok(())
    }

    fn reuse_window(&mut self) -> Result<(), Fault> {
        let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let x = self.r.read_bits(significant);
        self.v = self.baseline ^ x << self.trailing;
        self.baseline = self.v;
        Ok(())
    }

    fn new_window(&mut self) -> Result<(), Fault> {
        let head = self.r.read_bits(11);
        let leading = (head >> 6) as u32;
        let significant = match (head & 0x3f) as u32 {
            0 => 64,
            m => m,
        };
        if leading + significant > 64 {
            return Err(Fault::Window(leading as u8, significant as u8));
        }
        self.leading = leading as u8;
        self.trailing = (64 - leading - significant) as u8;
        self.reuse_window()
    }

    /// The optional start-timestamp field after sample `index`'s value.
    fn read_st(&mut self, index: u16, prev_t: i64) {
        if self.first_st_change == 0 || index < self.first_st_change {
            return;
        }
        let d = read_varbit_int(&mut self.r);
        self.st_diff = if index == self.first_st_change {
            d
        } else {
            self.st_diff.wrapping_add(d)
        };
        self.st = prev_t.wrapping_sub(self.st_diff);
    }

    fn read_sample(&mut self) -> Result<(), Fault> {
        let index = self.num_read;
        let prev_t = self.t;
        match index {
            0 => {
                self.t = self.read_varint()?;
                self.v = self.r.read_bits(64);
                if self.v != STALE_NAN_BITS {
                    self.baseline = self.v;
                }
                if self.first_st_known {
                    let d = self.read_varint()?;
                    self.st = self.t.wrapping_sub(d);
                }
            }
            1 => {
                self.t_delta = self.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
                self.read_st(index, prev_t);
            }
            _ => {
                if self.r.available() < 5 {
                    self.r.refill();
                }
                let ones = (!self.r.peek()).leading_zeros().min(5);
                self.r.consume(if ones == 5 { 5 } else { ones + 1 });
                let dod_bits = match ones {
                    0 => {
                        self.v = self.baseline;
                        None
                    }
                    1 => {
                        // The value changed: `0` reuse window, `1` new one.
                        if self.r.read_bits(1) == 0 {
                            self.reuse_window()?;
                        } else {
                            self.new_window()?;
                        }
                        None
                    }
                    2 => Some(13),
                    3 => Some(20),
                    4 => Some(64),
                    _ => {
                        self.v = STALE_NAN_BITS;
                        None
                    }
                };
                if let Some(n) = dod_bits {
                    let raw = self.r.read_bits(n);
                    let dod = if n < 64 && raw >= 1 << (n - 1) {
                        raw.wrapping_sub(1 << n)
                    } else {
                        raw
                    };
                    self.t_delta = self.t_delta.wrapping_add(dod);
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                    self.read_value()?;
                } else {
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                }
                self.read_st(index, prev_t);
            }
        }
        if self.r.overran() {
            return Err(Fault::Truncated);
        }
        Ok(())
    }
}

impl SampleIterator for Xor2Iterator<'_> {
    fn next(&mut self) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.num_read == self.num_total {
            self.done = true;
            return ValueType::None;
        }
        let start = self.r.position();
        if let Err(fault) = self.read_sample() {
            let sample = self.num_read;
            self.err = Some(match fault {
                Fault::Truncated => Error::Xor2Truncated {
                    sample,
                    num_samples: self.num_total,
                    bit_offset: start,
                    len: self.data.len(),
                },
                Fault::Varint => Error::Xor2VarintOverflow {
                    sample,
                    byte_offset: (start / 8) as usize,
                },
                Fault::Window(leading, significant) => Error::Xor2BadValueWindow {
                    sample,
                    bit_offset: start,
                    leading,
                    significant,
                },
            });
            self.done = true;
            return ValueType::None;
        }
        self.num_read += 1;
        ValueType::Float
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        while self.num_read == 0 || self.t < t {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
        ValueType::Float
    }

    fn at(&self) -> (i64, f64) {
        (self.t, f64::from_bits(self.v))
    }

    fn at_t(&self) -> i64 {
        self.t
    }

    fn at_st(&self) -> i64 {
        self.st
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.err.as_ref().map(|e| e as _)
    }
}
