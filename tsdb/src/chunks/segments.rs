//! A block's chunk segment files (`<block>/chunks/000001`, …), in
//! Prometheus's format (`docs/formats.md#chunk-segments`).
//!
//! ```text
//! be32 magic 0x85BD40DD | u8 version 1 | 3 zero bytes
//! chunk …  uvarint len | u8 encoding | data[len] | be32 crc32c(encoding ++ data)
//! ```
//!
//! The index refers to a chunk by `(segment position << 32) | offset`,
//! the segment position being the 0-based index of the file in the sorted
//! listing and the offset that of the chunk's `len` field.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use aion_chunkenc::Encoding;
use aion_index::ChunkMeta;
use memmap2::Mmap;

use crate::{Error, Result};
use aion_model::encoding::{put_uvarint, uvarint};

/// First four bytes of every chunk segment file.
pub const SEGMENT_MAGIC: u32 = 0x85BD_40DD;
/// The only segment format version.
const SEGMENT_FORMAT_V1: u8 = 1;
/// Magic, version and three bytes of padding.
pub const SEGMENT_HEADER_LEN: u64 = 8;
/// Prometheus's maximum segment size: a new file is started before one
/// would grow past it (unless a single chunk is larger).
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;
/// The most bytes a chunk's length field can take (Go's
/// `binary.MaxVarintLen32`); Prometheus sizes segments with it.
const MAX_LEN_FIELD: u64 = 5;
/// Encoding byte plus CRC32C.
const CHUNK_OVERHEAD: u64 = 1 + 4;

/// The index's reference to the chunk at `offset` of the segment at
/// (0-based) position `segment`.
///
/// ```
/// use aion_tsdb::chunks::{block_chunk_ref, split_block_chunk_ref};
/// let r = block_chunk_ref(2, 8);
/// assert_eq!(r, (2 << 32) | 8);
/// assert_eq!(split_block_chunk_ref(r), (2, 8));
/// ```
pub fn block_chunk_ref(segment: u32, offset: u32) -> u64 {
    (u64::from(segment) << 32) | u64::from(offset)
}

/// Splits a block chunk reference into segment position and offset.
pub fn split_block_chunk_ref(r: u64) -> (u32, u32) {
    ((r >> 32) as u32, r as u32)
}

pub use aion_storage::SeriesChunk;

/// The file currently written.
struct Tail {
    path: PathBuf,
    w: BufWriter<File>,
}

/// Writes a block's chunk segment files, byte for byte as Prometheus's
/// `chunks.Writer` does: same file names, same header, same chunk layout
/// and the same rule for when a new segment starts.
///
/// Chunks are written series by series ([`write_chunks`](Self::write_chunks)
/// takes all chunks of one series), so references increase through the
/// files as the index requires. Files get exactly the length of their
/// contents: nothing is preallocated, because the standard library has no
/// portable `fallocate` and a sparse `set_len` reserves nothing; Prometheus
/// preallocates and truncates on close, which leaves the same bytes.
pub struct ChunkSegmentWriter {
    dir: PathBuf,
    segment_size: u64,
    /// Segments started so far.
    segments: u32,
    tail: Option<Tail>,
    /// Bytes in the current segment, header included (0: none started).
    n: u64,
    /// Bytes written over all segments.
    total: u64,
    scratch: Vec<u8>,
}

impl ChunkSegmentWriter {
    /// A writer of segments of at most `segment_size` bytes (a single chunk
    /// larger than that gets a segment of its own) into `dir`, created if
    /// missing.
    pub fn create(dir: impl AsRef<Path>, segment_size: u64) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        Ok(ChunkSegmentWriter {
            dir,
            segment_size: if segment_size == 0 {
                DEFAULT_SEGMENT_SIZE
            } else {
                segment_size
            },
            segments: 0,
            tail: None,
            n: 0,
            total: 0,
            scratch: Vec::with_capacity(64),
        })
    }

    /// Writes the chunks of one series and appends their index entries
    /// (time range and reference) to `metas`.
    pub fn write_chunks<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[SeriesChunk<B>],
        metas: &mut Vec<ChunkMeta>,
    ) -> Result<()> {
        // Split the chunks into runs that each go into one segment, with
        // Prometheus's arithmetic (a chunk counts with the longest possible
        // length field), so files break where Prometheus's do.
        let mut cuts: Vec<usize> = Vec::new();
        let mut batch_size = 0u64;
        let mut first_batch = true;
        for (i, c) in chunks.iter().enumerate() {
            let size = MAX_LEN_FIELD + CHUNK_OVERHEAD + c.data.as_ref().len() as u64;
            batch_size += size;
            let mut cut = i != 0 && batch_size + SEGMENT_HEADER_LEN > self.segment_size;
            if first_batch && self.n > SEGMENT_HEADER_LEN {
                cut = batch_size + self.n > self.segment_size;
                if cut {
                    first_batch = false;
                }
            }
            if cut {
                cuts.push(i);
                batch_size = size;
            }
        }
        if self.n == 0 {
            self.cut()?;
        }
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&chunks.len())) {
            self.write_run(&chunks[start..end], metas)?;
            if end != chunks.len() {
                self.cut()?;
            }
            start = end;
        }
        Ok(())
    }

    fn write_run<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[SeriesChunk<B>],
        metas: &mut Vec<ChunkMeta>,
    ) -> Result<()> {
        let seq = self.segments - 1;
        for c in chunks {
            let data = c.data.as_ref();
            let offset = u32::try_from(self.n).map_err(|_| {
                Error::Writer(format!(
                    "chunk segment {} grew past 4 GiB: chunk offsets would not fit a reference",
                    self.segments
                ))
            })?;
            self.scratch.clear();
            put_uvarint(&mut self.scratch, data.len() as u64);
            self.scratch.push(c.encoding as u8);
            let mut crc = crc32c::crc32c(&[c.encoding as u8]);
            crc = crc32c::crc32c_append(crc, data);
            let tail = self.tail.as_mut().expect("a segment is open");
            let io = |e| Error::io(format!("write {}", tail.path.display()), e);
            tail.w.write_all(&self.scratch).map_err(io)?;
            tail.w.write_all(data).map_err(io)?;
            tail.w.write_all(&crc.to_be_bytes()).map_err(io)?;
            let written = (self.scratch.len() + data.len() + 4) as u64;
            self.n += written;
            self.total += written;
            metas.push(ChunkMeta::new(
                c.min_time,
                c.max_time,
                block_chunk_ref(seq, offset),
            ));
        }
        Ok(())
    }

    /// Finishes the current segment and starts the next.
    fn cut(&mut self) -> Result<()> {
        self.finish_tail()?;
        self.segments += 1;
        let path = self.dir.join(format!("{:06}", self.segments));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        header[..4].copy_from_slice(&SEGMENT_MAGIC.to_be_bytes());
        header[4] = SEGMENT_FORMAT_V1;
        w.write_all(&header)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        self.n = SEGMENT_HEADER_LEN;
        self.total += SEGMENT_HEADER_LEN;
        self.tail = Some(Tail { path, w });
        Ok(())
    }

    fn finish_tail(&mut self) -> Result<()> {
        if let Some(Tail { path, w }) = self.tail.take() {
            let io = |e| Error::io(format!("finish {}", path.display()), e);
            let f = w.into_inner().map_err(|e| io(e.into_error()))?;
            f.sync_all().map_err(io)?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the last segment and the directory. Returns the
    /// total bytes written.
    pub fn finish(mut self) -> Result<u64> {
        self.finish_tail()?;
        crate::fsutil::sync_dir(&self.dir)?;
        Ok(self.total)
    }
}

/// One mapped segment file.
struct Segment {
    path: PathBuf,
    data: SegmentData,
}

enum SegmentData {
    Mapped(Mmap),
    Memory(Vec<u8>),
}

impl Segment {
    fn bytes(&self) -> &[u8] {
        match &self.data {
            SegmentData::Mapped(m) => m,
            SegmentData::Memory(v) => v,
        }
    }
}

/// Reads chunks out of a block's segment files through memory maps.
///
/// Opening checks every file's header; reading a chunk checks that its
/// reference points inside a file, that the length field and data fit, that
/// the encoding byte is one Prometheus defines, and the CRC32C. No input
/// makes it panic or read out of bounds: problems are
/// [`Error::Corrupt`] naming the file and offset.
pub struct ChunkSegmentReader {
    dir: PathBuf,
    segments: Vec<Segment>,
    size: u64,
}

impl ChunkSegmentReader {
    /// Opens every segment file in `dir` (files named by a decimal number,
    /// in name order, as Prometheus lists them).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut names: Vec<String> = Vec::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
            if let Some(name) = entry.file_name().to_str() {
                if !name.is_empty() && name.parse::<u64>().is_ok() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        let mut segments = Vec::with_capacity(names.len());
        let mut size = 0;
        for name in names {
            let path = dir.join(&name);
            let file =
                File::open(&path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            let len = file
                .metadata()
                .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
                .len();
            if len < SEGMENT_HEADER_LEN {
                return Err(Error::corrupt(
                    &path,
                    0,
                    format!("file of {len} bytes is too short for the 8-byte segment header"),
                ));
            }
            // SAFETY: the map is read-only and block files are immutable
            // once their block is renamed into place; blocks are replaced,
            // never modified. Another process truncating the file under us
            // would fault, which no mmap reader (Prometheus's included) can
            // prevent.
            let map = unsafe { Mmap::map(&file) }
                .map_err(|e| Error::io(format!("mmap {}", path.display()), e))?;
            let segment = Segment {
                path,
                data: SegmentData::Mapped(map),
            };
            check_header(&segment)?;
            size += len;
            segments.push(segment);
        }
        Ok(ChunkSegmentReader {
            dir,
            segments,
            size,
        })
    }

    /// A reader over in-memory segment files (for tests and fuzzing); the
    /// names are only used in errors.
    pub fn from_bytes(dir: impl AsRef<Path>, files: Vec<Vec<u8>>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut segments = Vec::with_capacity(files.len());
        let mut size = 0;
        for (i, data) in files.into_iter().enumerate() {
            let path = dir.join(format!("{:06}", i + 1));
            if (data.len() as u64) < SEGMENT_HEADER_LEN {
                return Err(Error::corrupt(
                    &path,
                    0,
                    format!(
                        "file of {} bytes is too short for the 8-byte segment header",
                        data.len()
                    ),
                ));
            }
            size += data.len() as u64;
            let segment = Segment {
                path,
                data: SegmentData::Memory(data),
            };
            check_header(&segment)?;
            segments.push(segment);
        }
        Ok(ChunkSegmentReader {
            dir,
            segments,
            size,
        })
    }

    /// The directory the segments are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segment files.
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    /// Total bytes of all segment files.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The encoding and data of the chunk at `chunk_ref`.
    pub fn chunk(&self, chunk_ref: u64) -> Result<(Encoding, &[u8])> {
        let (seq, offset) = split_block_chunk_ref(chunk_ref);
        let Some(segment) = self.segments.get(seq as usize) else {
            return Err(Error::corrupt(
                &self.dir,
                u64::from(offset),
                format!(
                    "chunk reference {chunk_ref:#x} names segment position {seq}, but there are only {} segment file(s)",
                    self.segments.len()
                ),
            ));
        };
        let file = segment.bytes();
        let at = offset as usize;
        let bad = |reason: String| Err(Error::corrupt(&segment.path, u64::from(offset), reason));
        if (offset as u64) < SEGMENT_HEADER_LEN || at >= file.len() {
            return bad(format!(
                "chunk reference {chunk_ref:#x} points outside the {}-byte file's chunks",
                file.len()
            ));
        }
        let Some((len, n)) = uvarint(&file[at..]) else {
            return bad("chunk length field is truncated or overflows".into());
        };
        let start = at + n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(1)?.checked_add(l))
            .filter(|&e| e.checked_add(4).is_some_and(|c| c <= file.len()));
        let Some(end) = end else {
            return bad(format!(
                "chunk of {len} data bytes runs past the end of the {}-byte file",
                file.len()
            ));
        };
        let enc_byte = file[start];
        let stored = u32::from_be_bytes(file[end..end + 4].try_into().expect("4 bytes"));
        let actual = crc32c::crc32c(&file[start..end]);
        if stored != actual {
            return bad(format!(
                "checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
            ));
        }
        let encoding = match Encoding::try_from(enc_byte) {
            Ok(Encoding::None) | Err(_) => {
                return bad(format!("invalid chunk encoding byte {enc_byte}"));
            }
            Ok(e) => e,
        };
        Ok((encoding, &file[start + 1..end]))
    }

    /// Walks every chunk of every segment in file order, checking each as
    /// [`chunk`](Self::chunk) does; `f` gets the reference, encoding and
    /// data. Used to verify a block and by the fuzz target.
    pub fn for_each_chunk(&self, mut f: impl FnMut(u64, Encoding, &[u8])) -> Result<()> {
        for (seq, segment) in self.segments.iter().enumerate() {
            let file = segment.bytes();
            let mut at = SEGMENT_HEADER_LEN as usize;
            while at < file.len() {
                let offset = u32::try_from(at).map_err(|_| {
                    Error::corrupt(&segment.path, at as u64, "segment larger than 4 GiB")
                })?;
                let r = block_chunk_ref(seq as u32, offset);
                let (encoding, data) = self.chunk(r)?;
                f(r, encoding, data);
                let (len, n) = uvarint(&file[at..]).expect("checked by chunk()");
                at += n + 1 + len as usize + 4;
            }
        }
        Ok(())
    }
}

fn check_header(segment: &Segment) -> Result<()> {
    let b = segment.bytes();
    let magic = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
    if magic != SEGMENT_MAGIC {
        return Err(Error::corrupt(
            &segment.path,
            0,
            format!("bad magic {magic:#010x}, want {SEGMENT_MAGIC:#010x}"),
        ));
    }
    if b[4] != SEGMENT_FORMAT_V1 {
        return Err(Error::corrupt(
            &segment.path,
            4,
            format!("unknown segment format version {}", b[4]),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_chunkenc::XorAppender;
    use proptest::prelude::*;

    fn xor_chunk(t0: i64, n: usize) -> SeriesChunk {
        let mut app = XorAppender::new();
        for i in 0..n as i64 {
            app.append(t0 + i * 15_000, i as f64).unwrap();
        }
        SeriesChunk {
            min_time: t0,
            max_time: t0 + (n as i64 - 1) * 15_000,
            encoding: Encoding::Xor,
            data: app.bytes().to_vec(),
        }
    }

    #[test]
    fn round_trip_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let chunks_dir = dir.path().join("chunks");
        // Small segments so several files are needed.
        let mut w = ChunkSegmentWriter::create(&chunks_dir, 1000).unwrap();
        let mut all = Vec::new();
        let mut metas = Vec::new();
        for s in 0..20 {
            let series: Vec<_> = (0..3).map(|k| xor_chunk(s * 1000 + k * 100, 20)).collect();
            w.write_chunks(&series, &mut metas).unwrap();
            all.extend(series);
        }
        w.finish().unwrap();
        let r = ChunkSegmentReader::open(&chunks_dir).unwrap();
        assert!(r.num_segments() > 3, "{}", r.num_segments());
        assert_eq!(metas.len(), all.len());
        assert!(metas.windows(2).all(|w| w[0].chunk_ref < w[1].chunk_ref));
        for (m, c) in metas.iter().zip(&all) {
            let (enc, data) = r.chunk(m.chunk_ref).unwrap();
            assert_eq!(enc, Encoding::Xor);
            assert_eq!(data, &c.data[..]);
            assert_eq!((m.min_time, m.max_time), (c.min_time, c.max_time));
        }
        // Every file but the last is within the size limit.
        for i in 1..r.num_segments() {
            let len = std::fs::metadata(chunks_dir.join(format!("{i:06}")))
                .unwrap()
                .len();
            assert!(len <= 1000, "segment {i} has {len} bytes");
        }
        let mut n = 0;
        r.for_each_chunk(|_, _, _| n += 1).unwrap();
        assert_eq!(n, all.len());
    }

    #[test]
    fn first_chunk_of_a_file_sits_after_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkSegmentWriter::create(dir.path(), 0).unwrap();
        let mut metas = Vec::new();
        w.write_chunks(&[xor_chunk(0, 2)], &mut metas).unwrap();
        w.finish().unwrap();
        assert_eq!(metas[0].chunk_ref, 8);
        let bytes = std::fs::read(dir.path().join("000001")).unwrap();
        assert_eq!(&bytes[..8], &[0x85, 0xBD, 0x40, 0xDD, 1, 0, 0, 0]);
    }

    #[test]
    fn a_chunk_larger_than_a_segment_gets_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkSegmentWriter::create(dir.path(), 64).unwrap();
        let mut metas = Vec::new();
        let big = xor_chunk(0, 100);
        w.write_chunks(&[big.clone(), big.clone()], &mut metas)
            .unwrap();
        w.write_chunks(std::slice::from_ref(&big), &mut metas)
            .unwrap();
        w.finish().unwrap();
        let segs: Vec<_> = metas.iter().map(|m| m.chunk_ref >> 32).collect();
        assert_eq!(segs, [0, 1, 2]);
        assert!(metas.iter().all(|m| m.chunk_ref & 0xffff_ffff == 8));
    }

    #[test]
    fn errors_name_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkSegmentWriter::create(dir.path(), 0).unwrap();
        let mut metas = Vec::new();
        w.write_chunks(&[xor_chunk(0, 5), xor_chunk(100_000, 5)], &mut metas)
            .unwrap();
        w.finish().unwrap();
        let path = dir.path().join("000001");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let r = ChunkSegmentReader::open(dir.path()).unwrap();
        r.chunk(metas[0].chunk_ref).unwrap();
        let err = r.chunk(metas[1].chunk_ref).unwrap_err().to_string();
        assert!(err.contains("000001"), "{err}");
        assert!(err.contains("checksum"), "{err}");
        assert!(
            err.contains(&format!("offset {}", metas[1].chunk_ref)),
            "{err}"
        );
        let err = r.chunk(1 << 32 | 8).unwrap_err().to_string();
        assert!(err.contains("segment position 1"), "{err}");
        let err = r.chunk(4).unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");

        std::fs::write(&path, [0x85, 0xBD, 0x40, 0xDD, 2, 0, 0, 0]).unwrap();
        let err = ChunkSegmentReader::open(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("version 2") && err.contains("000001"), "{err}");
        std::fs::write(&path, [1, 2, 3]).unwrap();
        let err = ChunkSegmentReader::open(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("too short"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(mut file: Vec<u8>, refs: Vec<u64>) {
            if file.len() >= 8 {
                file[..5].copy_from_slice(&[0x85, 0xBD, 0x40, 0xDD, 1]);
            }
            if let Ok(r) = ChunkSegmentReader::from_bytes("fuzz", vec![file]) {
                for c in refs {
                    let _ = r.chunk(c);
                    let _ = r.chunk(c & 0xffff);
                }
                let _ = r.for_each_chunk(|_, _, _| {});
            }
        }
    }
}
