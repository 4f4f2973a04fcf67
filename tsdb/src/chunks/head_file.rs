//! The head chunk files in `chunks_head/` (`docs/formats.md#chunks-head`),
//! Prometheus's format: full head chunks are written here once and read
//! back through mmap, so the heap holds only each series' open chunk.
//!
//! ```text
//! file   = be32 magic 0x0130BC91, u8 version 1, 3 zero bytes, record*
//! record = be64 series_ref, be64 mint, be64 maxt, u8 encoding (|0x80 if out of order),
//!          uvarint len, [len] data, be32 crc32c(everything before it in the record)
//! ```
//!
//! Files are named `000001`, `000002`, … and hold at most 128 MiB. Writes
//! go through a buffer that is flushed whole, so a killed process leaves
//! every file ending on a record boundary; damage from a machine crash is
//! found when the head is rebuilt on open, and the files from the damaged one
//! on are dropped (their samples are still in the WAL).
//!
//! A chunk is addressed by [`HeadChunkRef`]: `file_number << 32 | offset`,
//! where the file number is the one in the file name.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::bytes::ChunkBytes;
pub use super::bytes::ChunkFile;
use crate::{Error, Result};
use aion_model::encoding::{be64_at, put_uvarint, uvarint};

/// Magic number at the start of every head chunk file.
pub const HEAD_CHUNK_FILE_MAGIC: u32 = 0x0130_BC91;
/// Largest size of a head chunk file; a chunk that would cross it starts a
/// new file.
pub const MAX_HEAD_CHUNK_FILE_SIZE: u64 = 128 * 1024 * 1024;
const FORMAT_VERSION: u8 = 1;
/// Magic, version and padding.
pub(crate) const FILE_HEADER_SIZE: usize = 8;
/// Series ref, mint, maxt, encoding, the longest length varint Prometheus
/// reads (5 bytes) and the CRC: a tail shorter than this cannot hold a
/// record, and is fine if it is all zeros (preallocated space).
const MAX_RECORD_META_SIZE: usize = 8 + 8 + 8 + 1 + 5 + 4;
/// Bytes buffered before a write to the file.
const WRITE_BUFFER_SIZE: usize = 1024 * 1024;
/// Flag on the encoding byte of out-of-order chunks.
const OUT_OF_ORDER_MASK: u8 = 0x80;

/// Where a chunk lives in `chunks_head/`: `file_number << 32 | offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HeadChunkRef(pub u64);

impl HeadChunkRef {
    /// The reference of the record at `offset` in file `file`.
    pub fn new(file: u32, offset: u32) -> Self {
        HeadChunkRef((u64::from(file) << 32) | u64::from(offset))
    }
    /// The number in the file's name.
    pub fn file(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// Byte offset of the record in the file.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// A chunk found by [`HeadChunkStore::iterate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskChunk {
    pub series_ref: u64,
    pub chunk_ref: HeadChunkRef,
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: u8,
    pub out_of_order: bool,
    /// Where the chunk data lies in the file.
    pub data_start: usize,
    pub data_end: usize,
}

/// Damage found while reading the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreCorruption {
    pub file: u32,
    pub offset: u64,
    pub reason: String,
}

/// The writer side: the active file and the buffer not yet written to it.
struct Writer {
    /// The active file (`None` before the first chunk, and in memory mode).
    file: Option<File>,
    /// Number of the active file, 0 if none.
    seq: u32,
    /// Number the next new file gets.
    next_seq: u32,
    /// Logical size of the active file, buffer included.
    offset: u64,
    /// Bytes of the active file already written (readable via its mapping).
    flushed: u64,
    /// Bytes `flushed..offset` of the active file.
    buf: Vec<u8>,
    /// Start a new file with the next chunk (after truncation).
    cut_next: bool,
    /// A write failed; the file may end in a partial record, cut before
    /// the next write (`HeadChunkStore::recover`).
    poisoned: bool,
}

/// The `chunks_head/` directory: writes full chunks, reads them back.
pub(crate) struct HeadChunkStore {
    dir: PathBuf,
    /// Read-only open: nothing is written to disk, cut chunks stay in
    /// memory.
    in_memory: bool,
    files: RwLock<BTreeMap<u32, Arc<ChunkFile>>>,
    writer: Mutex<Writer>,
    /// Mirrors of `Writer::seq` and `Writer::flushed` for lock-free reads.
    active_seq: AtomicU32,
    flushed: AtomicU64,
}

fn file_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// Bytes `v` takes as a uvarint, so a record's size is known before it is
/// written.
fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros()).div_ceil(7) as usize
}

/// A parsed record: where its parts are within the bytes given.
struct Record {
    series_ref: u64,
    min_time: i64,
    max_time: i64,
    encoding: u8,
    data_start: usize,
    data_end: usize,
    /// Offset just past the CRC.
    end: usize,
}

/// Parses and checks the record at `at` of `b`, whose valid part ends at
/// `end`. `Ok(None)` means an all-zero tail: no more records.
fn parse_record(b: &[u8], at: usize, end: usize) -> std::result::Result<Option<Record>, String> {
    if end - at < MAX_RECORD_META_SIZE {
        if b[at..end].iter().all(|&x| x == 0) {
            return Ok(None);
        }
        return Err(format!(
            "{} bytes left, too few for a chunk header ({MAX_RECORD_META_SIZE} needed), and not all zero",
            end - at
        ));
    }
    // In bounds: at least MAX_RECORD_META_SIZE bytes are left.
    let field = |off: usize| be64_at(b, at + off).unwrap_or(0);
    let series_ref = field(0);
    let min_time = field(8) as i64;
    let max_time = field(16) as i64;
    if series_ref == 0 && min_time == 0 && max_time == 0 {
        return Ok(None);
    }
    let encoding = b[at + 24];
    let (len, n) =
        uvarint(&b[at + 25..end]).ok_or_else(|| "unreadable chunk length".to_string())?;
    let data_start = at + 25 + n;
    let data_end = usize::try_from(len)
        .ok()
        .and_then(|l| data_start.checked_add(l))
        .filter(|&e| e.checked_add(4).is_some_and(|x| x <= end))
        .ok_or_else(|| format!("chunk of {len} bytes runs past the end of the file at {end}"))?;
    let want = u32::from_be_bytes([
        b[data_end],
        b[data_end + 1],
        b[data_end + 2],
        b[data_end + 3],
    ]);
    let got = crc32c::crc32c(&b[at..data_end]);
    if want != got {
        return Err(format!(
            "checksum mismatch: stored {want:#010x}, computed {got:#010x}"
        ));
    }
    Ok(Some(Record {
        series_ref,
        min_time,
        max_time,
        encoding,
        data_start,
        data_end,
        end: data_end + 4,
    }))
}

fn check_header(b: &[u8]) -> std::result::Result<(), String> {
    if b.len() < FILE_HEADER_SIZE {
        return Err(format!("file of {} bytes has no complete header", b.len()));
    }
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != HEAD_CHUNK_FILE_MAGIC {
        return Err(format!("invalid magic number {magic:#010x}"));
    }
    if b[4] != FORMAT_VERSION {
        return Err(format!("unsupported format version {}", b[4]));
    }
    Ok(())
}

/// Calls `f` for every chunk record of the bytes `b` of file `seq`, in
/// order; stops at the first damage and returns where it is.
pub(crate) fn scan_file(
    seq: u32,
    b: &[u8],
    mut f: impl FnMut(DiskChunk),
) -> std::result::Result<(), StoreCorruption> {
    let corrupt = |offset: usize, reason: String| StoreCorruption {
        file: seq,
        offset: offset as u64,
        reason,
    };
    check_header(b).map_err(|r| corrupt(0, r))?;
    let end = b.len();
    let mut at = FILE_HEADER_SIZE;
    while at < end {
        match parse_record(b, at, end).map_err(|r| corrupt(at, r))? {
            None => break,
            Some(r) => {
                f(DiskChunk {
                    series_ref: r.series_ref,
                    chunk_ref: HeadChunkRef::new(seq, at as u32),
                    min_time: r.min_time,
                    max_time: r.max_time,
                    encoding: r.encoding & !OUT_OF_ORDER_MASK,
                    out_of_order: r.encoding & OUT_OF_ORDER_MASK != 0,
                    data_start: r.data_start,
                    data_end: r.data_end,
                });
                at = r.end;
            }
        }
    }
    Ok(())
}

/// Maps `file` read-only over `len` bytes.
fn map_file(file: &File, len: usize, path: &Path) -> Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only. Chunk files are only ever appended
    // to (by this process, or by a writer process while we are open
    // read-only) and deleted whole, never rewritten in place or truncated
    // while the data directory's lock is held; every read through the
    // mapping stays within bytes known to be written (the file length at
    // open, or the flushed length of the file being written), so it never
    // touches a page beyond the end of the file.
    unsafe { memmap2::MmapOptions::new().len(len).map(file) }
        .map_err(|e| Error::io(format!("mapping {}", path.display()), e))
}

impl HeadChunkStore {
    /// Opens `dir` (created if missing). With `read_only`, nothing on disk
    /// is changed and new chunks are kept in memory.
    pub(crate) fn open(dir: &Path, read_only: bool) -> Result<HeadChunkStore> {
        let mut files = BTreeMap::new();
        if !read_only {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let mut seqs = Vec::new();
        match fs::read_dir(dir) {
            Ok(rd) => {
                for entry in rd {
                    let entry =
                        entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                    let name = entry.file_name();
                    if let Some(seq) = name.to_str().and_then(|n| n.parse::<u32>().ok()) {
                        seqs.push(seq);
                    }
                }
            }
            Err(e) if read_only && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
        }
        seqs.sort_unstable();
        let next_seq = seqs.last().map_or(1, |s| s + 1);
        for (i, &seq) in seqs.iter().enumerate() {
            let path = dir.join(file_name(seq));
            let file = File::open(&path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            let len = file
                .metadata()
                .map_err(|e| Error::io(format!("reading size of {}", path.display()), e))?
                .len() as usize;
            let is_last = i + 1 == seqs.len();
            if is_last && len < 4 {
                // A crash right after creating the file: Prometheus deletes
                // such a last file too.
                if !read_only {
                    fs::remove_file(&path)
                        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                }
                continue;
            }
            let cf = if len == 0 {
                ChunkFile::in_memory(seq, Box::new([]))
            } else {
                ChunkFile::mapped(seq, map_file(&file, len, &path)?)
            };
            if is_last && cf.bytes()[..4] == [0, 0, 0, 0] {
                if !read_only {
                    drop(cf);
                    fs::remove_file(&path)
                        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                }
                continue;
            }
            files.insert(seq, Arc::new(cf));
        }
        Ok(HeadChunkStore {
            dir: dir.to_path_buf(),
            in_memory: read_only,
            files: RwLock::new(files),
            writer: Mutex::new(Writer {
                file: None,
                seq: 0,
                next_seq,
                offset: 0,
                flushed: 0,
                buf: Vec::new(),
                cut_next: false,
                poisoned: false,
            }),
            active_seq: AtomicU32::new(0),
            flushed: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Calls `f` for every chunk of every file, oldest first. Stops at the
    /// first damage and returns where it is.
    pub(crate) fn iterate(
        &self,
        mut f: impl FnMut(DiskChunk),
    ) -> std::result::Result<(), StoreCorruption> {
        let files: Vec<Arc<ChunkFile>> = self.files.read().values().cloned().collect();
        for cf in files {
            scan_file(cf.seq(), cf.bytes(), &mut f)?;
        }
        Ok(())
    }

    /// Forgets the files numbered `from` and above, deleting them unless
    /// the store is read-only. Returns their total size.
    pub(crate) fn drop_files_from(&self, from: u32) -> Result<u64> {
        let mut files = self.files.write();
        let gone: Vec<u32> = files.range(from..).map(|(s, _)| *s).collect();
        let mut bytes = 0;
        for seq in gone {
            if let Some(cf) = files.remove(&seq) {
                bytes += cf.bytes().len() as u64;
            }
            if !self.in_memory {
                let path = self.dir.join(file_name(seq));
                fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            }
        }
        Ok(bytes)
    }

    /// Appends a full chunk of series `series_ref`; returns where it went.
    pub(crate) fn write_chunk(
        &self,
        series_ref: u64,
        min_time: i64,
        max_time: i64,
        encoding: u8,
        data: &[u8],
    ) -> Result<HeadChunkRef> {
        let mut w = self.writer.lock();
        self.recover(&mut w)?;
        let varint_len = uvarint_len(data.len() as u64);
        let size = (25 + varint_len + data.len() + 4) as u64;
        if w.seq == 0 || w.cut_next || w.offset + size > MAX_HEAD_CHUNK_FILE_SIZE {
            if let Err(e) = self.cut(&mut w) {
                // Retried with the next chunk (the disk may have room by
                // then).
                w.cut_next = true;
                return Err(e);
            }
        }
        let at = w.offset;
        let start = w.buf.len();
        w.buf.extend_from_slice(&series_ref.to_be_bytes());
        w.buf.extend_from_slice(&min_time.to_be_bytes());
        w.buf.extend_from_slice(&max_time.to_be_bytes());
        w.buf.push(encoding);
        put_uvarint(&mut w.buf, data.len() as u64);
        w.buf.extend_from_slice(data);
        let crc = crc32c::crc32c(&w.buf[start..]);
        w.buf.extend_from_slice(&crc.to_be_bytes());
        w.offset += size;
        if !self.in_memory && w.buf.len() >= WRITE_BUFFER_SIZE {
            if let Err(e) = self.flush(&mut w) {
                // The caller keeps this chunk (and will offer it again):
                // not in the buffer, or it would be written twice. The
                // chunks before it stay buffered for the retry.
                w.buf.truncate(start);
                w.offset = at;
                return Err(e);
            }
        }
        Ok(HeadChunkRef::new(w.seq, at as u32))
    }

    /// After a failed write (a full disk): cuts what it left at the end of
    /// the active file, so the file is again exactly its `flushed` bytes
    /// and the buffer (still holding everything unflushed, which chunk
    /// references already point into) can be written again. Fails, naming
    /// the cause, while the disk still refuses.
    fn recover(&self, w: &mut Writer) -> Result<()> {
        if !w.poisoned {
            return Ok(());
        }
        let path = self.dir.join(file_name(w.seq));
        if let Some(file) = w.file.as_mut() {
            file.set_len(w.flushed)
                .and_then(|()| file.seek(std::io::SeekFrom::Start(w.flushed)).map(|_| ()))
                .map_err(|e| {
                    Error::io(format!("cutting a failed write from {}", path.display()), e)
                })?;
        }
        w.poisoned = false;
        Ok(())
    }

    /// Writes the buffer to the active file.
    fn flush(&self, w: &mut Writer) -> Result<()> {
        if w.buf.is_empty() || self.in_memory {
            return Ok(());
        }
        let Some(file) = w.file.as_mut() else {
            return Ok(());
        };
        if let Err(e) = file.write_all(&w.buf) {
            w.poisoned = true;
            return Err(Error::io(
                format!("writing {}", self.dir.join(file_name(w.seq)).display()),
                e,
            ));
        }
        w.flushed += w.buf.len() as u64;
        w.buf.clear();
        self.flushed.store(w.flushed, Ordering::Release);
        Ok(())
    }

    /// Finishes the active file and starts the next one.
    fn cut(&self, w: &mut Writer) -> Result<()> {
        self.finish_active(w)?;
        let seq = w.next_seq;
        let mut header = Vec::with_capacity(FILE_HEADER_SIZE);
        header.extend_from_slice(&HEAD_CHUNK_FILE_MAGIC.to_be_bytes());
        header.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
        if self.in_memory {
            w.buf = header;
            w.flushed = 0;
            w.file = None;
        } else {
            let path = self.dir.join(file_name(seq));
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
            let map = file
                .write_all(&header)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))
                .and_then(|()| map_file(&file, MAX_HEAD_CHUNK_FILE_SIZE as usize, &path));
            let map = match map {
                Ok(m) => m,
                Err(e) => {
                    // Nothing refers to the file yet: gone, so the next
                    // chunk can create it again (`cut_next`).
                    drop(file);
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            self.files
                .write()
                .insert(seq, Arc::new(ChunkFile::mapped(seq, map)));
            w.file = Some(file);
            w.buf.clear();
            w.flushed = FILE_HEADER_SIZE as u64;
        }
        w.seq = seq;
        w.next_seq = seq + 1;
        w.offset = FILE_HEADER_SIZE as u64;
        w.cut_next = false;
        self.flushed.store(w.flushed, Ordering::Release);
        self.active_seq.store(seq, Ordering::Release);
        Ok(())
    }

    /// Flushes and syncs the active file (or, in memory, freezes it).
    fn finish_active(&self, w: &mut Writer) -> Result<()> {
        if w.seq == 0 {
            return Ok(());
        }
        if self.in_memory {
            let data = std::mem::take(&mut w.buf).into_boxed_slice();
            self.files
                .write()
                .insert(w.seq, Arc::new(ChunkFile::in_memory(w.seq, data)));
            self.active_seq.store(0, Ordering::Release);
            w.seq = 0;
            return Ok(());
        }
        self.flush(w)?;
        if let Some(file) = w.file.take() {
            file.sync_data().map_err(|e| {
                Error::io(
                    format!("syncing {}", self.dir.join(file_name(w.seq)).display()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Writes out buffered chunks and syncs the active file to disk.
    pub(crate) fn sync(&self) -> Result<()> {
        let mut w = self.writer.lock();
        self.recover(&mut w)?;
        self.flush(&mut w)?;
        if let Some(file) = w.file.as_ref() {
            file.sync_data().map_err(|e| {
                Error::io(
                    format!("syncing {}", self.dir.join(file_name(w.seq)).display()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Reads the chunk at `r`: its encoding byte (without the out-of-order
    /// flag) and its data. The record's checksum is verified.
    pub(crate) fn chunk(&self, r: HeadChunkRef) -> Result<(u8, ChunkBytes)> {
        let (seq, at) = (r.file(), r.offset() as usize);
        if seq == self.active_seq.load(Ordering::Acquire)
            && at as u64 >= self.flushed.load(Ordering::Acquire)
        {
            let w = self.writer.lock();
            if seq == w.seq && at as u64 >= w.flushed {
                let rel = at - w.flushed as usize;
                let rec = parse_record(&w.buf, rel, w.buf.len())
                    .map_err(|reason| self.corrupt(seq, at, reason))?
                    .ok_or_else(|| self.corrupt(seq, at, "no chunk at this offset".into()))?;
                let data: Arc<[u8]> = Arc::from(&w.buf[rec.data_start..rec.data_end]);
                return Ok((rec.encoding & !OUT_OF_ORDER_MASK, ChunkBytes::Heap(data)));
            }
        }
        let cf = self
            .files
            .read()
            .get(&seq)
            .cloned()
            .ok_or_else(|| self.corrupt(seq, at, "the chunk file does not exist".into()))?;
        self.chunk_in(&cf, r)
    }

    /// Like [`HeadChunkStore::chunk`] for a file already at hand.
    fn chunk_in(&self, cf: &Arc<ChunkFile>, r: HeadChunkRef) -> Result<(u8, ChunkBytes)> {
        let (seq, at) = (r.file(), r.offset() as usize);
        let b = cf.bytes();
        let end = if seq == self.active_seq.load(Ordering::Acquire) {
            (self.flushed.load(Ordering::Acquire) as usize).min(b.len())
        } else {
            b.len()
        };
        if at < FILE_HEADER_SIZE || at >= end {
            return Err(self.corrupt(seq, at, format!("offset beyond the {end} readable bytes")));
        }
        let rec = parse_record(b, at, end)
            .map_err(|reason| self.corrupt(seq, at, reason))?
            .ok_or_else(|| self.corrupt(seq, at, "no chunk at this offset".into()))?;
        Ok((
            rec.encoding & !OUT_OF_ORDER_MASK,
            ChunkBytes::File {
                file: cf.clone(),
                start: rec.data_start,
                end: rec.data_end,
            },
        ))
    }

    fn corrupt(&self, seq: u32, at: usize, reason: String) -> Error {
        Error::CorruptHeadChunk {
            file: self.dir.join(file_name(seq)),
            offset: at as u64,
            reason,
        }
    }

    /// Deletes the files numbered below `before`, except the one being
    /// written (which is finished at the next chunk instead, so it can go
    /// at the next truncation). Returns how many files were deleted.
    pub(crate) fn truncate_before(&self, before: u32) -> Result<usize> {
        let active = {
            let mut w = self.writer.lock();
            if w.seq != 0 && w.offset > FILE_HEADER_SIZE as u64 {
                w.cut_next = true;
            }
            w.seq
        };
        let mut files = self.files.write();
        let gone: Vec<u32> = files
            .range(..before)
            .map(|(s, _)| *s)
            .filter(|&s| s != active)
            .collect();
        for seq in &gone {
            files.remove(seq);
            if !self.in_memory {
                let path = self.dir.join(file_name(*seq));
                fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            }
        }
        Ok(gone.len())
    }

    /// Number of files and their total bytes in use.
    pub(crate) fn usage(&self) -> (usize, u64) {
        let active = self.active_seq.load(Ordering::Acquire);
        let files = self.files.read();
        let bytes = files
            .values()
            .map(|f| {
                if f.seq() == active {
                    self.flushed.load(Ordering::Acquire)
                } else {
                    f.bytes().len() as u64
                }
            })
            .sum::<u64>();
        (files.len(), bytes + self.writer.lock().buf.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_len_is_what_put_uvarint_writes() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(uvarint_len(v), b.len(), "{v}");
        }
    }

    fn chunk_data(i: u8) -> Vec<u8> {
        let mut app = aion_chunkenc::XorAppender::new();
        for k in 0..(i as i64 + 1) {
            app.append(k * 1000, f64::from(i)).unwrap();
        }
        app.bytes().to_vec()
    }

    #[test]
    fn writes_and_reads_back_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut refs = Vec::new();
        for i in 0..50u8 {
            let data = chunk_data(i);
            let r = store
                .write_chunk(u64::from(i) + 1, 0, i64::from(i), 1, &data)
                .unwrap();
            // Readable at once, from the buffer.
            assert_eq!(store.chunk(r).unwrap().1.as_slice(), &data[..]);
            refs.push((r, data));
        }
        store.sync().unwrap();
        for (r, data) in &refs {
            assert_eq!(store.chunk(*r).unwrap().1.as_slice(), &data[..]);
        }
        drop(store);

        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut seen = Vec::new();
        store.iterate(|c| seen.push(c)).unwrap();
        assert_eq!(seen.len(), 50);
        for (c, (r, data)) in seen.iter().zip(&refs) {
            assert_eq!(c.chunk_ref, *r);
            assert_eq!(store.chunk(*r).unwrap().1.as_slice(), &data[..]);
        }
        // New chunks go to a new file.
        let r = store.write_chunk(99, 5, 6, 1, &chunk_data(3)).unwrap();
        assert_eq!(r.file(), 2);
        assert_eq!(r.offset() as usize, FILE_HEADER_SIZE);
    }

    /// A full disk (`/dev/full` as the file): writes fail naming the
    /// cause; once there is room the buffered chunks are written where
    /// their references point, with nothing of the failed write between.
    #[test]
    fn writing_resumes_after_a_failed_write() {
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let first = store.write_chunk(1, 0, 10, 1, &chunk_data(5)).unwrap();
        store.sync().unwrap();
        let real = store.writer.lock().file.replace(full).unwrap();
        let mut refs = vec![(first, chunk_data(5))];
        for i in 0..3u8 {
            let r = store.write_chunk(u64::from(i) + 2, 0, 10, 1, &chunk_data(i));
            refs.push((r.unwrap(), chunk_data(i)));
        }
        let failed = store.sync().unwrap_err().to_string();
        assert!(failed.contains("No space left on device"), "{failed}");
        // Still full: cutting /dev/full fails, naming it.
        assert!(store.write_chunk(9, 0, 10, 1, &chunk_data(9)).is_err());
        assert!(store.sync().is_err());
        // Room again; part of the failed write reached the file.
        let mut real = real;
        real.write_all(&[0x55; 300]).unwrap();
        store.writer.lock().file = Some(real);
        store.sync().unwrap();
        for (r, data) in &refs {
            assert_eq!(store.chunk(*r).unwrap().1.as_slice(), &data[..]);
        }
        drop(store);
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut seen = 0;
        store.iterate(|_| seen += 1).unwrap();
        assert_eq!(seen, refs.len());
    }

    #[test]
    fn damage_is_reported_with_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let a = store.write_chunk(1, 0, 10, 1, &chunk_data(5)).unwrap();
        let b = store.write_chunk(2, 0, 10, 1, &chunk_data(6)).unwrap();
        store.sync().unwrap();
        drop(store);
        let path = dir.path().join("000001");
        let mut bytes = fs::read(&path).unwrap();
        bytes[b.offset() as usize + 30] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut n = 0;
        let err = store.iterate(|_| n += 1).unwrap_err();
        assert_eq!(n, 1);
        assert_eq!((err.file, err.offset), (1, u64::from(b.offset())));
        assert!(err.reason.contains("checksum"), "{}", err.reason);
        assert!(store.chunk(a).is_ok());
        assert!(matches!(
            store.chunk(b),
            Err(Error::CorruptHeadChunk { .. })
        ));
        assert!(store.drop_files_from(1).unwrap() > 0);
        assert!(!path.exists());
    }

    #[test]
    fn trailing_zeros_end_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        store.write_chunk(1, 0, 10, 1, &chunk_data(5)).unwrap();
        store.sync().unwrap();
        drop(store);
        let path = dir.path().join("000001");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0u8; 1000]).unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut n = 0;
        store.iterate(|_| n += 1).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn in_memory_mode_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(&dir.path().join("chunks_head"), true).unwrap();
        let data = chunk_data(7);
        let r = store.write_chunk(1, 0, 7, 1, &data).unwrap();
        assert_eq!(store.chunk(r).unwrap().1.as_slice(), &data[..]);
        assert!(!dir.path().join("chunks_head").exists());
    }

    #[test]
    fn truncation_keeps_the_active_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        store.write_chunk(1, 0, 10, 1, &chunk_data(5)).unwrap();
        assert_eq!(store.truncate_before(5).unwrap(), 0);
        let r = store.write_chunk(1, 11, 20, 1, &chunk_data(5)).unwrap();
        assert_eq!(r.file(), 2);
        assert_eq!(store.truncate_before(2).unwrap(), 1);
        assert!(!dir.path().join("000001").exists());
        assert!(store.chunk(r).is_ok());
    }
}
