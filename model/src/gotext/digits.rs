//! Go's shortest float digits and its `%g` verb, as Prometheus prints
//! sample values in error messages and `promtool tsdb dump` in its output.

use std::fmt::{self, Write};

/// Displays an `f64` exactly as Go's `fmt` `%g` verb does
/// (`strconv.FormatFloat(v, 'g', -1, 64)` plus `fmt`'s sign handling):
/// the shortest digits that round-trip, in exponent form when the decimal
/// exponent is below -4 or at least 6, with at least two exponent digits.
///
/// ```
/// use aion_model::gotext::GoFloat;
/// assert_eq!(GoFloat(123456.0).to_string(), "123456");
/// assert_eq!(GoFloat(123457789.0).to_string(), "1.23457789e+08");
/// assert_eq!(GoFloat(0.0001).to_string(), "0.0001");
/// assert_eq!(GoFloat(0.00001).to_string(), "1e-05");
/// assert_eq!(GoFloat(f64::INFINITY).to_string(), "+Inf");
/// assert_eq!(GoFloat(f64::NAN).to_string(), "NaN");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoFloat(pub f64);

/// A stack buffer for Rust's own digit rendering, so formatting allocates
/// nothing.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The shortest decimal digits that read back as a float, chosen as Go's
/// `strconv` chooses them, which every Prometheus text output uses.
///
/// Rust's shortest formatting finds digits of the same length, but when
/// the float lies exactly halfway between the two nearest candidates (it
/// happens at 16–17 digits, e.g. 2679575.54150390625) Rust picks the upper
/// one and Go rounds half to even: `…062e+06` in Go, `…063e6` in Rust.
/// Both read back as the same float, but Prometheus compatibility is to
/// the byte.
///
/// ```
/// use aion_model::gotext::ShortestDigits;
/// let d = ShortestDigits::of(2679575.54150390625).unwrap();
/// assert_eq!((d.digits(), d.exponent()), ("26795755415039062", 6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortestDigits {
    digits: [u8; 17],
    len: u8,
    exp: i32,
}

impl ShortestDigits {
    /// The digits of `|v|`, or `None` for zero, infinities and NaN.
    pub fn of(v: f64) -> Option<ShortestDigits> {
        let v = v.abs();
        if v == 0.0 || !v.is_finite() {
            return None;
        }
        let mut sci = StackBuf::new();
        write!(sci, "{v:e}").ok()?;
        let mut d = ShortestDigits::parse(&sci.buf[..sci.len])?;
        // Only from 16 digits on can two candidates of the shortest length
        // both read back (a double carries 15.95 decimal digits), so only
        // there can the tie rule matter. Rust's fixed-precision formatting
        // rounds the exact value half to even, as Go does.
        if d.len >= 16 {
            let mut exact = StackBuf::new();
            write!(exact, "{v:.*e}", d.len as usize - 1).ok()?;
            let text = std::str::from_utf8(&exact.buf[..exact.len]).ok()?;
            if text.parse::<f64>() == Ok(v) {
                if let Some(e) = ShortestDigits::parse(text.as_bytes()) {
                    if e.len == d.len {
                        d = e;
                    }
                }
            }
        }
        Some(d)
    }

    /// Reads Rust's `d.ddde<exp>`.
    fn parse(sci: &[u8]) -> Option<ShortestDigits> {
        let e_at = sci.iter().position(|&b| b == b'e')?;
        let exp: i32 = std::str::from_utf8(&sci[e_at + 1..]).ok()?.parse().ok()?;
        let mut out = ShortestDigits {
            digits: [0; 17],
            len: 0,
            exp,
        };
        for &b in &sci[..e_at] {
            if b != b'.' {
                *out.digits.get_mut(out.len as usize)? = b;
                out.len += 1;
            }
        }
        // Rust never ends shortest digits in 0, but fixed precision may.
        while out.len > 1 && out.digits[out.len as usize - 1] == b'0' {
            out.len -= 1;
        }
        Some(out)
    }

    /// The significant digits, without a decimal point: `"15"` for 0.015.
    pub fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or("0")
    }

    /// The decimal exponent of the first digit: -2 for 0.015 (1.5e-02).
    pub fn exponent(&self) -> i32 {
        self.exp
    }
}

impl fmt::Display for GoFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        }
        let (digits, nd, exp) = match ShortestDigits::of(v) {
            Some(d) => (d.digits, d.len as usize, d.exp),
            None => ([b'0'; 17], 1, 0),
        };
        let digits = &digits[..nd];
        if v.is_sign_negative() {
            f.write_char('-')?;
        }
        fn as_str(d: &[u8]) -> &str {
            std::str::from_utf8(d).unwrap_or("")
        }
        if !(-4..6).contains(&exp) {
            // %e: one digit, the rest after the point, exponent of at
            // least two digits.
            f.write_str(as_str(&digits[..1]))?;
            if nd > 1 {
                f.write_char('.')?;
                f.write_str(as_str(&digits[1..]))?;
            }
            let sign = if exp < 0 { '-' } else { '+' };
            return write!(f, "e{sign}{:02}", exp.unsigned_abs());
        }
        // %f with exactly the digits needed.
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            f.write_str("0.")?;
            for _ in 0..-point {
                f.write_char('0')?;
            }
            f.write_str(as_str(digits))
        } else {
            let point = point as usize;
            if nd <= point {
                f.write_str(as_str(digits))?;
                for _ in nd..point {
                    f.write_char('0')?;
                }
                Ok(())
            } else {
                f.write_str(as_str(&digits[..point]))?;
                f.write_char('.')?;
                f.write_str(as_str(&digits[point..]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_go_on_known_values() {
        // Expected strings are what Go 1.19's fmt.Sprintf("%g", v) prints.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123457789.0, "1.23457789e+08"),
            (0.1, "0.1"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.30000000000000004, "0.30000000000000004"),
            (123.456, "123.456"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::from_bits(0x7ff0_0000_0000_0002), "NaN"),
            // Exactly halfway at the 17th digit: Go rounds half to even.
            (
                f64::from_bits(0x4144_718B_C550_0000),
                "2.6795755415039062e+06",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(GoFloat(*v).to_string(), *want, "{v:?}");
        }
    }

    proptest! {
        /// Whatever the value, the text parses back to the same float.
        #[test]
        fn round_trips(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let s = GoFloat(v).to_string();
            let back: f64 = s.parse().unwrap();
            prop_assert_eq!(back.to_bits(), v.to_bits(), "{}", s);
        }
    }
}
