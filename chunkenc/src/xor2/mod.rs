//! XOR2 chunks (encoding 4, Prometheus 3.11+): floats with optional start
//! timestamps (`docs/formats.md#xor2-chunk`), as Prometheus's `tsdb/chunkenc/xor2.go`
//! writes them.
//!
//! ```text
//! be16 num_samples
//! u8   st_header     bit 7: sample 0 has a start timestamp;
//!                    bits 0-6: first sample whose start timestamp changed
//! sample 0:  varint(t0) ++ 64 bits of v0 [++ varint(t0 - st0)]
//! sample 1:  uvarint(t1 - t0) ++ <value> [++ varbit_int(t0 - st1)]
//! sample k:  joint control (dod + value) ++ <value> [++ varbit_int st dod]
//! ```
//!
//! Compared with XOR, the timestamp and value prefixes are merged into one
//! control code (a repeated value at a steady interval is one `0` bit), a
//! stale marker has its own code instead of 64 NaN bits, and the XOR
//! baseline is the last non-stale value, so a stale marker does not make
//! the next value expensive.
//!
//! Readers always accept XOR2; [`Xor2Appender`] writes it for hosts that
//! opt in (Prometheus's `chunk_encoding.floats: xor2`).

mod appender;
mod iterator;

#[cfg(test)]
mod tests;

pub use appender::Xor2Appender;
pub use iterator::Xor2Iterator;

/// Length of the XOR2 header: sample count and start-timestamp header.
pub(crate) const HEADER_LEN: usize = 3;

/// The last sample index the 7-bit "first start-timestamp change" field
/// can name; a writer that saw no change by then records one there.
pub(crate) const MAX_FIRST_ST_CHANGE: u16 = 0x7f;

/// A finished XOR2 chunk over bytes of any ownership.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Xor2Chunk<B = Vec<u8>> {
    bytes: B,
}

impl<B: AsRef<[u8]>> Xor2Chunk<B> {
    /// Wraps chunk data (the bytes after the encoding byte). Fails only if
    /// the 3-byte header is missing.
    pub fn from_bytes(bytes: B) -> crate::Result<Self> {
        let len = bytes.as_ref().len();
        if len < HEADER_LEN {
            return Err(crate::Error::MissingXor2Header { len });
        }
        Ok(Xor2Chunk { bytes })
    }

    /// The encoded chunk.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// Gives up the byte container.
    pub fn into_inner(self) -> B {
        self.bytes
    }

    /// The sample count from the header.
    pub fn num_samples(&self) -> usize {
        let b = self.bytes();
        usize::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A cursor over the samples.
    pub fn iter(&self) -> Xor2Iterator<'_> {
        Xor2Iterator::new(self.bytes())
    }
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Xor2Chunk<B> {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}
