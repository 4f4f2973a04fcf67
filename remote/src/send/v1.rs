//! Building remote write 1.0 requests.

use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::Labels;

use crate::codec;
use crate::convert::{from_float_histogram, from_histogram, labels_to_proto};
use crate::proto::{Sample, TimeSeries, WriteRequest};

/// Accumulates series into a `prometheus.WriteRequest`.
///
/// Labels are written sorted (a [`Labels`] always is), as the spec
/// requires. Each `add_*` call adds one `TimeSeries` entry; call it once
/// per series per request with all of that series' samples, oldest first.
///
/// ```
/// use aion_remote::send::WriteRequestBuilder;
/// use aion_model::Labels;
/// let mut b = WriteRequestBuilder::new();
/// b.add_samples(&Labels::from_pairs(&[("__name__", "up"), ("job", "a")]).unwrap(), &[(1, 1.0), (2, 0.0)]);
/// assert_eq!(b.num_samples(), 2);
/// let req = b.finish();
/// assert_eq!(req.timeseries[0].labels[0].name, "__name__");
/// ```
#[derive(Debug, Default, Clone)]
pub struct WriteRequestBuilder {
    req: WriteRequest,
    samples: usize,
}

impl WriteRequestBuilder {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series with float samples `(t, v)`.
    pub fn add_samples(&mut self, labels: &Labels, samples: &[(i64, f64)]) -> &mut Self {
        self.samples += samples.len();
        self.req.timeseries.push(TimeSeries {
            labels: labels_to_proto(labels),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..TimeSeries::default()
        });
        self
    }

    /// Adds a series with integer native histogram samples.
    pub fn add_histograms(&mut self, labels: &Labels, samples: &[(i64, Histogram)]) -> &mut Self {
        self.samples += samples.len();
        self.req.timeseries.push(TimeSeries {
            labels: labels_to_proto(labels),
            histograms: samples.iter().map(|(t, h)| from_histogram(*t, h)).collect(),
            ..TimeSeries::default()
        });
        self
    }

    /// Adds a series with float native histogram samples.
    pub fn add_float_histograms(
        &mut self,
        labels: &Labels,
        samples: &[(i64, FloatHistogram)],
    ) -> &mut Self {
        self.samples += samples.len();
        self.req.timeseries.push(TimeSeries {
            labels: labels_to_proto(labels),
            histograms: samples
                .iter()
                .map(|(t, h)| from_float_histogram(*t, h))
                .collect(),
            ..TimeSeries::default()
        });
        self
    }

    /// Samples (floats and histograms) added so far, to cut batches at a
    /// size (Prometheus's `max_samples_per_send`, default 2,000).
    pub fn num_samples(&self) -> usize {
        self.samples
    }

    /// The request built so far, leaving the builder empty.
    pub fn finish(&mut self) -> WriteRequest {
        self.samples = 0;
        std::mem::take(&mut self.req)
    }

    /// The request as a snappy-compressed body, leaving the builder empty.
    pub fn encode(&mut self) -> Vec<u8> {
        codec::encode_write_v1(&self.finish())
    }
}
