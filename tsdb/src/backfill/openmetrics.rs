//! Backfilling from an OpenMetrics text file (`aion import openmetrics`,
//! `promtool tsdb create-blocks-from openmetrics`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{BackfillOptions, BackfillReport, Backfiller};
use crate::textparse::{Entry, OpenMetricsParser, ParseError};
use crate::{Error, Result};

/// How far an import got, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// Reading the input: bytes parsed of the total.
    Parsing {
        /// Bytes parsed.
        done: u64,
        /// Input size.
        total: u64,
    },
    /// Writing blocks: windows written of the total.
    Writing {
        /// Block windows written.
        done: usize,
        /// Block windows to write.
        total: usize,
    },
}

/// Backfills the OpenMetrics text file `input` into blocks in `dir`.
///
/// Every sample needs a timestamp (seconds, as OpenMetrics has them). On
/// any error — the first invalid line, named by line and column, or a
/// failure writing — nothing of this import is left in `dir` (and `dir`
/// itself is removed if this call created it).
pub fn import_openmetrics(
    input: &Path,
    dir: &Path,
    options: BackfillOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<BackfillReport> {
    let created_dir = !dir.exists();
    let res = import(input, dir, options, progress);
    if res.is_err() && created_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    res
}

fn import(
    input: &Path,
    dir: &Path,
    options: BackfillOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<BackfillReport> {
    let io = |e| Error::io(format!("read {}", input.display()), e);
    let mut file = File::open(input).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let mut backfill = Backfiller::new(dir, options)?;
    // The text is read in pieces that end at line boundaries, so memory
    // does not grow with the input.
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE * 2);
    let mut line = 1;
    let mut done = 0u64;
    let mut saw_eof = false;
    loop {
        let start = buf.len();
        buf.resize(start + READ_SIZE, 0);
        let n = read_full(&mut file, &mut buf[start..]).map_err(io)?;
        buf.truncate(start + n);
        let last_piece = n == 0;
        let cut = if last_piece {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => continue, // a line longer than what we hold: read on
            }
        };
        let piece = &buf[..cut];
        if saw_eof {
            if piece.is_empty() {
                break;
            }
            return Err(ParseError {
                line,
                column: 1,
                message: "unexpected data after # EOF".into(),
            }
            .into());
        }
        let mut parser = if last_piece {
            OpenMetricsParser::with_first_line(piece, line)
        } else {
            OpenMetricsParser::continuing(piece, line)
        };
        for entry in parser.by_ref() {
            let Entry::Sample(s) = entry? else { continue };
            let Some(t) = s.timestamp_ms else {
                return Err(ParseError {
                    line: s.line,
                    column: 1,
                    message: format!("expected timestamp for series {}, got none", s.labels),
                }
                .into());
            };
            backfill.add(&s.labels, t, s.value)?;
        }
        line = parser.line();
        saw_eof = parser.saw_eof();
        done += cut as u64;
        progress(ImportProgress::Parsing { done, total });
        buf.drain(..cut);
        if last_piece {
            break;
        }
    }
    backfill
        .finish_with_progress(&mut |done, total| progress(ImportProgress::Writing { done, total }))
}

/// Bytes of input read at a time.
const READ_SIZE: usize = 4 << 20;

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
