//! The WBL records of one commit, in the order Prometheus writes them: the
//! out-of-order samples (floats, then histograms by record type), with an
//! mmap marker for a series logged before the samples that went into the
//! chunk started after the m-map. A replay
//! that meets the marker drops what it rebuilt of the series' in-memory
//! chunk so far — that is in the m-mapped chunk — and goes on from there.

use aion_index::SeriesRef;
use aion_wal::record::{
    self, RefFloatHistogramSample, RefHistogramSample, RefMmapMarker, RefSample,
};

use crate::chunks::HeadChunkRef;
use crate::head::batch::HistogramValue;

/// Collects a commit's WBL records; reused across commits.
#[derive(Debug, Default)]
pub(crate) struct WblBatch {
    samples: Vec<RefSample>,
    /// Out-of-order histograms, by record type: exponential and custom
    /// buckets, integer and float.
    histograms: Vec<RefHistogramSample>,
    custom_histograms: Vec<RefHistogramSample>,
    float_histograms: Vec<RefFloatHistogramSample>,
    custom_float_histograms: Vec<RefFloatHistogramSample>,
    /// Markers not yet flushed, in the order they were made.
    markers: Vec<RefMmapMarker>,
    /// Encoded records, ready to log.
    records: Vec<Vec<u8>>,
    /// Records kept for reuse of their allocations.
    spare: Vec<Vec<u8>>,
}

impl WblBatch {
    /// Notes that series `r` started a new in-memory chunk after m-mapping
    /// its previous one to `mmap_ref` (0 if there was none).
    ///
    /// What was collected so far belongs before the marker. (Prometheus
    /// skips that flush when the series' earlier marker of the same commit
    /// was for nothing m-mapped and overwrites it, which puts samples of
    /// the m-mapped chunk after its marker; a replay then holds them twice.
    /// Flushing every time costs a record and keeps replay exact.)
    ///
    /// An in-memory chunk of floats and histograms m-maps to a chunk per
    /// run of one kind: a marker each (Prometheus's `mmapRefs`); none
    /// written is the marker 0.
    pub fn on_cut(&mut self, r: SeriesRef, mmap_refs: impl ExactSizeIterator<Item = HeadChunkRef>) {
        self.flush();
        if mmap_refs.len() == 0 {
            self.markers.push(RefMmapMarker {
                r#ref: r,
                mmap_ref: 0,
            });
        }
        for m in mmap_refs {
            self.markers.push(RefMmapMarker {
                r#ref: r,
                mmap_ref: m.0,
            });
        }
    }

    /// Notes a sample stored out of order.
    pub fn on_sample(&mut self, s: RefSample) {
        self.samples.push(s);
    }

    /// Notes a histogram stored out of order.
    pub fn on_histogram(&mut self, r: SeriesRef, t: i64, h: HistogramValue<'_>) {
        match h {
            HistogramValue::Int(h) => {
                let s = RefHistogramSample {
                    r#ref: r,
                    t,
                    h: h.clone(),
                };
                if h.uses_custom_buckets() {
                    self.custom_histograms.push(s);
                } else {
                    self.histograms.push(s);
                }
            }
            HistogramValue::Float(h) => {
                let s = RefFloatHistogramSample {
                    r#ref: r,
                    t,
                    fh: h.clone(),
                };
                if h.uses_custom_buckets() {
                    self.custom_float_histograms.push(s);
                } else {
                    self.float_histograms.push(s);
                }
            }
        }
    }

    /// A spare record buffer.
    fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Encodes what was collected: markers first, then samples, then
    /// histograms (types 7, 9, 8, 10, as Prometheus's `collectOOORecords`).
    fn flush(&mut self) {
        if !self.markers.is_empty() {
            let mut b = self.buffer();
            record::encode_mmap_markers(&self.markers, &mut b);
            self.records.push(b);
            self.markers.clear();
        }
        if !self.samples.is_empty() {
            let mut b = self.buffer();
            record::encode_samples(&self.samples, &mut b);
            self.records.push(b);
            self.samples.clear();
        }
        if !self.histograms.is_empty() {
            let mut b = self.buffer();
            record::encode_histogram_samples(&self.histograms, &mut b);
            self.records.push(b);
            self.histograms.clear();
        }
        if !self.custom_histograms.is_empty() {
            let mut b = self.buffer();
            record::encode_custom_buckets_histogram_samples(&self.custom_histograms, &mut b);
            self.records.push(b);
            self.custom_histograms.clear();
        }
        if !self.float_histograms.is_empty() {
            let mut b = self.buffer();
            record::encode_float_histogram_samples(&self.float_histograms, &mut b);
            self.records.push(b);
            self.float_histograms.clear();
        }
        if !self.custom_float_histograms.is_empty() {
            let mut b = self.buffer();
            record::encode_custom_buckets_float_histogram_samples(
                &self.custom_float_histograms,
                &mut b,
            );
            self.records.push(b);
            self.custom_float_histograms.clear();
        }
    }

    /// Every record of the commit, in log order.
    pub fn finish(&mut self) -> &[Vec<u8>] {
        self.flush();
        &self.records
    }

    /// Empties the batch for the next commit.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.histograms.clear();
        self.custom_histograms.clear();
        self.float_histograms.clear();
        self.custom_float_histograms.clear();
        self.markers.clear();
        self.spare.append(&mut self.records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_wal::record::{Record, RecordDecoder};

    fn sample(r: u64, t: i64) -> RefSample {
        RefSample {
            r#ref: r,
            t,
            v: 1.0,
        }
    }

    /// The record sequence as (kind, refs) for comparison.
    fn shape(records: &[Vec<u8>]) -> Vec<(char, Vec<(u64, u64)>)> {
        let mut dec = RecordDecoder::default();
        records
            .iter()
            .map(|r| match dec.decode(r).unwrap() {
                Record::Samples(s) => ('S', s.iter().map(|x| (x.r#ref, x.t as u64)).collect()),
                Record::MmapMarkers(m) => ('M', m.iter().map(|x| (x.r#ref, x.mmap_ref)).collect()),
                Record::HistogramSamples(h) => {
                    let t = if r[0] == 9 { 'C' } else { 'H' };
                    (t, h.iter().map(|x| (x.r#ref, x.t as u64)).collect())
                }
                Record::FloatHistogramSamples(h) => {
                    ('F', h.iter().map(|x| (x.r#ref, x.t as u64)).collect())
                }
                _ => panic!("unexpected record"),
            })
            .collect()
    }

    #[test]
    fn markers_go_between_the_samples_of_the_old_and_the_new_chunk() {
        let mut b = WblBatch::default();
        b.on_sample(sample(1, 10));
        b.on_cut(2, [HeadChunkRef(77)].into_iter());
        b.on_sample(sample(2, 20));
        b.on_cut(1, [HeadChunkRef(88)].into_iter());
        b.on_sample(sample(1, 30));
        assert_eq!(
            shape(b.finish()),
            [
                ('S', vec![(1, 10)]),
                ('M', vec![(2, 77)]),
                ('S', vec![(2, 20)]),
                ('M', vec![(1, 88)]),
                ('S', vec![(1, 30)]),
            ]
        );
        b.clear();
        // A first chunk (nothing m-mapped) then an m-map of it in the same
        // commit: sample 1 stays before the marker of the chunk holding it.
        b.on_cut(3, std::iter::empty());
        b.on_sample(sample(3, 1));
        b.on_cut(3, [HeadChunkRef(99)].into_iter());
        b.on_sample(sample(3, 2));
        assert_eq!(
            shape(b.finish()),
            [
                ('M', vec![(3, 0)]),
                ('S', vec![(3, 1)]),
                ('M', vec![(3, 99)]),
                ('S', vec![(3, 2)])
            ]
        );
    }

    #[test]
    fn histograms_follow_the_floats_of_their_flush_by_record_type() {
        use aion_model::histogram::Histogram;
        let mut b = WblBatch::default();
        let h = Histogram::default();
        let custom = Histogram {
            schema: -53,
            ..Histogram::default()
        };
        let fh = h.to_float();
        b.on_histogram(1, 5, HistogramValue::Float(&fh));
        b.on_histogram(2, 6, HistogramValue::Int(&custom));
        b.on_histogram(3, 7, HistogramValue::Int(&h));
        b.on_sample(sample(4, 8));
        b.on_cut(1, [HeadChunkRef(5), HeadChunkRef(6)].into_iter());
        b.on_histogram(1, 9, HistogramValue::Int(&h));
        assert_eq!(
            shape(b.finish()),
            [
                ('S', vec![(4, 8)]),
                ('H', vec![(3, 7)]),
                ('C', vec![(2, 6)]),
                ('F', vec![(1, 5)]),
                ('M', vec![(1, 5), (1, 6)]),
                ('H', vec![(1, 9)]),
            ]
        );
    }
}
