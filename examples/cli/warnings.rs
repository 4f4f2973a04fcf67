//! What opening a data directory skipped, repaired or could not read,
//! printed as `warning: ` lines on stderr: a dump or query over a damaged
//! directory must never look healthy.

use aion_tsdb::Db;

/// Every problem the open found, one sentence each, naming the file.
pub fn open_warnings(db: &Db) -> Vec<String> {
    let mut out: Vec<String> = db.warnings();
    let r = db.replay_report();
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
        if let Some(rep) = &r.wal_repair {
            line.push_str(&format!(
                "; repaired by cutting {} bytes and deleting {} later segment(s)",
                rep.dropped_bytes,
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
    if r.records_ignored > 0 {
        out.push(format!(
            "WAL: {} records not applied to the head (exemplars, metadata, native histograms or unknown record types)",
            r.records_ignored
        ));
    }
    out
}

/// Prints [`open_warnings`] on stderr.
pub fn print_open_warnings(db: &Db) {
    for w in open_warnings(db) {
        eprintln!("warning: {w}");
    }
}
