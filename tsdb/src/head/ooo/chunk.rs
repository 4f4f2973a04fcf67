//! A series' out-of-order samples: the in-memory chunk they are inserted
//! into (sorted, at most `out_of_order_cap_max` samples) and the full
//! chunks m-mapped to `chunks_head/` with the out-of-order flag, as
//! Prometheus's `OOOChunk` and `oooMmappedChunks`.
//!
//! Every in-memory sample keeps the isolation epoch of the commit that
//! inserted it, so a query sees exactly the commits before it. A chunk
//! m-mapped while a query older than its newest commit runs keeps those
//! samples in memory too, until no such query is left.

use aion_chunkenc::{Encoding, XorAppender};
use aion_index::SeriesRef;

use crate::chunks::{HeadChunkRef, HeadChunkStore};
use crate::Result;

/// Flag on the encoding byte of out-of-order chunks in `chunks_head/`.
pub(crate) const OUT_OF_ORDER_FLAG: u8 = 0x80;

/// One out-of-order sample in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OooSample {
    pub t: i64,
    pub v: f64,
    /// Isolation epoch of the commit that inserted it (0: replayed).
    pub epoch: u64,
}

/// The in-memory out-of-order chunk: samples in time order, one per
/// timestamp.
#[derive(Debug, Default, Clone)]
pub(crate) struct OooHeadChunk {
    pub samples: Vec<OooSample>,
}

impl OooHeadChunk {
    /// Inserts keeping time order; `false` (nothing changed) if the
    /// timestamp is there already — Prometheus keeps the first value.
    pub fn insert(&mut self, s: OooSample) -> bool {
        match self.samples.last() {
            None => {
                self.samples.push(s);
                return true;
            }
            Some(l) if s.t > l.t => {
                self.samples.push(s);
                return true;
            }
            _ => {}
        }
        match self.samples.binary_search_by_key(&s.t, |x| x.t) {
            Ok(_) => false,
            Err(i) => {
                self.samples.insert(i, s);
                true
            }
        }
    }

    pub fn min_time(&self) -> i64 {
        self.samples.first().map_or(i64::MAX, |s| s.t)
    }

    pub fn max_time(&self) -> i64 {
        self.samples.last().map_or(i64::MIN, |s| s.t)
    }

    pub fn max_epoch(&self) -> u64 {
        self.samples.iter().map(|s| s.epoch).max().unwrap_or(0)
    }

    /// The samples as an XOR chunk (how they are m-mapped).
    pub fn to_xor(&self) -> Vec<u8> {
        let mut app = XorAppender::new();
        for s in &self.samples {
            // An out-of-order chunk holds at most 255 samples, far below
            // the XOR chunk's limit.
            app.append(s.t, s.v)
                .expect("out-of-order chunk below the XOR sample limit");
        }
        app.into_chunk().into_inner()
    }
}

/// An out-of-order chunk in `chunks_head/`.
#[derive(Debug, Clone)]
pub(crate) struct OooMmapped {
    pub min_time: i64,
    pub max_time: i64,
    pub chunk_ref: HeadChunkRef,
    /// Newest commit epoch among its samples (0 for chunks loaded on open).
    pub max_epoch: u64,
    /// The samples with their epochs while a query older than `max_epoch`
    /// may run, so it can leave out what it must not see.
    pub recent: Option<Box<[OooSample]>>,
}

/// The out-of-order part of a series.
#[derive(Debug, Default)]
pub(crate) struct OooState {
    pub head: Option<OooHeadChunk>,
    /// M-mapped chunks in the order they were written (their time ranges
    /// overlap each other).
    pub mmapped: Vec<OooMmapped>,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// Whether the sample was stored (`false`: its timestamp was in the
    /// in-memory chunk already).
    pub stored: bool,
    /// A new in-memory chunk was started; the previous one went to this
    /// reference (0 if there was none): the WBL's mmap marker.
    pub cut: Option<HeadChunkRef>,
}

impl OooState {
    /// Inserts `(t, v)` of commit `epoch`, first m-mapping the in-memory
    /// chunk if it holds `cap` samples (Prometheus's `memSeries.insert`).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        v: f64,
        epoch: u64,
        low_watermark: u64,
        cap: usize,
        store: &HeadChunkStore,
    ) -> Result<Inserted> {
        self.forget_recent(low_watermark);
        let mut cut = None;
        if self.head.as_ref().is_none_or(|c| c.samples.len() >= cap) {
            cut = Some(self.mmap_head(series_ref, low_watermark, store)?);
            self.head = Some(OooHeadChunk {
                samples: Vec::with_capacity(cap.min(32)),
            });
        }
        let stored = self
            .head
            .as_mut()
            .expect("an in-memory chunk exists")
            .insert(OooSample { t, v, epoch });
        Ok(Inserted { stored, cut })
    }

    /// Writes the in-memory chunk (if it has samples) to `store` as an
    /// out-of-order XOR chunk; returns its reference (0 if none).
    pub fn mmap_head(
        &mut self,
        series_ref: SeriesRef,
        low_watermark: u64,
        store: &HeadChunkStore,
    ) -> Result<HeadChunkRef> {
        let Some(c) = self.head.take() else {
            return Ok(HeadChunkRef(0));
        };
        if c.samples.is_empty() {
            return Ok(HeadChunkRef(0));
        }
        let (min_time, max_time, max_epoch) = (c.min_time(), c.max_time(), c.max_epoch());
        let chunk_ref = match store.write_chunk(
            series_ref,
            min_time,
            max_time,
            Encoding::Xor as u8 | OUT_OF_ORDER_FLAG,
            &c.to_xor(),
        ) {
            Ok(r) => r,
            Err(e) => {
                self.head = Some(c);
                return Err(e);
            }
        };
        let recent = (low_watermark < max_epoch).then(|| c.samples.into_boxed_slice());
        self.mmapped.push(OooMmapped {
            min_time,
            max_time,
            chunk_ref,
            max_epoch,
            recent,
        });
        Ok(chunk_ref)
    }

    /// Drops the in-memory copies no running query needs any more.
    pub fn forget_recent(&mut self, low_watermark: u64) {
        for c in &mut self.mmapped {
            if c.recent.is_some() && low_watermark >= c.max_epoch {
                c.recent = None;
            }
        }
    }

    /// Number of chunks, the in-memory one included.
    pub fn num_chunks(&self) -> usize {
        self.mmapped.len() + usize::from(self.head.as_ref().is_some_and(|c| !c.samples.is_empty()))
    }

    /// Oldest and newest sample times, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for c in &self.mmapped {
            lo = lo.min(c.min_time);
            hi = hi.max(c.max_time);
        }
        if let Some(c) = &self.head {
            if !c.samples.is_empty() {
                lo = lo.min(c.min_time());
                hi = hi.max(c.max_time());
            }
        }
        (lo <= hi).then_some((lo, hi))
    }

    /// Estimated heap bytes.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<OooState>()
            + self.mmapped.capacity() * std::mem::size_of::<OooMmapped>()
            + self
                .mmapped
                .iter()
                .map(|c| c.recent.as_ref().map_or(0, |r| r.len() * 24))
                .sum::<usize>()
            + self.head.as_ref().map_or(0, |c| c.samples.capacity() * 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64) -> OooSample {
        OooSample {
            t,
            v: t as f64,
            epoch: 1,
        }
    }

    #[test]
    fn insert_keeps_time_order_and_the_first_value() {
        let mut c = OooHeadChunk::default();
        for t in [5, 3, 9, 1, 7, 3] {
            c.insert(s(t));
        }
        let ts: Vec<i64> = c.samples.iter().map(|x| x.t).collect();
        assert_eq!(ts, [1, 3, 5, 7, 9]);
        assert!(!c.insert(OooSample {
            t: 5,
            v: 99.0,
            epoch: 2
        }));
        assert_eq!(c.samples[2].v, 5.0);
    }

    #[test]
    fn a_full_chunk_is_mmapped_with_the_out_of_order_flag() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = OooState::default();
        let mut cuts = Vec::new();
        for t in (0..10).rev() {
            let r = st.insert(7, t, t as f64, 1, u64::MAX, 4, &store).unwrap();
            assert!(r.stored);
            if let Some(c) = r.cut {
                cuts.push(c);
            }
        }
        // First insert starts a chunk (nothing to m-map), then every 4.
        assert_eq!(cuts.len(), 3);
        assert_eq!(cuts[0], HeadChunkRef(0));
        assert_eq!(st.mmapped.len(), 2);
        assert_eq!((st.mmapped[0].min_time, st.mmapped[0].max_time), (6, 9));
        assert_eq!(st.time_range(), Some((0, 9)));
        store.sync().unwrap();
        let mut seen = Vec::new();
        store
            .iterate(|c| seen.push((c.series_ref, c.out_of_order, c.min_time, c.max_time)))
            .unwrap();
        assert_eq!(seen, [(7, true, 6, 9), (7, true, 2, 5)]);
        let (enc, bytes) = store.chunk(st.mmapped[1].chunk_ref).unwrap();
        assert_eq!(enc, Encoding::Xor as u8);
        let got = aion_chunkenc::XorChunk::from_bytes(bytes.as_slice())
            .unwrap()
            .samples()
            .unwrap();
        assert_eq!(got, [(2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)]);
    }
}
