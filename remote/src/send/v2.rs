//! Building remote write 2.0 requests.

use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Labels;

use super::Interner;
use crate::codec;
use crate::convert::{from_float_histogram, from_histogram};
use crate::proto::v2::{metadata::MetricType, Metadata, Request, Sample, TimeSeries};

/// A series' metadata for RW 2.0 (sent inline with each series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeriesMetadata<'a> {
    /// The metric type.
    pub metric_type: Option<MetricType>,
    /// HELP text; empty for none.
    pub help: &'a str,
    /// Unit; empty for none.
    pub unit: &'a str,
}

/// Accumulates series into an `io.prometheus.write.v2.Request`, interning
/// every label name and value, help and unit.
///
/// ```
/// use aion_remote::send::RequestBuilder;
/// use aion_model::Labels;
/// let mut b = RequestBuilder::new();
/// let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]).unwrap();
/// b.add_samples(&l, &[(1000, 1.0, 0)], None);
/// b.add_samples(&l, &[(2000, 1.0, 0)], None);
/// let req = b.finish();
/// assert_eq!(req.symbols, ["", "__name__", "up", "job", "a"]);
/// assert_eq!(req.timeseries[1].labels_refs, [1, 2, 3, 4]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct RequestBuilder {
    interner: Interner,
    series: Vec<TimeSeries>,
    samples: usize,
}

impl RequestBuilder {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    fn series(&mut self, labels: &Labels, meta: Option<SeriesMetadata<'_>>) -> TimeSeries {
        let mut refs = Vec::with_capacity(labels.len() * 2);
        for l in labels.iter() {
            refs.push(self.interner.intern(l.name));
            refs.push(self.interner.intern(l.value));
        }
        let metadata = meta.map(|m| Metadata {
            r#type: m.metric_type.map_or(0, |t| t as i32),
            help_ref: self.interner.intern(m.help),
            unit_ref: self.interner.intern(m.unit),
        });
        TimeSeries {
            labels_refs: refs,
            metadata,
            ..TimeSeries::default()
        }
    }

    /// Adds a series with float samples `(t, v, start_timestamp)` (start
    /// timestamp 0 for unknown).
    pub fn add_samples(
        &mut self,
        labels: &Labels,
        samples: &[(i64, f64, i64)],
        meta: Option<SeriesMetadata<'_>>,
    ) -> &mut Self {
        let mut ts = self.series(labels, meta);
        ts.samples = samples
            .iter()
            .map(|&(timestamp, value, start_timestamp)| Sample {
                value,
                timestamp,
                start_timestamp,
            })
            .collect();
        self.samples += samples.len();
        self.series.push(ts);
        self
    }

    /// Adds a series with integer native histogram samples.
    pub fn add_histograms(
        &mut self,
        labels: &Labels,
        samples: &[(i64, Histogram)],
        meta: Option<SeriesMetadata<'_>>,
    ) -> &mut Self {
        let mut ts = self.series(labels, meta);
        ts.histograms = samples.iter().map(|(t, h)| from_histogram(*t, h)).collect();
        self.samples += samples.len();
        self.series.push(ts);
        self
    }

    /// Adds a series with float native histogram samples.
    pub fn add_float_histograms(
        &mut self,
        labels: &Labels,
        samples: &[(i64, FloatHistogram)],
        meta: Option<SeriesMetadata<'_>>,
    ) -> &mut Self {
        let mut ts = self.series(labels, meta);
        ts.histograms = samples
            .iter()
            .map(|(t, h)| from_float_histogram(*t, h))
            .collect();
        self.samples += samples.len();
        self.series.push(ts);
        self
    }

    /// Samples added so far.
    pub fn num_samples(&self) -> usize {
        self.samples
    }

    /// The request built so far, leaving the builder empty (with a fresh
    /// symbol table).
    pub fn finish(&mut self) -> Request {
        self.samples = 0;
        Request {
            symbols: self.interner.take(),
            timeseries: std::mem::take(&mut self.series),
        }
    }

    /// The request as a snappy-compressed body, leaving the builder empty.
    pub fn encode(&mut self) -> Vec<u8> {
        codec::encode_write_v2(&self.finish())
    }
}
