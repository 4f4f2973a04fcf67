//! WAL record codecs, compatible with Prometheus's `tsdb/record`.
//!
//! A record is a byte string whose first byte names its type
//! ([`RecordType`]). Each kind has an `encode_*` function that **appends**
//! a record to a buffer and a `decode_*` function that **replaces** the
//! contents of an output vector, reusing its allocation, so replay does not
//! allocate per record once buffers have grown. [`RecordDecoder`] bundles
//! the buffers and dispatches on the type byte.
//!
//! ```
//! use aion_wal::record::{self, RefSample, Record, RecordDecoder};
//! let mut rec = Vec::new();
//! record::encode_samples(&[RefSample { r#ref: 1, t: 1000, v: 0.5 }], &mut rec);
//!
//! let mut dec = RecordDecoder::default();
//! match dec.decode(&rec).unwrap() {
//!     Record::Samples(s) => assert_eq!(s, [RefSample { r#ref: 1, t: 1000, v: 0.5 }]),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

mod buf;
mod error;
mod exemplars;
mod histogram;
mod histogram_samples;
mod metadata;
mod mmap_markers;
#[cfg(test)]
mod proptests;
mod samples;
mod series;
mod tombstones;

pub use error::{DecodeError, Problem};
pub use exemplars::{decode_exemplars, encode_exemplars, RefExemplar};
pub use histogram::{CounterResetHint, FloatHistogram, Histogram, Span, CUSTOM_BUCKETS_SCHEMA};
pub use histogram_samples::{
    decode_float_histogram_samples, decode_histogram_samples,
    encode_custom_buckets_float_histogram_samples, encode_custom_buckets_histogram_samples,
    encode_float_histogram_samples, encode_float_histogram_samples_v2, encode_histogram_samples,
    encode_histogram_samples_v2, RefFloatHistogramSample, RefHistogramSample,
};
pub use metadata::{decode_metadata, encode_metadata, MetricType, RefMetadata};
pub use mmap_markers::{decode_mmap_markers, encode_mmap_markers, RefMmapMarker};
pub use samples::{
    decode_samples, decode_samples_where, encode_samples, encode_samples_v2, RefSample,
};
pub use series::{decode_series, encode_series, RefSeries};
pub use tombstones::{decode_tombstones, encode_tombstones, Interval, Intervals, Tombstone};

/// The type byte of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum RecordType {
    /// Series created in the head (1).
    Series = 1,
    /// Float samples (2).
    Samples = 2,
    /// Deleted time ranges (3).
    Tombstones = 3,
    /// Exemplars (4, Prometheus ≥ 2.27).
    Exemplars = 4,
    /// Head-chunk m-map markers of the out-of-order WBL (5, ≥ 2.39).
    MmapMarkers = 5,
    /// Series metadata (6, ≥ 2.38).
    Metadata = 6,
    /// Integer native histograms (7, ≥ 2.40).
    HistogramSamples = 7,
    /// Float native histograms (8, ≥ 2.40).
    FloatHistogramSamples = 8,
    /// Integer histograms with custom buckets (9, ≥ 3.2).
    CustomBucketsHistogramSamples = 9,
    /// Float histograms with custom buckets (10, ≥ 3.2).
    CustomBucketsFloatHistogramSamples = 10,
    /// Float samples with start timestamps (11, ≥ 3.11).
    SamplesV2 = 11,
    /// Integer histograms with start timestamps (12, ≥ 3.12).
    HistogramSamplesV2 = 12,
    /// Float histograms with start timestamps (13, ≥ 3.12).
    FloatHistogramSamplesV2 = 13,
}

impl RecordType {
    /// The type named by a type byte, if known.
    pub fn from_byte(b: u8) -> Option<RecordType> {
        use RecordType::*;
        Some(match b {
            1 => Series,
            2 => Samples,
            3 => Tombstones,
            4 => Exemplars,
            5 => MmapMarkers,
            6 => Metadata,
            7 => HistogramSamples,
            8 => FloatHistogramSamples,
            9 => CustomBucketsHistogramSamples,
            10 => CustomBucketsFloatHistogramSamples,
            11 => SamplesV2,
            12 => HistogramSamplesV2,
            13 => FloatHistogramSamplesV2,
            _ => return None,
        })
    }
}

/// The type of a record, or `None` for an empty record or an unknown type
/// (which readers skip, as Prometheus does).
pub fn record_type(rec: &[u8]) -> Option<RecordType> {
    rec.first().copied().and_then(RecordType::from_byte)
}

/// A decoded record, borrowing the [`RecordDecoder`]'s buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record<'a> {
    /// Types 1.
    Series(&'a [RefSeries]),
    /// Types 2 and 11.
    Samples(&'a [RefSample]),
    /// Type 3.
    Tombstones(&'a [Tombstone]),
    /// Type 4.
    Exemplars(&'a [RefExemplar]),
    /// Type 5.
    MmapMarkers(&'a [RefMmapMarker]),
    /// Type 6.
    Metadata(&'a [RefMetadata]),
    /// Types 7, 9 and 12.
    HistogramSamples(&'a [RefHistogramSample]),
    /// Types 8, 10 and 13.
    FloatHistogramSamples(&'a [RefFloatHistogramSample]),
    /// A type this version does not know (or an empty record, type byte
    /// `None`). Skip it.
    Unknown(Option<u8>),
}

/// Decodes records of any type into reusable buffers.
#[derive(Debug, Default)]
pub struct RecordDecoder {
    series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    tombstones: Vec<Tombstone>,
    exemplars: Vec<RefExemplar>,
    mmap_markers: Vec<RefMmapMarker>,
    metadata: Vec<RefMetadata>,
    histograms: Vec<RefHistogramSample>,
    float_histograms: Vec<RefFloatHistogramSample>,
}

impl RecordDecoder {
    /// Decodes `rec`. The result borrows the decoder until the next call.
    pub fn decode(&mut self, rec: &[u8]) -> Result<Record<'_>, DecodeError> {
        use RecordType::*;
        let Some(typ) = record_type(rec) else {
            return Ok(Record::Unknown(rec.first().copied()));
        };
        Ok(match typ {
            Series => {
                decode_series(rec, &mut self.series)?;
                Record::Series(&self.series)
            }
            Samples | SamplesV2 => {
                decode_samples(rec, &mut self.samples)?;
                Record::Samples(&self.samples)
            }
            Tombstones => {
                decode_tombstones(rec, &mut self.tombstones)?;
                Record::Tombstones(&self.tombstones)
            }
            Exemplars => {
                decode_exemplars(rec, &mut self.exemplars)?;
                Record::Exemplars(&self.exemplars)
            }
            MmapMarkers => {
                decode_mmap_markers(rec, &mut self.mmap_markers)?;
                Record::MmapMarkers(&self.mmap_markers)
            }
            Metadata => {
                decode_metadata(rec, &mut self.metadata)?;
                Record::Metadata(&self.metadata)
            }
            HistogramSamples | CustomBucketsHistogramSamples | HistogramSamplesV2 => {
                decode_histogram_samples(rec, &mut self.histograms)?;
                Record::HistogramSamples(&self.histograms)
            }
            FloatHistogramSamples
            | CustomBucketsFloatHistogramSamples
            | FloatHistogramSamplesV2 => {
                decode_float_histogram_samples(rec, &mut self.float_histograms)?;
                Record::FloatHistogramSamples(&self.float_histograms)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_reported_not_errors() {
        let mut d = RecordDecoder::default();
        assert_eq!(d.decode(&[]).unwrap(), Record::Unknown(None));
        assert_eq!(d.decode(&[200, 1, 2]).unwrap(), Record::Unknown(Some(200)));
        assert_eq!(d.decode(&[0]).unwrap(), Record::Unknown(Some(0)));
        for b in 1..=13 {
            assert_eq!(RecordType::from_byte(b).map(|t| t as u8), Some(b));
        }
    }
}
