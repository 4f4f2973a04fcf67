//! Snappy **block** format (not the framed stream format), as every remote
//! write and SAMPLES remote-read body is compressed.
//!
//! Decoding is bounded: the block header states the decoded length, and a
//! body announcing more than the host's limit is refused before any
//! buffer is allocated for it, so a small hostile body cannot make the
//! receiver allocate gigabytes.

use crate::DecodeError;

/// Decompresses a snappy block into `out` (cleared first, reused across
/// calls so a receiver allocates once per connection, not per request),
/// refusing bodies whose decoded length exceeds `limit` bytes.
///
/// ```
/// let body = aion_remote::snappy::compress(b"hello hello hello");
/// let mut out = Vec::new();
/// aion_remote::snappy::decompress_into(&body, 1024, &mut out).unwrap();
/// assert_eq!(out, b"hello hello hello");
/// assert!(aion_remote::snappy::decompress_into(&body, 4, &mut out).is_err());
/// ```
pub fn decompress_into(body: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let decoded = snap::raw::decompress_len(body).map_err(|source| DecodeError::Snappy {
        compressed: body.len(),
        source,
    })?;
    if decoded > limit {
        return Err(DecodeError::TooLarge {
            compressed: body.len(),
            decoded,
            limit,
        });
    }
    out.clear();
    out.resize(decoded, 0);
    let n = snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(|source| DecodeError::Snappy {
            compressed: body.len(),
            source,
        })?;
    out.truncate(n);
    Ok(())
}

/// [`decompress_into`] into a new buffer.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decompress_into(body, limit, &mut out)?;
    Ok(out)
}

/// Compresses `data` as one snappy block.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress_into(data, &mut out);
    out
}

/// Compresses `data` as one snappy block into `out` (cleared first).
pub fn compress_into(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(snap::raw::max_compress_len(data.len()), 0);
    // Compression into a buffer of `max_compress_len` bytes fails only for
    // inputs over snappy's 4 GiB block limit.
    let n = snap::raw::Encoder::new()
        .compress(data, out)
        .expect("snappy block input over 4 GiB");
    out.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_oversized_before_allocating() {
        // A header announcing 2^32-1 bytes followed by nothing.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
        match decompress(&body, 1 << 20) {
            Err(DecodeError::TooLarge { decoded, limit, .. }) => {
                assert_eq!(decoded, u32::MAX as usize);
                assert_eq!(limit, 1 << 20);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn damaged_block_is_an_error() {
        let mut body = compress(&[7u8; 1000]);
        body.truncate(body.len() - 1);
        let e = decompress(&body, 1 << 20).unwrap_err();
        assert!(matches!(e, DecodeError::Snappy { .. }), "{e}");
        assert!(decompress(b"", 10).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let c = compress(&data);
            prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decompress(&data, 1 << 16);
        }
    }
}
