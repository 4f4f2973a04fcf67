//! The chunk encoding byte.

use std::fmt;

use crate::Error;

/// How a chunk's bytes are encoded: the byte stored before every chunk in a
/// block's chunk segment files (and, with the out-of-order flag `0x80`
/// masked off, in `chunks_head` files).
///
/// The discriminants are Prometheus's `chunkenc.Encoding` values, so
/// `encoding as u8` is the on-disk byte.
///
/// ```
/// use aion_chunkenc::Encoding;
/// assert_eq!(Encoding::try_from(1), Ok(Encoding::Xor));
/// assert_eq!(Encoding::Xor as u8, 1);
/// assert_eq!(Encoding::Histogram.to_string(), "histogram");
/// assert!(Encoding::try_from(0x2a).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum Encoding {
    /// No data; never valid for a stored chunk.
    None = 0,
    /// Float samples, Gorilla-style XOR compression.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
    /// Floats with optional start timestamps (Prometheus 3.11+, opt-in).
    Xor2 = 4,
    /// Integer native histograms with start timestamps (Prometheus 3.14+).
    HistogramSt = 5,
    /// Float native histograms with start timestamps (Prometheus 3.14+).
    FloatHistogramSt = 6,
    /// Thanos's aggregate chunk of downsampled blocks: five sub-chunks
    /// (count, sum, min, max, counter). Prometheus has no decoder for it;
    /// Aion stores and lends it, and `aion-downsample` reads it.
    ThanosAggr = 0xFF,
}

impl Encoding {
    /// Prometheus's name for the encoding (`Encoding.String()` in Go).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::None => "none",
            Encoding::Xor => "XOR",
            Encoding::Histogram => "histogram",
            Encoding::FloatHistogram => "floathistogram",
            Encoding::Xor2 => "XOR2",
            Encoding::HistogramSt => "histogramST",
            Encoding::FloatHistogramSt => "floathistogramST",
            // Prometheus's `Encoding.String()` knows no name for 0xFF
            // ("<unknown>"); errors name it after its owner instead.
            Encoding::ThanosAggr => "thanos-aggr",
        }
    }

    /// Whether the encoding stores float samples (as opposed to histograms).
    pub fn is_float(self) -> bool {
        matches!(self, Encoding::Xor | Encoding::Xor2)
    }
}

impl TryFrom<u8> for Encoding {
    type Error = Error;

    fn try_from(byte: u8) -> Result<Self, Error> {
        Ok(match byte {
            0 => Encoding::None,
            1 => Encoding::Xor,
            2 => Encoding::Histogram,
            3 => Encoding::FloatHistogram,
            4 => Encoding::Xor2,
            5 => Encoding::HistogramSt,
            6 => Encoding::FloatHistogramSt,
            0xFF => Encoding::ThanosAggr,
            other => return Err(Error::UnknownEncoding(other)),
        })
    }
}

impl From<Encoding> for u8 {
    fn from(encoding: Encoding) -> u8 {
        encoding as u8
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_either_round_trips_or_is_rejected() {
        for byte in 0..=u8::MAX {
            match Encoding::try_from(byte) {
                Ok(encoding) => {
                    assert!(byte <= 6 || byte == 0xFF);
                    assert_eq!(u8::from(encoding), byte);
                }
                Err(err) => {
                    assert!(byte > 6 && byte != 0xFF);
                    assert_eq!(err, Error::UnknownEncoding(byte));
                    assert!(err.to_string().contains(&byte.to_string()));
                }
            }
        }
    }

    #[test]
    fn names_match_prometheus() {
        let names: Vec<_> = (0..=6)
            .map(|b| Encoding::try_from(b).unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "none",
                "XOR",
                "histogram",
                "floathistogram",
                "XOR2",
                "histogramST",
                "floathistogramST"
            ]
        );
    }
}
