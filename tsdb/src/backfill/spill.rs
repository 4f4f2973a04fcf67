//! Sorted runs of samples on disk, and their k-way merge: how a backfill
//! of any size stays within its memory budget.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What a buffered sample holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A float: `v` is its bits.
    Float = 0,
    /// An integer native histogram, in the sample's payload.
    Histogram = 1,
    /// A float native histogram, in the sample's payload.
    FloatHistogram = 2,
}

/// A buffered sample: series id, kind, timestamp and value bits (for a
/// histogram, the index of its payload in the buffer; a payload travels
/// with its record through the runs). 24 bytes in memory, as before
/// histograms: the kind sits in the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub series: u32,
    pub kind: Kind,
    pub t: i64,
    pub v: u64,
}

/// A record with its histogram payload (the encoded histogram), as the
/// sorted stream hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub rec: Record,
    pub payload: Option<Vec<u8>>,
}

const RECORD_LEN: usize = 4 + 8 + 8 + 1;

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[..4].copy_from_slice(&self.series.to_le_bytes());
        b[4..12].copy_from_slice(&self.t.to_le_bytes());
        b[12..20].copy_from_slice(&self.v.to_le_bytes());
        b[20] = self.kind as u8;
        b
    }

    fn decode(b: &[u8; RECORD_LEN]) -> Option<Self> {
        let kind = match b[20] {
            0 => Kind::Float,
            1 => Kind::Histogram,
            2 => Kind::FloatHistogram,
            _ => return None,
        };
        Some(Record {
            series: u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
            kind,
            t: i64::from_le_bytes(b[4..12].try_into().expect("8 bytes")),
            v: u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")),
        })
    }
}

/// Writes one sorted run.
pub(crate) struct RunWriter {
    path: PathBuf,
    w: BufWriter<File>,
}

impl RunWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let f =
            File::create(path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(RunWriter {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, f),
        })
    }

    /// Writes `r` and, for a histogram, its payload.
    pub fn push(&mut self, r: &Record, payload: Option<&[u8]>) -> Result<()> {
        let io = |e| Error::io(format!("write {}", self.path.display()), e);
        self.w.write_all(&r.encode()).map_err(io)?;
        if let Some(p) = payload {
            let len = u32::try_from(p.len())
                .map_err(|_| Error::InvalidSample("a histogram of more than 4 GiB".into()))?;
            self.w.write_all(&len.to_le_bytes()).map_err(io)?;
            self.w.write_all(p).map_err(io)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.w
            .flush()
            .map_err(|e| Error::io(format!("write {}", self.path.display()), e))
    }
}

struct RunReader {
    path: PathBuf,
    r: BufReader<File>,
}

impl RunReader {
    fn next(&mut self) -> Result<Option<Item>> {
        let mut b = [0u8; RECORD_LEN];
        match self.r.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", self.path.display()), e)),
        }
        // Runs are this process's own scratch files: damage is an I/O
        // problem, reported as such.
        let damaged = || {
            Error::io(
                format!("read {}", self.path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged spill record"),
            )
        };
        let rec = Record::decode(&b).ok_or_else(damaged)?;
        let payload = if rec.kind == Kind::Float {
            None
        } else {
            let mut len = [0u8; 4];
            self.r.read_exact(&mut len).map_err(|_| damaged())?;
            let mut p = vec![0u8; u32::from_le_bytes(len) as usize];
            self.r.read_exact(&mut p).map_err(|_| damaged())?;
            Some(p)
        };
        Ok(Some(Item { rec, payload }))
    }
}

/// Merges sorted runs into one sorted stream.
pub(crate) struct RunMerger<F> {
    readers: Vec<RunReader>,
    heads: Vec<Option<Item>>,
    cmp: F,
}

impl<F: Fn(&Record, &Record) -> Ordering> RunMerger<F> {
    pub fn open(paths: &[PathBuf], cmp: F) -> Result<Self> {
        let mut readers = Vec::with_capacity(paths.len());
        let mut heads = Vec::with_capacity(paths.len());
        for p in paths {
            let f = File::open(p).map_err(|e| Error::io(format!("open {}", p.display()), e))?;
            let mut r = RunReader {
                path: p.clone(),
                r: BufReader::with_capacity(64 << 10, f),
            };
            heads.push(r.next()?);
            readers.push(r);
        }
        Ok(RunMerger {
            readers,
            heads,
            cmp,
        })
    }

    fn pop(&mut self) -> Result<Option<Item>> {
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                let beats = |b: usize| {
                    let other = &self.heads[b].as_ref().expect("set").rec;
                    (self.cmp)(&h.rec, other).is_lt()
                };
                if best.is_none_or(beats) {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else { return Ok(None) };
        let r = self.heads[i].take();
        self.heads[i] = self.readers[i].next()?;
        Ok(r)
    }
}

impl<F: Fn(&Record, &Record) -> Ordering> Iterator for RunMerger<F> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        self.pop().transpose()
    }
}
