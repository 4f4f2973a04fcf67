//! Appending to agent storage: batches logged to the WAL at commit.

use aion_model::{Labels, SeriesRef};
use aion_wal::record::{self, RefSample, RefSeries};

use crate::{AgentDb, Error, Result};

/// A batch of samples for [`AgentDb`]: validated at append (out-of-order
/// samples refused, as Prometheus's agent refuses them), logged to the WAL
/// in one write at [`commit`](AgentAppender::commit).
pub struct AgentAppender<'a> {
    db: &'a AgentDb,
    new_series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    series_buf: Vec<u8>,
    samples_buf: Vec<u8>,
}

impl<'a> AgentAppender<'a> {
    pub(crate) fn new(db: &'a AgentDb) -> Self {
        AgentAppender {
            db,
            new_series: Vec::new(),
            samples: Vec::new(),
            series_buf: Vec::new(),
            samples_buf: Vec::new(),
        }
    }

    /// Appends a float sample of series `labels` (or of reference `r`
    /// from an earlier append, when not 0) and returns the reference.
    pub fn append(&mut self, r: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        let r = match self.db.series.last_ts(r).filter(|_| r != 0) {
            Some(_) => r,
            None => self.get_or_create(labels)?,
        };
        let last = self.db.series.last_ts(r).unwrap_or(i64::MIN);
        if t < last {
            return Err(Error::OutOfOrderSample);
        }
        self.samples.push(RefSample { r#ref: r, t, v });
        Ok(r)
    }

    fn get_or_create(&mut self, labels: &Labels) -> Result<SeriesRef> {
        if labels.is_empty() {
            return Err(Error::EmptyLabels);
        }
        if let Some(r) = self.db.series.get_by_labels(labels) {
            return Ok(r);
        }
        let r = self.db.new_ref();
        if !self.db.series.insert(r, labels.clone()) {
            // Another appender created it between the look-up and now.
            return self
                .db
                .series
                .get_by_labels(labels)
                .ok_or(Error::EmptyLabels);
        }
        self.new_series.push(RefSeries {
            r#ref: r,
            labels: labels.clone(),
        });
        Ok(r)
    }

    /// Logs the batch (series records first, then samples) and advances
    /// each series' newest timestamp; wakes the WAL's watchers.
    pub fn commit(&mut self) -> Result<()> {
        self.series_buf.clear();
        self.samples_buf.clear();
        let mut records: Vec<&[u8]> = Vec::with_capacity(2);
        if !self.new_series.is_empty() {
            record::encode_series(&self.new_series, &mut self.series_buf);
            records.push(&self.series_buf);
        }
        if !self.samples.is_empty() {
            record::encode_samples(&self.samples, &mut self.samples_buf);
            records.push(&self.samples_buf);
        }
        if !records.is_empty() {
            let mut wal = self.db.wal.lock();
            let wal = wal
                .as_mut()
                .ok_or_else(|| Error::Wal(aion_wal::Error::InvalidRequest("closed".into())))?;
            wal.log(&records)?;
        }
        for s in &self.samples {
            // A concurrent appender may have committed a newer sample of
            // the same series; Prometheus counts this as out of order
            // after the fact, and so do we by not moving the timestamp back.
            self.db.series.update_ts(s.r#ref, s.t);
        }
        self.new_series.clear();
        self.samples.clear();
        for n in self.db.subscribers.lock().iter() {
            n.notify();
        }
        Ok(())
    }

    /// Discards the batch's samples. Series it created stay (with no
    /// samples, collected by the next truncation), so their series records
    /// are still logged: a later batch may reuse the references.
    pub fn rollback(&mut self) -> Result<()> {
        self.samples.clear();
        // Their series records must still reach the WAL for later batches
        // that reuse the references; log them now.
        if !self.new_series.is_empty() {
            self.series_buf.clear();
            record::encode_series(&self.new_series, &mut self.series_buf);
            if let Some(wal) = self.db.wal.lock().as_mut() {
                wal.log(&[&self.series_buf])?;
            }
            self.new_series.clear();
        }
        Ok(())
    }
}

impl aion_storage::Appender for AgentAppender<'_> {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> aion_storage::Result<SeriesRef> {
        Ok(AgentAppender::append(self, series, labels, t, v)?)
    }

    fn commit(&mut self) -> aion_storage::Result<()> {
        Ok(AgentAppender::commit(self)?)
    }

    fn rollback(&mut self) -> aion_storage::Result<()> {
        Ok(AgentAppender::rollback(self)?)
    }
}

impl aion_storage::Appendable for AgentDb {
    fn appender(&self) -> Box<dyn aion_storage::Appender + '_> {
        Box::new(AgentDb::appender(self))
    }
}
