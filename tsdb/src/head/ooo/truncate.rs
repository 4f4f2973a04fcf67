//! Dropping out-of-order chunks that out-of-order compaction wrote to
//! blocks (Prometheus's `truncateOOO`), and the series left empty.

use std::sync::atomic::Ordering;

use crate::chunks::HeadChunkRef;
use crate::head::series_arc::SeriesArc;
use crate::head::Head;
use crate::Result;

impl Head {
    /// Drops every m-mapped out-of-order chunk up to `last_ref` and the
    /// series left without samples; recomputes the out-of-order time
    /// range. Returns the chunks dropped.
    pub(crate) fn truncate_ooo(&self, last_ref: HeadChunkRef) -> Result<usize> {
        let mut dropped = 0;
        let mut empty: Vec<SeriesArc> = Vec::new();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        self.begin_truncation();
        self.series.for_each(|s| {
            let mut st = s.lock();
            let Some(o) = st.ooo_mut() else {
                return;
            };
            let before = o.mmapped.len();
            o.mmapped.retain(|c| c.chunk_ref > last_ref);
            dropped += before - o.mmapped.len();
            if let Some((a, b)) = o.time_range() {
                lo = lo.min(a);
                hi = hi.max(b);
            } else {
                st.clear_ooo();
            }
            if st.num_chunks() == 0 {
                drop(st);
                empty.push(s.clone());
            }
        });
        self.ooo_min_time.store(lo, Ordering::Release);
        self.ooo_max_time.store(hi, Ordering::Release);
        for s in empty {
            self.remove_series_if_empty(s);
        }
        Ok(dropped)
    }
}
