//! The JUnit XML report `promtool test --junit FILE rules ...` writes:
//! one `testsuite` per test file, one `testcase` per test group run, a
//! `failure` per failed check and an `error` when the file itself could
//! not be used, encoded as Go's `encoding/xml` encodes promtool's
//! structures (no indentation, no XML declaration).

use std::fmt::Write as _;

use super::Outcome;

/// The report of `files` (each file as given and its outcome).
///
/// ```
/// use aion_rules::unittest::{junit, Case, Outcome};
/// let ok = Outcome {
///     cases: vec![Case { name: "a".into(), failures: vec![] }],
///     ..Outcome::default()
/// };
/// assert_eq!(
///     junit::report(&[("t.yml", &ok)]),
///     r#"<testsuites><testsuite name="t.yml" tests="1" failures="0" errors="0" skipped="0" timestamp=""><testcase name="a"></testcase></testsuite></testsuites>"#
/// );
/// ```
pub fn report(files: &[(&str, &Outcome)]) -> String {
    let mut x = String::from("<testsuites>");
    for (name, o) in files {
        let mut cases: Vec<(String, Vec<String>, String)> = o
            .cases
            .iter()
            .map(|c| (c.name.clone(), c.failures.clone(), String::new()))
            .collect();
        let mut errors = 0;
        if o.aborted {
            // `Abort` puts the error on the last case, made up if none.
            if cases.is_empty() {
                cases.push(("unknown".into(), Vec::new(), String::new()));
            }
            errors = 1;
            if let (Some(last), Some(e)) = (cases.last_mut(), o.errors.first()) {
                last.2.clone_from(e);
            }
        }
        let failures: usize = cases.iter().map(|c| c.1.len()).sum();
        let _ = write!(
            x,
            r#"<testsuite name="{}" tests="{}" failures="{failures}" errors="{errors}" skipped="0" timestamp="{}">"#,
            escape(name),
            cases.len(),
            o.started_ms.map(timestamp).unwrap_or_default()
        );
        for (case, fails, error) in &cases {
            let _ = write!(x, r#"<testcase name="{}">"#, escape(case));
            for f in fails {
                let _ = write!(x, "<failure>{}</failure>", escape(f));
            }
            if !error.is_empty() {
                let _ = write!(x, "<error>{}</error>", escape(error));
            }
            x.push_str("</testcase>");
        }
        x.push_str("</testsuite>");
    }
    x.push_str("</testsuites>");
    x
}

/// Go's `xml.EscapeText`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// The characters XML 1.0 allows.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// `time.Now().Format("2006-01-02T15:04:05")`, in UTC.
fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::super::Case;
    use super::*;

    #[test]
    fn failures_and_aborts_are_encoded_as_promtool() {
        let failed = Outcome {
            errors: vec!["    expr: \"up\"\n  <x> & 'y'".into()],
            cases: vec![
                Case {
                    name: "ok".into(),
                    failures: vec![],
                },
                Case {
                    name: "bad".into(),
                    failures: vec!["    expr: \"up\"\n  <x> & 'y'".into()],
                },
            ],
            started_ms: Some(1_704_067_200_000),
            ..Outcome::default()
        };
        let aborted = Outcome {
            errors: vec!["yaml: line 1: did not find expected key".into()],
            aborted: true,
            ..Outcome::default()
        };
        assert_eq!(
            report(&[("a.yml", &failed), ("b.yml", &aborted)]),
            "<testsuites><testsuite name=\"a.yml\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" \
             timestamp=\"2024-01-01T00:00:00\"><testcase name=\"ok\"></testcase><testcase name=\"bad\">\
             <failure>    expr: &#34;up&#34;&#xA;  &lt;x&gt; &amp; &#39;y&#39;</failure></testcase></testsuite>\
             <testsuite name=\"b.yml\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" timestamp=\"\">\
             <testcase name=\"unknown\"><error>yaml: line 1: did not find expected key</error></testcase>\
             </testsuite></testsuites>"
        );
    }
}
