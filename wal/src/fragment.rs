//! The fragment layer: how record bytes are laid out inside pages.
//!
//! ```text
//! u8   header   bits 0-2 fragment type, bit 3 snappy, bit 4 zstd
//! be16 length   bytes of data in this fragment
//! be32 crc32c   of the data as stored (after compression)
//! [length] data
//! ```
//!
//! A record is split into a `full` fragment, or `first`, `middle`…, `last`;
//! fragments never cross a page boundary. A header byte of zero starts
//! padding: the rest of the page is zeros. Note that the header byte is not
//! covered by the checksum; the reader's sequence and compression checks
//! stand in for that.

use aion_model::encoding::{be16_at, be32_at, crc32c};

use crate::error::Corruption;
use crate::segment::PAGE_SIZE;

/// Size of a fragment header.
pub const HEADER_SIZE: usize = 7;

/// The largest fragment payload (a page minus one header).
pub const MAX_FRAGMENT_DATA: usize = PAGE_SIZE - HEADER_SIZE;

const TYPE_MASK: u8 = 0b111;
const SNAPPY_FLAG: u8 = 1 << 3;
const ZSTD_FLAG: u8 = 1 << 4;
const UNKNOWN_FLAGS: u8 = !(TYPE_MASK | SNAPPY_FLAG | ZSTD_FLAG);

/// Position of a fragment within its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentType {
    /// The whole record.
    Full = 1,
    /// The record's first fragment.
    First = 2,
    /// A fragment between the first and the last.
    Middle = 3,
    /// The record's last fragment.
    Last = 4,
}

impl FragmentType {
    /// Lower-case name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FragmentType::Full => "full",
            FragmentType::First => "first",
            FragmentType::Middle => "middle",
            FragmentType::Last => "last",
        }
    }

    /// Whether a fragment of this type starts a record.
    pub fn starts_record(self) -> bool {
        matches!(self, FragmentType::Full | FragmentType::First)
    }

    /// Whether a fragment of this type ends a record.
    pub fn ends_record(self) -> bool {
        matches!(self, FragmentType::Full | FragmentType::Last)
    }
}

/// How a record's bytes are compressed on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// Snappy block format (not the framed format).
    Snappy,
    /// Zstandard frame (Prometheus ≥ 2.46); recognised, not supported.
    Zstd,
}

impl Compression {
    fn flag(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Snappy => SNAPPY_FLAG,
            Compression::Zstd => ZSTD_FLAG,
        }
    }
}

/// The header byte for a fragment.
pub fn header_byte(typ: FragmentType, compression: Compression) -> u8 {
    typ as u8 | compression.flag()
}

/// Writes a complete fragment header into `out[..HEADER_SIZE]`.
pub fn write_header(out: &mut [u8], typ: FragmentType, compression: Compression, data: &[u8]) {
    debug_assert!(data.len() <= MAX_FRAGMENT_DATA);
    out[0] = header_byte(typ, compression);
    out[1..3].copy_from_slice(&(data.len() as u16).to_be_bytes());
    out[3..7].copy_from_slice(&crc32c(data).to_be_bytes());
}

/// One parsed fragment, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Position in its record.
    pub typ: FragmentType,
    /// Compression named by the header.
    pub compression: Compression,
    /// The payload (checksum verified).
    pub data: &'a [u8],
}

impl Fragment<'_> {
    /// Bytes the fragment occupies, header included.
    pub fn size(&self) -> usize {
        HEADER_SIZE + self.data.len()
    }
}

/// Result of looking at the bytes at one segment offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete, checksum-verified fragment.
    Fragment(Fragment<'a>),
    /// Zero padding of this many bytes, up to the end of the page.
    Padding(usize),
    /// The window ends before the fragment (or padding run) does; every
    /// byte seen so far is plausible. At the end of a file this is a torn
    /// write unless it is padding (see [`Parsed::PartialPadding`]).
    NeedMore,
    /// The window ends inside a padding run whose bytes so far are all zero.
    /// At the end of a file this is a clean end.
    PartialPadding,
}

/// Parses the fragment starting at `window[0]`, which is at byte `offset`
/// of its segment (needed to find the page end for padding).
///
/// `window` holds the bytes available from `offset` on; it need not reach
/// the end of the page.
pub fn parse(window: &[u8], offset: u64) -> Result<Parsed<'_>, Corruption> {
    let Some(&header) = window.first() else {
        return Ok(Parsed::NeedMore);
    };
    if header == 0 {
        let to_page_end = PAGE_SIZE - (offset % PAGE_SIZE as u64) as usize;
        let avail = &window[..window.len().min(to_page_end)];
        if avail.iter().any(|&b| b != 0) {
            return Err(Corruption::NonZeroPadding);
        }
        return Ok(if avail.len() == to_page_end {
            Parsed::Padding(to_page_end)
        } else {
            Parsed::PartialPadding
        });
    }
    if header & UNKNOWN_FLAGS != 0 {
        return Err(Corruption::UnknownHeaderFlags(header));
    }
    let typ = match header & TYPE_MASK {
        1 => FragmentType::Full,
        2 => FragmentType::First,
        3 => FragmentType::Middle,
        4 => FragmentType::Last,
        other => return Err(Corruption::UnknownFragmentType(other)),
    };
    let compression = match (header & SNAPPY_FLAG != 0, header & ZSTD_FLAG != 0) {
        (false, false) => Compression::None,
        (true, false) => Compression::Snappy,
        (false, true) => Compression::Zstd,
        (true, true) => return Err(Corruption::UnknownHeaderFlags(header)),
    };
    if window.len() < HEADER_SIZE {
        return Ok(Parsed::NeedMore);
    }
    let (Some(len), Some(stored)) = (be16_at(window, 1), be32_at(window, 3)) else {
        return Ok(Parsed::NeedMore);
    };
    if len as usize > MAX_FRAGMENT_DATA {
        return Err(Corruption::FragmentTooLong(len));
    }
    let end = HEADER_SIZE + len as usize;
    if window.len() < end {
        return Ok(Parsed::NeedMore);
    }
    let data = &window[HEADER_SIZE..end];
    let computed = crc32c(data);
    if computed != stored {
        return Err(Corruption::ChecksumMismatch { stored, computed });
    }
    Ok(Parsed::Fragment(Fragment {
        typ,
        compression,
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(typ: FragmentType, c: Compression, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0; HEADER_SIZE];
        write_header(&mut v, typ, c, data);
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn round_trip_header() {
        let bytes = fragment(FragmentType::First, Compression::Snappy, b"hello");
        assert_eq!(bytes[0], 0b1010);
        assert_eq!(&bytes[1..3], &[0, 5]);
        assert_eq!(
            parse(&bytes, 0).unwrap(),
            Parsed::Fragment(Fragment {
                typ: FragmentType::First,
                compression: Compression::Snappy,
                data: b"hello"
            })
        );
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut], 0).unwrap(), Parsed::NeedMore);
        }
    }

    #[test]
    fn empty_fragment_has_zero_checksum() {
        let bytes = fragment(FragmentType::Full, Compression::None, b"");
        assert_eq!(bytes, [1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn detects_damage() {
        let mut bytes = fragment(FragmentType::Full, Compression::None, b"abc");
        bytes[8] ^= 1;
        assert!(matches!(
            parse(&bytes, 0),
            Err(Corruption::ChecksumMismatch { .. })
        ));
        assert_eq!(parse(&[5], 0), Err(Corruption::UnknownFragmentType(5)));
        assert_eq!(parse(&[0x21], 0), Err(Corruption::UnknownHeaderFlags(0x21)));
        assert_eq!(parse(&[0x19], 0), Err(Corruption::UnknownHeaderFlags(0x19)));
        assert_eq!(
            parse(&[1, 0x80, 0, 0, 0, 0, 0], 0),
            Err(Corruption::FragmentTooLong(0x8000))
        );
        let zstd = fragment(FragmentType::Full, Compression::Zstd, b"x");
        assert!(matches!(
            parse(&zstd, 0).unwrap(),
            Parsed::Fragment(Fragment {
                compression: Compression::Zstd,
                ..
            })
        ));
    }

    #[test]
    fn padding_runs_to_the_page_end() {
        let page = vec![0u8; PAGE_SIZE];
        assert_eq!(
            parse(&page[100..], 100).unwrap(),
            Parsed::Padding(PAGE_SIZE - 100)
        );
        assert_eq!(parse(&page[100..200], 100).unwrap(), Parsed::PartialPadding);
        let mut dirty = page.clone();
        dirty[PAGE_SIZE - 1] = 1;
        assert_eq!(parse(&dirty[100..], 100), Err(Corruption::NonZeroPadding));
        // A zero at the last byte of a page pads just that byte.
        assert_eq!(
            parse(&[0, 1], PAGE_SIZE as u64 - 1).unwrap(),
            Parsed::Padding(1)
        );
    }
}
