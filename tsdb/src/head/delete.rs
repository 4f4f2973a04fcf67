//! Deleting head samples: tombstones logged to the WAL and applied by
//! queries at once (Prometheus's `Head.Delete`). Both head queriers apply
//! them, from the series snapshot (`querier.rs`).

use aion_index::postings_for_matchers;
use aion_model::Matcher;
use aion_wal::record::{self, Interval, Tombstone};

use super::Head;
use crate::{Error, Result};

impl Head {
    /// Marks `[mint, maxt]` of every head series matching `matchers`
    /// deleted: a tombstones record is logged to the WAL (so a reopen
    /// replays it) and queries stop seeing the samples immediately.
    /// Returns the number of series affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        if mint > maxt {
            return Ok(0);
        }
        let mut postings = postings_for_matchers(self, matchers)?;
        let mut stones = Vec::new();
        while let Some(r) = postings.next() {
            let Some(s) = self.series.get_by_ref(r) else {
                continue;
            };
            let st = s.lock();
            let in_order = st.max_time() >= mint && st.min_time() <= maxt;
            let ooo = st
                .ooo()
                .and_then(|o| o.time_range())
                .is_some_and(|(lo, hi)| hi >= mint && lo <= maxt);
            if st.num_chunks() == 0 || !(in_order || ooo) {
                continue;
            }
            stones.push(Tombstone {
                r#ref: r,
                interval: Interval { mint, maxt },
            });
        }
        if stones.is_empty() {
            return Ok(0);
        }
        let mut buf = Vec::new();
        record::encode_tombstones(&stones, &mut buf);
        {
            let mut wal = self.wal.lock();
            let Some(wal) = wal.as_mut() else {
                return Err(if self.is_read_only() {
                    Error::ReadOnly
                } else {
                    Error::Closed
                });
            };
            wal.log(&[&buf])?;
        }
        let mut map = self.tombstones.write();
        for t in &stones {
            map.entry(t.r#ref).or_default().add(t.interval);
        }
        Ok(stones.len())
    }
}
