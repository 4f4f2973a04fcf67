//! One request's appends: partial writes (refused series are skipped and
//! remembered), storage failures (everything rolled back) and the commit.

use aion_model::Labels;
use aion_storage::{Appender, Error};

use super::{status_of, Status, WriteResponse, Written};
use crate::content_type::WriteProto;
use crate::convert::{to_model_histogram, ModelHistogram};
use crate::proto::Histogram;

pub(crate) struct Batch<'a> {
    app: Box<dyn Appender + 'a>,
    proto: WriteProto,
    written: Written,
    first_refused: Option<String>,
    refused: usize,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(app: Box<dyn Appender + 'a>, proto: WriteProto) -> Self {
        Batch {
            app,
            proto,
            written: Written::default(),
            first_refused: None,
            refused: 0,
        }
    }

    /// Records a refused series (or sample); the request goes on.
    pub(crate) fn refuse(&mut self, why: impl FnOnce() -> String) {
        if self.first_refused.is_none() {
            self.first_refused = Some(why());
        }
        self.refused += 1;
    }

    /// Appends a series' float samples. A sample the store refuses as bad
    /// input ends the series (as Prometheus's receiver does) and is
    /// recorded; any other store error aborts the request.
    pub(crate) fn samples(
        &mut self,
        index: usize,
        labels: &Labels,
        samples: impl Iterator<Item = (i64, f64)>,
    ) -> Result<(), Error> {
        let mut series = 0;
        for (t, v) in samples {
            match self.app.append(series, labels, t, v) {
                Ok(r) => {
                    series = r;
                    self.written.samples += 1;
                }
                Err(e) if e.kind().is_bad_input() => {
                    self.refuse(|| format!("timeseries[{index}] {labels}: sample at {t}: {e}"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Appends a series' native histogram samples, as [`Batch::samples`].
    pub(crate) fn histograms(
        &mut self,
        index: usize,
        labels: &Labels,
        histograms: &[Histogram],
    ) -> Result<(), Error> {
        let mut series = 0;
        for p in histograms {
            let t = p.timestamp;
            let result = match to_model_histogram(p) {
                Ok(ModelHistogram::Int(h)) => self.app.append_histogram(series, labels, t, &h),
                Ok(ModelHistogram::Float(fh)) => {
                    self.app.append_float_histogram(series, labels, t, &fh)
                }
                Err(e) => {
                    self.refuse(|| format!("timeseries[{index}] {labels}: {e}"));
                    break;
                }
            };
            match result {
                Ok(r) => {
                    series = r;
                    self.written.histograms += 1;
                }
                Err(e) if e.kind().is_bad_input() => {
                    self.refuse(|| format!("timeseries[{index}] {labels}: histogram at {t}: {e}"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Commits what was accepted and answers.
    pub(crate) fn commit(mut self) -> WriteResponse {
        if let Err(e) = self.app.commit() {
            return WriteResponse {
                status: status_of(e.kind()),
                message: format!("committing remote write: {e}"),
                proto: Some(self.proto),
                written: Written::default(),
            };
        }
        match self.first_refused {
            None => WriteResponse {
                status: Status::NoContent,
                message: String::new(),
                proto: Some(self.proto),
                written: self.written,
            },
            Some(first) => {
                let message = if self.refused > 1 {
                    format!("{first} (and {} more refused)", self.refused - 1)
                } else {
                    first
                };
                WriteResponse {
                    status: Status::BadRequest,
                    message,
                    proto: Some(self.proto),
                    written: self.written,
                }
            }
        }
    }

    /// Rolls everything back after a store failure and answers it.
    pub(crate) fn abort(mut self, err: Error) -> WriteResponse {
        let rollback = self.app.rollback();
        let mut message = format!("appending remote write: {err}");
        if let Err(r) = rollback {
            message.push_str(&format!("; rollback also failed: {r}"));
        }
        WriteResponse {
            status: status_of(err.kind()),
            message,
            proto: Some(self.proto),
            written: Written::default(),
        }
    }
}
