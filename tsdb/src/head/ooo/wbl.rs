//! The WBL records of one commit, in the order Prometheus writes them: the
//! out-of-order samples, with an mmap marker for a series logged before
//! the samples that went into the chunk started after the m-map. A replay
//! that meets the marker drops what it rebuilt of the series' in-memory
//! chunk so far — that is in the m-mapped chunk — and goes on from there.

use aion_index::SeriesRef;
use aion_wal::record::{self, RefMmapMarker, RefSample};

use crate::chunks::HeadChunkRef;

/// Collects a commit's WBL records; reused across commits.
#[derive(Debug, Default)]
pub(crate) struct WblBatch {
    samples: Vec<RefSample>,
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
    pub fn on_cut(&mut self, r: SeriesRef, mmap_ref: HeadChunkRef) {
        self.flush();
        self.markers.push(RefMmapMarker {
            r#ref: r,
            mmap_ref: mmap_ref.0,
        });
    }

    /// Notes a sample stored out of order.
    pub fn on_sample(&mut self, s: RefSample) {
        self.samples.push(s);
    }

    /// Encodes what was collected: markers first, then samples.
    fn flush(&mut self) {
        if !self.markers.is_empty() {
            let mut b = self.spare.pop().unwrap_or_default();
            b.clear();
            record::encode_mmap_markers(&self.markers, &mut b);
            self.records.push(b);
            self.markers.clear();
        }
        if !self.samples.is_empty() {
            let mut b = self.spare.pop().unwrap_or_default();
            b.clear();
            record::encode_samples(&self.samples, &mut b);
            self.records.push(b);
            self.samples.clear();
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
                _ => panic!("unexpected record"),
            })
            .collect()
    }

    #[test]
    fn markers_go_between_the_samples_of_the_old_and_the_new_chunk() {
        let mut b = WblBatch::default();
        b.on_sample(sample(1, 10));
        b.on_cut(2, HeadChunkRef(77));
        b.on_sample(sample(2, 20));
        b.on_cut(1, HeadChunkRef(88));
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
        b.on_cut(3, HeadChunkRef(0));
        b.on_sample(sample(3, 1));
        b.on_cut(3, HeadChunkRef(99));
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
}
