//! Index file reader over any byte buffer, usually a memory map.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::symbols::{section_body, SymbolTable};
use super::toc::Toc;
use super::{FORMAT_V1, FORMAT_V2, FORMAT_V3, HEADER_LEN, MAGIC, SERIES_ALIGNMENT};
use crate::chunk_meta::ChunkMeta;
use crate::encoding::{be32_at, crc32c, Decoder};
use crate::error::{Error, Result};
use crate::index_reader::IndexReader;
use crate::postings::{merge, BigEndianPostings, BoxPostings, Postings, SeriesRef};
use aion_model::Labels;

const POSTINGS_TABLE: &str = "postings offset table";

/// Every how many values of a label name the reader keeps the position of
/// a postings offset table entry in memory; lookups scan at most this many
/// entries. The same trade-off as Prometheus.
const SAMPLE_EVERY: u32 = 32;

/// A version 1 postings offset table: names, each with its values and
/// their postings offsets, all sorted.
type V1Table = Vec<(Box<str>, Vec<(Box<str>, u64)>)>;

/// A postings offset table entry kept in memory.
struct Sample {
    /// Absolute offset of the entry.
    entry: u64,
    /// Absolute offset and length of its value's bytes.
    value_at: u64,
    value_len: u32,
}

/// All table entries of one label name.
struct NameEntries {
    name: Box<str>,
    count: u32,
    samples: Vec<Sample>,
}

/// One series as stored in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesEntry {
    /// The series' reference (offset / 16).
    pub series_ref: SeriesRef,
    /// Its labels.
    pub labels: Labels,
    /// Its chunks, in time order.
    pub chunks: Vec<ChunkMeta>,
}

/// Reads an index file, format version 2 or 3 (read alike), or the early
/// version 1 (byte-offset references, unsorted postings offset table).
///
/// Opening checks the header, the TOC's checksum and section bounds, the
/// symbol table and the postings offset table (checksums, order, bounds),
/// and keeps in memory one offset per symbol and one sampled entry per 32
/// values of each label name. Series and postings lists are checked
/// (bounds and checksum) each time they are read, so opening stays
/// proportional to symbols and label pairs; [`verify`](Self::verify)
/// checks everything up front. No input makes it panic or read out of
/// bounds: problems come back as [`Error::Corrupt`] naming section and
/// offset.
pub struct IndexFileReader<B = Mmap> {
    data: B,
    version: u8,
    toc: Toc,
    symbols: SymbolTable,
    /// Version 2/3: sampled postings offset table entries per name.
    names: Vec<NameEntries>,
    /// Version 1: the whole postings offset table, sorted (v1 writers did
    /// not sort it, so it cannot be searched in the file).
    v1_table: V1Table,
    /// End of the postings offset table's entries.
    table_end: u64,
    /// The file, when opened from one: errors found later name it.
    path: Option<PathBuf>,
}

impl IndexFileReader<Mmap> {
    /// Memory-maps and opens the index file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let in_file = |e: Error| Error::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < (HEADER_LEN + Toc::LEN) as u64 {
            return Err(in_file(Error::corrupt(
                "header",
                0,
                format!("file of {len} bytes is too short for an index"),
            )));
        }
        // SAFETY: the map is read-only and index files are immutable once
        // written (blocks are never modified in place, only replaced by
        // rename). As with every mmap reader, Prometheus's included,
        // another process truncating the file under us would fault; that
        // is outside what a library can prevent.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let mut reader = Self::from_bytes(map).map_err(in_file)?;
        reader.path = Some(path.to_path_buf());
        Ok(reader)
    }
}

impl<B: AsRef<[u8]>> IndexFileReader<B> {
    /// Opens an index held in `data`.
    pub fn from_bytes(data: B) -> Result<Self> {
        let file = data.as_ref();
        if file.len() < HEADER_LEN {
            return Err(Error::corrupt("header", 0, "file too short for the header"));
        }
        let magic = be32_at(file, 0).unwrap_or(0);
        if magic != MAGIC {
            return Err(Error::corrupt(
                "header",
                0,
                format!("bad magic {magic:#010x}"),
            ));
        }
        let version = file[4];
        if !matches!(version, FORMAT_V1 | FORMAT_V2 | FORMAT_V3) {
            return Err(Error::corrupt(
                "header",
                4,
                format!("unknown index version {version}"),
            ));
        }
        let toc = Toc::decode(file)?;
        let toc_start = (file.len() - Toc::LEN) as u64;
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::corrupt("TOC", toc_start, format!("{what}: {toc:?}")))
            }
        };
        check(
            toc.symbols >= HEADER_LEN as u64,
            "symbol table overlaps the header",
        )?;
        check(
            toc.series <= toc.label_indices,
            "series section ends before it starts",
        )?;
        check(
            toc.label_indices <= toc_start,
            "series section runs into the TOC",
        )?;
        check(
            toc.postings_offset_table < toc_start,
            "postings offset table starts inside the TOC",
        )?;

        let symbols = SymbolTable::read(file, toc.symbols)?;
        let (names, v1_table, table_end) = if version == FORMAT_V1 {
            let (t, end) = read_v1_postings_table(file, toc.postings_offset_table)?;
            (Vec::new(), t, end)
        } else {
            let (n, end) = read_postings_table(file, toc.postings_offset_table)?;
            (n, Vec::new(), end)
        };
        Ok(IndexFileReader {
            data,
            version,
            toc,
            symbols,
            names,
            v1_table,
            table_end,
            path: None,
        })
    }

    #[inline]
    fn file(&self) -> &[u8] {
        self.data.as_ref()
    }

    /// Adds the file's path to errors of a reader opened from a file.
    fn in_file<T>(&self, r: Result<T>) -> Result<T> {
        match (r, &self.path) {
            (Err(e), Some(path)) if !matches!(e, Error::InFile { .. }) => Err(Error::InFile {
                path: path.clone(),
                source: Box::new(e),
            }),
            (r, _) => r,
        }
    }

    /// The file this reader was opened from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The format version (1, 2 or 3).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The table of contents.
    pub fn toc(&self) -> &Toc {
        &self.toc
    }

    /// Size of the index in bytes.
    pub fn size(&self) -> u64 {
        self.file().len() as u64
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> usize {
        self.symbols.len()
    }

    /// The symbols in order (what a compactor merges across blocks).
    pub fn symbols(&self) -> impl Iterator<Item = Result<&str>> + '_ {
        (0..self.symbols.len()).map(move |i| self.in_file(self.symbols.get(self.file(), i)))
    }

    /// The symbol referenced by `r` (its number; in version 1 its offset).
    pub fn symbol(&self, r: u32) -> Result<&str> {
        self.in_file(self.symbol_inner(r))
    }

    fn symbol_inner(&self, r: u32) -> Result<&str> {
        if self.version == FORMAT_V1 {
            self.symbols.lookup_offset(self.file(), r)
        } else {
            self.symbols.lookup(self.file(), r)
        }
    }

    /// Decodes the series entry at absolute offset `at` into labels and
    /// `chunks`; returns the labels and the offset just past the entry.
    fn decode_series(&self, at: u64, chunks: &mut Vec<ChunkMeta>) -> Result<(Labels, u64)> {
        const SECTION: &str = "series";
        let file = self.file();
        chunks.clear();
        if at < self.toc.series || at >= self.toc.label_indices {
            return Err(Error::corrupt(
                SECTION,
                at,
                format!(
                    "outside the series section [{}, {})",
                    self.toc.series, self.toc.label_indices
                ),
            ));
        }
        let end = self.toc.label_indices as usize;
        let mut d = Decoder::new(&file[at as usize..end], at, SECTION);
        let len = d.uvarint_usize()?;
        let body_at = d.offset();
        let body = d.bytes(len)?;
        let want = d.be32()?;
        let got = crc32c(body);
        if want != got {
            return Err(Error::corrupt(
                SECTION,
                at,
                format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
            ));
        }
        let next = d.offset();

        let mut d = Decoder::new(body, body_at, SECTION);
        let k = d.uvarint_usize()?;
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(k.min(body.len() / 2));
        for _ in 0..k {
            let at = d.offset();
            let name = self.symbol_inner(d.uvarint32()?)?;
            let value = self.symbol_inner(d.uvarint32()?)?;
            if name.is_empty() || pairs.last().is_some_and(|(n, _)| *n >= name) {
                return Err(Error::corrupt(
                    SECTION,
                    at,
                    format!("label name {name:?} empty or not in increasing order"),
                ));
            }
            pairs.push((name, value));
        }
        let labels = Labels::from_sorted_unchecked(pairs);

        let n = d.uvarint_usize()?;
        if n > 0 {
            chunks.reserve(n.min(d.remaining() / 3));
            // Wrapping arithmetic, as Go's: whatever a writer stored reads
            // back exactly.
            let mint = d.varint()?;
            let maxt = (d.uvarint()? as i64).wrapping_add(mint);
            let mut r = d.uvarint()? as i64;
            chunks.push(ChunkMeta::new(mint, maxt, r as u64));
            let mut t0 = maxt;
            for _ in 1..n {
                let mint = (d.uvarint()? as i64).wrapping_add(t0);
                let maxt = (d.uvarint()? as i64).wrapping_add(mint);
                r = r.wrapping_add(d.varint()?);
                t0 = maxt;
                chunks.push(ChunkMeta::new(mint, maxt, r as u64));
            }
        }
        Ok((labels, next))
    }

    /// Where series `r` starts: `r · 16` (version 1: `r` itself).
    fn series_offset(&self, r: SeriesRef) -> Result<u64> {
        if self.version == FORMAT_V1 {
            return Ok(r);
        }
        r.checked_mul(SERIES_ALIGNMENT)
            .ok_or(Error::SeriesNotFound(r))
    }

    /// The reference of the series starting at `at`.
    fn series_ref_at(&self, at: u64) -> SeriesRef {
        if self.version == FORMAT_V1 {
            at
        } else {
            at / SERIES_ALIGNMENT
        }
    }

    /// The labels and chunk metas of series `r`.
    pub fn series(&self, r: SeriesRef, chunks: &mut Vec<ChunkMeta>) -> Result<Labels> {
        let at = self.series_offset(r)?;
        self.in_file(self.decode_series(at, chunks).map(|(l, _)| l))
    }

    /// Every series in label order (file order).
    pub fn series_iter(&self) -> SeriesIter<'_, B> {
        SeriesIter {
            reader: self,
            pos: self.toc.series,
            failed: false,
        }
    }

    fn name_entries(&self, name: &str) -> Option<&NameEntries> {
        self.names
            .binary_search_by(|n| (*n.name).cmp(name))
            .ok()
            .map(|i| &self.names[i])
    }

    /// Decodes the table entry at `at`: its value, its postings offset and
    /// the offset of the next entry.
    fn table_entry(&self, at: u64) -> Result<(&str, u64, u64)> {
        let file = self.file();
        let end = self.table_end as usize;
        let start = (at as usize).min(end);
        let mut d = Decoder::new(&file[start..end], at, POSTINGS_TABLE);
        d.uvarint()?;
        d.uvarint_bytes()?;
        let value = d.uvarint_str()?;
        let off = d.uvarint()?;
        Ok((value, off, d.offset()))
    }

    /// Calls `f(value, postings_offset)` for every value of `name`, in
    /// order, until it returns `false`.
    fn for_each_value(
        &self,
        name: &str,
        mut f: impl FnMut(&str, u64) -> Result<bool>,
    ) -> Result<()> {
        if self.version == FORMAT_V1 {
            if let Ok(i) = self.v1_table.binary_search_by(|(n, _)| (**n).cmp(name)) {
                for (v, off) in &self.v1_table[i].1 {
                    if !f(v, *off)? {
                        break;
                    }
                }
            }
            return Ok(());
        }
        let Some(ne) = self.name_entries(name) else {
            return Ok(());
        };
        let mut at = ne.samples[0].entry;
        for _ in 0..ne.count {
            let (value, off, next) = self.table_entry(at)?;
            if !f(value, off)? {
                break;
            }
            at = next;
        }
        Ok(())
    }

    /// Every label name of the postings offset table, the all-series key
    /// `""` included.
    fn table_names(&self) -> Vec<&str> {
        if self.version == FORMAT_V1 {
            self.v1_table.iter().map(|(n, _)| &**n).collect()
        } else {
            self.names.iter().map(|n| &*n.name).collect()
        }
    }

    /// The postings offset of `name=value`, if present.
    fn find_postings(&self, name: &str, value: &str) -> Result<Option<u64>> {
        if self.version == FORMAT_V1 {
            let Ok(i) = self.v1_table.binary_search_by(|(n, _)| (**n).cmp(name)) else {
                return Ok(None);
            };
            let values = &self.v1_table[i].1;
            return Ok(values
                .binary_search_by(|(v, _)| (**v).cmp(value))
                .ok()
                .map(|j| values[j].1));
        }
        let Some(ne) = self.name_entries(name) else {
            return Ok(None);
        };
        let file = self.file();
        let sample_value =
            |s: &Sample| &file[s.value_at as usize..s.value_at as usize + s.value_len as usize];
        let i = ne
            .samples
            .partition_point(|s| sample_value(s) <= value.as_bytes());
        if i == 0 {
            return Ok(None);
        }
        let first_index = (i as u32 - 1) * SAMPLE_EVERY;
        let mut at = ne.samples[i - 1].entry;
        for _ in first_index..ne.count.min(first_index + SAMPLE_EVERY) {
            let (v, off, next) = self.table_entry(at)?;
            match v.cmp(value) {
                std::cmp::Ordering::Less => at = next,
                std::cmp::Ordering::Equal => return Ok(Some(off)),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(None)
    }

    /// The postings list at absolute offset `at`, checked.
    pub fn postings_at(&self, at: u64) -> Result<BigEndianPostings<'_>> {
        self.in_file(self.postings_at_inner(at))
    }

    fn postings_at_inner(&self, at: u64) -> Result<BigEndianPostings<'_>> {
        const SECTION: &str = "postings";
        let body = section_body(self.file(), at, SECTION)?;
        let mut d = Decoder::new(body, at + 4, SECTION);
        let n = d.be32()? as usize;
        let refs = d.rest();
        if refs.len() / 4 != n || refs.len() % 4 != 0 {
            return Err(Error::corrupt(
                SECTION,
                at,
                format!("{} bytes of references for a count of {n}", refs.len()),
            ));
        }
        Ok(BigEndianPostings::new(refs))
    }

    /// Checks every byte the reader would ever look at: every series entry
    /// (checksum, symbols, label order, series order), every postings list
    /// (checksum, strictly increasing references that name series), and
    /// the legacy label indices and label offset table when present.
    pub fn verify(&self) -> Result<()> {
        self.in_file(self.verify_inner())
    }

    fn verify_inner(&self) -> Result<()> {
        let mut prev: Option<Labels> = None;
        let mut count = 0u64;
        for s in self.series_iter() {
            let s = s?;
            if prev.as_ref().is_some_and(|p| *p >= s.labels) {
                return Err(Error::corrupt(
                    "series",
                    self.series_offset(s.series_ref).unwrap_or(0),
                    format!("series {} not after {}", s.labels, prev.unwrap_or_default()),
                ));
            }
            prev = Some(s.labels);
            count += 1;
        }
        let mut chunks = Vec::new();
        for name in self.table_names() {
            self.for_each_value(name, |_, off| {
                let mut p = self.postings_at(off)?;
                let mut last = None;
                while let Some(r) = p.next() {
                    if last.is_some_and(|l| l >= r) {
                        return Err(Error::corrupt("postings", off, "references not increasing"));
                    }
                    last = Some(r);
                    self.series(r, &mut chunks)?;
                }
                Ok(true)
            })?;
        }
        if let Ok(Some(off)) = self.find_postings("", "") {
            let n = self.postings_at(off)?.collect_refs().len() as u64;
            if n != count {
                return Err(Error::corrupt(
                    "postings",
                    off,
                    format!("all-series list has {n} entries, series section {count}"),
                ));
            }
        }
        if self.toc.label_offset_table != self.toc.postings_offset_table {
            self.verify_label_indices()?;
        }
        Ok(())
    }

    /// Checks the legacy label offset table and every label index it
    /// points at (checksums, one name per index, valid value symbols).
    fn verify_label_indices(&self) -> Result<()> {
        const TABLE: &str = "label offset table";
        const INDEX: &str = "label index";
        let at = self.toc.label_offset_table;
        let body = section_body(self.file(), at, TABLE)?;
        let mut d = Decoder::new(body, at + 4, TABLE);
        let n = d.be32()?;
        for _ in 0..n {
            let entry = d.offset();
            if d.uvarint()? != 1 {
                return Err(Error::corrupt(
                    TABLE,
                    entry,
                    "entry must have exactly one key",
                ));
            }
            let name = d.uvarint_str()?;
            let off = d.uvarint()?;
            let li = section_body(self.file(), off, INDEX)?;
            let mut ld = Decoder::new(li, off + 4, INDEX);
            if ld.be32()? != 1 {
                return Err(Error::corrupt(
                    INDEX,
                    off,
                    "label index must have exactly one name",
                ));
            }
            let count = ld.be32()? as usize;
            if ld.remaining() != count.saturating_mul(4) {
                return Err(Error::corrupt(
                    INDEX,
                    off,
                    format!(
                        "{} bytes of values for a count of {count} ({name:?})",
                        ld.remaining()
                    ),
                ));
            }
            for _ in 0..count {
                self.symbol(ld.be32()?)?;
            }
        }
        Ok(())
    }
}

/// Reads and checks the postings offset table at `at`: returns the per-name
/// samples (sorted by name) and the end offset of the entries.
fn read_postings_table(file: &[u8], at: u64) -> Result<(Vec<NameEntries>, u64)> {
    let body = section_body(file, at, POSTINGS_TABLE)?;
    let mut d = Decoder::new(body, at + 4, POSTINGS_TABLE);
    let count = d.be32()?;
    let mut names: Vec<NameEntries> = Vec::new();
    let mut last_value: &[u8] = &[];
    for _ in 0..count {
        let entry = d.offset();
        let keys = d.uvarint()?;
        if keys != 2 {
            return Err(Error::corrupt(
                POSTINGS_TABLE,
                entry,
                format!("entry has {keys} keys, want 2"),
            ));
        }
        let name = d.uvarint_str()?;
        let value = d.uvarint_bytes()?;
        let value_at = d.offset() - value.len() as u64;
        if std::str::from_utf8(value).is_err() {
            return Err(Error::corrupt(
                POSTINGS_TABLE,
                value_at,
                "label value is not UTF-8",
            ));
        }
        d.uvarint()?;
        let same_name = names.last().is_some_and(|n| *n.name == *name);
        if same_name {
            if value <= last_value {
                return Err(Error::corrupt(
                    POSTINGS_TABLE,
                    entry,
                    format!("values of {name:?} not in increasing order"),
                ));
            }
        } else {
            if names.last().is_some_and(|n| *n.name >= *name) {
                return Err(Error::corrupt(
                    POSTINGS_TABLE,
                    entry,
                    format!("label name {name:?} out of order"),
                ));
            }
            names.push(NameEntries {
                name: name.into(),
                count: 0,
                samples: Vec::new(),
            });
        }
        last_value = value;
        let ne = names.last_mut().expect("pushed above");
        if ne.count % SAMPLE_EVERY == 0 {
            ne.samples.push(Sample {
                entry,
                value_at,
                value_len: value.len() as u32,
            });
        }
        ne.count += 1;
    }
    for ne in &mut names {
        ne.samples.shrink_to_fit();
    }
    names.shrink_to_fit();
    Ok((names, d.offset()))
}

/// Reads the whole postings offset table of a version 1 index and sorts
/// it by name and value.
fn read_v1_postings_table(file: &[u8], at: u64) -> Result<(V1Table, u64)> {
    let body = section_body(file, at, POSTINGS_TABLE)?;
    let mut d = Decoder::new(body, at + 4, POSTINGS_TABLE);
    let count = d.be32()?;
    let mut by_name: std::collections::BTreeMap<&str, Vec<(Box<str>, u64)>> =
        std::collections::BTreeMap::new();
    for _ in 0..count {
        let entry = d.offset();
        let keys = d.uvarint()?;
        if keys != 2 {
            return Err(Error::corrupt(
                POSTINGS_TABLE,
                entry,
                format!("entry has {keys} keys, want 2"),
            ));
        }
        let name = d.uvarint_str()?;
        let value = d.uvarint_str()?;
        let off = d.uvarint()?;
        by_name.entry(name).or_default().push((value.into(), off));
    }
    let mut table = Vec::with_capacity(by_name.len());
    for (name, mut values) in by_name {
        values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = values.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::corrupt(
                POSTINGS_TABLE,
                at,
                format!("duplicate entry {name:?}={:?}", w[0].0),
            ));
        }
        table.push((Box::from(name), values));
    }
    Ok((table, d.offset()))
}

/// Iterator over all series of an index in file order; see
/// [`IndexFileReader::series_iter`]. Stops after the first error.
pub struct SeriesIter<'a, B> {
    reader: &'a IndexFileReader<B>,
    pos: u64,
    failed: bool,
}

impl<B: AsRef<[u8]>> Iterator for SeriesIter<'_, B> {
    type Item = Result<SeriesEntry>;

    fn next(&mut self) -> Option<Result<SeriesEntry>> {
        if self.failed {
            return None;
        }
        let file = self.reader.file();
        let end = self.reader.toc.label_indices;
        // Skip alignment padding.
        while self.pos < end && file[self.pos as usize] == 0 {
            self.pos += 1;
        }
        if self.pos >= end {
            return None;
        }
        if self.reader.version != FORMAT_V1 && self.pos % SERIES_ALIGNMENT != 0 {
            self.failed = true;
            return Some(self.reader.in_file(Err(Error::corrupt(
                "series",
                self.pos,
                "series entry not 16-byte aligned",
            ))));
        }
        let mut chunks = Vec::new();
        match self.reader.decode_series(self.pos, &mut chunks) {
            Ok((labels, next)) => {
                let series_ref = self.reader.series_ref_at(self.pos);
                self.pos = next;
                Some(Ok(SeriesEntry {
                    series_ref,
                    labels,
                    chunks,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(self.reader.in_file(Err(e)))
            }
        }
    }
}

impl<B: AsRef<[u8]> + Send + Sync> IndexReader for IndexFileReader<B> {
    fn label_names(&self) -> Result<Vec<String>> {
        Ok(self
            .table_names()
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn label_values(&self, name: &str) -> Result<Vec<String>> {
        let mut values = Vec::new();
        self.in_file(self.for_each_value(name, |v, _| {
            values.push(v.to_string());
            Ok(true)
        }))?;
        Ok(values)
    }

    fn postings<'a>(&'a self, name: &str, values: &[&str]) -> Result<BoxPostings<'a>> {
        let mut sorted: Vec<&str> = values.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut lists: Vec<BoxPostings<'a>> = Vec::with_capacity(sorted.len());
        for v in sorted {
            if let Some(off) = self.in_file(self.find_postings(name, v))? {
                lists.push(Box::new(self.postings_at(off)?));
            }
        }
        Ok(merge(lists))
    }

    fn postings_for_label_matching<'a>(
        &'a self,
        name: &str,
        accept: &mut dyn FnMut(&str) -> bool,
    ) -> Result<BoxPostings<'a>> {
        let mut lists: Vec<BoxPostings<'a>> = Vec::new();
        self.in_file(self.for_each_value(name, |v, off| {
            if accept(v) {
                lists.push(Box::new(self.postings_at_inner(off)?));
            }
            Ok(true)
        }))?;
        Ok(merge(lists))
    }

    fn all_postings(&self) -> Result<BoxPostings<'_>> {
        self.postings("", &[""])
    }

    fn series_labels(&self, r: SeriesRef) -> Result<Labels> {
        let mut chunks = Vec::new();
        self.series(r, &mut chunks)
    }
}
