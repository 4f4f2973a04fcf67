//! Unit tests of the series notation: float and histogram expansions,
//! labels and the bounds on what one line may expand to.

use super::*;

fn values(s: &str) -> Vec<SeqValue> {
    parse_series_desc(&format!("m {s}")).unwrap().1
}

fn floats(s: &str) -> Vec<f64> {
    values(s)
        .into_iter()
        .map(|v| match v {
            SeqValue::Float(f) => f,
            _ => f64::NEG_INFINITY,
        })
        .collect()
}

fn hist(v: &SeqValue) -> &HistLiteral {
    match v {
        SeqValue::Histogram(h) => h,
        other => panic!("not a histogram: {other:?}"),
    }
}

#[test]
fn float_expansions() {
    assert_eq!(floats("-2+4x3"), [-2.0, 2.0, 6.0, 10.0]);
    assert_eq!(floats("1-2x4"), [1.0, -1.0, -3.0, -5.0, -7.0]);
    assert_eq!(floats("7x2"), [7.0, 7.0, 7.0]);
    assert_eq!(floats("1e3 2.5E-4 .5 1_000"), [1000.0, 2.5e-4, 0.5, 1000.0]);
    assert_eq!(floats("Inf -Inf"), [f64::INFINITY, f64::NEG_INFINITY]);
    let v = values("1 _x2 stale _");
    assert_eq!(v.len(), 5);
    assert!(
        matches!(v[3], SeqValue::Float(f) if f.to_bits() == aion_chunkenc::STALE_NAN.to_bits())
    );
    assert_eq!(v[4], SeqValue::Omitted);
}

#[test]
fn histogram_expansions() {
    let v = values("{{sum:3 count:2 buckets:[2]}}+{{sum:1.3 count:1 buckets:[1]}}x2 5");
    assert_eq!(v.len(), 4);
    let last = &hist(&v[2]).h;
    assert_eq!((last.count, last.sum), (4.0, 5.6));
    assert_eq!(last.positive_buckets, [4.0]);
    assert_eq!(v[3], SeqValue::Float(5.0));
    let down = values("{{count:5}}-{{count:2}}x2");
    assert_eq!(hist(&down[2]).h.count, 1.0);
    let rep = values("{{schema:1 sum:1 count:1 buckets:[1] offset:-3}}x2");
    assert_eq!(rep.len(), 3);
    assert!(rep.iter().all(|v| hist(v) == hist(&rep[0])));
    assert_eq!(hist(&rep[0]).h.schema, 1);
}

#[test]
fn bad_values_are_errors() {
    for bad in [
        "m 1+x",
        "m {{count:1}",
        "m {{count:1}}}}",
        "m {{bogus:1}}",
        "m {{count:1}}+{{count:1}}",
        "m {{schema:1 count:1}}+{{schema:0 count:1}}x1",
        "m 1x100000000000",
        "m _x100000000000",
    ] {
        assert!(parse_series_desc(bad).is_err(), "{bad}");
    }
    let wide = format!(
        "m {{{{buckets:[{}]}}}}+{{{{count:1}}}}x100000",
        "1 ".repeat(100)
    );
    let e = parse_series_desc(&wide).unwrap_err();
    assert!(e.contains("histogram buckets"), "{e}");
}

#[test]
fn labels() {
    let (l, rest) = parse_series_labels(r#"m{a="x y", b='q'} 1"#).unwrap();
    assert_eq!(
        (l.get("a"), l.get("b"), rest),
        (Some("x y"), Some("q"), " 1")
    );
    let (l, _) = parse_series_labels(r#"{"my.metric", a="x",}"#).unwrap();
    assert_eq!(l.get("__name__"), Some("my.metric"));
    assert!(parse_series_labels("{}").unwrap().0.is_empty());
    assert!(parse_series_labels(r#"m{a=b}"#).is_err());
    assert!(parse_series_desc(r#"m{a="b"}x 1"#).is_err());
}
