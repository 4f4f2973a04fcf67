//! The index format's view of the shared byte encodings: the primitives of
//! [`aion_model::encoding`] (big-endian integers, Go's uvarint/varint,
//! length-prefixed strings, CRC32C), re-exported for the index modules, and
//! a bounds-checked decoder over them whose errors name the section and
//! absolute file offset.

use aion_model::encoding::{be64_at, uvarint, varint};

use crate::error::{Error, Result};

pub(crate) use aion_model::encoding::{
    be32_at, crc32c, crc32c_append, put_be32, put_be64, put_uvarint,
    put_uvarint_bytes as put_uvarint_str, put_varint,
};

/// A cursor over untrusted bytes. Every read is bounds-checked; a failure
/// becomes [`Error::Corrupt`] naming `section` and the absolute offset
/// (`base` + position) of the field that could not be read.
#[derive(Clone)]
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
    section: &'static str,
}

impl<'a> Decoder<'a> {
    /// Decodes `buf`, which starts at absolute offset `base` of the file.
    pub(crate) fn new(buf: &'a [u8], base: u64, section: &'static str) -> Self {
        Decoder {
            buf,
            pos: 0,
            base,
            section,
        }
    }

    /// Absolute file offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes not yet consumed.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// An error at the current position.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.section, self.offset(), reason)
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!("need {n} bytes, only {} left", self.remaining())));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    #[inline]
    pub(crate) fn be32(&mut self) -> Result<u32> {
        match be32_at(self.buf, self.pos) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.short(4)),
        }
    }

    #[inline]
    pub(crate) fn be64(&mut self) -> Result<u64> {
        match be64_at(self.buf, self.pos) {
            Some(v) => {
                self.pos += 8;
                Ok(v)
            }
            None => Err(self.short(8)),
        }
    }

    #[cold]
    fn short(&self, n: usize) -> Error {
        self.error(format!("need {n} bytes, only {} left", self.remaining()))
    }

    /// A Go uvarint: at most 10 bytes, the 10th at most 1.
    #[inline]
    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        match uvarint(self.rest()) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.varint_error()),
        }
    }

    /// Why a varint at the cursor did not decode: cut off by the end of the
    /// buffer, or running past 64 bits.
    #[cold]
    fn varint_error(&self) -> Error {
        let rest = self.rest();
        if rest.len() < 10 && rest.iter().all(|&b| b >= 0x80) {
            self.error("truncated uvarint")
        } else {
            self.error("uvarint overflows 64 bits")
        }
    }

    /// A uvarint that must fit 32 bits (symbol references).
    #[inline]
    pub(crate) fn uvarint32(&mut self) -> Result<u32> {
        let at = self.offset();
        let v = self.uvarint()?;
        u32::try_from(v)
            .map_err(|_| Error::corrupt(self.section, at, format!("value {v} overflows 32 bits")))
    }

    /// A uvarint that is used as an in-memory length or count.
    #[inline]
    pub(crate) fn uvarint_usize(&mut self) -> Result<usize> {
        let at = self.offset();
        let v = self.uvarint()?;
        usize::try_from(v)
            .map_err(|_| Error::corrupt(self.section, at, format!("length {v} too large")))
    }

    /// A zig-zag varint.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<i64> {
        match varint(self.rest()) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.varint_error()),
        }
    }

    /// `uvarint(len) ++ bytes`.
    #[inline]
    pub(crate) fn uvarint_bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.uvarint_usize()?;
        self.bytes(n)
    }

    /// `uvarint(len) ++ bytes` that must be UTF-8 (label names and values).
    #[inline]
    pub(crate) fn uvarint_str(&mut self) -> Result<&'a str> {
        let at = self.offset();
        let b = self.uvarint_bytes()?;
        std::str::from_utf8(b)
            .map_err(|e| Error::corrupt(self.section, at, format!("string is not UTF-8: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let values = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut buf = Vec::new();
        for v in values {
            put_uvarint(&mut buf, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            put_varint(&mut buf, v);
        }
        let mut d = Decoder::new(&buf, 100, "test");
        for v in values {
            assert_eq!(d.uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            assert_eq!(d.varint().unwrap(), v);
        }
        assert_eq!(d.remaining(), 0);
    }

    #[test]
    fn errors_name_section_and_offset() {
        let mut d = Decoder::new(&[0x80, 0x80], 40, "series");
        let e = d.uvarint().unwrap_err().to_string();
        assert!(e.contains("series at offset 40"), "{e}");
        let over = [0xff; 10];
        assert!(Decoder::new(&over, 0, "x").uvarint().is_err());
        let mut d = Decoder::new(&[1, 2, 3], 7, "postings");
        d.bytes(1).unwrap();
        let e = d.be32().unwrap_err().to_string();
        assert!(e.contains("postings at offset 8"), "{e}");
    }
}
