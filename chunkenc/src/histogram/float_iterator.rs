//! Decoding float histogram chunks (encoding 3).

use std::error::Error as StdError;

use aion_model::histogram::{CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA};

use super::int_iterator::{copy_layout, stale_float_histogram};
use super::layout::{bucket_count, check_count, Layout, MAX_SCHEMA};
use super::varbit::read_varbit_int;
use super::xor_value::XorField;
use super::{header_from_bits, sample_hint, HEADER_LEN};
use crate::bstream::BitReader;
use crate::{is_stale_nan, Encoding, Error, SampleIterator, ValueType};

/// A cursor over the samples of a float histogram chunk, reading the bytes
/// in place; [`SampleIterator::at_float_histogram`] fills the caller's
/// histogram reusing its vectors. Corrupt data ends iteration with an error
/// in [`SampleIterator::err`]; it never panics.
#[derive(Debug, Clone)]
pub struct FloatHistogramIterator<'a> {
    pub(super) data: &'a [u8],
    pub(super) r: BitReader<'a>,
    pub(super) num_total: u16,
    pub(super) num_read: u16,
    pub(super) header: CounterResetHint,
    pub(super) layout: Layout,
    pub(super) t: i64,
    pub(super) t_delta: i64,
    pub(super) cnt: XorField,
    pub(super) z_cnt: XorField,
    pub(super) sum: XorField,
    pub(super) p_buckets: Vec<XorField>,
    pub(super) n_buckets: Vec<XorField>,
    pub(super) err: Option<Error>,
    pub(super) done: bool,
    /// Whether schemas above 8 are reduced on output (off for re-encoding).
    pub(super) reduce: bool,
}

impl<'a> FloatHistogramIterator<'a> {
    /// A cursor over chunk data (the bytes after the encoding byte).
    pub fn new(data: &'a [u8]) -> Self {
        let mut it = FloatHistogramIterator {
            data,
            r: BitReader::new(data, 0),
            num_total: 0,
            num_read: 0,
            header: CounterResetHint::Unknown,
            layout: Layout::default(),
            t: i64::MIN,
            t_delta: 0,
            cnt: XorField::for_reader(0),
            z_cnt: XorField::for_reader(0),
            sum: XorField::for_reader(0),
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
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
                encoding: Encoding::FloatHistogram,
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
            encoding: Encoding::FloatHistogram,
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
            .read(r, Encoding::FloatHistogram, len, self.num_total)?;
        let np = bucket_count(&self.layout.positive);
        let nn = bucket_count(&self.layout.negative);
        // Every bucket of the first sample takes 64 bits.
        check_count(
            r,
            (np as u64).saturating_add(nn as u64),
            64,
            r.position(),
            Encoding::FloatHistogram,
            crate::error::LayoutPart::Buckets,
        )?;
        let start = r.position();
        self.t = read_varbit_int(r);
        self.cnt = XorField::for_reader(r.read_bits(64));
        self.z_cnt = XorField::for_reader(r.read_bits(64));
        self.sum = XorField::for_reader(r.read_bits(64));
        for (fields, n) in [(&mut self.p_buckets, np), (&mut self.n_buckets, nn)] {
            fields.clear();
            fields.extend((0..n).map(|_| XorField::for_reader(r.read_bits(64))));
        }
        self.t_delta = 0;
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
        let mut result = self
            .cnt
            .read(r)
            .and_then(|()| self.z_cnt.read(r))
            .and_then(|()| self.sum.read(r));
        if result.is_ok() && !is_stale_nan(self.sum.value()) {
            result = self
                .p_buckets
                .iter_mut()
                .chain(self.n_buckets.iter_mut())
                .try_for_each(|f| f.read(r));
        }
        if let Err((leading, significant)) = result {
            return Err(Error::HistogramBadValueWindow {
                encoding: Encoding::FloatHistogram,
                sample: self.num_read,
                bit_offset: start,
                leading,
                significant,
            });
        }
        if self.r.overran() {
            return Err(self.truncated(start));
        }
        Ok(())
    }
}

impl SampleIterator for FloatHistogramIterator<'_> {
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
        ValueType::FloatHistogram
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
        ValueType::FloatHistogram
    }

    /// Histogram samples have no float value: the timestamp and NaN.
    fn at(&self) -> (i64, f64) {
        (self.t, f64::NAN)
    }

    fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        if is_stale_nan(self.sum.value()) {
            stale_float_histogram(fh, self.sum.value());
            return self.t;
        }
        fh.counter_reset_hint = sample_hint(self.header, self.num_read);
        fh.schema = self.layout.schema;
        fh.zero_threshold = self.layout.zero_threshold;
        fh.zero_count = self.z_cnt.value();
        fh.count = self.cnt.value();
        fh.sum = self.sum.value();
        copy_layout(
            &self.layout,
            &mut fh.positive_spans,
            &mut fh.negative_spans,
            &mut fh.custom_values,
        );
        fh.positive_buckets.clear();
        fh.positive_buckets
            .extend(self.p_buckets.iter().map(XorField::value));
        fh.negative_buckets.clear();
        fh.negative_buckets
            .extend(self.n_buckets.iter().map(XorField::value));
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
