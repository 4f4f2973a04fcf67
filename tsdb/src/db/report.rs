//! What opening found, as sentences for the people who must hear it: the
//! replay's damage, repairs and skipped records become warnings beside the
//! blocks' (see [`Db::warnings`](crate::Db::warnings)), so a CLI prints them
//! and every query through the Db carries them (`Querier::warnings`).

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
    if r.records_ignored > 0 {
        out.push(format!(
            "WAL: {} records not applied to the head (exemplars, metadata, native histograms or unknown record types)",
            r.records_ignored
        ));
    }
    out
}
