//! Rebuilding the out-of-order part of the head on open, after the WAL:
//! the out-of-order chunks found in `chunks_head/` are attached to their
//! series, then the WBL is replayed into the in-memory out-of-order
//! chunks. An mmap marker means the series' samples replayed so far went
//! into an m-mapped chunk (loaded already): the in-memory chunk is
//! dropped and the replay goes on from there, as in Prometheus's
//! `loadWBL`. Markers naming a chunk past the last one loaded (the chunk
//! file was cut short) are ignored, so those samples stay in memory.
//!
//! A WBL is replayed whenever `wbl/` has segments, also with the window
//! now 0: the samples were acknowledged and must not vanish.

use std::collections::HashMap;
use std::path::Path;

use aion_wal::record::{Record, RecordDecoder};
use aion_wal::{RepairReport, SegmentPosition, WalReader};

use super::chunk::OooMmapped;
use crate::chunks::{HeadChunkRef, SampleValue};
use crate::head::Head;
use crate::{Error, Result};

/// What replaying the out-of-order data found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WblReplayReport {
    /// Out-of-order chunks loaded from `chunks_head/`.
    pub mmapped_chunks: usize,
    /// Out-of-order chunks in `chunks_head/` of series the WAL no longer
    /// knows.
    pub mmapped_chunks_ignored: usize,
    /// WBL segments replayed (first, last).
    pub segments: Option<(u32, u32)>,
    /// Float samples read from the WBL.
    pub samples_read: u64,
    /// Native histogram samples read from the WBL.
    pub histograms_read: u64,
    /// Records of other types (the WBL holds samples and mmap markers
    /// only): skipped.
    pub records_skipped: u64,
    /// Samples (floats and histograms) inserted into in-memory
    /// out-of-order chunks (net of those a later marker moved to m-mapped
    /// chunks).
    pub samples_inserted: u64,
    /// Mmap markers read.
    pub mmap_markers: u64,
    /// Samples and markers naming a series the WAL never created.
    pub unknown_series_refs: u64,
    /// A torn write at the end of the WBL that was cut (or, read-only,
    /// skipped).
    pub torn_tail: Option<String>,
    /// Bytes dropped by cutting the torn tail.
    pub torn_bytes: u64,
    /// Damage inside the WBL: replay stopped there and (unless read-only)
    /// the log was cut at that point; the samples after it are lost.
    pub corruption: Option<String>,
    /// What the repair removed.
    pub repair: Option<RepairReport>,
}

/// Attaches out-of-order chunks found in `chunks_head/` (by series
/// reference) to their series.
pub(crate) fn attach_mmapped(
    head: &Head,
    chunks: HashMap<u64, Vec<OooMmapped>>,
    report: &mut WblReplayReport,
) {
    for (r, list) in chunks {
        let Some(s) = head.series.get_by_ref(r) else {
            report.mmapped_chunks_ignored += list.len();
            continue;
        };
        let mut st = s.lock();
        let ooo = st.ooo_or_default();
        for c in &list {
            head.update_ooo_min_max(c.min_time, c.max_time);
        }
        report.mmapped_chunks += list.len();
        ooo.mmapped.extend(list);
    }
}

/// Replays the WBL in `dir` (if it has segments) into `head`.
/// `last_mmap_ref` is the newest chunk loaded from `chunks_head/`.
pub(crate) fn replay_wbl(
    head: &Head,
    dir: &Path,
    read_only: bool,
    strict: bool,
    last_mmap_ref: HeadChunkRef,
    report: &mut WblReplayReport,
) -> Result<()> {
    report.segments = aion_wal::segment_range(dir)?;
    if report.segments.is_none() {
        return Ok(());
    }
    let mut reader = WalReader::replay(dir)?.tolerate_torn_tail(read_only && !strict);
    let mut dec = RecordDecoder::default();
    let mut failure: Option<(SegmentPosition, String)> = None;
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    loop {
        let rec = match reader.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                match (&e, e.position()) {
                    (
                        aion_wal::Error::Corrupt { .. } | aion_wal::Error::Record { .. },
                        Some(at),
                    ) => failure = Some((at.clone(), e.to_string())),
                    _ => return Err(e.into()),
                }
                break;
            }
        };
        let decoded = match dec.decode(rec) {
            Ok(d) => d,
            Err(e) => {
                let at = reader.position().expect("a record was just read");
                failure = Some((at.clone(), format!("bad record in {at}: {e}")));
                break;
            }
        };
        let mut insert = |r: u64, t: i64, v: SampleValue, report: &mut WblReplayReport| {
            let Some(series) = head.series.get_by_ref(r) else {
                report.unknown_series_refs += 1;
                return Ok(());
            };
            let mut st = series.lock();
            let ooo = st.ooo_or_default();
            let ins = ooo.insert(
                series.series_ref,
                t,
                v,
                0,
                u64::MAX,
                head.ooo_opts(),
                &head.chunks,
            )?;
            if ins.stored {
                report.samples_inserted += 1;
                mint = mint.min(t);
                maxt = maxt.max(t);
            }
            Ok::<(), Error>(())
        };
        match decoded {
            Record::Samples(samples) => {
                report.samples_read += samples.len() as u64;
                for s in samples {
                    insert(s.r#ref, s.t, SampleValue::Float(s.v), report)?;
                }
            }
            Record::HistogramSamples(hs) => {
                report.histograms_read += hs.len() as u64;
                for h in hs {
                    insert(
                        h.r#ref,
                        h.t,
                        SampleValue::Histogram(Box::new(h.h.clone())),
                        report,
                    )?;
                }
            }
            Record::FloatHistogramSamples(hs) => {
                report.histograms_read += hs.len() as u64;
                for h in hs {
                    let v = SampleValue::FloatHistogram(Box::new(h.fh.clone()));
                    insert(h.r#ref, h.t, v, report)?;
                }
            }
            Record::MmapMarkers(markers) => {
                report.mmap_markers += markers.len() as u64;
                // A series' markers of one m-map come together (one per
                // chunk it made): the in-memory chunk went to disk only if
                // every one of them was found there.
                let mut i = 0;
                while i < markers.len() {
                    let r = markers[i].r#ref;
                    let mut j = i;
                    let mut all_on_disk = true;
                    while j < markers.len() && markers[j].r#ref == r {
                        // A chunk not found on disk: keep the samples in
                        // memory.
                        all_on_disk &= markers[j].mmap_ref <= last_mmap_ref.0;
                        j += 1;
                    }
                    i = j;
                    if !all_on_disk {
                        continue;
                    }
                    let Some(series) = head.series.get_by_ref(r) else {
                        report.unknown_series_refs += 1;
                        continue;
                    };
                    let mut st = series.lock();
                    if let Some(ooo) = st.ooo_mut() {
                        if let Some(h) = ooo.head.take() {
                            report.samples_inserted = report
                                .samples_inserted
                                .saturating_sub(h.samples.len() as u64);
                        }
                    }
                }
            }
            _ => report.records_skipped += 1,
        }
    }
    head.update_ooo_min_max(mint, maxt);
    if let Some(t) = reader.torn_tail() {
        report.torn_tail = Some(format!("partial record at {t} skipped"));
    }
    if let Some((_, why)) = &failure {
        if strict {
            return Err(crate::Error::Damaged(format!("WBL: {why}")));
        }
    }
    if let Some((at, why)) = failure {
        report.corruption = Some(why);
        if read_only {
            return Ok(());
        }
        let mut wbl = head.wbl.lock();
        if let Some(wbl) = wbl.as_mut() {
            report.repair = Some(wbl.repair(&at)?);
        } else {
            report.repair = Some(aion_wal::repair(&at).map_err(Error::from)?);
        }
    }
    Ok(())
}
