//! A series' out-of-order samples (floats and histograms): the in-memory
//! chunk they are inserted into (sorted, at most `out_of_order_cap_max`
//! samples) and the full chunks m-mapped to `chunks_head/` with the
//! out-of-order flag, as Prometheus's `OOOChunk` and `oooMmappedChunks`:
//! an in-memory chunk becomes one chunk per run of one sample kind
//! (`OOOChunk.ToEncodedChunks`).
//!
//! Every in-memory sample keeps the isolation epoch of the commit that
//! inserted it, so a query sees exactly the commits before it. A chunk
//! m-mapped while a query older than its newest commit runs keeps those
//! samples in memory too, until no such query is left.

use aion_index::SeriesRef;

use crate::chunks::{encode_values, HeadChunkRef, HeadChunkStore, SampleValue};
use crate::{FloatChunkEncoding, Result};

/// Flag on the encoding byte of out-of-order chunks in `chunks_head/`.
pub(crate) const OUT_OF_ORDER_FLAG: u8 = 0x80;

/// One out-of-order sample in memory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OooSample {
    pub t: i64,
    pub v: SampleValue,
    /// Isolation epoch of the commit that inserted it (0: replayed).
    pub epoch: u64,
}

/// How a series' out-of-order chunks are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OooChunkOpts {
    /// Samples an in-memory chunk holds before it is m-mapped.
    pub cap: usize,
    /// The encoding of float chunks.
    pub floats: FloatChunkEncoding,
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

    /// Estimated heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<OooSample>()
            + self.samples.iter().map(|s| s.v.heap_bytes()).sum::<usize>()
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
    /// many chunks, the last ones of [`OooState::mmapped`] (0 if there was
    /// none): the WBL's mmap markers.
    pub cut: Option<usize>,
}

impl OooState {
    /// Inserts `(t, v)` of commit `epoch`, first m-mapping the in-memory
    /// chunk if it holds `opts.cap` samples (Prometheus's
    /// `memSeries.insert`).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        series_ref: SeriesRef,
        t: i64,
        v: SampleValue,
        epoch: u64,
        low_watermark: u64,
        opts: OooChunkOpts,
        store: &HeadChunkStore,
    ) -> Result<Inserted> {
        self.forget_recent(low_watermark);
        let mut cut = None;
        if self
            .head
            .as_ref()
            .is_none_or(|c| c.samples.len() >= opts.cap)
        {
            cut = Some(self.mmap_head(series_ref, low_watermark, opts.floats, store)?);
            self.head = Some(OooHeadChunk {
                samples: Vec::with_capacity(opts.cap.min(32)),
            });
        }
        let stored = self
            .head
            .as_mut()
            .expect("an in-memory chunk exists")
            .insert(OooSample { t, v, epoch });
        Ok(Inserted { stored, cut })
    }

    /// Writes the in-memory chunk (if it has samples) to `store` as
    /// out-of-order chunks, one per run of one sample kind, appended to
    /// [`OooState::mmapped`]; returns how many (0 if none).
    pub fn mmap_head(
        &mut self,
        series_ref: SeriesRef,
        low_watermark: u64,
        floats: FloatChunkEncoding,
        store: &HeadChunkStore,
    ) -> Result<usize> {
        let Some(c) = self.head.take() else {
            return Ok(0);
        };
        if c.samples.is_empty() {
            return Ok(0);
        }
        let values: Vec<(i64, SampleValue)> =
            c.samples.iter().map(|s| (s.t, s.v.clone())).collect();
        // At most 255 samples: far below any chunk's limit.
        let encoded = match encode_values(&values, usize::MAX, floats) {
            Ok(e) => e,
            Err(e) => {
                self.head = Some(c);
                return Err(e);
            }
        };
        let first_new = self.mmapped.len();
        for e in &encoded {
            let written = store.write_chunk(
                series_ref,
                e.min_time,
                e.max_time,
                e.encoding as u8 | OUT_OF_ORDER_FLAG,
                &e.data,
            );
            let chunk_ref = match written {
                Ok(r) => r,
                Err(err) => {
                    // Nothing of this m-map is recorded: the samples stay
                    // in memory (chunks already written are unreferenced).
                    self.mmapped.truncate(first_new);
                    self.head = Some(c);
                    return Err(err);
                }
            };
            let part: Vec<OooSample> = c
                .samples
                .iter()
                .filter(|s| s.t >= e.min_time && s.t <= e.max_time)
                .cloned()
                .collect();
            let max_epoch = part.iter().map(|s| s.epoch).max().unwrap_or(0);
            let recent = (low_watermark < max_epoch).then(|| part.into_boxed_slice());
            self.mmapped.push(OooMmapped {
                min_time: e.min_time,
                max_time: e.max_time,
                chunk_ref,
                max_epoch,
                recent,
            });
        }
        Ok(encoded.len())
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
                .map(|c| {
                    c.recent.as_ref().map_or(0, |r| {
                        r.len() * std::mem::size_of::<OooSample>()
                            + r.iter().map(|s| s.v.heap_bytes()).sum::<usize>()
                    })
                })
                .sum::<usize>()
            + self.head.as_ref().map_or(0, |c| c.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64) -> OooSample {
        OooSample {
            t,
            v: SampleValue::Float(t as f64),
            epoch: 1,
        }
    }

    const OPTS: OooChunkOpts = OooChunkOpts {
        cap: 4,
        floats: FloatChunkEncoding::Xor,
    };

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
            v: SampleValue::Float(99.0),
            epoch: 2
        }));
        assert_eq!(c.samples[2].v, SampleValue::Float(5.0));
    }

    #[test]
    fn a_full_chunk_is_mmapped_with_the_out_of_order_flag() {
        let dir = tempfile::tempdir().unwrap();
        let store = HeadChunkStore::open(dir.path(), false).unwrap();
        let mut st = OooState::default();
        let mut cuts = Vec::new();
        for t in (0..10).rev() {
            let r = st
                .insert(
                    7,
                    t,
                    SampleValue::Float(t as f64),
                    1,
                    u64::MAX,
                    OPTS,
                    &store,
                )
                .unwrap();
            assert!(r.stored);
            if let Some(c) = r.cut {
                cuts.push(c);
            }
        }
        // First insert starts a chunk (nothing to m-map), then every 4.
        assert_eq!(cuts, [0, 1, 1]);
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
        assert_eq!(enc, aion_chunkenc::Encoding::Xor as u8);
        let got = aion_chunkenc::XorChunk::from_bytes(bytes.as_slice())
            .unwrap()
            .samples()
            .unwrap();
        assert_eq!(got, [(2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)]);
    }
}
