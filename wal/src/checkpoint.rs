//! Checkpoints: the still-relevant records of old segments, rewritten so
//! the segments can be deleted.
//!
//! `checkpoint.NNNNNNNN` (eight digits) holds ordinary segments that replace
//! every log segment numbered ≤ N. Replay reads the newest checkpoint, then
//! the segments after it.
//!
//! # Crash safety
//!
//! [`Wal::checkpoint`] runs these steps; after a crash at any instant the
//! directory replays to the same data:
//!
//! 1. Write `checkpoint.N.tmp/` and fsync its files and the directory.
//!    Replay ignores `.tmp` names; opening the log deletes them.
//! 2. Rename it to `checkpoint.N` (atomic) and fsync the log directory.
//!    Before the rename replay reads the old checkpoint and all segments;
//!    after it, checkpoint N and the segments after N — the same data
//!    (less what the checkpoint was asked to drop).
//! 3. Delete segments ≤ N, oldest first. Replay ignores segments ≤ N and
//!    needs only those after N, which are untouched.
//! 4. Delete older checkpoints. Replay reads only the newest one, so a
//!    half-deleted older checkpoint is never read.
//!
//! A checkpoint is only ever created with a number above every existing
//! one, so step 2 never replaces a directory.

use std::collections::HashMap;
use std::fs;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use crate::checkpoint_dirs::{delete_checkpoints_before, last_checkpoint};
use crate::error::{Error, Result};
use crate::fragment::Compression;
use crate::naming::{checkpoint_dir, tmp_checkpoint_dir};
use crate::reader::WalReader;
use crate::record::{
    self, Record, RecordDecoder, RefFloatHistogramSample, RefHistogramSample, RefMetadata,
};
use crate::segment::{self, list_segments, sync_dir};
use crate::writer::{SyncPolicy, Wal, WalOptions};

/// Flush the checkpoint writer after about this many bytes of records.
const BATCH_BYTES: usize = 1 << 20;

/// What a checkpoint kept and dropped. Counts are of items (series,
/// samples, …), not records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointStats {
    /// Series records read.
    pub total_series: usize,
    /// Series dropped by `keep`.
    pub dropped_series: usize,
    /// Float and histogram samples read.
    pub total_samples: usize,
    /// Samples older than `mint`.
    pub dropped_samples: usize,
    /// Tombstone intervals read.
    pub total_tombstones: usize,
    /// Tombstones of dropped series or ending before `mint`.
    pub dropped_tombstones: usize,
    /// Exemplars read.
    pub total_exemplars: usize,
    /// Exemplars older than `mint`.
    pub dropped_exemplars: usize,
    /// Metadata entries read.
    pub total_metadata: usize,
    /// Metadata of dropped series or superseded by a later entry.
    pub dropped_metadata: usize,
    /// Records of types a checkpoint does not carry (m-map markers, types
    /// unknown to this version), dropped as Prometheus does.
    pub dropped_other_records: usize,
}

/// Writes checkpoint `*segments.end()` from the previous checkpoint (if
/// any) and the log segments in `segments`.
///
/// Keeps series for which `keep(ref)` is true; float and histogram samples
/// and exemplars with `t >= mint`; tombstones of kept series with
/// `maxt >= mint`; the latest metadata of each kept series. Records are
/// written with `compression`.
///
/// This only creates the checkpoint; [`Wal::checkpoint`] also deletes what
/// it replaces. Segments below the previous checkpoint's successor are
/// ignored; a gap after it is an error, as is a checkpoint not newer than
/// the existing one. Any damage in the input is an error (a checkpoint must
/// not silently lose records; repair the log first).
pub fn create_checkpoint(
    wal_dir: &Path,
    segments: RangeInclusive<u32>,
    mut keep: impl FnMut(u64) -> bool,
    mint: i64,
    compression: Compression,
) -> Result<CheckpointStats> {
    let (mut from, to) = segments.into_inner();
    if from > to {
        return Err(Error::InvalidRequest(format!(
            "empty checkpoint range {from}..={to}"
        )));
    }
    let mut inputs: Vec<(Arc<Path>, u32)> = Vec::new();
    if let Some((last, dir)) = last_checkpoint(wal_dir)? {
        if to <= last {
            return Err(Error::InvalidRequest(format!(
                "checkpoint {last:08} already covers segment {to:08}"
            )));
        }
        if from > last + 1 {
            return Err(Error::SegmentGap {
                dir: wal_dir.to_path_buf(),
                missing: last + 1,
            });
        }
        from = last + 1;
        let dir: Arc<Path> = Arc::from(dir.as_path());
        for s in list_segments(&dir)? {
            inputs.push((dir.clone(), s.index));
        }
    }
    let listed = list_segments(wal_dir)?;
    let wal: Arc<Path> = Arc::from(wal_dir);
    for i in from..=to {
        if !listed.iter().any(|s| s.index == i) {
            return Err(Error::SegmentGap {
                dir: wal_dir.to_path_buf(),
                missing: i,
            });
        }
        inputs.push((wal.clone(), i));
    }

    let final_dir = checkpoint_dir(wal_dir, to);
    let tmp_dir = tmp_checkpoint_dir(wal_dir, to);
    if tmp_dir.exists() {
        fs::remove_dir_all(&tmp_dir).map_err(|e| Error::io("removing stale", &tmp_dir, e))?;
    }
    fs::create_dir(&tmp_dir).map_err(|e| Error::io("creating", &tmp_dir, e))?;

    let result = (|| {
        let options = WalOptions {
            compression,
            sync: SyncPolicy::OnRotate,
            ..WalOptions::default()
        };
        let mut writer = Wal::create(&tmp_dir, 0, options)?;
        let stats = copy_records(
            WalReader::from_segments(inputs),
            &mut writer,
            &mut keep,
            mint,
        )?;
        writer.close()?;
        sync_dir(&tmp_dir)?;
        Ok(stats)
    })();
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            // Best effort: a leftover is also removed on the next open.
            let _ = fs::remove_dir_all(&tmp_dir);
            return Err(e);
        }
    };
    fs::rename(&tmp_dir, &final_dir).map_err(|e| Error::io("renaming checkpoint", &tmp_dir, e))?;
    sync_dir(wal_dir)?;
    Ok(stats)
}

/// Re-encoded records waiting to be written; handed to the writer about
/// every [`BATCH_BYTES`].
#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    /// Appends one record produced by `encode`.
    fn add(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    fn flush_if_full(&mut self, writer: &mut Wal) -> Result<()> {
        if self.buf.len() > BATCH_BYTES {
            self.flush(writer)?;
        }
        Ok(())
    }

    fn flush(&mut self, writer: &mut Wal) -> Result<()> {
        if self.ends.is_empty() {
            return Ok(());
        }
        let mut start = 0;
        let recs: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let r = &self.buf[start..end];
                start = end;
                r
            })
            .collect();
        writer.log(&recs)?;
        self.buf.clear();
        self.ends.clear();
        Ok(())
    }
}

/// Splits histograms at or after `mint` into exponential and custom-bucket
/// ones (they go to different record types); returns how many were kept.
fn split_histograms<T: Clone>(
    all: &[T],
    mint: i64,
    t: impl Fn(&T) -> i64,
    custom: impl Fn(&T) -> bool,
    exponential_out: &mut Vec<T>,
    custom_out: &mut Vec<T>,
) -> usize {
    exponential_out.clear();
    custom_out.clear();
    for h in all.iter().filter(|h| t(h) >= mint) {
        if custom(h) {
            custom_out.push(h.clone());
        } else {
            exponential_out.push(h.clone());
        }
    }
    exponential_out.len() + custom_out.len()
}

fn copy_records(
    mut reader: WalReader,
    writer: &mut Wal,
    keep: &mut dyn FnMut(u64) -> bool,
    mint: i64,
) -> Result<CheckpointStats> {
    let mut stats = CheckpointStats::default();
    let mut decoder = RecordDecoder::default();
    let mut batch = Batch::default();
    let mut latest_metadata: HashMap<u64, RefMetadata> = HashMap::new();
    let mut series = Vec::new();
    let mut samples = Vec::new();
    let mut tombstones = Vec::new();
    let mut exemplars = Vec::new();
    let mut hists: Vec<RefHistogramSample> = Vec::new();
    let mut custom_hists: Vec<RefHistogramSample> = Vec::new();
    let mut float_hists: Vec<RefFloatHistogramSample> = Vec::new();
    let mut custom_float_hists: Vec<RefFloatHistogramSample> = Vec::new();

    while let Some(rec) = reader.next_record()? {
        let decoded = decoder.decode(rec).map_err(|source| Error::Record {
            at: reader.position().expect("a record was read"),
            source,
        })?;
        match decoded {
            Record::Series(all) => {
                series.clear();
                series.extend(all.iter().filter(|s| keep(s.r#ref)).cloned());
                stats.total_series += all.len();
                stats.dropped_series += all.len() - series.len();
                if !series.is_empty() {
                    batch.add(|b| record::encode_series(&series, b));
                }
            }
            Record::Samples(all) => {
                samples.clear();
                samples.extend(all.iter().filter(|s| s.t >= mint));
                stats.total_samples += all.len();
                stats.dropped_samples += all.len() - samples.len();
                if !samples.is_empty() {
                    batch.add(|b| record::encode_samples(&samples, b));
                }
            }
            Record::HistogramSamples(all) => {
                let kept = split_histograms(
                    all,
                    mint,
                    |h| h.t,
                    |h| h.h.uses_custom_buckets(),
                    &mut hists,
                    &mut custom_hists,
                );
                stats.total_samples += all.len();
                stats.dropped_samples += all.len() - kept;
                if !hists.is_empty() {
                    batch.add(|b| record::encode_histogram_samples(&hists, b));
                }
                if !custom_hists.is_empty() {
                    batch
                        .add(|b| record::encode_custom_buckets_histogram_samples(&custom_hists, b));
                }
            }
            Record::FloatHistogramSamples(all) => {
                let kept = split_histograms(
                    all,
                    mint,
                    |h| h.t,
                    |h| h.fh.uses_custom_buckets(),
                    &mut float_hists,
                    &mut custom_float_hists,
                );
                stats.total_samples += all.len();
                stats.dropped_samples += all.len() - kept;
                if !float_hists.is_empty() {
                    batch.add(|b| record::encode_float_histogram_samples(&float_hists, b));
                }
                if !custom_float_hists.is_empty() {
                    batch.add(|b| {
                        record::encode_custom_buckets_float_histogram_samples(
                            &custom_float_hists,
                            b,
                        )
                    });
                }
            }
            Record::Tombstones(all) => {
                tombstones.clear();
                tombstones.extend(
                    all.iter()
                        .filter(|t| t.interval.maxt >= mint && keep(t.r#ref)),
                );
                stats.total_tombstones += all.len();
                stats.dropped_tombstones += all.len() - tombstones.len();
                if !tombstones.is_empty() {
                    batch.add(|b| record::encode_tombstones(&tombstones, b));
                }
            }
            Record::Exemplars(all) => {
                exemplars.clear();
                exemplars.extend(all.iter().filter(|e| e.t >= mint).cloned());
                stats.total_exemplars += all.len();
                stats.dropped_exemplars += all.len() - exemplars.len();
                if !exemplars.is_empty() {
                    batch.add(|b| record::encode_exemplars(&exemplars, b));
                }
            }
            Record::Metadata(all) => {
                stats.total_metadata += all.len();
                for m in all.iter().filter(|m| keep(m.r#ref)) {
                    latest_metadata.insert(m.r#ref, m.clone());
                }
            }
            Record::MmapMarkers(_) | Record::Unknown(_) => stats.dropped_other_records += 1,
        }
        batch.flush_if_full(writer)?;
    }
    batch.flush(writer)?;
    stats.dropped_metadata = stats.total_metadata - latest_metadata.len();
    if !latest_metadata.is_empty() {
        let mut latest: Vec<RefMetadata> = latest_metadata.into_values().collect();
        // Prometheus writes these in map order; sorting makes checkpoints
        // reproducible.
        latest.sort_unstable_by_key(|m| m.r#ref);
        batch.add(|b| record::encode_metadata(&latest, b));
        batch.flush(writer)?;
    }
    Ok(stats)
}

impl Wal {
    /// Folds the segments up to `to` into checkpoint `to` and deletes what
    /// it replaces: Prometheus's head-truncation sequence.
    ///
    /// `to` must be below the active segment (call
    /// [`Wal::next_segment`] first to checkpoint everything written so far).
    /// See [`create_checkpoint`] for what is kept; the module documentation
    /// explains why every intermediate state replays correctly.
    pub fn checkpoint(
        &mut self,
        to: u32,
        keep: impl FnMut(u64) -> bool,
        mint: i64,
    ) -> Result<CheckpointStats> {
        if to >= self.active_segment() {
            return Err(Error::InvalidRequest(format!(
                "cannot checkpoint up to segment {to:08}: segment {:08} is being written",
                self.active_segment()
            )));
        }
        let dir = self.dir().to_path_buf();
        let first = match segment::segment_range(&dir)? {
            Some((first, _)) => first,
            None => to,
        };
        let from = match last_checkpoint(&dir)? {
            Some((last, _)) => first.max(last + 1).min(to),
            None => first.min(to),
        };
        let stats = create_checkpoint(&dir, from..=to, keep, mint, self.options().compression)?;
        self.truncate(to + 1)?;
        delete_checkpoints_before(&dir, to)?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint_dirs::list_checkpoints;
    use crate::naming::segment_path;
    use crate::record::{
        FloatHistogram, Histogram, Interval, MetricType, RefExemplar, RefMmapMarker, RefSample,
        RefSeries, Tombstone, CUSTOM_BUCKETS_SCHEMA,
    };
    use aion_model::Labels;
    use std::collections::{BTreeMap, BTreeSet};

    fn labels(r: u64) -> Labels {
        Labels::from_pairs(&[("__name__", "m".to_string()), ("i", r.to_string())]).unwrap()
    }

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = Vec::new();
        f(&mut b);
        b
    }

    fn samples(refs: std::ops::RangeInclusive<u64>, ts: &[i64]) -> Vec<u8> {
        let s: Vec<RefSample> = ts
            .iter()
            .flat_map(|&t| {
                refs.clone().map(move |r| RefSample {
                    r#ref: r,
                    t,
                    v: t as f64,
                })
            })
            .collect();
        enc(|b| record::encode_samples(&s, b))
    }

    fn metadata(refs: &[u64], help: &str) -> Vec<u8> {
        let m: Vec<RefMetadata> = refs
            .iter()
            .map(|&r| RefMetadata {
                r#ref: r,
                metric_type: MetricType::Gauge,
                unit: String::new(),
                help: help.into(),
            })
            .collect();
        enc(|b| record::encode_metadata(&m, b))
    }

    fn hist(r: u64, t: i64, schema: i32) -> RefHistogramSample {
        RefHistogramSample {
            r#ref: r,
            t,
            h: Histogram {
                schema,
                count: 3,
                custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                    vec![1.0]
                } else {
                    vec![]
                },
                ..Default::default()
            },
        }
    }

    /// Segments 0..=2 holding every record kind; segment 3 is active.
    fn sample_log(dir: &Path) -> Wal {
        let (mut w, _) = Wal::open(dir, WalOptions::default()).unwrap();
        let series: Vec<RefSeries> = (1..=10)
            .map(|r| RefSeries {
                r#ref: r,
                labels: labels(r),
            })
            .collect();
        w.log(&[
            &enc(|b| record::encode_series(&series, b)),
            &samples(1..=10, &[0, 10, 20, 30, 40]),
            &metadata(&(1..=10).collect::<Vec<_>>(), "v1"),
        ])
        .unwrap();
        w.next_segment().unwrap();
        let stones = [(2, 0, 30), (4, 40, 60), (3, 70, 80)].map(|(r, mint, maxt)| Tombstone {
            r#ref: r,
            interval: Interval { mint, maxt },
        });
        let exemplars = [20, 60].map(|t| RefExemplar {
            r#ref: 1,
            t,
            v: 1.0,
            labels: Labels::from_pairs(&[("trace", "x")]).unwrap(),
        });
        let float = RefFloatHistogramSample {
            r#ref: 6,
            t: 80,
            fh: FloatHistogram {
                count: 2.5,
                ..Default::default()
            },
        };
        w.log(&[
            &samples(1..=10, &[50, 60, 70, 80, 90]),
            &enc(|b| record::encode_tombstones(&stones, b)),
            &enc(|b| record::encode_exemplars(&exemplars, b)),
            &metadata(&[2], "v2"),
            &enc(|b| {
                record::encode_histogram_samples(&[hist(2, 10, 3), hist(2, 60, 3)], b);
            }),
            &enc(|b| record::encode_custom_buckets_histogram_samples(&[hist(4, 70, -53)], b)),
            &enc(|b| record::encode_float_histogram_samples(&[float], b)),
            &enc(|b| {
                record::encode_mmap_markers(
                    &[RefMmapMarker {
                        r#ref: 1,
                        mmap_ref: 8,
                    }],
                    b,
                )
            }),
            &[200, 1, 2, 3],
        ])
        .unwrap();
        w.next_segment().unwrap();
        let new_series: Vec<RefSeries> = (11..=12)
            .map(|r| RefSeries {
                r#ref: r,
                labels: labels(r),
            })
            .collect();
        w.log(&[
            &enc(|b| record::encode_series(&new_series, b)),
            &samples(1..=12, &[100]),
        ])
        .unwrap();
        w.next_segment().unwrap();
        w
    }

    /// Everything a replay yields, normalised for comparison.
    #[derive(Debug, Default, PartialEq)]
    struct Model {
        series: BTreeMap<u64, Labels>,
        samples: BTreeSet<(u64, i64)>,
        histograms: BTreeSet<(u64, i64, i32)>,
        float_histograms: BTreeSet<(u64, i64)>,
        tombstones: BTreeSet<(u64, i64, i64)>,
        exemplars: BTreeSet<(u64, i64)>,
        metadata: BTreeMap<u64, String>,
        other: usize,
    }

    fn model(dir: &Path) -> Model {
        let mut r = WalReader::replay(dir).unwrap();
        let mut d = RecordDecoder::default();
        let mut m = Model::default();
        while let Some(rec) = r.next_record().unwrap() {
            match d.decode(rec).unwrap() {
                Record::Series(s) => m
                    .series
                    .extend(s.iter().map(|s| (s.r#ref, s.labels.clone()))),
                Record::Samples(s) => m.samples.extend(s.iter().map(|s| (s.r#ref, s.t))),
                Record::HistogramSamples(h) => m
                    .histograms
                    .extend(h.iter().map(|h| (h.r#ref, h.t, h.h.schema))),
                Record::FloatHistogramSamples(h) => {
                    m.float_histograms.extend(h.iter().map(|h| (h.r#ref, h.t)))
                }
                Record::Tombstones(t) => m.tombstones.extend(
                    t.iter()
                        .map(|t| (t.r#ref, t.interval.mint, t.interval.maxt)),
                ),
                Record::Exemplars(e) => m.exemplars.extend(e.iter().map(|e| (e.r#ref, e.t))),
                Record::Metadata(md) => m
                    .metadata
                    .extend(md.iter().map(|x| (x.r#ref, x.help.clone()))),
                Record::MmapMarkers(_) | Record::Unknown(_) => m.other += 1,
            }
        }
        m
    }

    fn even(r: u64) -> bool {
        r % 2 == 0
    }

    #[test]
    fn keeps_what_prometheus_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = sample_log(dir.path());
        let stats = w.checkpoint(2, even, 50).unwrap();
        assert_eq!(
            stats,
            CheckpointStats {
                total_series: 12,
                dropped_series: 6,
                total_samples: 10 * 10 + 12 + 4,
                dropped_samples: 50 + 1,
                total_tombstones: 3,
                dropped_tombstones: 2,
                total_exemplars: 2,
                dropped_exemplars: 1,
                total_metadata: 11,
                dropped_metadata: 6,
                dropped_other_records: 2,
            }
        );
        // The checkpoint replaced segments 0..=2 and is all a replay reads.
        assert_eq!(
            crate::segment::segment_range(dir.path()).unwrap(),
            Some((3, 3))
        );
        let m = model(dir.path());
        assert_eq!(
            m.series.keys().copied().collect::<Vec<_>>(),
            [2, 4, 6, 8, 10, 12]
        );
        assert_eq!(m.samples.len(), 62);
        assert!(m.samples.iter().all(|&(_, t)| t >= 50));
        assert_eq!(m.histograms, BTreeSet::from([(2, 60, 3), (4, 70, -53)]));
        assert_eq!(m.float_histograms, BTreeSet::from([(6, 80)]));
        assert_eq!(m.tombstones, BTreeSet::from([(4, 40, 60)]));
        assert_eq!(m.exemplars, BTreeSet::from([(1, 60)]));
        assert_eq!(m.metadata.len(), 5);
        assert_eq!(m.metadata[&2], "v2");
        assert_eq!(m.metadata[&4], "v1");
        assert_eq!(m.other, 0);

        // The next checkpoint folds the previous one in and replaces it.
        w.log(&[&samples(2..=2, &[110])]).unwrap();
        w.next_segment().unwrap();
        w.checkpoint(3, |_| true, 0).unwrap();
        assert_eq!(
            list_checkpoints(dir.path())
                .unwrap()
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            [3]
        );
        let again = model(dir.path());
        assert_eq!(again.series, m.series);
        assert_eq!(again.samples.len(), 63);
    }

    #[test]
    fn refuses_stale_or_active_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = sample_log(dir.path());
        assert!(matches!(
            w.checkpoint(3, even, 0),
            Err(Error::InvalidRequest(_))
        ));
        w.checkpoint(1, even, 0).unwrap();
        assert!(matches!(
            create_checkpoint(dir.path(), 0..=1, even, 0, Compression::None),
            Err(Error::InvalidRequest(_))
        ));
        // Segment 0 and 1 are gone, so a checkpoint must start at 2.
        assert!(matches!(
            create_checkpoint(dir.path(), 3..=3, even, 0, Compression::None),
            Err(Error::SegmentGap { missing: 2, .. })
        ));
        create_checkpoint(dir.path(), 0..=2, even, 0, Compression::Snappy).unwrap();
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()));
            } else {
                fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    /// The states a crash can leave between the steps of
    /// [`Wal::checkpoint`] all replay to the data before (if the
    /// checkpoint was not yet in place) or after it.
    #[test]
    fn every_intermediate_state_replays() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("base");
        let mut w = sample_log(&base);
        // An older checkpoint, so that deleting it is a step too.
        w.checkpoint(0, |_| true, i64::MIN).unwrap();
        drop(w);
        let before = model(&base);

        let done = root.path().join("done");
        copy_dir(&base, &done);
        let (mut w, _) = Wal::open(&done, WalOptions::default()).unwrap();
        w.checkpoint(2, even, 50).unwrap();
        drop(w);
        let after = model(&done);
        assert_ne!(before, after);

        // 1. Crash while writing the temporary checkpoint.
        let s1 = root.path().join("s1");
        copy_dir(&base, &s1);
        let tmp = s1.join("checkpoint.00000002.tmp");
        fs::create_dir(&tmp).unwrap();
        fs::write(segment_path(&tmp, 0), [1, 0, 9, 0, 0]).unwrap();
        assert_eq!(model(&s1), before);
        Wal::open(&s1, WalOptions::default()).unwrap();
        assert!(!tmp.exists());
        assert_eq!(model(&s1), before);

        // 2. Crash after the rename, before any segment was deleted.
        let s2 = root.path().join("s2");
        copy_dir(&base, &s2);
        create_checkpoint(&s2, 1..=2, even, 50, Compression::None).unwrap();
        assert_eq!(model(&s2), after);

        // 3. Crash while deleting segments (oldest first).
        let s3 = root.path().join("s3");
        copy_dir(&s2, &s3);
        fs::remove_file(segment_path(&s3, 1)).unwrap();
        assert_eq!(model(&s3), after);

        // 4. Crash while deleting the older checkpoint.
        let s4 = root.path().join("s4");
        copy_dir(&s3, &s4);
        crate::segment::delete_segments_before(&s4, 3).unwrap();
        fs::remove_file(segment_path(&checkpoint_dir(&s4, 0), 0)).unwrap();
        assert_eq!(model(&s4), after);

        // Reopening and checkpointing again from any of them works.
        for s in [&s1, &s2, &s3, &s4] {
            let (mut w, _) = Wal::open(s, WalOptions::default()).unwrap();
            let to = w.active_segment() - 1;
            w.checkpoint(to, even, 50).unwrap();
            assert_eq!(model(s), after, "{}", s.display());
        }
    }
}
