//! The table of contents: the last 52 bytes of an index file.

use crate::encoding::{be32_at, crc32c, put_be32, put_be64, Decoder};
use crate::error::{Error, Result};

/// Offsets of the index sections, as stored in the file's last 52 bytes.
///
/// Prometheus ≥ 3.7 writes no label indices: then `label_indices ==
/// postings` and `label_offset_table == postings_offset_table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Toc {
    /// Start of the symbol table (always 5).
    pub symbols: u64,
    /// End of the symbol table; series follow (after alignment padding).
    pub series: u64,
    /// End of the last series entry; label indices follow, if any.
    pub label_indices: u64,
    /// Start of the label offset table (legacy).
    pub label_offset_table: u64,
    /// End of the label indices; postings lists follow (after padding).
    pub postings: u64,
    /// Start of the postings offset table.
    pub postings_offset_table: u64,
}

impl Toc {
    /// Encoded size: six be64 and a CRC.
    pub const LEN: usize = 6 * 8 + 4;

    /// Encodes the TOC with its CRC.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = Vec::with_capacity(Self::LEN);
        for v in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_offset_table,
            self.postings,
            self.postings_offset_table,
        ] {
            put_be64(&mut b, v);
        }
        let crc = crc32c(&b);
        put_be32(&mut b, crc);
        let mut out = [0u8; Self::LEN];
        out.copy_from_slice(&b);
        out
    }

    /// Decodes and checks the TOC at the end of `file`.
    pub fn decode(file: &[u8]) -> Result<Toc> {
        if file.len() < Self::LEN {
            return Err(Error::corrupt(
                "TOC",
                0,
                format!("file of {} bytes is too short for a TOC", file.len()),
            ));
        }
        let start = file.len() - Self::LEN;
        let b = &file[start..];
        let want = be32_at(b, 48).unwrap_or_default();
        let got = crc32c(&b[..48]);
        if want != got {
            return Err(Error::corrupt(
                "TOC",
                start as u64,
                format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
            ));
        }
        let mut d = Decoder::new(&b[..48], start as u64, "TOC");
        Ok(Toc {
            symbols: d.be64()?,
            series: d.be64()?,
            label_indices: d.be64()?,
            label_offset_table: d.be64()?,
            postings: d.be64()?,
            postings_offset_table: d.be64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crc() {
        let t = Toc {
            symbols: 5,
            series: 49,
            label_indices: 146,
            label_offset_table: 344,
            postings: 220,
            postings_offset_table: 378,
        };
        let mut file = vec![0u8; 10];
        file.extend_from_slice(&t.encode());
        assert_eq!(Toc::decode(&file).unwrap(), t);
        file[12] ^= 1;
        let e = Toc::decode(&file).unwrap_err().to_string();
        assert!(
            e.contains("TOC at offset 10") && e.contains("checksum"),
            "{e}"
        );
        assert!(Toc::decode(&[0; 51]).is_err());
    }
}
