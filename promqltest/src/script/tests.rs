//! Unit tests of the script parser: expansions, labels, numbers and a
//! whole script.

use super::*;

fn values(s: &str) -> Vec<SeqValue> {
    parse_series_line(1, &format!("m {s}")).unwrap().1
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

#[test]
fn expansions() {
    assert_eq!(floats("-2+4x3"), [-2.0, 2.0, 6.0, 10.0]);
    assert_eq!(floats("1-2x4"), [1.0, -1.0, -3.0, -5.0, -7.0]);
    assert_eq!(floats("7x2"), [7.0, 7.0, 7.0]);
    assert_eq!(floats("1e3 2.5E-4 .5 1_000"), [1000.0, 2.5e-4, 0.5, 1000.0]);
    assert_eq!(floats("1e+30x1"), [1e30, 1e30]);
    assert_eq!(values("1 _x2 stale 4").len(), 5);
    assert!(matches!(
        values("_x3")[..],
        [SeqValue::Omitted, SeqValue::Omitted, SeqValue::Omitted]
    ));
    let v = values("NaN Inf -Inf");
    assert!(matches!(v[0], SeqValue::Float(f) if f.is_nan()));
    assert_eq!(floats("Inf -Inf")[..], [f64::INFINITY, f64::NEG_INFINITY]);
    let h = values("{{schema:0 sum:1 count:1}}x2 {{count:1}}+{{count:2}}x3 5");
    assert_eq!(h.len(), 8);
    assert_eq!(h[7], SeqValue::Float(5.0));
}

#[test]
fn huge_expansions_are_errors() {
    assert!(parse_series_line(1, "m 1x100000000000").is_err());
    assert!(parse_series_line(1, "m _x100000000000").is_err());
    assert!(parse_script("load 1m\n  m@st 0x99999999999\n  m 1\n").is_err());
}

#[test]
fn labels() {
    let (l, rest) = parse_labels(1, r#"m{a="x y", b='q'} 1"#).unwrap();
    assert_eq!(l.to_string(), r#"{__name__="m", a="x y", b="q"}"#);
    assert_eq!(rest, " 1");
    let (l, _) = parse_labels(1, r#"{"my.metric", a="x",}"#).unwrap();
    assert_eq!(l.get("__name__"), Some("my.metric"));
    let (l, _) = parse_labels(1, "{}").unwrap();
    assert!(l.is_empty());
}

#[test]
fn numbers() {
    assert_eq!(parse_go_number("010"), Some(8.0));
    assert_eq!(parse_go_number("0x10"), Some(16.0));
    assert_eq!(parse_go_number("-1.5e3"), Some(-1500.0));
    assert!(parse_go_number("NaN").unwrap().is_nan());
    assert_eq!(parse_go_number("+Inf"), Some(f64::INFINITY));
    assert_eq!(parse_go_number("foo 1"), None);
    assert_eq!(parse_go_number("{} 1"), None);
}

#[test]
fn a_script() {
    let text = r#"
# a comment
load 1m
  m{a="1"} 0+1x2
  m{a="1"} 5
  s{a="1"}@st _ -30s
  s{a="1"} 1 2

eval instant at 1m m
  expect no_warn
  m{a="1"} 5

eval range from 0 to 2m step 1m m
  expect warn msg: PromQL warning: x
  m{a="1"} 1 _ 3

eval instant at 0 1
  1

eval_fail instant at 0 m
  expected_fail_message boom
"#;
    let cmds = parse_script(text).unwrap();
    assert_eq!(cmds.len(), 5);
    let Command::Load(load) = &cmds[0] else {
        panic!()
    };
    assert_eq!(load.series.len(), 2);
    assert_eq!(load.series[0].samples, vec![(0, SeqValue::Float(5.0))]);
    assert_eq!(
        load.series[1].start_timestamps,
        Some(vec![None, Some(30_000)])
    );
    let Command::Eval(e) = &cmds[1] else { panic!() };
    assert!(e.no_warn);
    assert_eq!(e.kind, EvalKind::Instant { at: 60_000 });
    let Command::Eval(e) = &cmds[2] else { panic!() };
    assert_eq!(e.warn.len(), 1);
    assert_eq!(e.series[0].values.len(), 3);
    let Command::Eval(e) = &cmds[3] else { panic!() };
    assert_eq!(e.scalar, Some(1.0));
    let Command::Eval(e) = &cmds[4] else { panic!() };
    assert!(e.fail);
    assert!(matches!(&e.fail_matches[0], TextMatch::Exact(m) if m == "boom"));
}
