//! The symbol table of an index file, read side.

use crate::encoding::{crc32c, Decoder};
use crate::error::{Error, Result};

const SECTION: &str = "symbol table";

/// Where each symbol starts, found by one checked pass at open.
///
/// Every symbol's offset is kept (4 bytes per symbol) rather than every
/// 32nd as Prometheus does: decoding a series looks up two symbols per
/// label, and a direct index makes that O(1) instead of a 16-string walk
/// on average.
pub(crate) struct SymbolTable {
    /// Absolute offsets of the symbols' length prefixes.
    offsets: Vec<u32>,
}

impl SymbolTable {
    /// Reads and checks (length, CRC, every string's bounds and UTF-8) the
    /// table at absolute offset `at` of `file`.
    pub(crate) fn read(file: &[u8], at: u64) -> Result<SymbolTable> {
        let body = section_body(file, at, SECTION)?;
        let base = at + 4;
        let mut d = Decoder::new(body, base, SECTION);
        let count = d.be32()?;
        let mut offsets = Vec::with_capacity((count as usize).min(body.len()));
        let mut prev: Option<&[u8]> = None;
        for _ in 0..count {
            let off = d.offset();
            let s = d.uvarint_bytes()?;
            if std::str::from_utf8(s).is_err() {
                return Err(Error::corrupt(SECTION, off, "symbol is not UTF-8"));
            }
            if prev.is_some_and(|p| p >= s) {
                return Err(Error::corrupt(
                    SECTION,
                    off,
                    "symbols not in strictly increasing order",
                ));
            }
            prev = Some(s);
            offsets.push(
                u32::try_from(off)
                    .map_err(|_| Error::corrupt(SECTION, off, "symbol table beyond 4 GiB"))?,
            );
        }
        Ok(SymbolTable { offsets })
    }

    /// Number of symbols.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Symbol number `i` (version 2 references).
    #[inline]
    pub(crate) fn lookup<'a>(&self, file: &'a [u8], i: u32) -> Result<&'a str> {
        match self.offsets.get(i as usize) {
            Some(&off) => read_str(file, off as u64),
            None => Err(Error::corrupt(
                SECTION,
                0,
                format!("symbol reference {i} out of range ({} symbols)", self.len()),
            )),
        }
    }

    /// The symbol whose length prefix is at absolute offset `off` (version 1
    /// references).
    pub(crate) fn lookup_offset<'a>(&self, file: &'a [u8], off: u32) -> Result<&'a str> {
        if self.offsets.binary_search(&off).is_err() {
            return Err(Error::corrupt(
                SECTION,
                off as u64,
                "symbol reference does not point at a symbol",
            ));
        }
        read_str(file, off as u64)
    }

    /// Symbol number `i`, for iteration.
    pub(crate) fn get<'a>(&self, file: &'a [u8], i: usize) -> Result<&'a str> {
        read_str(file, self.offsets[i] as u64)
    }
}

/// The already validated string at `off`.
#[inline]
fn read_str(file: &[u8], off: u64) -> Result<&str> {
    let start = usize::try_from(off).unwrap_or(usize::MAX).min(file.len());
    Decoder::new(&file[start..], off, SECTION).uvarint_str()
}

/// The body of a `be32 len | body | be32 crc32c(body)` section at `at`,
/// after checking bounds and checksum.
pub(crate) fn section_body<'a>(file: &'a [u8], at: u64, section: &'static str) -> Result<&'a [u8]> {
    let start = usize::try_from(at)
        .ok()
        .filter(|&s| s <= file.len())
        .ok_or_else(|| {
            Error::corrupt(
                section,
                at,
                format!("offset beyond end of file ({} bytes)", file.len()),
            )
        })?;
    let mut d = Decoder::new(&file[start..], at, section);
    let len = d.be32()? as usize;
    let body = d
        .bytes(len)
        .map_err(|_| Error::corrupt(section, at, format!("length {len} runs past end of file")))?;
    let want = d
        .be32()
        .map_err(|_| Error::corrupt(section, at, "checksum missing: truncated"))?;
    let got = crc32c(body);
    if want != got {
        return Err(Error::corrupt(
            section,
            at,
            format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    Ok(body)
}
