//! Metadata records (type 6): metric type, unit and help of a series.
//!
//! ```text
//! u8 type = 6
//! repeated: uvarint ref, u8 metric_type, uvarint field_count,
//!           field_count × (string key, string value)
//! ```
//!
//! Writers emit two fields, `UNIT` then `HELP`; other keys are skipped.

use super::buf::{slot, Buf};
use super::error::DecodeError;
use super::RecordType;
use aion_model::encoding::{put_uvarint, put_uvarint_bytes};

const UNIT: &str = "UNIT";
const HELP: &str = "HELP";

/// The type of a metric, as in the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MetricType {
    /// `unknown` (byte 0).
    #[default]
    Unknown,
    /// `counter` (1).
    Counter,
    /// `gauge` (2).
    Gauge,
    /// `histogram` (3).
    Histogram,
    /// `gaugehistogram` (4).
    GaugeHistogram,
    /// `summary` (5).
    Summary,
    /// `info` (6).
    Info,
    /// `stateset` (7).
    StateSet,
    /// A byte no known version writes; kept so it survives re-encoding.
    Other(u8),
}

impl MetricType {
    /// The type for a record byte.
    pub fn from_byte(b: u8) -> MetricType {
        match b {
            0 => MetricType::Unknown,
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            b => MetricType::Other(b),
        }
    }

    /// The record byte.
    pub fn to_byte(self) -> u8 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::GaugeHistogram => 4,
            MetricType::Summary => 5,
            MetricType::Info => 6,
            MetricType::StateSet => 7,
            MetricType::Other(b) => b,
        }
    }
}

/// Metadata of a head series.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefMetadata {
    /// Head series reference.
    pub r#ref: u64,
    /// Metric type.
    pub metric_type: MetricType,
    /// Unit (may be empty).
    pub unit: String,
    /// Help text (may be empty).
    pub help: String,
}

/// Appends a metadata record to `buf`.
pub fn encode_metadata(metadata: &[RefMetadata], buf: &mut Vec<u8>) {
    buf.push(RecordType::Metadata as u8);
    for m in metadata {
        put_uvarint(buf, m.r#ref);
        buf.push(m.metric_type.to_byte());
        put_uvarint(buf, 2);
        put_uvarint_bytes(buf, UNIT.as_bytes());
        put_uvarint_bytes(buf, m.unit.as_bytes());
        put_uvarint_bytes(buf, HELP.as_bytes());
        put_uvarint_bytes(buf, m.help.as_bytes());
    }
}

/// Decodes a metadata record into `out`, replacing its contents. The
/// strings of elements already in `out` are reused.
pub fn decode_metadata(rec: &[u8], out: &mut Vec<RefMetadata>) -> Result<(), DecodeError> {
    let (mut b, _) = Buf::new_typed(
        rec,
        "metadata",
        &[RecordType::Metadata as u8],
        "6 (metadata)",
    )?;
    let mut n = 0;
    let result = (|| {
        while !b.is_empty() {
            let r#ref = b.uvarint("series ref")?;
            let metric_type = MetricType::from_byte(b.byte("metric type")?);
            let fields = b.count("field count", 2)?;
            let m = slot(out, n);
            m.r#ref = r#ref;
            m.metric_type = metric_type;
            m.unit.clear();
            m.help.clear();
            for _ in 0..fields {
                let key = b.str("field name")?;
                let value = b.str("field value")?;
                match key {
                    UNIT => value.clone_into(&mut m.unit),
                    HELP => value.clone_into(&mut m.help),
                    _ => {}
                }
            }
            n += 1;
        }
        Ok(())
    })();
    out.truncate(n);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_fields() {
        let m = RefMetadata {
            r#ref: 300,
            metric_type: MetricType::Counter,
            unit: "seconds".into(),
            help: "Total time.".into(),
        };
        let mut buf = Vec::new();
        encode_metadata(std::slice::from_ref(&m), &mut buf);
        let mut out = vec![RefMetadata::default(); 2];
        decode_metadata(&buf, &mut out).unwrap();
        assert_eq!(out, std::slice::from_ref(&m));

        // Three fields, one unknown, in another order.
        let mut buf = vec![6, 5, 2, 3];
        for s in ["HELP", "h", "OTHER", "x", "UNIT", "u"] {
            put_uvarint_bytes(&mut buf, s.as_bytes());
        }
        decode_metadata(&buf, &mut out).unwrap();
        assert_eq!(
            out,
            [RefMetadata {
                r#ref: 5,
                metric_type: MetricType::Gauge,
                unit: "u".into(),
                help: "h".into()
            }]
        );
        assert_eq!(MetricType::from_byte(9), MetricType::Other(9));
        assert_eq!(MetricType::Other(9).to_byte(), 9);
    }
}
