//! What a commit writes before it applies its batch: the series the
//! appender created go into the postings, then the batch's records (and
//! the series records of series no commit logged yet) into the WAL.

use aion_model::Labels;
use aion_wal::record::{self, RefSeries};

use super::Appender;
use crate::head::series_arc::SeriesArc;
use crate::head::Head;
use crate::{Error, Result};

impl Appender {
    /// Adds to the head's postings, under one lock, the series this
    /// appender created and those of the batch no one indexed yet
    /// (created by an appender that has not committed). Before the WAL
    /// and the apply: a logged series is indexed, and a query that sees a
    /// sample finds its series.
    ///
    /// Creating a series does not index it because a target's first
    /// scrape creates hundreds at once: one postings lock per series was
    /// a third of that scrape's time on two cores, most of it threads
    /// handing the lock to each other.
    pub(super) fn index_new_series(&self) {
        let b = &self.buf;
        if b.created.iter().any(|(s, _)| !s.is_indexed()) {
            let mut postings = self.head.postings.writer();
            for (s, labels) in &b.created {
                if !s.is_indexed() {
                    postings.add(s.series_ref, labels);
                    s.set_indexed();
                }
            }
        }
        if b.unlogged.iter().all(|s| s.is_indexed()) {
            return;
        }
        // Rare: another appender's. Their labels are read before the
        // postings' lock is taken.
        let others: Vec<(&SeriesArc, Labels)> = b
            .unlogged
            .iter()
            .filter(|s| !s.is_indexed())
            .map(|s| (s, self.head.labels_of(s)))
            .collect();
        let mut postings = self.head.postings.writer();
        for (s, labels) in others {
            if !s.is_indexed() {
                postings.add(s.series_ref, &labels);
                s.set_indexed();
            }
        }
    }

    /// The labels of `s` for its series record: those it was created
    /// with if this appender created it, else read from the symbols.
    fn labels_for_record(head: &Head, created: &[(SeriesArc, Labels)], s: &SeriesArc) -> Labels {
        match created.binary_search_by_key(&s.series_ref, |(c, _)| c.series_ref) {
            Ok(i) => created[i].1.clone(),
            Err(_) => head.labels_of(s),
        }
    }

    /// Encodes the batch and writes it to the WAL, with the series records
    /// of series no earlier commit logged.
    pub(super) fn log(&mut self) -> Result<()> {
        let b = &mut self.buf;
        b.samples_record.clear();
        if b.hists.is_empty() {
            record::encode_samples(&b.samples, &mut b.samples_record);
        }
        let mut wal = self.head.wal.lock();
        let Some(wal) = wal.as_mut() else {
            return Err(if self.head.is_read_only() {
                Error::ReadOnly
            } else {
                Error::Closed
            });
        };
        b.series_record.clear();
        if !b.unlogged.is_empty() {
            // Checked under the WAL lock, so a series gets exactly one
            // record however many appenders use it before it is logged.
            b.unlogged.sort_unstable_by_key(|s| s.series_ref);
            b.unlogged.dedup_by_key(|s| s.series_ref);
            b.unlogged.retain(|s| !s.is_logged());
            if !b.unlogged.is_empty() {
                let refs: Vec<RefSeries> = b
                    .unlogged
                    .iter()
                    .map(|s| RefSeries {
                        r#ref: s.series_ref,
                        labels: Self::labels_for_record(&self.head, &b.created, s),
                    })
                    .collect();
                record::encode_series(&refs, &mut b.series_record);
            }
        }
        if !b.hists.is_empty() {
            log_segments(wal, &b.series_record, b.hists.encode(&b.samples))?;
        } else if b.series_record.is_empty() {
            wal.log(&[&b.samples_record])?;
        } else {
            wal.log(&[&b.series_record, &b.samples_record])?;
        }
        if !b.series_record.is_empty() {
            for s in &b.unlogged {
                s.set_logged();
            }
        }
        Ok(())
    }
}

/// Writes a batch with histograms in one WAL write: the series record (if
/// any), then the segments' records.
fn log_segments(wal: &mut aion_wal::Wal, series: &[u8], records: &[Vec<u8>]) -> Result<()> {
    // Up to three segments of five records and the series record fit
    // without an allocation; more segments are rare (series switching
    // type back and forth within one batch).
    const ON_STACK: usize = 16;
    let total = records.len() + usize::from(!series.is_empty());
    let mut stack: [&[u8]; ON_STACK] = [&[]; ON_STACK];
    let mut heap: Vec<&[u8]> = Vec::new();
    let all = if total <= ON_STACK {
        let mut n = 0;
        if !series.is_empty() {
            stack[0] = series;
            n = 1;
        }
        for r in records {
            stack[n] = r;
            n += 1;
        }
        &stack[..n]
    } else {
        if !series.is_empty() {
            heap.push(series);
        }
        heap.extend(records.iter().map(Vec::as_slice));
        &heap[..]
    };
    wal.log(all)?;
    Ok(())
}
