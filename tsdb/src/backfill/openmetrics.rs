//! Backfilling from an OpenMetrics text file (`aion import openmetrics`,
//! `promtool tsdb create-blocks-from openmetrics`).

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

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
    let file = File::open(input).map_err(|e| Error::io(format!("open {}", input.display()), e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(format!("stat {}", input.display()), e))?
        .len();
    let map;
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: read-only map of an input file; if another process
        // truncates it while we parse, the process faults, as with any
        // mmap reader. The text is only read.
        map = unsafe { Mmap::map(&file) }
            .map_err(|e| Error::io(format!("mmap {}", input.display()), e))?;
        &map
    };
    let mut backfill = Backfiller::new(dir, options)?;
    let mut parser = OpenMetricsParser::new(bytes);
    let mut next_report = 0u64;
    while let Some(entry) = parser.next() {
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
        let done = parser.offset() as u64;
        if done >= next_report {
            progress(ImportProgress::Parsing { done, total: len });
            next_report = done + (len / 200).max(1 << 16);
        }
    }
    progress(ImportProgress::Parsing {
        done: len,
        total: len,
    });
    backfill
        .finish_with_progress(&mut |done, total| progress(ImportProgress::Writing { done, total }))
}
