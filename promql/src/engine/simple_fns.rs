//! The per-value function tables: PromQL's math functions (`abs`,
//! `sqrt`, `sin`, ...) and date functions (`year`, `hour`, ...) as plain
//! `fn` pointers, and Go's `math.Max`/`math.Min`. The dispatch in
//! `functions.rs` maps them over series.

use aion_model::civil::{civil_from_days, days_from_civil};

/// The simple float functions: one value in, one value out.
pub(crate) fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// The date functions, over Unix seconds (UTC).
pub(crate) fn date_fn(name: &str) -> Option<fn(i64) -> f64> {
    Some(match name {
        "year" => |s| civil(s).0 as f64,
        "month" => |s| civil(s).1 as f64,
        "day_of_month" => |s| civil(s).2 as f64,
        "day_of_week" => |s| (s.div_euclid(86_400) + 4).rem_euclid(7) as f64,
        "day_of_year" => |s| {
            let days = s.div_euclid(86_400);
            let (y, _, _) = civil(s);
            (days - days_from_civil(y, 1, 1) + 1) as f64
        },
        "days_in_month" => |s| {
            let (y, m, _) = civil(s);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as f64
        },
        "hour" => |s| (s.rem_euclid(86_400) / 3600) as f64,
        "minute" => |s| (s.rem_euclid(3600) / 60) as f64,
        _ => return None,
    })
}

fn civil(secs: i64) -> (i64, u32, u32) {
    civil_from_days(secs.div_euclid(86_400))
}

/// Go's `math.Max` / `math.Min` (NaN wins).
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else {
        a.max(b)
    }
}

pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2000-02-29T12:34:56Z
        let s = 951_827_696;
        assert_eq!(date_fn("year").unwrap()(s), 2000.0);
        assert_eq!(date_fn("month").unwrap()(s), 2.0);
        assert_eq!(date_fn("day_of_month").unwrap()(s), 29.0);
        assert_eq!(date_fn("days_in_month").unwrap()(s), 29.0);
        assert_eq!(date_fn("day_of_year").unwrap()(s), 60.0);
        assert_eq!(date_fn("day_of_week").unwrap()(s), 2.0);
        assert_eq!(date_fn("hour").unwrap()(s), 12.0);
        assert_eq!(date_fn("minute").unwrap()(s), 34.0);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn go_min_max() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(!go_max(-0.0, 0.0).is_sign_negative());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
    }
}
