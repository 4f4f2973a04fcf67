//! Request parameters as Go's `http.Request.ParseForm` reads them: the
//! `application/x-www-form-urlencoded` body of a POST first, then the URL
//! query, `+` as a space, `%XX` escapes decoded. Prometheus's API reads
//! every parameter this way, so Grafana's POSTed queries and curl's GETs
//! are answered alike.

/// The decoded parameters of one request, in Go's order (body, then URL).
#[derive(Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parses the URL query and, when given, a form-encoded body.
    /// An invalid escape fails as Go's `ParseForm` does, naming it.
    pub fn parse(query: Option<&str>, body: Option<&[u8]>) -> Result<Form, String> {
        let mut form = Form::default();
        if let Some(body) = body {
            let text =
                std::str::from_utf8(body).map_err(|_| "request body is not UTF-8".to_string())?;
            form.add(text)?;
        }
        if let Some(q) = query {
            form.add(q)?;
        }
        Ok(form)
    }

    fn add(&mut self, text: &str) -> Result<(), String> {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            self.pairs.push((unescape(k)?, unescape(v)?));
        }
        Ok(())
    }

    /// The first value of `name`, `""` when absent (Go's `FormValue`).
    pub fn value(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (Go's `r.Form[name]`).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes `+` and `%XX` (Go's `url.QueryUnescape`).
pub fn unescape(s: &str) -> Result<String, String> {
    unescape_with(s, true)
}

/// Decodes `%XX` only, as a URL path segment (`+` stays).
pub fn unescape_path(s: &str) -> Result<String, String> {
    unescape_with(s, false)
}

fn unescape_with(s: &str, plus_is_space: bool) -> Result<String, String> {
    if !s.contains(['%', '+']) {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                let Some(byte) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!(
                        "invalid URL escape {}",
                        aion_model::gotext::go_quote(&bad)
                    ));
                };
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Go keeps invalid UTF-8 bytes; a Rust string cannot, and no valid
    // parameter needs them.
    String::from_utf8(out).map_err(|_| format!("parameter {s:?} is not UTF-8 once unescaped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_first_then_url() {
        let f = Form::parse(
            Some("query=up&match%5B%5D=b&time=1"),
            Some(b"query=rate%28x%5B5m%5D%29+%2B+1&match[]=a"),
        )
        .unwrap();
        assert_eq!(f.value("query"), "rate(x[5m]) + 1");
        assert_eq!(f.values("match[]"), ["a", "b"]);
        assert_eq!(f.value("time"), "1");
        assert_eq!(f.value("missing"), "");
    }

    #[test]
    fn bad_escape_is_an_error() {
        assert_eq!(
            Form::parse(Some("query=%zz"), None).unwrap_err(),
            r#"invalid URL escape "%zz""#
        );
        assert!(Form::parse(Some("query=%2"), None).is_err());
        assert_eq!(unescape_path("a+b%2Fc").unwrap(), "a+b/c");
    }
}
