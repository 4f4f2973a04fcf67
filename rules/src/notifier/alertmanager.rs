//! The body of Alertmanager's `POST /api/v2/alerts`, byte for byte as
//! Prometheus's notifier writes it (go-swagger's `PostableAlerts`): a
//! JSON array of `{"annotations", "endsAt", "startsAt", "generatorURL",
//! "labels"}` objects in that order, label sets as objects with sorted
//! keys, empty annotations and an empty generator URL left out, times as
//! RFC 3339 with milliseconds in UTC.
//!
//! ```
//! use aion_model::Labels;
//! use aion_rules::notifier::{alertmanager::encode_v2, Notification};
//! let n = Notification {
//!     labels: Labels::from_pairs(&[("alertname", "Down"), ("job", "api")]).unwrap(),
//!     annotations: vec![("summary".into(), "api is down".into())],
//!     starts_at: 1_700_000_000_000,
//!     ends_at: 1_700_000_240_000,
//!     generator_url: "http://prom/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
//! };
//! assert_eq!(
//!     encode_v2(&[n]),
//!     r#"[{"annotations":{"summary":"api is down"},"endsAt":"2023-11-14T22:17:20.000Z","startsAt":"2023-11-14T22:13:20.000Z","generatorURL":"http://prom/graph?g0.expr=up+%3D%3D+0\u0026g0.tab=1","labels":{"alertname":"Down","job":"api"}}]"#
//! );
//! ```

use aion_model::gotext::write_json_string;

use super::Notification;
use aion_model::civil::{write_rfc3339, Millis};

/// Encodes `alerts` as Alertmanager's v2 `PostableAlerts`.
pub fn encode_v2(alerts: &[Notification]) -> String {
    let mut out = String::with_capacity(alerts.len() * 256 + 2);
    out.push('[');
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if !a.annotations.is_empty() {
            out.push_str("\"annotations\":");
            let mut sorted: Vec<&(String, String)> = a.annotations.iter().collect();
            sorted.sort_by(|x, y| x.0.cmp(&y.0));
            write_object(
                &mut out,
                sorted.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            out.push(',');
        }
        out.push_str("\"endsAt\":\"");
        write_rfc3339(&mut out, a.ends_at, Millis::Always);
        out.push_str("\",\"startsAt\":\"");
        write_rfc3339(&mut out, a.starts_at, Millis::Always);
        out.push_str("\",");
        if !a.generator_url.is_empty() {
            out.push_str("\"generatorURL\":");
            write_json_string(&mut out, &a.generator_url);
            out.push(',');
        }
        out.push_str("\"labels\":");
        write_object(&mut out, a.labels.iter().map(|l| (l.name, l.value)));
        out.push('}');
    }
    out.push(']');
    out
}

/// Writes sorted pairs as a JSON object; a repeated key keeps its last
/// value, as a Go map would.
fn write_object<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    let pairs: Vec<(&str, &str)> = pairs.collect();
    out.push('{');
    let mut first = true;
    for (i, (k, v)) in pairs.iter().enumerate() {
        if pairs.get(i + 1).is_some_and(|n| n.0 == *k) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_json_string(out, k);
        out.push(':');
        write_json_string(out, v);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_model::Labels;

    #[test]
    fn empty_parts_are_left_out() {
        let n = Notification {
            labels: Labels::from_pairs(&[("alertname", "A")]).unwrap(),
            annotations: vec![],
            starts_at: 0,
            ends_at: 1,
            generator_url: String::new(),
        };
        assert_eq!(
            encode_v2(&[n.clone(), n]),
            r#"[{"endsAt":"1970-01-01T00:00:00.001Z","startsAt":"1970-01-01T00:00:00.000Z","labels":{"alertname":"A"}},{"endsAt":"1970-01-01T00:00:00.001Z","startsAt":"1970-01-01T00:00:00.000Z","labels":{"alertname":"A"}}]"#
        );
        assert_eq!(encode_v2(&[]), "[]");
    }

    #[test]
    fn output_is_json_with_the_values() {
        let n = Notification {
            labels: Labels::from_pairs(&[("alertname", "A\"<"), ("z", "\n")]).unwrap(),
            annotations: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            starts_at: 5,
            ends_at: 6,
            generator_url: "u".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&encode_v2(&[n])).unwrap();
        assert_eq!(v[0]["labels"]["alertname"], "A\"<");
        assert_eq!(v[0]["labels"]["z"], "\n");
        assert_eq!(v[0]["annotations"]["a"], "1");
        assert_eq!(v[0]["generatorURL"], "u");
    }
}
