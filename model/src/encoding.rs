//! The integer and string encodings every Prometheus file format is built
//! from: Go's `encoding/binary` uvarints and zig-zag varints, big-endian
//! fixed-width integers, `uvarint(len) ++ bytes` strings, and the CRC32C
//! (Castagnoli) checksum. Decoders take untrusted input and return `None`
//! where Go's would fail; callers turn that into an error naming the file,
//! section and offset (each format's own error type knows those).

/// Appends `v` as an unsigned LEB128 varint (Go's `binary.PutUvarint`).
#[inline]
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zig-zag encoded as a uvarint (Go's `binary.PutVarint`).
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads a uvarint from the start of `b`: the value and its length in
/// bytes, or `None` if `b` ends inside it or it overflows 64 bits (Go's
/// `binary.Uvarint` refuses the same inputs).
#[inline]
pub fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    // One- to three-byte values (deltas, lengths, small refs: most of what
    // WAL records and index entries hold; a WAL samples record's ref
    // deltas reach three bytes when concurrent appenders created its
    // series) without the loop, so callers in other crates inline this
    // much.
    match *b {
        [b0, ..] if b0 < 0x80 => Some((u64::from(b0), 1)),
        [b0, b1, ..] if b1 < 0x80 => Some((u64::from(b0 & 0x7f) | u64::from(b1) << 7, 2)),
        [b0, b1, b2, ..] if b2 < 0x80 => Some((
            u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7 | u64::from(b2) << 14,
            3,
        )),
        _ => uvarint_long(b),
    }
}

/// [`uvarint`] for values of four bytes or more, and every error.
fn uvarint_long(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some((v | (byte as u64) << (7 * i), i + 1));
        }
        v |= ((byte & 0x7f) as u64) << (7 * i);
    }
    None
}

/// Reads a zig-zag varint from the start of `b`.
#[inline]
pub fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let (u, n) = uvarint(b)?;
    Some((((u >> 1) as i64) ^ -((u & 1) as i64), n))
}

/// Appends `uvarint(len(s)) ++ s`, the string encoding of index symbols,
/// WAL records and label sets.
#[inline]
pub fn put_uvarint_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// Reads `uvarint(len) ++ bytes` from the start of `b`: the bytes and the
/// total length consumed.
#[inline]
pub fn uvarint_bytes(b: &[u8]) -> Option<(&[u8], usize)> {
    let (len, n) = uvarint(b)?;
    let end = n.checked_add(usize::try_from(len).ok()?)?;
    Some((b.get(n..end)?, end))
}

/// Appends `v` big-endian.
#[inline]
pub fn put_be32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` big-endian.
#[inline]
pub fn put_be64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// The big-endian u16 at `off` of `b`, if in bounds: the length field of
/// WAL fragment headers and the sample count of chunk headers.
#[inline]
pub fn be16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The big-endian u32 at `off` of `b`, if in bounds.
#[inline]
pub fn be32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The big-endian u64 at `off` of `b`, if in bounds.
#[inline]
pub fn be64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_be_bytes(s.try_into().ok()?))
}

/// CRC32C (Castagnoli) of `data`, the checksum of WAL fragments, index
/// sections, chunks and remote-read frames.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Extends the CRC32C `crc` of some bytes by `data`: the checksum of their
/// concatenation, for regions written (or read) in pieces, such as a
/// chunk's encoding byte and data, or a streamed postings offset table.
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// Appends `data` followed by its CRC32C, big-endian: how chunk segment
/// files and index sections frame a checksummed region.
#[inline]
pub fn put_with_crc32c(buf: &mut Vec<u8>, data: &[u8]) {
    buf.extend_from_slice(data);
    put_be32(buf, crc32c(data));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(u: u64, i: i64) {
            let mut b = Vec::new();
            put_uvarint(&mut b, u);
            put_varint(&mut b, i);
            let (u2, n) = uvarint(&b).unwrap();
            prop_assert_eq!(u2, u);
            let (i2, m) = varint(&b[n..]).unwrap();
            prop_assert_eq!(i2, i);
            prop_assert_eq!(n + m, b.len());
        }

        /// The one- and two-byte shortcuts read what the loop reads,
        /// over-long encodings such as `0x80 0x00` included.
        #[test]
        fn shortcuts_agree_with_the_loop(b in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assert_eq!(uvarint(&b), uvarint_long(&b));
        }

        #[test]
        fn never_panics(b: Vec<u8>) {
            let _ = uvarint(&b);
            let _ = varint(&b);
        }
    }

    #[test]
    fn strings_and_fixed_width() {
        let mut b = Vec::new();
        put_uvarint_bytes(&mut b, b"abc");
        put_be32(&mut b, 7);
        put_be64(&mut b, 9);
        assert_eq!(uvarint_bytes(&b), Some((&b"abc"[..], 4)));
        assert_eq!(be32_at(&b, 4), Some(7));
        assert_eq!(be16_at(&b, 6), Some(7));
        assert_eq!(be16_at(&b, 15), None);
        assert_eq!(be64_at(&b, 8), Some(9));
        assert_eq!(be64_at(&b, 9), None);
        assert_eq!(uvarint_bytes(&[5, b'a']), None);
        let mut framed = Vec::new();
        put_with_crc32c(&mut framed, b"123456789");
        // The CRC-32C check value.
        assert_eq!(be32_at(&framed, 9), Some(0xe306_9283));
        assert_eq!(crc32c_append(crc32c(b"1234"), b"56789"), 0xe306_9283);
    }

    #[test]
    fn refuses_truncated_and_overflowing() {
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[]), None);
        assert_eq!(
            uvarint(&[0xff; 9].iter().chain(&[2]).copied().collect::<Vec<_>>()),
            None
        );
        assert_eq!(
            uvarint(&[0xff; 9].iter().chain(&[1]).copied().collect::<Vec<_>>()),
            Some((u64::MAX, 10))
        );
    }
}
