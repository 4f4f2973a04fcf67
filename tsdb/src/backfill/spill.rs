//! Sorted runs of samples on disk, and their k-way merge: how a backfill
//! of any size stays within its memory budget.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A buffered sample: series id, timestamp, value bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub series: u32,
    pub t: i64,
    pub v: u64,
}

const RECORD_LEN: usize = 4 + 8 + 8;

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[..4].copy_from_slice(&self.series.to_le_bytes());
        b[4..12].copy_from_slice(&self.t.to_le_bytes());
        b[12..].copy_from_slice(&self.v.to_le_bytes());
        b
    }

    fn decode(b: &[u8; RECORD_LEN]) -> Self {
        Record {
            series: u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
            t: i64::from_le_bytes(b[4..12].try_into().expect("8 bytes")),
            v: u64::from_le_bytes(b[12..].try_into().expect("8 bytes")),
        }
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

    pub fn push(&mut self, r: &Record) -> Result<()> {
        self.w
            .write_all(&r.encode())
            .map_err(|e| Error::io(format!("write {}", self.path.display()), e))
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
    fn next(&mut self) -> Result<Option<Record>> {
        let mut b = [0u8; RECORD_LEN];
        match self.r.read_exact(&mut b) {
            Ok(()) => Ok(Some(Record::decode(&b))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(Error::io(format!("read {}", self.path.display()), e)),
        }
    }
}

/// Merges sorted runs into one sorted stream.
pub(crate) struct RunMerger<F> {
    readers: Vec<RunReader>,
    heads: Vec<Option<Record>>,
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

    fn pop(&mut self) -> Result<Option<Record>> {
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                if best.is_none_or(|b| (self.cmp)(h, self.heads[b].as_ref().expect("set")).is_lt())
                {
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
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        self.pop().transpose()
    }
}
