//! `generatorURL`: the link from an alert back to its expression, as
//! Prometheus's `strutil.TableLinkForExpression` builds it.

/// `/graph?g0.expr=<expr, query-escaped>&g0.tab=1`.
pub fn table_link_for_expression(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 24);
    out.push_str("/graph?g0.expr=");
    query_escape_into(expr, &mut out);
    out.push_str("&g0.tab=1");
    out
}

/// Go's `url.QueryEscape`: unreserved bytes (`A-Z a-z 0-9 - _ . ~`)
/// stay, a space becomes `+`, every other byte `%XX` (upper-case hex).
pub fn query_escape_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go_does() {
        // url.QueryEscape(`sum(rate(x{a="b"}[5m])) > 0.5 ~é`)
        assert_eq!(
            table_link_for_expression("sum(rate(x{a=\"b\"}[5m])) > 0.5 ~é"),
            "/graph?g0.expr=sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29+%3E+0.5+~%C3%A9&g0.tab=1"
        );
    }
}
