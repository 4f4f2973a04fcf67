use proptest::prelude::*;

use super::*;
use crate::ast::{TreeDisplay, ValueType};

fn all() -> ParseOptions {
    ParseOptions::experimental()
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Run on a thread with a small stack to prove the limit protects it.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for (open, close) in [("(", ")"), ("-", ""), ("abs(", ")"), ("sum(", ")")] {
                let q = format!("{}x{}", open.repeat(100_000), close.repeat(100_000));
                let err = parse(&q).unwrap_err();
                assert!(err.message.contains("too deep"), "{err}");
            }
            let chain = vec!["1"; 100_000].join(" + ");
            assert!(parse(&chain).unwrap_err().message.contains("too deep"));
            let pow = vec!["2"; 100_000].join("^");
            assert!(parse(&pow).unwrap_err().message.contains("too deep"));
            let dur = format!("x[{}]", vec!["1m"; 100_000].join("+"));
            assert!(parse_with(&dur, &all())
                .unwrap_err()
                .message
                .contains("too deep"));
            let sub = format!("x{}", "[1m:]".repeat(100_000));
            assert!(parse(&sub).unwrap_err().message.contains("too deep"));
            // Just inside the limit still parses, checks, prints and drops.
            let ok = format!("{}x{}", "(".repeat(120), ")".repeat(120));
            let e = parse(&ok).unwrap();
            assert_eq!(e.to_string(), ok);
            // Prometheus's own stress input: many errors, no blow-up.
            let q = format!("({})", "-{}-1".repeat(10_000)) + &"[1m:]".repeat(1000);
            assert!(parse(&q).is_err());
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn positions() {
    let e = parse("sum(rate(x[5m]))\n  + on(a) \n  foo{").unwrap_err();
    assert_eq!((e.line, e.column), (3, 7));
    assert_eq!(
        e.to_string(),
        "3:7: parse error: unexpected end of input inside braces"
    );
    let e = parse("").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown position: parse error: no expression found in input"
    );
}

#[test]
fn value_types_and_spans() {
    let cases = [
        ("1", ValueType::Scalar),
        ("\"s\"", ValueType::String),
        ("x", ValueType::Vector),
        ("x[5m]", ValueType::Matrix),
        ("x[5m:]", ValueType::Matrix),
        ("scalar(x) + 1", ValueType::Scalar),
        ("x + 1", ValueType::Vector),
        ("-(time())", ValueType::Scalar),
    ];
    for (q, t) in cases {
        assert_eq!(parse(q).unwrap().value_type(), t, "{q}");
    }
    let e = parse("  rate(x[5m]) ").unwrap();
    assert_eq!((e.span().start, e.span().end), (2, 13));
}

#[test]
fn invalid_utf8_strings_are_kept() {
    let e = parse(r#"count_values("a\xc5z", x)"#).unwrap();
    let Expr::Aggregate(a) = &e else { panic!() };
    let Some(p) = &a.param else { panic!() };
    let Expr::String(s) = &**p else { panic!() };
    assert_eq!(s.bytes(), b"a\xc5z");
    assert_eq!(s.go_quoted(), r#""a\xc5z""#);
    assert_eq!(e.to_string(), r#"count_values("a\xc5z", x)"#);
    assert_eq!(parse(&e.to_string()).unwrap(), e);
}

#[test]
fn experimental_options_are_independent() {
    let only = |f: fn(&mut ParseOptions)| {
        let mut o = ParseOptions::default();
        f(&mut o);
        o
    };
    assert!(parse_with("x[step()]", &only(|o| o.duration_expressions = true)).is_ok());
    assert!(parse_with("limitk(1, x)", &only(|o| o.experimental_functions = true)).is_ok());
    assert!(parse_with("x anchored", &only(|o| o.extended_range_selectors = true)).is_ok());
    assert!(parse_with("a + fill(1) b", &only(|o| o.binop_fill_modifiers = true)).is_ok());
    let hw = only(|o| o.holt_winters = true);
    let e = parse_with("holt_winters(x[5m], 0.1, 0.2)", &hw).unwrap();
    assert_eq!(e.to_string(), "holt_winters(x[5m], 0.1, 0.2)");
}

// ---- property tests --------------------------------------------------

/// Parse → print → parse gives the same tree, and printing is stable.
fn assert_round_trip(q: &str, opts: &ParseOptions) {
    if let Ok(e) = parse_with(q, opts) {
        let printed = e.to_string();
        let again = parse_with(&printed, opts)
            .unwrap_or_else(|err| panic!("{q:?} printed as {printed:?}: {err}"));
        assert_eq!(again, e, "{q:?} printed as {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
}

const FRAGMENTS: &[&str] = &[
    "x",
    "up",
    "foo:bar",
    "sum",
    "by",
    "offset",
    "rate",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    " ",
    "\n",
    "5m",
    "1h30m",
    "1",
    ".5",
    "0x1f",
    "1e3",
    "Inf",
    "NaN",
    "\"a\"",
    "'b'",
    "`c`",
    "=",
    "!=",
    "=~",
    "!~",
    "==",
    "<=",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "without",
    "@",
    "start()",
    "end()",
    "step()",
    "range()",
    "min_of",
    "max_of",
    "anchored",
    "smoothed",
    "fill",
    "fill(0)",
    "topk",
    "count_values",
    "quantile",
    "limitk",
    "abs",
    "label_join",
    "info",
    "time()",
    "#c\n",
    "a=\"1\"",
    "__name__",
    "\\",
    "\"\\x41\"",
    "</",
    ">/",
    "_",
    "ms",
    "[5m:]",
    "[1h:1m]",
];

fn fragment_query() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_text_never_panics(q in "\\PC{0,40}") {
        assert_round_trip(&q, &all());
        assert_round_trip(&q, &ParseOptions::default());
    }

    #[test]
    fn token_soup_round_trips(q in fragment_query()) {
        assert_round_trip(&q, &all());
    }
}

mod gen {
    //! Generators of well-typed trees in the shapes the parser produces.

    use proptest::prelude::*;

    use crate::ast::*;

    fn sp() -> Span {
        Span::default()
    }

    fn label_name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["job", "instance", "le", "a_b", "on", "by", "sum"])
                .prop_map(String::from),
            "[a-z.:\\- ]{1,6}",
        ]
    }

    fn label_value() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "\\PC{0,6}", "[a-z]{1,4}"]
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        (label_name(), 0..4u8, label_value()).prop_map(|(n, k, v)| {
            let kind = [
                MatchType::Equal,
                MatchType::NotEqual,
                MatchType::Regex,
                MatchType::NotRegex,
            ][k as usize];
            Matcher::new(kind, n.clone(), v.clone()).unwrap_or_else(|_| Matcher::equal(n, v))
        })
    }

    fn ms() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(300_000i64),
            1i64..10_000_000_000i64,
            prop::sample::select(vec![
                1i64,
                1000,
                60_000,
                3_600_000,
                86_400_000 * 7,
                31_536_000_000
            ])
        ]
    }

    fn number() -> impl Strategy<Value = NumberLiteral> {
        let value = prop_oneof![
            prop::sample::select(vec![0.0, 1.0, 0.5, 1e-7, 1e21, f64::INFINITY, f64::NAN]),
            (0.0f64..1e12),
        ];
        (value, any::<bool>(), ms()).prop_map(|(value, as_dur, ms)| {
            if as_dur {
                NumberLiteral {
                    value: ms as f64 / 1000.0,
                    duration: true,
                    span: sp(),
                }
            } else {
                NumberLiteral {
                    value,
                    duration: false,
                    span: sp(),
                }
            }
        })
    }

    fn duration_expr() -> impl Strategy<Value = DurationExpr> {
        let leaf = prop_oneof![
            ms().prop_map(|m| DurationExpr {
                kind: DurationExprKind::Number(NumberLiteral {
                    value: m as f64 / 1000.0,
                    duration: true,
                    span: sp()
                }),
                wrapped: false,
                span: sp()
            }),
            Just(DurationExpr {
                kind: DurationExprKind::Step,
                wrapped: false,
                span: sp()
            }),
            Just(DurationExpr {
                kind: DurationExprKind::Range,
                wrapped: false,
                span: sp()
            }),
        ];
        leaf.prop_recursive(3, 8, 2, |inner| {
            (inner.clone(), inner, 0..8u8).prop_map(|(a, b, k)| {
                let (a, b) = (Box::new(a), Box::new(b));
                let kind = match k {
                    0 => DurationExprKind::MinOf(a, b),
                    1 => DurationExprKind::MaxOf(a, b),
                    2 if !matches!(a.kind, DurationExprKind::Number(_)) => DurationExprKind::Neg(a),
                    3 => DurationExprKind::Binary(DurationOp::Add, a, b),
                    4 => DurationExprKind::Binary(DurationOp::Sub, a, b),
                    5 => DurationExprKind::Binary(DurationOp::Mul, a, b),
                    6 => DurationExprKind::Binary(DurationOp::Pow, a, b),
                    _ => DurationExprKind::Binary(DurationOp::Add, a, b),
                };
                // Wrapping every compound keeps the printed grouping exact.
                DurationExpr {
                    kind,
                    wrapped: true,
                    span: sp(),
                }
            })
        })
    }

    fn duration(positive: bool) -> impl Strategy<Value = Duration> {
        prop_oneof![
            4 => ms().prop_map(move |m| Duration::Fixed(if positive { m } else { -m })),
            1 => duration_expr()
                .prop_filter("literals are Fixed", |d| !matches!(d.kind, DurationExprKind::Number(_)))
                .prop_map(|d| Duration::Expr(Box::new(d))),
        ]
    }

    fn at() -> impl Strategy<Value = Option<AtModifier>> {
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(AtModifier::Start)),
            1 => Just(Some(AtModifier::End)),
            1 => (-10_000_000_000_000i64..10_000_000_000_000).prop_map(|t| Some(AtModifier::Timestamp(t))),
        ]
    }

    fn selector() -> impl Strategy<Value = VectorSelector> {
        (
            prop::option::of(prop::sample::select(vec![
                "up",
                "http_requests_total",
                "a:b",
                "sum",
                "offset",
            ])),
            prop::collection::vec(matcher(), 0..3),
            prop_oneof![Just(Duration::Fixed(0)), duration(true), duration(false)],
            at(),
            0..3u8,
        )
            .prop_map(|(name, mut matchers, offset, at, ext)| {
                let name = name.map(String::from);
                matchers.retain(|m| m.name() != "__name__");
                match &name {
                    Some(n) => matchers.push(Matcher::equal("__name__", n.clone())),
                    None => {
                        matchers.push(Matcher::new(MatchType::Regex, "__name__", "x.+").unwrap())
                    }
                }
                VectorSelector {
                    name,
                    matchers,
                    offset,
                    at,
                    anchored: ext == 1,
                    smoothed: ext == 2,
                    bypass_empty_matcher_check: false,
                    span: sp(),
                }
            })
    }

    fn paren(e: Expr) -> Expr {
        Expr::Paren(ParenExpr {
            expr: Box::new(e),
            span: sp(),
        })
    }

    /// The binding strength of an expression as printed: binary operators
    /// by precedence, unary like `*`, everything else atomic.
    fn strength(e: &Expr) -> u8 {
        match e {
            Expr::Binary(b) => b.op.precedence(),
            Expr::Unary(_) => 5,
            _ => 10,
        }
    }

    fn binary(
        op: BinaryOp,
        lhs: Expr,
        rhs: Expr,
        vector_matching: Option<VectorMatching>,
        return_bool: bool,
    ) -> Expr {
        let p = op.precedence();
        let left_ok = if op.is_right_associative() {
            strength(&lhs) > p && !matches!(lhs, Expr::Unary(_))
        } else {
            strength(&lhs) >= p
        };
        let right_ok = if op.is_right_associative() {
            strength(&rhs) >= p || matches!(rhs, Expr::Unary(_))
        } else {
            strength(&rhs) > p || matches!(rhs, Expr::Unary(_))
        };
        let lhs = if left_ok { lhs } else { paren(lhs) };
        let rhs = if right_ok { rhs } else { paren(rhs) };
        Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            matching: vector_matching,
            return_bool,
        })
    }

    fn unary(e: Expr) -> Expr {
        let e = match &e {
            Expr::Number(_) => paren(e),
            Expr::Binary(b) if b.op != BinaryOp::Pow => paren(e),
            _ => e,
        };
        Expr::Unary(UnaryExpr {
            op: UnaryOp::Neg,
            expr: Box::new(e),
            span: sp(),
        })
    }

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call(Call {
            func: function(name).unwrap(),
            args,
            span: sp(),
        })
    }

    fn scalar_leaf() -> impl Strategy<Value = Expr> {
        prop_oneof![
            number().prop_map(Expr::Number),
            Just(call("time", vec![])),
            Just(call("pi", vec![])),
        ]
    }

    fn matching() -> impl Strategy<Value = VectorMatching> {
        (
            any::<bool>(),
            prop::collection::vec(label_name(), 0..3),
            0..3u8,
            prop::collection::vec(label_name(), 0..2),
            prop::option::of(0.0f64..10.0),
        )
            .prop_map(|(on, labels, card, include, fill)| {
                let card = [
                    Cardinality::OneToOne,
                    Cardinality::ManyToOne,
                    Cardinality::OneToMany,
                ][card as usize];
                let on = on || card != Cardinality::OneToOne;
                let include = if on {
                    include
                        .into_iter()
                        .filter(|l| !labels.contains(l))
                        .collect()
                } else {
                    include
                };
                VectorMatching {
                    card,
                    on,
                    matching_labels: labels,
                    include: if card == Cardinality::OneToOne {
                        vec![]
                    } else {
                        include
                    },
                    fill: FillValues {
                        lhs: fill,
                        rhs: fill,
                    },
                }
            })
    }

    /// Well-typed instant-vector expressions.
    pub(super) fn vector_expr() -> impl Strategy<Value = Expr> {
        let leaf = selector().prop_map(Expr::VectorSelector);
        leaf.prop_recursive(4, 24, 3, |inner| {
            let matrix = prop_oneof![
                (selector(), duration(true)).prop_map(|(s, r)| Expr::MatrixSelector(
                    MatrixSelector {
                        selector: s,
                        range: r,
                        span: sp()
                    }
                )),
                // A fixed range: Prometheus's lexer rejects `[step():...]`
                // when no digit came before the colon.
                (
                    inner.clone(),
                    ms().prop_map(Duration::Fixed),
                    prop::option::of(duration(true)),
                    at(),
                    prop_oneof![Just(Duration::Fixed(0)), duration(false)]
                )
                    .prop_map(|(e, range, step, at, offset)| {
                        let e = if strength(&e) < 10 { paren(e) } else { e };
                        Expr::Subquery(SubqueryExpr {
                            expr: Box::new(e),
                            range,
                            step,
                            offset,
                            at,
                            span: sp(),
                        })
                    }),
            ];
            let scalar = prop_oneof![
                scalar_leaf(),
                inner.clone().prop_map(|v| call("scalar", vec![v])),
            ];
            prop_oneof![
                (
                    prop::sample::select(vec![
                        "rate",
                        "max_over_time",
                        "changes",
                        "absent_over_time"
                    ]),
                    matrix.clone()
                )
                    .prop_map(|(f, m)| call(f, vec![m])),
                (matrix, scalar.clone()).prop_map(|(m, s)| call("quantile_over_time", vec![s, m])),
                inner.clone().prop_map(|v| call("abs", vec![v])),
                (inner.clone(), label_value(), label_value()).prop_map(|(v, a, b)| call(
                    "label_join",
                    vec![
                        v,
                        Expr::String(StringLiteral {
                            value: a,
                            invalid_utf8: None,
                            span: sp()
                        }),
                        Expr::String(StringLiteral {
                            value: b,
                            invalid_utf8: None,
                            span: sp()
                        }),
                    ]
                )),
                (
                    0..14usize,
                    inner.clone(),
                    scalar.clone(),
                    any::<bool>(),
                    prop::collection::vec(label_name(), 0..3)
                )
                    .prop_map(|(i, v, s, without, grouping)| {
                        let op = AggregateOp::ALL[i];
                        let param = match op.param_type() {
                            Some(ValueType::Scalar) => Some(Box::new(s)),
                            Some(_) => Some(Box::new(Expr::String(StringLiteral {
                                value: "v".into(),
                                invalid_utf8: None,
                                span: sp(),
                            }))),
                            None => None,
                        };
                        let grouping = if without {
                            grouping
                        } else {
                            grouping.into_iter().collect()
                        };
                        Expr::Aggregate(AggregateExpr {
                            op,
                            expr: Box::new(v),
                            param,
                            grouping,
                            without,
                            span: sp(),
                        })
                    }),
                (
                    prop::sample::select(vec![
                        BinaryOp::Add,
                        BinaryOp::Sub,
                        BinaryOp::Mul,
                        BinaryOp::Div,
                        BinaryOp::Mod,
                        BinaryOp::Pow,
                        BinaryOp::Atan2,
                        BinaryOp::Eql,
                        BinaryOp::Gtr,
                        BinaryOp::Lte,
                        BinaryOp::TrimUpper
                    ]),
                    inner.clone(),
                    inner.clone(),
                    matching(),
                    any::<bool>()
                )
                    .prop_map(|(op, a, b, m, bool_)| binary(
                        op,
                        a,
                        b,
                        Some(m),
                        bool_ && op.is_comparison()
                    )),
                (
                    prop::sample::select(vec![BinaryOp::And, BinaryOp::Or, BinaryOp::Unless]),
                    inner.clone(),
                    inner.clone(),
                    any::<bool>(),
                    prop::collection::vec(label_name(), 0..2)
                )
                    .prop_map(|(op, a, b, on, labels)| binary(
                        op,
                        a,
                        b,
                        Some(VectorMatching {
                            card: Cardinality::ManyToMany,
                            on,
                            matching_labels: labels,
                            include: vec![],
                            fill: FillValues::default()
                        }),
                        false
                    )),
                (inner.clone(), scalar, any::<bool>()).prop_map(|(v, s, left)| if left {
                    binary(BinaryOp::Mul, s, v, None, false)
                } else {
                    binary(BinaryOp::Gte, v, s, None, true)
                }),
                inner.clone().prop_map(unary),
                inner.prop_map(paren),
            ]
        })
    }
}

/// Generated well-typed trees print to text that parses back to the same
/// tree. Run on a thread with a larger stack: proptest's recursive
/// strategies, not the parser, need it in debug builds.
#[test]
fn generated_trees_round_trip() {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000));
            runner
                .run(&gen::vector_expr(), |e| {
                    let printed = e.to_string();
                    let parsed = parse_with(&printed, &all())
                        .unwrap_or_else(|err| panic!("{printed}\n{err}\n{}", TreeDisplay(&e)));
                    prop_assert_eq!(&parsed, &e, "{}", printed);
                    Ok(())
                })
                .unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn number_literals_print_with_go_digits() {
    // Prometheus 3 prints a number literal with `strconv.FormatFloat(v, 'f',
    // -1, 64)`; on an exact 17-digit tie Go's digits differ from Rust's.
    let e = parse("2679575.54150390625 + x").unwrap();
    assert_eq!(e.to_string(), "2679575.5415039062 + x");
    let e = parse("1e21 * x").unwrap();
    assert_eq!(e.to_string(), "1000000000000000000000 * x");
}

#[test]
fn info_with_an_empty_data_label_selector_round_trips() {
    // Found by the promql_parse fuzz target: `{}` printed as nothing.
    let e = parse_with("info(G4, {})", &all()).unwrap();
    assert_eq!(e.to_string(), "info(G4, {})");
    assert_round_trip("0 > 0 + info(G4{}, {})", &all());
}
