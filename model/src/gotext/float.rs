//! Go's `strconv.FormatFloat` forms (`'f'`, `'e'`, `%g`, `%.2g`) as
//! Prometheus prints numbers, so messages, labels (`count_values`) and API
//! output match byte for byte.

use super::ShortestDigits;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits,
/// never an exponent; `NaN`, `+Inf`, `-Inf`.
///
/// ```
/// use aion_model::gotext::format_float;
/// assert_eq!(format_float(1e21), "1000000000000000000000");
/// assert_eq!(format_float(0.1), "0.1");
/// assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
/// ```
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else if v == 0.0 {
        if v.is_sign_negative() { "-0" } else { "0" }.to_string()
    } else {
        let (digits, dp) = shortest_digits(v);
        let mut out = String::new();
        if v < 0.0 {
            out.push('-');
        }
        write_fixed(&mut out, &digits, dp);
        out
    }
}

/// Shortest round-trip decimal digits of a finite, non-zero `|v|` and the
/// position of the decimal point (`0.d1d2… × 10^dp`), as Go's `decimal`.
fn shortest_digits(v: f64) -> (String, i32) {
    // Go's choice of digits, which differs from Rust's on exact ties.
    match ShortestDigits::of(v) {
        Some(d) => (d.digits().to_string(), d.exponent() + 1),
        None => ("0".to_string(), 1),
    }
}

/// `ddd.ddd` from digits and decimal point position, no exponent.
fn write_fixed(out: &mut String, digits: &str, dp: i32) {
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let dp = dp as usize;
        if digits.len() <= dp {
            out.push_str(digits);
            for _ in digits.len()..dp {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp]);
            out.push('.');
            out.push_str(&digits[dp..]);
        }
    }
}

/// `d.ddde±XX` from digits and decimal point position, Go style (at least
/// two exponent digits).
fn write_exp(out: &mut String, digits: &str, dp: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

fn specials(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+06`, `1.5e-07`.
pub fn format_float_exp(v: f64) -> String {
    if let Some(s) = specials(v) {
        return s.to_string();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push_str("0e+00");
        return out;
    }
    let (digits, dp) = shortest_digits(v);
    write_exp(&mut out, &digits, dp);
    out
}

/// Go's `%g` / `%v` for a float64: shortest round-trip digits, in
/// exponent form when the decimal exponent is below -4 or at least 6.
///
/// ```
/// use aion_model::gotext::format_go_g;
/// assert_eq!(format_go_g(1.5), "1.5");
/// assert_eq!(format_go_g(1e20), "1e+20");
/// assert_eq!(format_go_g(123456.0), "123456");
/// assert_eq!(format_go_g(0.00001), "1e-05");
/// assert_eq!(format_go_g(f64::NAN), "NaN");
/// ```
pub fn format_go_g(v: f64) -> String {
    super::GoFloat(v).to_string()
}

/// Go's `%.2g`, used in detailed annotation texts.
pub fn format_go_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    format_go_g_prec(v, 2)
}

/// Go's `%.<prec>g` for a float64 (`prec` significant digits, at least
/// 1; trailing zeros dropped), as Prometheus's template functions print
/// with `%.4g`.
///
/// ```
/// use aion_model::gotext::format_go_g_prec;
/// assert_eq!(format_go_g_prec(1234.5678, 4), "1235");
/// assert_eq!(format_go_g_prec(12345.0, 4), "1.234e+04");
/// assert_eq!(format_go_g_prec(0.5, 4), "0.5");
/// assert_eq!(format_go_g_prec(0.0, 4), "0");
/// ```
pub fn format_go_g_prec(v: f64, prec: usize) -> String {
    if let Some(s) = specials(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits (exact, ties to even, as Go).
    let s = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let dp = exp + 1;
    let mut out = String::new();
    if v < 0.0 {
        out.push('-');
    }
    let nd = digits.len() as i32;
    let p = prec as i32;
    let eprec = if p > nd && nd >= dp { nd } else { p };
    if exp < -4 || exp >= eprec {
        write_exp(&mut out, &digits, dp);
    } else {
        let value: f64 = format!("{}e{}", digits, dp - nd).parse().unwrap_or(0.0);
        out.push_str(&format!("{value}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_matches_fmt_v() {
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1.5e-5, "1.5e-05"),
            (9.223372036854776e18, "9.223372036854776e+18"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_go_g(v), want, "{v}");
        }
    }

    #[test]
    fn exact_ties_round_half_to_even_as_go_does() {
        // 2679575.54150390625, exactly halfway between two 17-digit texts.
        let v = f64::from_bits(0x4144_718B_C550_0000);
        assert_eq!(format_float(v), "2679575.5415039062");
        assert_eq!(format_go_g(v), "2.6795755415039062e+06");
        assert_eq!(format_float_exp(v), "2.6795755415039062e+06");
        assert_eq!(format_float(-0.0), "-0");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(1.5e-7), "0.00000015");
    }

    proptest::proptest! {
        /// Every finite value reads back from each format unchanged.
        #[test]
        fn formats_round_trip(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            for s in [format_float(v), format_go_g(v), format_float_exp(v)] {
                let back: f64 = s.parse().unwrap();
                proptest::prop_assert_eq!(back.to_bits(), v.to_bits(), "{}", s);
            }
        }
    }

    #[test]
    fn exp_format() {
        assert_eq!(format_float_exp(1e-7), "1e-07");
        assert_eq!(format_float_exp(1.5e300), "1.5e+300");
        assert_eq!(format_float_exp(-2e21), "-2e+21");
    }

    #[test]
    fn go_g2() {
        assert_eq!(format_go_g2(0.5), "0.5");
        assert_eq!(format_go_g2(12.0), "12");
        assert_eq!(format_go_g2(123.0), "1.2e+02");
        assert_eq!(format_go_g2(0.123), "0.12");
    }
}
