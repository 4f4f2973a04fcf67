//! The record codecs' view of the shared field encodings: a read cursor
//! that turns the primitives of [`aion_model::encoding`] (big-endian
//! integers, Go-compatible zig-zag varints, length-prefixed strings) into
//! errors naming the record and byte offset, plus the label-set and
//! delta-base layouts every record type shares.

use aion_model::encoding::{
    be64_at, put_be64, put_uvarint, put_uvarint_bytes, put_varint, uvarint, varint,
};
use aion_model::Labels;

use super::error::{DecodeError, Problem};

/// Appends a label set: count, then name/value pairs in name order.
pub(crate) fn put_labels(buf: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(buf, labels.len() as u64);
    for l in labels {
        put_uvarint_bytes(buf, l.name.as_bytes());
        put_uvarint_bytes(buf, l.value.as_bytes());
    }
}

/// A read cursor over one record that reports errors with the record kind
/// and byte offset.
pub(crate) struct Buf<'a> {
    data: &'a [u8],
    pos: usize,
    record: &'static str,
}

impl<'a> Buf<'a> {
    pub(crate) fn new(data: &'a [u8], record: &'static str) -> Self {
        Buf {
            data,
            pos: 0,
            record,
        }
    }

    /// Reads the type byte and checks it against `accepted`.
    pub(crate) fn new_typed(
        data: &'a [u8],
        record: &'static str,
        accepted: &[u8],
        expected: &'static str,
    ) -> Result<(Self, u8), DecodeError> {
        let mut b = Buf::new(data, record);
        let Some(&t) = data.first() else {
            return Err(b.error(Problem::Empty));
        };
        if !accepted.contains(&t) {
            return Err(b.error(Problem::WrongType { expected, found: t }));
        }
        b.pos = 1;
        Ok((b, t))
    }

    pub(crate) fn error(&self, problem: Problem) -> DecodeError {
        DecodeError {
            record: self.record,
            offset: self.pos,
            problem,
        }
    }

    pub(crate) fn error_at(&self, offset: usize, problem: Problem) -> DecodeError {
        DecodeError {
            record: self.record,
            offset,
            problem,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.error(Problem::Truncated(what))),
        }
    }

    #[inline]
    pub(crate) fn be64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        match be64_at(self.data, self.pos) {
            Some(v) => {
                self.pos += 8;
                Ok(v)
            }
            None => Err(self.error(Problem::Truncated(what))),
        }
    }

    #[inline]
    pub(crate) fn be64_f64(&mut self, what: &'static str) -> Result<f64, DecodeError> {
        self.be64(what).map(f64::from_bits)
    }

    /// Reads an unsigned varint with Go's rules: at most 10 bytes, and the
    /// 10th may only hold the top bit.
    #[inline]
    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        match uvarint(self.rest()) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.varint_error(what)),
        }
    }

    /// Reads a zig-zag varint (Go's `binary.Varint`).
    #[inline]
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        match varint(self.rest()) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(self.varint_error(what)),
        }
    }

    /// The bytes not read yet.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }

    /// Moves past `n` bytes a caller read from [`Buf::rest`].
    #[inline]
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.data.len());
    }

    /// Why a varint at the cursor did not decode: cut off by the end of the
    /// record (`Truncated`, reported at the end) or running past 64 bits
    /// (`VarintOverflow`, reported at its start).
    #[cold]
    fn varint_error(&mut self, what: &'static str) -> DecodeError {
        let rest = self.rest();
        if rest.len() < 10 && rest.iter().all(|&b| b >= 0x80) {
            self.pos = self.data.len();
            self.error(Problem::Truncated(what))
        } else {
            self.error(Problem::VarintOverflow(what))
        }
    }

    /// A uvarint that must fit `u32`.
    pub(crate) fn uvarint32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let start = self.pos;
        let v = self.uvarint(what)?;
        u32::try_from(v).map_err(|_| self.error_at(start, Problem::OutOfRange(what)))
    }

    /// A varint that must fit `i32`.
    pub(crate) fn varint32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let start = self.pos;
        let v = self.varint(what)?;
        i32::try_from(v).map_err(|_| self.error_at(start, Problem::OutOfRange(what)))
    }

    /// A count of following items each at least `min_item_size` bytes long;
    /// a count the rest of the record cannot hold is rejected before any
    /// allocation is sized by it.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_item_size: usize,
    ) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.uvarint(what)?;
        if n > (self.remaining() / min_item_size.max(1)) as u64 {
            return Err(self.error_at(start, Problem::Truncated(what)));
        }
        Ok(n as usize)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.data.get(self.pos..self.pos.saturating_add(n)) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.error(Problem::Truncated(what))),
        }
    }

    /// A uvarint length followed by that many UTF-8 bytes.
    pub(crate) fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let len_at = self.pos;
        let len = self.uvarint(what)?;
        let len =
            usize::try_from(len).map_err(|_| self.error_at(len_at, Problem::Truncated(what)))?;
        let start = self.pos;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| self.error_at(start, Problem::InvalidUtf8(what)))
    }

    /// A label set as written by [`put_labels`].
    ///
    /// Prometheus writes labels sorted by name; a record with unsorted
    /// labels is still accepted (and sorted), as Prometheus's decoder does.
    /// Duplicate or empty names are rejected: no label set has them.
    pub(crate) fn labels(&mut self) -> Result<Labels, DecodeError> {
        let n = self.count("label count", 2)?;
        let start = self.pos;
        let mut sorted = true;
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let name_at = self.pos;
            let name = self.str("label name")?;
            self.str("label value")?;
            if name.is_empty() {
                return Err(self.error_at(name_at, Problem::EmptyLabelName));
            }
            if let Some(p) = prev {
                match p.cmp(name) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return Err(
                            self.error_at(name_at, Problem::DuplicateLabelName(name.to_string()))
                        )
                    }
                    std::cmp::Ordering::Greater => sorted = false,
                }
            }
            prev = Some(name);
        }
        // Second pass over already validated bytes.
        let mut again = Buf::new(&self.data[start..self.pos], self.record);
        let mut pair = move || -> (&'a str, &'a str) {
            let n = again.str("label name").unwrap_or_default();
            let v = again.str("label value").unwrap_or_default();
            (n, v)
        };
        if sorted {
            return Ok(Labels::from_sorted_unchecked((0..n).map(|_| pair())));
        }
        let mut pairs: Vec<(&str, &str)> = (0..n).map(|_| pair()).collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(self.error_at(start, Problem::DuplicateLabelName(w[0].0.to_string())));
        }
        Ok(Labels::from_sorted_unchecked(pairs))
    }
}

/// The base of v1 sample-like records (samples, exemplars, histogram
/// samples): the first element's ref and timestamp as `be64`, then for
/// every element, the first included, zig-zag deltas to them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeltaBase {
    r#ref: i64,
    t: i64,
}

impl DeltaBase {
    /// Writes the base taken from the first element.
    pub(crate) fn put(buf: &mut Vec<u8>, r#ref: u64, t: i64) -> DeltaBase {
        put_be64(buf, r#ref);
        put_be64(buf, t as u64);
        DeltaBase {
            r#ref: r#ref as i64,
            t,
        }
    }

    /// Writes an element's ref and timestamp as deltas to the base.
    #[inline]
    pub(crate) fn put_element(&self, buf: &mut Vec<u8>, r#ref: u64, t: i64) {
        put_varint(buf, (r#ref as i64).wrapping_sub(self.r#ref));
        put_varint(buf, t.wrapping_sub(self.t));
    }

    pub(crate) fn read(b: &mut Buf<'_>) -> Result<DeltaBase, DecodeError> {
        Ok(DeltaBase {
            r#ref: b.be64("first ref")? as i64,
            t: b.be64("first timestamp")? as i64,
        })
    }

    /// The base (ref, timestamp) the elements' deltas are added to.
    #[inline]
    pub(crate) fn base(&self) -> (i64, i64) {
        (self.r#ref, self.t)
    }

    /// Reads an element's ref and timestamp.
    #[inline]
    pub(crate) fn read_element(&self, b: &mut Buf<'_>) -> Result<(u64, i64), DecodeError> {
        let dref = b.varint("ref delta")?;
        let dt = b.varint("timestamp delta")?;
        Ok((
            self.r#ref.wrapping_add(dref) as u64,
            self.t.wrapping_add(dt),
        ))
    }
}

/// Returns the slot `n` of `out` for reuse, growing `out` by a default
/// element when needed. Decoders fill slots in order and truncate at the
/// end, so heap buffers inside elements (histogram buckets, metadata
/// strings) are reused from record to record.
pub(crate) fn slot<T: Default>(out: &mut Vec<T>, n: usize) -> &mut T {
    if n == out.len() {
        out.push(T::default());
    }
    &mut out[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_go() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0]),
            (-1, &[1]),
            (1, &[2]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 1]),
            (1000, &[0xd0, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b, bytes, "{v}");
            assert_eq!(Buf::new(bytes, "t").varint("x").unwrap(), v);
        }
        for v in [i64::MIN, i64::MAX, u32::MAX as i64] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Buf::new(&b, "t").varint("x").unwrap(), v);
        }
        let mut b = Vec::new();
        put_uvarint(&mut b, u64::MAX);
        assert_eq!(b.len(), 10);
        assert_eq!(Buf::new(&b, "t").uvarint("x").unwrap(), u64::MAX);
    }

    #[test]
    fn varint_errors() {
        let over = [0xffu8; 10];
        let e = Buf::new(&over, "t").uvarint("ref").unwrap_err();
        assert_eq!(e.problem, Problem::VarintOverflow("ref"));
        let mut ten = [0x80u8; 10];
        ten[9] = 2;
        assert!(Buf::new(&ten, "t").uvarint("ref").is_err());
        let e = Buf::new(&[0x80], "t").uvarint("ref").unwrap_err();
        assert_eq!(e.problem, Problem::Truncated("ref"));
    }

    #[test]
    fn labels_round_trip_and_sorting() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1")]).unwrap();
        let mut b = Vec::new();
        put_labels(&mut b, &l);
        assert_eq!(b, [2, 1, b'a', 1, b'1', 1, b'b', 1, b'2']);
        assert_eq!(Buf::new(&b, "t").labels().unwrap(), l);

        let unsorted = [2, 1, b'b', 1, b'2', 1, b'a', 1, b'1'];
        assert_eq!(Buf::new(&unsorted, "t").labels().unwrap(), l);

        let dup = [2, 1, b'a', 1, b'2', 1, b'a', 1, b'1'];
        assert!(matches!(
            Buf::new(&dup, "t").labels().unwrap_err().problem,
            Problem::DuplicateLabelName(n) if n == "a"
        ));
        let bad_utf8 = [1, 1, 0xff, 0];
        assert_eq!(
            Buf::new(&bad_utf8, "t").labels().unwrap_err().problem,
            Problem::InvalidUtf8("label name")
        );
        let huge_count = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(Buf::new(&huge_count, "t").labels().is_err());
    }
}
