//! What opening found, as sentences for the people who must hear it: the
//! replay's damage, repairs and skipped records become warnings beside the
//! blocks' (see [`Db::warnings`](crate::Db::warnings)), so a CLI prints them
//! and every query through the Db carries them (`Querier::warnings`).

use std::path::Path;

use aion_wal::SegmentPosition;

use crate::head::ReplayReport;

/// One sentence per problem the replay met, naming the file (segment and
/// offset, chunk file) and what was skipped, cut or repaired. Empty for a
/// healthy directory.
pub(crate) fn replay_warnings(r: &ReplayReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(what) = &r.chunk_file_corruption {
        out.push(format!(
            "chunks_head: {what}: {} bytes of head chunks not loaded, their samples read from the WAL instead",
            r.chunk_file_bytes_dropped
        ));
    }
    if let Some(what) = &r.wal_torn_tail {
        out.push(format!(
            "WAL: {what}: a torn record at the end was skipped ({} bytes)",
            r.wal_torn_bytes
        ));
    }
    if let Some(what) = &r.wal_corruption {
        let mut line = format!("WAL: {what}: replay stopped there, later records were not read");
        if let Some(n) = r.wal_corruption_at.as_ref().and_then(unread_bytes) {
            line.push_str(&format!(" ({n} bytes of the log from there on)"));
        }
        if let Some(rep) = &r.wal_repair {
            line.push_str(&format!(
                "; repaired by cutting {} bytes at {} and deleting {} later segment(s)",
                rep.dropped_bytes,
                rep.cut_at,
                rep.deleted_segments.len()
            ));
        }
        out.push(line);
    }
    if r.unknown_series_refs > 0 {
        out.push(format!(
            "WAL: {} samples or records name a series the WAL never created; skipped",
            r.unknown_series_refs
        ));
    }
    let w = &r.wbl;
    if let Some(what) = &w.torn_tail {
        out.push(format!(
            "WBL: {what}: a torn record at the end was skipped ({} bytes of out-of-order samples)",
            w.torn_bytes
        ));
    }
    if let Some(what) = &w.corruption {
        let mut line =
            format!("WBL: {what}: replay stopped there, later out-of-order samples were not read");
        if let Some(rep) = &w.repair {
            line.push_str(&format!(
                "; repaired by cutting {} bytes and deleting {} later segment(s)",
                rep.dropped_bytes,
                rep.deleted_segments.len()
            ));
        }
        out.push(line);
    }
    if w.unknown_series_refs > 0 {
        out.push(format!(
            "WBL: {} out-of-order samples or mmap markers name a series the WAL never created; skipped",
            w.unknown_series_refs
        ));
    }
    if w.records_skipped > 0 {
        out.push(format!(
            "WBL: {} records of a type that has no place in a WBL skipped",
            w.records_skipped
        ));
    }
    if r.exemplar_and_metadata_records > 0 {
        out.push(format!(
            "WAL: {} exemplar and metadata records not applied to the head (it keeps neither)",
            r.exemplar_and_metadata_records
        ));
    }
    if !r.unknown_records.is_empty() {
        let types: Vec<String> = r
            .unknown_records
            .iter()
            .map(|(typ, n)| match typ {
                Some(t) => format!("type {t}: {n}"),
                None => format!("empty: {n}"),
            })
            .collect();
        out.push(format!(
            "WAL: {} records of a type this build cannot apply skipped ({})",
            r.unknown_records.values().sum::<u64>(),
            types.join(", ")
        ));
    }
    if r.histograms_invalid > 0 {
        out.push(format!(
            "WAL: {} malformed native histogram samples (spans not matching their buckets) skipped",
            r.histograms_invalid
        ));
    }
    if !r.mmapped_chunks_unreadable.is_empty() {
        let kinds: Vec<String> = r
            .mmapped_chunks_unreadable
            .iter()
            .map(|(enc, n)| match aion_chunkenc::Encoding::try_from(*enc) {
                Ok(e) => format!("{n} of encoding {e} ({enc})"),
                Err(_) => format!("{n} of unknown encoding {enc}"),
            })
            .collect();
        out.push(format!(
            "chunks_head: chunks this build cannot read not loaded ({}); their samples are read from the WAL where it still has them",
            kinds.join(", ")
        ));
    }
    out
}

/// Bytes of the log at and after `at` that replay did not read: the rest
/// of its file, later files of a checkpoint, and (for damage in a
/// checkpoint) every segment of the WAL itself. `None` if the files cannot
/// be listed (the warning then just says records were not read).
fn unread_bytes(at: &SegmentPosition) -> Option<u64> {
    // Sizes of the numbered files in `dir` from `first` on.
    let size_from = |dir: &Path, first: u64| -> Option<u64> {
        let mut n = 0;
        for e in std::fs::read_dir(dir).ok()? {
            let e = e.ok()?;
            let index = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok());
            if index.is_some_and(|i| i >= first) && e.file_type().ok()?.is_file() {
                n += e.metadata().ok()?.len();
            }
        }
        Some(n)
    };
    let here = std::fs::metadata(at.path()).ok()?.len();
    let mut n = here.saturating_sub(at.offset) + size_from(&at.dir, u64::from(at.segment) + 1)?;
    let in_checkpoint = at
        .dir
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.starts_with("checkpoint."));
    if in_checkpoint {
        n += size_from(at.dir.parent()?, 0)?;
    }
    Some(n)
}
