//! Decoding integer histogram chunks (encoding 2).

use std::error::Error as StdError;

use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, CUSTOM_BUCKETS_SCHEMA};

use super::layout::{bucket_count, check_count, Layout, MAX_SCHEMA};
use super::varbit::{read_varbit_int, read_varbit_uint};
use super::xor_value::XorField;
use super::{header_from_bits, sample_hint, HEADER_LEN};
use crate::bstream::BitReader;
use crate::{is_stale_nan, Encoding, Error, SampleIterator, ValueType};

/// A cursor over the samples of an integer histogram chunk, reading the
/// bytes in place.
///
/// The bucket vectors are sized once per chunk (when the layout is read);
/// [`SampleIterator::at_histogram`] and
/// [`SampleIterator::at_float_histogram`] copy into the caller's
/// histogram, reusing its vectors, so a read loop allocates nothing per
/// sample. Corrupt data ends iteration with an error in
/// [`SampleIterator::err`]; it never panics.
#[derive(Debug, Clone)]
pub struct HistogramIterator<'a> {
    pub(super) data: &'a [u8],
    pub(super) r: BitReader<'a>,
    pub(super) num_total: u16,
    pub(super) num_read: u16,
    pub(super) header: CounterResetHint,
    pub(super) layout: Layout,
    pub(super) t: i64,
    pub(super) cnt: u64,
    pub(super) z_cnt: u64,
    pub(super) t_delta: i64,
    pub(super) cnt_delta: i64,
    pub(super) z_cnt_delta: i64,
    pub(super) p_buckets: Vec<i64>,
    pub(super) n_buckets: Vec<i64>,
    pub(super) p_deltas: Vec<i64>,
    pub(super) n_deltas: Vec<i64>,
    pub(super) sum: XorField,
    pub(super) err: Option<Error>,
    pub(super) done: bool,
    /// Whether schemas above 8 are reduced on output (off for re-encoding).
    pub(super) reduce: bool,
}

impl<'a> HistogramIterator<'a> {
    /// A cursor over chunk data (the bytes after the encoding byte). Data
    /// shorter than the 3-byte header yields no samples and an error.
    pub fn new(data: &'a [u8]) -> Self {
        let mut it = HistogramIterator {
            data,
            r: BitReader::new(data, 0),
            num_total: 0,
            num_read: 0,
            header: CounterResetHint::Unknown,
            layout: Layout::default(),
            t: i64::MIN,
            cnt: 0,
            z_cnt: 0,
            t_delta: 0,
            cnt_delta: 0,
            z_cnt_delta: 0,
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            p_deltas: Vec::new(),
            n_deltas: Vec::new(),
            sum: XorField::for_reader(0),
            err: None,
            done: false,
            reduce: true,
        };
        it.reset(data);
        it
    }

    /// Restarts on another chunk, keeping the allocated vectors.
    pub fn reset(&mut self, data: &'a [u8]) {
        self.data = data;
        self.r = BitReader::new(data, 8 * HEADER_LEN as u64);
        self.num_read = 0;
        self.t = i64::MIN;
        self.err = None;
        self.done = false;
        if data.len() < HEADER_LEN {
            self.num_total = 0;
            self.header = CounterResetHint::Unknown;
            self.err = Some(Error::MissingHistogramHeader {
                encoding: Encoding::Histogram,
                len: data.len(),
            });
            self.done = true;
            return;
        }
        self.num_total = u16::from_be_bytes([data[0], data[1]]);
        self.header = header_from_bits(data[2]);
    }

    /// The sample count from the header.
    pub fn num_samples(&self) -> usize {
        usize::from(self.num_total)
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHint {
        self.header
    }

    /// The decoding error, if iteration stopped because of one.
    pub fn error(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    fn fail(&mut self, err: Error) -> ValueType {
        self.err = Some(err);
        self.done = true;
        ValueType::None
    }

    fn truncated(&self, start: u64) -> Error {
        Error::HistogramTruncated {
            encoding: Encoding::Histogram,
            sample: self.num_read,
            num_samples: self.num_total,
            bit_offset: start,
            len: self.data.len(),
        }
    }

    fn read_first(&mut self) -> Result<(), Error> {
        let len = self.data.len();
        let r = &mut self.r;
        self.layout
            .read(r, Encoding::Histogram, len, self.num_total)?;
        let np = bucket_count(&self.layout.positive);
        let nn = bucket_count(&self.layout.negative);
        // Every bucket of the first sample takes at least one bit.
        check_count(
            r,
            (np as u64).saturating_add(nn as u64),
            1,
            r.position(),
            Encoding::Histogram,
            crate::error::LayoutPart::Buckets,
        )?;
        let start = r.position();
        self.t = read_varbit_int(r);
        self.cnt = read_varbit_uint(r);
        self.z_cnt = read_varbit_uint(r);
        self.sum = XorField::for_reader(r.read_bits(64));
        for (buckets, deltas, n) in [
            (&mut self.p_buckets, &mut self.p_deltas, np),
            (&mut self.n_buckets, &mut self.n_deltas, nn),
        ] {
            buckets.clear();
            deltas.clear();
            deltas.resize(n, 0);
            buckets.extend((0..n).map(|_| read_varbit_int(r)));
        }
        self.t_delta = 0;
        self.cnt_delta = 0;
        self.z_cnt_delta = 0;
        if self.r.overran() {
            return Err(self.truncated(start));
        }
        Ok(())
    }

    fn read_later(&mut self) -> Result<(), Error> {
        let r = &mut self.r;
        let start = r.position();
        self.t_delta = self.t_delta.wrapping_add(read_varbit_int(r));
        self.t = self.t.wrapping_add(self.t_delta);
        self.cnt_delta = self.cnt_delta.wrapping_add(read_varbit_int(r));
        self.cnt = self.cnt.wrapping_add(self.cnt_delta as u64);
        self.z_cnt_delta = self.z_cnt_delta.wrapping_add(read_varbit_int(r));
        self.z_cnt = self.z_cnt.wrapping_add(self.z_cnt_delta as u64);
        if let Err((leading, significant)) = self.sum.read(r) {
            return Err(Error::HistogramBadValueWindow {
                encoding: Encoding::Histogram,
                sample: self.num_read,
                bit_offset: start,
                leading,
                significant,
            });
        }
        if !is_stale_nan(self.sum.value()) {
            for (buckets, deltas) in [
                (&mut self.p_buckets, &mut self.p_deltas),
                (&mut self.n_buckets, &mut self.n_deltas),
            ] {
                for (b, d) in buckets.iter_mut().zip(deltas.iter_mut()) {
                    *d = d.wrapping_add(read_varbit_int(r));
                    *b = b.wrapping_add(*d);
                }
            }
        }
        if self.r.overran() {
            return Err(self.truncated(start));
        }
        Ok(())
    }
}

/// Fills `h` with a stale marker: nothing but the NaN sum.
fn stale_histogram(h: &mut Histogram, sum: f64) {
    h.counter_reset_hint = CounterResetHint::Unknown;
    h.schema = 0;
    h.zero_threshold = 0.0;
    h.zero_count = 0;
    h.count = 0;
    h.sum = sum;
    h.positive_spans.clear();
    h.negative_spans.clear();
    h.positive_buckets.clear();
    h.negative_buckets.clear();
    h.custom_values.clear();
}

/// Fills `fh` with a stale marker.
pub(crate) fn stale_float_histogram(fh: &mut FloatHistogram, sum: f64) {
    fh.counter_reset_hint = CounterResetHint::Unknown;
    fh.schema = 0;
    fh.zero_threshold = 0.0;
    fh.zero_count = 0.0;
    fh.count = 0.0;
    fh.sum = sum;
    fh.positive_spans.clear();
    fh.negative_spans.clear();
    fh.positive_buckets.clear();
    fh.negative_buckets.clear();
    fh.custom_values.clear();
}

/// Copies the layout into a histogram's span and bound vectors.
pub(crate) fn copy_layout(
    l: &Layout,
    positive: &mut Vec<aion_model::histogram::Span>,
    negative: &mut Vec<aion_model::histogram::Span>,
    custom: &mut Vec<f64>,
) {
    positive.clear();
    positive.extend_from_slice(&l.positive);
    negative.clear();
    negative.extend_from_slice(&l.negative);
    custom.clear();
    custom.extend_from_slice(&l.custom_values);
}

impl SampleIterator for HistogramIterator<'_> {
    fn next(&mut self) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.num_read == self.num_total {
            self.done = true;
            return ValueType::None;
        }
        let read = if self.num_read == 0 {
            self.read_first()
        } else {
            self.read_later()
        };
        if let Err(err) = read {
            return self.fail(err);
        }
        self.num_read += 1;
        ValueType::Histogram
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        while self.num_read == 0 || self.t < t {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
        ValueType::Histogram
    }

    /// Histogram samples have no float value: the timestamp and NaN.
    fn at(&self) -> (i64, f64) {
        (self.t, f64::NAN)
    }

    fn at_histogram(&self, h: &mut Histogram) -> i64 {
        if is_stale_nan(self.sum.value()) {
            stale_histogram(h, self.sum.value());
            return self.t;
        }
        h.counter_reset_hint = sample_hint(self.header, self.num_read);
        h.schema = self.layout.schema;
        h.zero_threshold = self.layout.zero_threshold;
        h.zero_count = self.z_cnt;
        h.count = self.cnt;
        h.sum = self.sum.value();
        copy_layout(
            &self.layout,
            &mut h.positive_spans,
            &mut h.negative_spans,
            &mut h.custom_values,
        );
        h.positive_buckets.clear();
        h.positive_buckets.extend_from_slice(&self.p_buckets);
        h.negative_buckets.clear();
        h.negative_buckets.extend_from_slice(&self.n_buckets);
        if self.reduce && h.schema > MAX_SCHEMA && h.schema != CUSTOM_BUCKETS_SCHEMA {
            // A finer schema than Prometheus computes with (rare: a newer
            // writer); reduced as Prometheus's reader does.
            h.reduce_resolution(MAX_SCHEMA);
        }
        self.t
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        if is_stale_nan(self.sum.value()) {
            stale_float_histogram(fh, self.sum.value());
            return self.t;
        }
        fh.counter_reset_hint = sample_hint(self.header, self.num_read);
        fh.schema = self.layout.schema;
        fh.zero_threshold = self.layout.zero_threshold;
        fh.zero_count = self.z_cnt as f64;
        fh.count = self.cnt as f64;
        fh.sum = self.sum.value();
        copy_layout(
            &self.layout,
            &mut fh.positive_spans,
            &mut fh.negative_spans,
            &mut fh.custom_values,
        );
        // Prometheus accumulates in float64, so do the same (an int64 sum
        // could wrap where the float one does not).
        for (out, deltas) in [
            (&mut fh.positive_buckets, &self.p_buckets),
            (&mut fh.negative_buckets, &self.n_buckets),
        ] {
            out.clear();
            let mut acc = 0.0;
            out.extend(deltas.iter().map(|&d| {
                acc += d as f64;
                acc
            }));
        }
        if self.reduce && fh.schema > MAX_SCHEMA && fh.schema != CUSTOM_BUCKETS_SCHEMA {
            fh.reduce_resolution(MAX_SCHEMA);
        }
        self.t
    }

    fn at_t(&self) -> i64 {
        self.t
    }

    fn err(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.err.as_ref().map(|e| e as _)
    }
}
