//! The template functions: Go's builtins that rule templates use and
//! Prometheus's formatting functions, with their results and errors.

use super::printf::sprintf;
use super::value::Value;
use aion_model::gotext::format_go_g_prec;

/// Functions this module implements.
const SUPPORTED: &[&str] = &[
    // Go builtins.
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println", // Prometheus's functions.
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "stripPort",
    "match",
    "reReplaceAll",
    "safeHtml",
    "parseDuration",
];

/// Prometheus (or Go) functions this module does not implement: a template
/// using one is refused at load with a message saying so, not with Go's
/// "not defined".
const UNSUPPORTED: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "args",
    "tmpl",
    "safeHtmlAttr",
    "externalURL",
    "pathPrefix",
    "graphLink",
    "tableLink",
    "stripDomain",
    "toTime",
    "toDuration",
    "now",
    "humanizeDurationSeconds",
    "html",
    "js",
    "urlquery",
    "call",
    "slice",
];

pub(super) fn is_supported(name: &str) -> bool {
    SUPPORTED.contains(&name)
}

pub(super) fn is_unsupported_prometheus(name: &str) -> bool {
    UNSUPPORTED.contains(&name)
}

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        ))
    }
}

/// Calls `name`; errors are worded as Go's `text/template` reports them.
pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let calling = |e: String| format!("error calling {name}: {e}");
    match name {
        "and" | "or" => {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let want = name == "or";
            for a in &args {
                if a.truth() == want {
                    return Ok(a.clone());
                }
            }
            Ok(args.last().cloned().unwrap_or(Value::Nil))
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(calling("missing argument for comparison".into()));
            }
            let mut any = false;
            for b in &args[1..] {
                if equal(&args[0], b).map_err(calling)? {
                    any = true;
                    break;
                }
            }
            Ok(Value::Bool(if name == "eq" { any } else { !any }))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let ord = compare(&args[0], &args[1]).map_err(calling)?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "lt" => ord == Some(Less),
                "le" => matches!(ord, Some(Less | Equal)),
                "gt" => ord == Some(Greater),
                _ => matches!(ord, Some(Greater | Equal)),
            }))
        }
        "len" => {
            arity(name, &args, 1)?;
            match &args[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                other => Err(calling(format!("len of type {}", other.go_type()))),
            }
        }
        "index" => {
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let mut v = args[0].clone();
            for k in &args[1..] {
                v = match (&v, k) {
                    (Value::Map(m), Value::Str(k)) => Value::Str(
                        m.iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                    ),
                    (Value::Map(_), k) => {
                        return Err(calling(format!(
                            "value has type {}; should be string",
                            k.go_type()
                        )))
                    }
                    (v, _) => {
                        return Err(calling(format!("can't index item of type {}", v.go_type())))
                    }
                };
            }
            Ok(v)
        }
        "print" | "println" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                // Print adds spaces between operands when neither is a string.
                let space = name == "println"
                    || (i > 0
                        && !matches!(a, Value::Str(_))
                        && !matches!(args[i - 1], Value::Str(_)));
                if i > 0 && space {
                    out.push(' ');
                }
                out.push_str(&a.to_text());
            }
            if name == "println" {
                out.push('\n');
            }
            Ok(Value::Str(out))
        }
        "printf" => {
            let Some(Value::Str(format)) = args.first() else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    args.first().map_or("<nil>", |a| a.go_type())
                ));
            };
            Ok(Value::Str(sprintf(format, &args[1..])))
        }
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
        | "humanizeTimestamp" => {
            arity(name, &args, 1)?;
            let v = to_float(&args[0]).map_err(calling)?;
            Ok(Value::Str(match name {
                "humanize" => humanize(v),
                "humanize1024" => humanize1024(v),
                "humanizeDuration" => humanize_duration(v),
                "humanizePercentage" => format!("{}%", format_go_g_prec(v * 100.0, 4)),
                _ => humanize_timestamp(v),
            }))
        }
        "toUpper" | "toLower" | "title" | "stripPort" | "safeHtml" => {
            arity(name, &args, 1)?;
            let Value::Str(s) = &args[0] else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    args[0].go_type()
                ));
            };
            Ok(Value::Str(match name {
                "toUpper" => s.to_uppercase(),
                "toLower" => s.to_lowercase(),
                "title" => title(s),
                "stripPort" => strip_port(s),
                _ => s.clone(),
            }))
        }
        "match" => {
            arity(name, &args, 2)?;
            let (Value::Str(re), Value::Str(s)) = (&args[0], &args[1]) else {
                return Err(calling("arguments must be strings".into()));
            };
            let re = regex::Regex::new(re).map_err(|e| calling(e.to_string()))?;
            Ok(Value::Bool(re.is_match(s)))
        }
        "reReplaceAll" => {
            arity(name, &args, 3)?;
            let (Value::Str(re), Value::Str(repl), Value::Str(s)) = (&args[0], &args[1], &args[2])
            else {
                return Err(calling("arguments must be strings".into()));
            };
            let re = regex::Regex::new(re).map_err(|e| calling(e.to_string()))?;
            Ok(Value::Str(re.replace_all(s, repl.as_str()).into_owned()))
        }
        "parseDuration" => {
            arity(name, &args, 1)?;
            let Value::Str(s) = &args[0] else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    args[0].go_type()
                ));
            };
            let ms = aion_promql::parser::parse_duration(s).map_err(calling)?;
            Ok(Value::Float(ms as f64 / 1000.0))
        }
        _ => Err(format!("function \"{name}\" not defined")),
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::Map(_), Value::Map(_)) => return Err("non-comparable types".into()),
        _ => return Err("incompatible types for comparison".into()),
    })
}

fn compare(a: &Value, b: &Value) -> Result<Option<std::cmp::Ordering>, String> {
    let basic = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_) | Value::Str(_));
    if !basic(a) || !basic(b) {
        return Err("invalid type for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => return Err("incompatible types for comparison".into()),
    })
}

/// Prometheus's `convertToFloat`.
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => s.parse::<f64>().map_err(|_| {
            format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                aion_model::gotext::go_quote(s)
            )
        }),
        other => Err(format!("can't convert {} to float", other.go_type())),
    }
}

fn g4(v: f64) -> String {
    format_go_g_prec(v, 4)
}

/// Prometheus's `humanize`: SI prefixes, four significant digits.
pub(super) fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanize1024`: binary prefixes.
fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus's `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`,
/// `250ms`.
pub(super) fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Prometheus's `humanizeTimestamp` of Unix seconds: Go's `time.Time`
/// text in UTC (`2009-02-13 23:31:30 +0000 UTC`).
fn humanize_timestamp(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    let secs = v.floor() as i64;
    let nanos = ((v - v.floor()) * 1e9).round() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = aion_model::civil::civil_from_days(days);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if nanos > 0 && nanos < 1_000_000_000 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Prometheus's `stripPort`: the host of `host:port`, else the input.
fn strip_port(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            if !port.contains(':') {
                return host.to_string();
            }
        }
        return s.to_string();
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => host.to_string(),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_prometheus() {
        // Expectations from Prometheus's template_test.go.
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1.0), "1");
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0012345), "1.234m");
        assert_eq!(humanize(1e-7), "100n");
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(1.0), "1s");
        assert_eq!(humanize_duration(60.0), "1m 0s");
        assert_eq!(humanize_duration(3600.0), "1h 0m 0s");
        assert_eq!(humanize_duration(86400.0 + 3661.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(-3.5), "-3.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(0.0000002), "200ns");
        assert_eq!(
            humanize_timestamp(1_234_567_890.0),
            "2009-02-13 23:31:30 +0000 UTC"
        );
        assert_eq!(humanize_timestamp(1.5), "1970-01-01 00:00:01.5 +0000 UTC");
    }

    #[test]
    fn comparisons_follow_go_kinds() {
        assert_eq!(
            call("gt", vec![Value::Float(2.0), Value::Int(1)]).unwrap_err(),
            "error calling gt: incompatible types for comparison"
        );
        assert_eq!(
            call("gt", vec![Value::Float(2.0), Value::Float(1.0)]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call("eq", vec![Value::Str("".into()), Value::Str("a".into())]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            call(
                "eq",
                vec![
                    Value::Str("b".into()),
                    Value::Str("a".into()),
                    Value::Str("b".into())
                ]
            )
            .unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call("humanize", vec![Value::Str("x".into())]).unwrap_err(),
            "error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            call("humanize", vec![]).unwrap_err(),
            "wrong number of args for humanize: want 1 got 0"
        );
    }

    #[test]
    fn strings() {
        assert_eq!(title("hello wide world"), "Hello Wide World");
        assert_eq!(strip_port("host:9090"), "host");
        assert_eq!(strip_port("[::1]:9090"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(
            call(
                "reReplaceAll",
                vec![
                    Value::Str("(a)b".into()),
                    Value::Str("${1}x".into()),
                    Value::Str("abab".into())
                ]
            )
            .unwrap(),
            Value::Str("axax".into())
        );
    }
}
