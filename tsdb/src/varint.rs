//! Go's `encoding/binary` varints, as every Prometheus file format uses
//! them, over untrusted input.

/// Appends `v` as an unsigned LEB128 varint (Go's `binary.PutUvarint`).
#[inline]
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zig-zag encoded as a uvarint (Go's `binary.PutVarint`).
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads a uvarint from the start of `b`: the value and its length in
/// bytes, or `None` if `b` ends inside it or it overflows 64 bits (Go's
/// `binary.Uvarint` refuses the same inputs).
#[inline]
pub(crate) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
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
pub(crate) fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let (u, n) = uvarint(b)?;
    Some((((u >> 1) as i64) ^ -((u & 1) as i64), n))
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

        #[test]
        fn never_panics(b: Vec<u8>) {
            let _ = uvarint(&b);
            let _ = varint(&b);
        }
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
