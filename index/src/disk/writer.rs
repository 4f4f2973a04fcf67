//! Streaming index writer.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::toc::Toc;
use super::{FORMAT_V2, MAGIC, POSTINGS_ALIGNMENT, SERIES_ALIGNMENT};
use crate::chunk_meta::ChunkMeta;
use crate::encoding::{
    crc32c, crc32c_append, put_be32, put_uvarint, put_uvarint_str, put_varint, Decoder,
};
use crate::error::{Error, Result};
use crate::postings::SeriesRef;
use aion_model::Labels;

/// Choices about what the writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Write the legacy label indices and label offset table, as every
    /// Prometheus before 3.7 does (and 2.42, whose output Aion reproduces
    /// byte for byte). With `false`, the output matches Prometheus ≥ 3.7;
    /// readers of version 2 never need them, but Prometheus < 2.x-era
    /// tools and some third-party readers do. Default: `true`.
    pub label_indices: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            label_indices: true,
        }
    }
}

/// What a finished index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Series written.
    pub series: u64,
    /// Symbols in the symbol table.
    pub symbols: u64,
    /// Postings lists written, the all-series list included.
    pub postings_lists: u64,
    /// Size of the index file in bytes.
    pub bytes: u64,
    /// Where the sections ended up.
    pub toc: Toc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Symbols,
    Series,
    Done,
}

/// A file being written sequentially, with its position tracked.
struct Output {
    path: PathBuf,
    w: BufWriter<File>,
    pos: u64,
}

impl Output {
    fn create(path: &Path) -> Result<Self> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Output {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, f),
            pos: 0,
        })
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(|e| Error::io(&self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, align: u64) -> Result<()> {
        let rem = self.pos % align;
        if rem != 0 {
            const ZEROS: [u8; 16] = [0; 16];
            self.write(&ZEROS[..(align - rem) as usize])?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// Overwrites bytes at `at` (before the current position).
    fn patch(&mut self, at: u64, b: &[u8]) -> Result<()> {
        self.flush()?;
        let io = |e| Error::io(&self.path, e);
        let f = self.w.get_mut();
        f.seek(SeekFrom::Start(at)).map_err(io)?;
        f.write_all(b).map_err(io)?;
        f.seek(SeekFrom::Start(self.pos)).map_err(io)?;
        Ok(())
    }
}

/// The symbol table while it is built: every symbol's bytes in one arena.
#[derive(Default)]
struct Symbols {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Symbols {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn last(&self) -> Option<&[u8]> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }

    fn push(&mut self, s: &[u8]) -> Result<()> {
        let end = u32::try_from(self.bytes.len() + s.len())
            .map_err(|_| Error::Writer("symbols exceed 4 GiB".into()))?;
        self.bytes.extend_from_slice(s);
        self.ends.push(end);
        Ok(())
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(s.as_bytes()) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }
}

/// One entry of the postings offset table, kept until the table is written.
struct PostingsEntry {
    /// Symbol of name and value; `None` for the all-series entry `("", "")`,
    /// whose strings need not be symbols.
    key: Option<(u32, u32)>,
    /// Offset of the list in the temporary postings file.
    offset: u64,
}

/// Writes an index file in one pass, holding memory proportional to the
/// symbols plus one batch of postings (at most one reference per series),
/// never the series themselves.
///
/// Call order, enforced:
/// 1. [`create`](Self::create).
/// 2. [`add_symbol`](Self::add_symbol) for every label name and value of
///    every series, in strictly increasing byte order (the TSDB collects
///    them from the head or the blocks being compacted; the empty string
///    may be included, as Prometheus's head does).
/// 3. [`add_series`](Self::add_series) for every series in strictly
///    increasing label order, with its chunk metas (sorted, non-overlapping,
///    chunk references non-decreasing across the whole index).
/// 4. [`finish`](Self::finish), which writes label indices, postings,
///    tables and TOC, and fsyncs. Dropping the writer unfinished deletes the
///    partial file.
///
/// Postings are built after the series are written by re-reading the series
/// section in batches of label names (each batch holding at most one
/// posting per series), written to a temporary file `<path>_tmp_p` and
/// then copied into place, as Prometheus does.
///
/// ```
/// # fn main() -> aion_index::Result<()> {
/// use aion_index::ChunkMeta;
/// use aion_model::Labels;
/// use aion_index::disk::{IndexFileReader, IndexFileWriter, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("index");
/// let mut w = IndexFileWriter::create(&path, WriterOptions::default())?;
/// for s in ["__name__", "job", "up"] {
///     w.add_symbol(s)?;
/// }
/// let up = Labels::from_pairs(&[("__name__", "up"), ("job", "up")])?;
/// let r = w.add_series(&up, &[ChunkMeta::new(0, 999, 8)])?;
/// w.finish()?;
/// let ix = IndexFileReader::open(&path)?;
/// let mut chunks = Vec::new();
/// assert_eq!(ix.series(r, &mut chunks)?, up);
/// assert_eq!(chunks, [ChunkMeta::new(0, 999, 8)]);
/// # Ok(()) }
/// ```
pub struct IndexFileWriter {
    out: Output,
    options: WriterOptions,
    stage: Stage,
    toc: Toc,
    symbols: Symbols,
    /// Per label name: its symbol, the last value seen and that value's
    /// symbol (consecutive series usually share values).
    name_cache: HashMap<String, (u32, String, u32)>,
    /// How many series carry each label name (by name symbol).
    name_counts: HashMap<u32, u64>,
    series_ids: Vec<u32>,
    last_series: Option<Labels>,
    last_chunk_ref: u64,
    body: Vec<u8>,
    scratch: Vec<u8>,
    /// Label index offsets by name symbol, for the label offset table.
    label_offsets: Vec<(u32, u64)>,
    tmp_postings_path: PathBuf,
    finished: bool,
}

impl IndexFileWriter {
    /// Creates (truncating) the index file at `path` and writes its header.
    pub fn create(path: impl AsRef<Path>, options: WriterOptions) -> Result<Self> {
        let path = path.as_ref();
        let mut out = Output::create(path)?;
        let mut header = MAGIC.to_be_bytes().to_vec();
        header.push(FORMAT_V2);
        out.write(&header)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push("_tmp_p");
        Ok(IndexFileWriter {
            toc: Toc {
                symbols: out.pos,
                ..Toc::default()
            },
            out,
            options,
            stage: Stage::Symbols,
            symbols: Symbols::default(),
            name_cache: HashMap::new(),
            name_counts: HashMap::new(),
            series_ids: Vec::new(),
            last_series: None,
            last_chunk_ref: 0,
            body: Vec::with_capacity(1 << 10),
            scratch: Vec::with_capacity(1 << 10),
            label_offsets: Vec::new(),
            tmp_postings_path: PathBuf::from(tmp),
            finished: false,
        })
    }

    /// Adds the next symbol; symbols must come in strictly increasing byte
    /// order.
    pub fn add_symbol(&mut self, sym: &str) -> Result<()> {
        if self.stage != Stage::Symbols {
            return Err(Error::Writer(format!(
                "symbol {sym:?} added after the first series"
            )));
        }
        if let Some(last) = self.symbols.last() {
            if sym.as_bytes() <= last {
                return Err(Error::Writer(format!(
                    "symbol {sym:?} out of order after {:?}",
                    String::from_utf8_lossy(last)
                )));
            }
        }
        self.symbols.push(sym.as_bytes())
    }

    fn write_symbol_table(&mut self) -> Result<()> {
        let mut b = Vec::with_capacity(self.symbols.bytes.len() + 5 * self.symbols.len() + 12);
        put_be32(&mut b, 0); // length, patched below
        put_be32(&mut b, self.symbols.len() as u32);
        for i in 0..self.symbols.len() {
            put_uvarint_str(&mut b, self.symbols.get(i));
        }
        let len = u32::try_from(b.len() - 4)
            .map_err(|_| Error::Writer("symbol table exceeds 4 GiB".into()))?;
        b[..4].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c(&b[4..]);
        put_be32(&mut b, crc);
        self.out.write(&b)?;
        self.toc.series = self.out.pos;
        self.stage = Stage::Series;
        Ok(())
    }

    fn symbol_of(&self, s: &str) -> Result<u32> {
        self.symbols
            .lookup(s)
            .ok_or_else(|| Error::Writer(format!("label string {s:?} is not in the symbol table")))
    }

    /// Appends a series and returns its reference (its offset / 16).
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<SeriesRef> {
        match self.stage {
            Stage::Symbols => self.write_symbol_table()?,
            Stage::Series => {}
            Stage::Done => return Err(Error::Writer("series added after finish".into())),
        }
        // Like Prometheus, an empty label set is never a valid series.
        if labels.is_empty() || self.last_series.as_ref().is_some_and(|l| labels <= l) {
            return Err(Error::Writer(format!(
                "series {labels} out of order after {}",
                self.last_series
                    .as_ref()
                    .map_or_else(|| "{}".to_string(), Labels::to_string)
            )));
        }
        let mut last_ref = self.last_chunk_ref;
        for (i, c) in chunks.iter().enumerate() {
            if c.chunk_ref < last_ref {
                return Err(Error::Writer(format!(
                    "series {labels}: chunk reference {} below previous {last_ref}",
                    c.chunk_ref
                )));
            }
            last_ref = c.chunk_ref;
            if i > 0 && c.min_time <= chunks[i - 1].max_time {
                return Err(Error::Writer(format!(
                    "series {labels}: chunk min time {} not after previous max time {}",
                    c.min_time,
                    chunks[i - 1].max_time
                )));
            }
            if c.max_time < c.min_time {
                return Err(Error::Writer(format!(
                    "series {labels}: chunk max time {} before min time {}",
                    c.max_time, c.min_time
                )));
            }
        }

        self.body.clear();
        put_uvarint(&mut self.body, labels.len() as u64);
        for l in labels {
            let (name_sym, value_sym) = match self.name_cache.get_mut(l.name) {
                Some((n, v, vs)) if v == l.value => (*n, *vs),
                Some(_) | None => {
                    let n = self.symbol_of(l.name)?;
                    let vs = self.symbol_of(l.value)?;
                    self.name_cache
                        .insert(l.name.to_string(), (n, l.value.to_string(), vs));
                    (n, vs)
                }
            };
            *self.name_counts.entry(name_sym).or_default() += 1;
            put_uvarint(&mut self.body, name_sym as u64);
            put_uvarint(&mut self.body, value_sym as u64);
        }
        encode_chunks(&mut self.body, chunks);

        self.out.pad(SERIES_ALIGNMENT)?;
        let id = u32::try_from(self.out.pos / SERIES_ALIGNMENT)
            .map_err(|_| Error::Writer("index exceeds 64 GiB of series".into()))?;
        self.scratch.clear();
        put_uvarint(&mut self.scratch, self.body.len() as u64);
        self.scratch.extend_from_slice(&self.body);
        put_be32(&mut self.scratch, crc32c(&self.body));
        let scratch = std::mem::take(&mut self.scratch);
        let res = self.out.write(&scratch);
        self.scratch = scratch;
        res?;

        self.series_ids.push(id);
        self.last_series = Some(labels.clone());
        self.last_chunk_ref = last_ref;
        Ok(id as SeriesRef)
    }

    /// Writes the remaining sections and the TOC, and syncs the file.
    pub fn finish(mut self) -> Result<WriteStats> {
        if self.stage == Stage::Symbols {
            self.write_symbol_table()?;
        }
        self.stage = Stage::Done;
        self.toc.label_indices = self.out.pos;
        self.out.flush()?;

        let entries = self.write_postings_to_tmp()?;

        if self.options.label_indices {
            self.write_label_indices(&entries)?
        }
        self.toc.postings = self.out.pos;
        self.out.pad(POSTINGS_ALIGNMENT)?;
        let postings_start = self.out.pos;
        self.copy_tmp_postings()?;

        self.toc.label_offset_table = self.out.pos;
        if self.options.label_indices {
            self.write_label_offset_table()?;
        }
        self.toc.postings_offset_table = self.out.pos;
        self.write_postings_offset_table(&entries, postings_start)?;
        self.out.write(&self.toc.encode())?;
        self.out.flush()?;
        self.out
            .w
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io(&self.out.path, e))?;
        self.finished = true;
        Ok(WriteStats {
            series: self.series_ids.len() as u64,
            symbols: self.symbols.len() as u64,
            postings_lists: entries.len() as u64,
            bytes: self.out.pos,
            toc: self.toc,
        })
    }

    /// Builds every postings list into the temporary file and returns the
    /// offset-table entries, in table order.
    fn write_postings_to_tmp(&mut self) -> Result<Vec<PostingsEntry>> {
        let mut tmp = Output::create(&self.tmp_postings_path)?;
        let mut entries = Vec::new();
        let mut buf = Vec::new();

        entries.push(PostingsEntry {
            key: None,
            offset: tmp.pos,
        });
        write_postings_list(&mut tmp, &mut buf, self.series_ids.iter().copied())?;

        // Name symbols sort like the names themselves.
        let mut names: Vec<(u32, u64)> = self.name_counts.iter().map(|(&n, &c)| (n, c)).collect();
        names.sort_unstable();
        let max = self.series_ids.len() as u64;
        let mut triples: Vec<(u32, u32, u32)> = Vec::new();
        let mut rest = &names[..];
        while !rest.is_empty() {
            // Batch label names so one batch holds at most one posting per
            // series, the memory a single label name may need anyway.
            let mut total = 0;
            let mut n = 0;
            while n < rest.len() && (n == 0 || total + rest[n].1 <= max) {
                total += rest[n].1;
                n += 1;
            }
            let (batch, tail) = rest.split_at(n);
            rest = tail;
            let (lo, hi) = (batch[0].0, batch[n - 1].0);
            triples.clear();
            self.scan_series(|id, name, value| {
                if name >= lo && name <= hi {
                    triples.push((name, value, id));
                }
            })?;
            // Sorting whole triples orders lists by name, value and their
            // ids by reference; unstable sort needs no scratch buffer.
            triples.sort_unstable();
            let mut i = 0;
            while i < triples.len() {
                let (n, v, _) = triples[i];
                let j = i + triples[i..].partition_point(|t| (t.0, t.1) == (n, v));
                tmp.pad(POSTINGS_ALIGNMENT)?;
                entries.push(PostingsEntry {
                    key: Some((n, v)),
                    offset: tmp.pos,
                });
                write_postings_list(&mut tmp, &mut buf, triples[i..j].iter().map(|t| t.2))?;
                i = j;
            }
        }
        tmp.flush()?;
        Ok(entries)
    }

    /// Calls `f(series_id, name_symbol, value_symbol)` for every label of
    /// every series written, re-reading the series section from disk.
    fn scan_series(&self, mut f: impl FnMut(u32, u32, u32)) -> Result<()> {
        let path = &self.out.path;
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(self.toc.series))
            .map_err(|e| Error::io(path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut pos = self.toc.series;
        let mut body = Vec::new();
        for &id in &self.series_ids {
            let start = id as u64 * SERIES_ALIGNMENT;
            let skip = start - pos;
            if skip > 0 {
                std::io::copy(&mut (&mut r).take(skip), &mut std::io::sink())
                    .map_err(|e| Error::io(path, e))?;
            }
            let len = read_uvarint(&mut r).map_err(|e| Error::io(path, e))?;
            body.resize(len.0 as usize + 4, 0);
            r.read_exact(&mut body).map_err(|e| Error::io(path, e))?;
            pos = start + len.1 as u64 + body.len() as u64;
            let mut d = Decoder::new(&body, start + len.1 as u64, "series");
            let k = d.uvarint()?;
            for _ in 0..k {
                let n = d.uvarint32()?;
                let v = d.uvarint32()?;
                f(id, n, v);
            }
        }
        Ok(())
    }

    fn write_label_indices(&mut self, entries: &[PostingsEntry]) -> Result<()> {
        let mut label_offsets = Vec::new();
        let mut b = Vec::new();
        let mut i = 1; // entry 0 is the all-series list
        while i < entries.len() {
            let Some((name, _)) = entries[i].key else {
                i += 1;
                continue;
            };
            let j = i + entries[i..].partition_point(|e| e.key.map(|k| k.0) == Some(name));
            self.out.pad(POSTINGS_ALIGNMENT)?;
            label_offsets.push((name, self.out.pos));
            b.clear();
            put_be32(&mut b, 0);
            put_be32(&mut b, 1);
            put_be32(&mut b, (j - i) as u32);
            for e in &entries[i..j] {
                put_be32(&mut b, e.key.map_or(0, |k| k.1));
            }
            finish_section(&mut b)?;
            self.out.write(&b)?;
            i = j;
        }
        self.label_offsets = label_offsets;
        Ok(())
    }
}

impl IndexFileWriter {
    fn copy_tmp_postings(&mut self) -> Result<()> {
        let path = &self.tmp_postings_path;
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        let n = std::io::copy(&mut f, &mut self.out.w).map_err(|e| Error::io(path, e))?;
        self.out.pos += n;
        drop(f);
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))
    }

    fn write_label_offset_table(&mut self) -> Result<()> {
        let mut b = Vec::new();
        put_be32(&mut b, 0);
        put_be32(&mut b, self.label_offsets.len() as u32);
        for &(name, off) in &self.label_offsets {
            put_uvarint(&mut b, 1);
            put_uvarint_str(&mut b, self.symbols.get(name as usize));
            put_uvarint(&mut b, off);
        }
        finish_section(&mut b)?;
        self.out.write(&b)
    }

    fn write_postings_offset_table(
        &mut self,
        entries: &[PostingsEntry],
        postings_start: u64,
    ) -> Result<()> {
        let mut b = Vec::new();
        put_be32(&mut b, 0);
        put_be32(&mut b, entries.len() as u32);
        let mut crc = crc32c(&b[4..]);
        // The table can be large: stream it in pieces, CRC as we go.
        self.out.write(&b)?;
        let start = self.out.pos - 8;
        let mut len = 4u64;
        for e in entries {
            b.clear();
            put_uvarint(&mut b, 2);
            match e.key {
                None => {
                    put_uvarint_str(&mut b, b"");
                    put_uvarint_str(&mut b, b"");
                }
                Some((n, v)) => {
                    put_uvarint_str(&mut b, self.symbols.get(n as usize));
                    put_uvarint_str(&mut b, self.symbols.get(v as usize));
                }
            }
            put_uvarint(&mut b, e.offset + postings_start);
            crc = crc32c_append(crc, &b);
            len += b.len() as u64;
            self.out.write(&b)?;
        }
        let len = u32::try_from(len)
            .map_err(|_| Error::Writer("postings offset table exceeds 4 GiB".into()))?;
        self.out.patch(start, &len.to_be_bytes())?;
        self.out.write(&crc.to_be_bytes())
    }
}

impl Drop for IndexFileWriter {
    fn drop(&mut self) {
        // Best effort: a half-written index is garbage, and so is the
        // scratch file.
        let _ = std::fs::remove_file(&self.tmp_postings_path);
        if !self.finished {
            let _ = std::fs::remove_file(&self.out.path);
        }
    }
}

/// Encodes a series' chunk metas: the first as absolute (varint) min time,
/// later ones as deltas from the previous max time, references as deltas.
/// Arithmetic wraps exactly as Go's does, so any input round-trips.
fn encode_chunks(b: &mut Vec<u8>, chunks: &[ChunkMeta]) {
    put_uvarint(b, chunks.len() as u64);
    let Some(first) = chunks.first() else {
        return;
    };
    put_varint(b, first.min_time);
    put_uvarint(b, first.max_time.wrapping_sub(first.min_time) as u64);
    put_uvarint(b, first.chunk_ref);
    let mut t0 = first.max_time;
    let mut ref0 = first.chunk_ref as i64;
    for c in &chunks[1..] {
        put_uvarint(b, c.min_time.wrapping_sub(t0) as u64);
        put_uvarint(b, c.max_time.wrapping_sub(c.min_time) as u64);
        t0 = c.max_time;
        put_varint(b, (c.chunk_ref as i64).wrapping_sub(ref0));
        ref0 = c.chunk_ref as i64;
    }
}

/// Writes one postings list: `be32 len, be32 n, be32 id × n, be32 crc`.
fn write_postings_list(
    out: &mut Output,
    buf: &mut Vec<u8>,
    ids: impl ExactSizeIterator<Item = u32>,
) -> Result<()> {
    buf.clear();
    put_be32(buf, 0);
    put_be32(buf, ids.len() as u32);
    for id in ids {
        put_be32(buf, id);
    }
    finish_section(buf)?;
    out.write(buf)
}

/// Fills in the `be32 len` at the start of `b` (everything after it) and
/// appends the CRC32C of those bytes.
fn finish_section(b: &mut Vec<u8>) -> Result<()> {
    let len =
        u32::try_from(b.len() - 4).map_err(|_| Error::Writer("section exceeds 4 GiB".into()))?;
    b[..4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c(&b[4..]);
    put_be32(b, crc);
    Ok(())
}

/// Reads a uvarint from `r`; returns the value and its encoded length.
/// The bytes are gathered up to the one that ends the varint and decoded by
/// [`aion_model::encoding::uvarint`], so overflow follows Go's rules.
fn read_uvarint(r: &mut impl Read) -> std::io::Result<(u64, usize)> {
    let mut b = [0u8; 10];
    for i in 0..b.len() {
        r.read_exact(&mut b[i..=i])?;
        if b[i] < 0x80 {
            break;
        }
    }
    aion_model::encoding::uvarint(&b).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "uvarint overflows 64 bits")
    })
}
