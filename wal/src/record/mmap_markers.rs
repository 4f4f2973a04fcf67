//! M-map marker records (type 5, in the out-of-order WBL): all samples of
//! a series up to now are in the head chunk at `mmap_ref`.
//!
//! ```text
//! u8 type = 5
//! repeated: be64 ref, be64 chunk_disk_mapper_ref
//! ```

use super::buf::Buf;
use super::error::DecodeError;
use super::RecordType;
use aion_model::encoding::put_be64;

/// Marks that a series' samples so far were written to a head chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RefMmapMarker {
    /// Head series reference.
    pub r#ref: u64,
    /// Reference of the chunk in `chunks_head/`: the file number (as in its
    /// name) in the upper 32 bits, the byte offset in the lower 32.
    pub mmap_ref: u64,
}

impl RefMmapMarker {
    /// The `chunks_head` file number of [`Self::mmap_ref`].
    pub fn chunk_file(&self) -> u32 {
        (self.mmap_ref >> 32) as u32
    }

    /// The byte offset in that file.
    pub fn chunk_offset(&self) -> u32 {
        self.mmap_ref as u32
    }
}

/// Appends an m-map markers record to `buf`.
pub fn encode_mmap_markers(markers: &[RefMmapMarker], buf: &mut Vec<u8>) {
    buf.push(RecordType::MmapMarkers as u8);
    for m in markers {
        put_be64(buf, m.r#ref);
        put_be64(buf, m.mmap_ref);
    }
}

/// Decodes an m-map markers record into `out`, replacing its contents.
pub fn decode_mmap_markers(rec: &[u8], out: &mut Vec<RefMmapMarker>) -> Result<(), DecodeError> {
    out.clear();
    let (mut b, _) = Buf::new_typed(
        rec,
        "mmap markers",
        &[RecordType::MmapMarkers as u8],
        "5 (mmap markers)",
    )?;
    while !b.is_empty() {
        let r#ref = b.be64("series ref")?;
        let mmap_ref = b.be64("chunk ref")?;
        out.push(RefMmapMarker { r#ref, mmap_ref });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = RefMmapMarker {
            r#ref: 3,
            mmap_ref: (7 << 32) | 8,
        };
        assert_eq!((m.chunk_file(), m.chunk_offset()), (7, 8));
        let mut buf = Vec::new();
        encode_mmap_markers(&[m], &mut buf);
        assert_eq!(buf.len(), 17);
        let mut out = Vec::new();
        decode_mmap_markers(&buf, &mut out).unwrap();
        assert_eq!(out, [m]);
    }
}
