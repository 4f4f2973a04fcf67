//! Native histogram values and their encoding inside sample records.
//!
//! ```text
//! u8 counter_reset_hint, varint schema, be64 zero_threshold,
//! integer: uvarint zero_count, uvarint count   | float: be64 zero_count, be64 count
//! be64 sum,
//! uvarint #pos_spans, (varint offset, uvarint length)…,
//! uvarint #neg_spans, (varint offset, uvarint length)…,
//! uvarint #pos_buckets, integer: varint delta… | float: be64 count…,
//! uvarint #neg_buckets, likewise,
//! if schema = −53: uvarint #custom_values, be64 bound…
//! ```
//!
//! The decoders check the encoding only; whether a schema is one Aion can
//! store is the head's decision.

use super::buf::Buf;
use super::error::{DecodeError, Problem};
use aion_model::encoding::{put_be64, put_uvarint, put_varint};

pub use aion_model::histogram::{
    CounterResetHint, FloatHistogram, Histogram, Span, CUSTOM_BUCKETS_SCHEMA,
};

/// The counter-reset hint of a record's byte (0–3), `None` for others.
fn hint_from_byte(b: u8) -> Option<CounterResetHint> {
    Some(match b {
        0 => CounterResetHint::Unknown,
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => return None,
    })
}

/// The record byte of a counter-reset hint.
fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

/// The two histogram flavours, for the shared record code.
pub(crate) trait HistogramValue: Default {
    fn encode(&self, buf: &mut Vec<u8>);
    /// Decodes into `self`, reusing its vectors.
    fn decode_into(&mut self, b: &mut Buf<'_>) -> Result<(), DecodeError>;
}

fn put_spans(buf: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(buf, spans.len() as u64);
    for s in spans {
        put_varint(buf, i64::from(s.offset));
        put_uvarint(buf, u64::from(s.length));
    }
}

fn read_spans(b: &mut Buf<'_>, out: &mut Vec<Span>, what: &'static str) -> Result<(), DecodeError> {
    out.clear();
    let n = b.count(what, 2)?;
    out.reserve(n);
    for _ in 0..n {
        let offset = b.varint32("span offset")?;
        let length = b.uvarint32("span length")?;
        out.push(Span { offset, length });
    }
    Ok(())
}

fn put_floats(buf: &mut Vec<u8>, v: &[f64]) {
    put_uvarint(buf, v.len() as u64);
    for x in v {
        put_be64(buf, x.to_bits());
    }
}

fn read_floats(b: &mut Buf<'_>, out: &mut Vec<f64>, what: &'static str) -> Result<(), DecodeError> {
    out.clear();
    let n = b.count(what, 8)?;
    out.reserve(n);
    for _ in 0..n {
        out.push(b.be64_f64(what)?);
    }
    Ok(())
}

fn read_header(b: &mut Buf<'_>) -> Result<(CounterResetHint, i32, f64), DecodeError> {
    let at = b.pos();
    let hint = b.byte("counter reset hint")?;
    let hint = hint_from_byte(hint)
        .ok_or_else(|| b.error_at(at, Problem::UnknownCounterResetHint(hint)))?;
    let schema = b.varint32("schema")?;
    let zero_threshold = b.be64_f64("zero threshold")?;
    Ok((hint, schema, zero_threshold))
}

impl HistogramValue for Histogram {
    fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(hint_byte(self.counter_reset_hint));
        put_varint(buf, i64::from(self.schema));
        put_be64(buf, self.zero_threshold.to_bits());
        put_uvarint(buf, self.zero_count);
        put_uvarint(buf, self.count);
        put_be64(buf, self.sum.to_bits());
        put_spans(buf, &self.positive_spans);
        put_spans(buf, &self.negative_spans);
        for buckets in [&self.positive_buckets, &self.negative_buckets] {
            put_uvarint(buf, buckets.len() as u64);
            for &d in buckets {
                put_varint(buf, d);
            }
        }
        if self.uses_custom_buckets() {
            put_floats(buf, &self.custom_values);
        }
    }

    fn decode_into(&mut self, b: &mut Buf<'_>) -> Result<(), DecodeError> {
        (self.counter_reset_hint, self.schema, self.zero_threshold) = read_header(b)?;
        self.zero_count = b.uvarint("zero count")?;
        self.count = b.uvarint("count")?;
        self.sum = b.be64_f64("sum")?;
        read_spans(b, &mut self.positive_spans, "positive spans")?;
        read_spans(b, &mut self.negative_spans, "negative spans")?;
        for (buckets, what) in [
            (&mut self.positive_buckets, "positive buckets"),
            (&mut self.negative_buckets, "negative buckets"),
        ] {
            buckets.clear();
            let n = b.count(what, 1)?;
            buckets.reserve(n);
            for _ in 0..n {
                buckets.push(b.varint(what)?);
            }
        }
        self.custom_values.clear();
        if self.uses_custom_buckets() {
            read_floats(b, &mut self.custom_values, "custom values")?;
        }
        Ok(())
    }
}

impl HistogramValue for FloatHistogram {
    fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(hint_byte(self.counter_reset_hint));
        put_varint(buf, i64::from(self.schema));
        put_be64(buf, self.zero_threshold.to_bits());
        put_be64(buf, self.zero_count.to_bits());
        put_be64(buf, self.count.to_bits());
        put_be64(buf, self.sum.to_bits());
        put_spans(buf, &self.positive_spans);
        put_spans(buf, &self.negative_spans);
        put_floats(buf, &self.positive_buckets);
        put_floats(buf, &self.negative_buckets);
        if self.uses_custom_buckets() {
            put_floats(buf, &self.custom_values);
        }
    }

    fn decode_into(&mut self, b: &mut Buf<'_>) -> Result<(), DecodeError> {
        (self.counter_reset_hint, self.schema, self.zero_threshold) = read_header(b)?;
        self.zero_count = b.be64_f64("zero count")?;
        self.count = b.be64_f64("count")?;
        self.sum = b.be64_f64("sum")?;
        read_spans(b, &mut self.positive_spans, "positive spans")?;
        read_spans(b, &mut self.negative_spans, "negative spans")?;
        read_floats(b, &mut self.positive_buckets, "positive buckets")?;
        read_floats(b, &mut self.negative_buckets, "negative buckets")?;
        self.custom_values.clear();
        if self.uses_custom_buckets() {
            read_floats(b, &mut self.custom_values, "custom values")?;
        }
        Ok(())
    }
}
