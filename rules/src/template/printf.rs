//! Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %F %e %E
//! %g %G %q %x %X %t %c %%`, with flags `+ - # 0 space`, width and
//! precision; wrong types print Go's `%!d(string=x)` forms.

use aion_model::gotext::{format_go_g, format_go_g_prec, go_quote};

use super::value::Value;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = match format_one(verb, &spec, arg) {
            Some(s) => s,
            None => {
                out.push_str(&format!("%!{verb}({}={})", arg.go_type(), arg.to_text()));
                continue;
            }
        };
        out.push_str(&pad(
            &body,
            &spec,
            matches!(
                verb,
                'd' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X' | 'v'
            ),
        ));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.go_type(), a.to_text()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

fn sign(spec: &Spec, negative: bool, body: String) -> String {
    if negative || body.starts_with('-') {
        body
    } else if spec.plus {
        format!("+{body}")
    } else if spec.space {
        format!(" {body}")
    } else {
        body
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> Option<String> {
    Some(match (verb, arg) {
        ('v', Value::Float(f)) | ('g', Value::Float(f)) => sign(
            spec,
            false,
            match spec.prec {
                Some(p) if verb == 'g' => format_go_g_prec(*f, p),
                _ => format_go_g(*f),
            },
        ),
        ('G', Value::Float(f)) => format_one('g', spec, &Value::Float(*f))?.to_uppercase(),
        ('f' | 'F', Value::Float(f)) => {
            if f.is_finite() {
                sign(spec, false, format!("{:.*}", spec.prec.unwrap_or(6), f))
            } else {
                format_go_g(*f)
            }
        }
        ('e' | 'E', Value::Float(f)) => {
            let s = if f.is_finite() {
                let s = format!("{:.*e}", spec.prec.unwrap_or(6), f);
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                format!(
                    "{m}e{}{:02}",
                    if e < 0 { '-' } else { '+' },
                    e.unsigned_abs()
                )
            } else {
                format_go_g(*f)
            };
            let s = sign(spec, false, s);
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        ('d' | 'v', Value::Int(i)) => sign(spec, *i < 0, i.to_string()),
        ('x', Value::Int(i)) => sign(spec, *i < 0, hex(*i, spec.sharp, false)),
        ('X', Value::Int(i)) => sign(spec, *i < 0, hex(*i, spec.sharp, true)),
        ('c', Value::Int(i)) => char::from_u32(*i as u32).unwrap_or('\u{fffd}').to_string(),
        ('s' | 'v', Value::Str(s)) => match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('q', Value::Str(s)) => go_quote(s),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('t' | 'v', Value::Bool(b)) => b.to_string(),
        ('v', other) | ('s', other @ (Value::Map(_) | Value::Nil)) => other.to_text(),
        _ => return None,
    })
}

fn hex(i: i64, sharp: bool, upper: bool) -> String {
    let s = if upper {
        format!("{:X}", i.unsigned_abs())
    } else {
        format!("{:x}", i.unsigned_abs())
    };
    let s = if sharp {
        format!("{}{s}", if upper { "0X" } else { "0x" })
    } else {
        s
    };
    if i < 0 {
        format!("-{s}")
    } else {
        s
    }
}

fn pad(body: &str, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else {
        return body.to_string();
    };
    let len = body.chars().count();
    if len >= width {
        return body.to_string();
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &body[1..]),
            _ => (String::new(), body),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_match_go() {
        let f = Value::Float;
        assert_eq!(sprintf("%.2f", &[f(1.005)]), "1.00");
        assert_eq!(sprintf("%v|%g", &[f(1e6), f(0.5)]), "1e+06|0.5");
        assert_eq!(sprintf("%.3g", &[f(1234.0)]), "1.23e+03");
        assert_eq!(sprintf("%e", &[f(1234.5)]), "1.234500e+03");
        assert_eq!(sprintf("%5.1f%%", &[f(9.87)]), "  9.9%");
        assert_eq!(
            sprintf("%-4d|%04d", &[Value::Int(7), Value::Int(-7)]),
            "7   |-007"
        );
        assert_eq!(
            sprintf("%s=%q", &[Value::Str("a".into()), Value::Str("b\"".into())]),
            "a=\"b\\\"\""
        );
        assert_eq!(sprintf("%d", &[f(1.5)]), "%!d(float64=1.5)");
        assert_eq!(
            sprintf("%s %s", &[Value::Str("x".into())]),
            "x %!s(MISSING)"
        );
        assert_eq!(
            sprintf("%s", &[Value::Str("x".into()), Value::Int(1)]),
            "x%!(EXTRA int=1)"
        );
        assert_eq!(
            sprintf("%x %t", &[Value::Int(255), Value::Bool(true)]),
            "ff true"
        );
        assert_eq!(sprintf("%f", &[f(f64::INFINITY)]), "+Inf");
    }
}
