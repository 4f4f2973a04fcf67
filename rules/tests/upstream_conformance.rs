//! Prometheus v3.14.0's own rule conformance files (`upstream/`, Apache-2.0)
//! with the verdicts Prometheus's Go tests expect of them, as data tables:
//!
//! * unit-test files: `cmd/promtool/unittest_test.go`'s `TestRulesUnitTest`
//!   and `TestRulesUnitTestRun` (exit code 0 or 1), with the query options
//!   the `promtool test rules` command uses (`@` and negative offsets on);
//! * rule files: `model/rulefmt/rulefmt_test.go` (`TestParseFileSuccess`,
//!   `TestParseFileFailure`: the first error contains the expected text),
//!   `rules/manager_test.go` (every fixture loads; `invalid_rules.yaml`
//!   fails with an unknown field) and `cmd/promtool/main_test.go`
//!   (`rules.yml` valid, `rules-bad.yml` invalid).
//!
//! A case Aion cannot pass yet is listed with its reason: the test asserts
//! that it still fails for that reason (so fixing it shows up here) and
//! prints the tally.

use std::path::{Path, PathBuf};

use aion_rules::rulefmt::{parse_file, NameValidation, ParseOptions};
use aion_rules::unittest::{run_file, Options};
use aion_rules::{Group, GroupOptions};

fn upstream(dir: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/upstream")
        .join(dir)
        .join(file)
}

/// One `RulesUnitTest` call of Prometheus's tests.
struct UnitCase {
    /// The Go subtest's name.
    name: &'static str,
    file: &'static str,
    run: &'static [&'static str],
    ignore_unknown_fields: bool,
    /// `LazyLoaderOpts` without `EnableAtModifier` / `EnableNegativeOffset`
    /// (the Go tests' default; the promtool command enables both).
    features_off: bool,
    /// The exit code Prometheus's test expects.
    want: i32,
    /// Why Aion does not give `want` yet (a text its failure contains).
    known_gap: Option<&'static str>,
}

const fn case(name: &'static str, file: &'static str, want: i32) -> UnitCase {
    UnitCase {
        name,
        file,
        run: &[],
        ignore_unknown_fields: false,
        features_off: false,
        want,
        known_gap: None,
    }
}

const UNIT_CASES: &[UnitCase] = &[
    case("Passing Unit Tests", "unittest.yml", 0),
    case("Long evaluation interval", "long-period.yml", 0),
    case("Bad input series", "bad-input-series.yml", 1),
    case("Bad PromQL", "bad-promql.yml", 1),
    case("Bad rules (syntax error)", "bad-rules-syntax-test.yml", 1),
    case(
        "Bad rules (error evaluating)",
        "bad-rules-error-test.yml",
        1,
    ),
    case("Simple failing test", "failing.yml", 1),
    // The Go tests' default options have `@` and negative offsets off;
    // the promtool command (and Aion's default) has them on.
    UnitCase {
        features_off: true,
        ..case("Disabled feature (@ modifier)", "at-modifier-test.yml", 1)
    },
    case("Enabled feature (@ modifier)", "at-modifier-test.yml", 0),
    UnitCase {
        features_off: true,
        ..case(
            "Disabled feature (negative offset)",
            "negative-offset-test.yml",
            1,
        )
    },
    case(
        "Enabled feature (negative offset)",
        "negative-offset-test.yml",
        0,
    ),
    case("No test group interval", "no-test-group-interval.yml", 0),
    case("Start time tests", "start-time-test.yml", 0),
    case("Test all without run arg", "rules_run.yml", 1),
    UnitCase {
        run: &["correct", "wrong"],
        ..case("Test all with run arg", "rules_run.yml", 1)
    },
    UnitCase {
        run: &["correct"],
        ..case("Test correct", "rules_run.yml", 0)
    },
    UnitCase {
        run: &["wrong"],
        ..case("Test wrong", "rules_run.yml", 1)
    },
    UnitCase {
        ignore_unknown_fields: true,
        ..case("Test all with extra fields", "rules_run_extrafields.yml", 0)
    },
    case(
        "Test precise floating point comparison expected failure",
        "rules_run_no_fuzzy.yml",
        1,
    ),
    UnitCase {
        run: &["correct"],
        ..case(
            "Test fuzzy floating point comparison correct match",
            "rules_run_fuzzy.yml",
            0,
        )
    },
    UnitCase {
        run: &["wrong"],
        ..case(
            "Test fuzzy floating point comparison wrong match",
            "rules_run_fuzzy.yml",
            1,
        )
    },
];

#[test]
fn promtool_unit_test_files_get_prometheus_verdicts() {
    let (mut pass, mut gaps) = (0, Vec::new());
    for c in UNIT_CASES {
        let run: Vec<String> = c.run.iter().map(|s| s.to_string()).collect();
        let options = Options {
            run: Options::run_filter(&run).unwrap(),
            ignore_unknown_fields: c.ignore_unknown_fields,
            disable_at_modifier: c.features_off,
            disable_negative_offset: c.features_off,
            ..Options::default()
        };
        let outcome = run_file(&upstream("promtool", c.file), &options);
        let got = i32::from(!outcome.errors.is_empty());
        match c.known_gap {
            None => {
                assert_eq!(
                    got, c.want,
                    "{} ({}): errors {:#?}",
                    c.name, c.file, outcome.errors
                );
                pass += 1;
            }
            Some(reason) => {
                assert!(
                    outcome.errors.iter().any(|e| e.contains(reason)),
                    "{} ({}) no longer fails for {reason:?}: update the table: {:#?}",
                    c.name,
                    c.file,
                    outcome.errors
                );
                gaps.push(format!("{} ({}): {reason}", c.name, c.file));
            }
        }
    }
    println!(
        "promtool unit-test cases: {pass} of {} give Prometheus's verdict",
        UNIT_CASES.len()
    );
    for g in &gaps {
        println!("  not yet: {g}");
    }
}

/// `rulefmt.ParseFile` cases: the file, the name validation, and the text
/// the first error must contain (`None`: parses cleanly).
const RULEFMT_CASES: &[(&str, NameValidation, Option<&str>)] = &[
    ("test.yaml", NameValidation::Utf8, None),
    ("test_aliases.yaml", NameValidation::Utf8, None),
    ("utf-8_lname.good.yaml", NameValidation::Utf8, None),
    ("utf-8_annotation.good.yaml", NameValidation::Utf8, None),
    (
        "legacy_validation_annotation.good.yaml",
        NameValidation::Legacy,
        None,
    ),
    (
        "duplicate_grp.bad.yaml",
        NameValidation::Utf8,
        Some("groupname: \"yolo\" is repeated in the same file"),
    ),
    ("bad_expr.bad.yaml", NameValidation::Utf8, Some("parse error")),
    (
        "record_and_alert.bad.yaml",
        NameValidation::Utf8,
        Some("only one of 'record' and 'alert' must be set"),
    ),
    (
        "no_rec_alert.bad.yaml",
        NameValidation::Utf8,
        Some("one of 'record' or 'alert' must be set"),
    ),
    (
        "noexpr.bad.yaml",
        NameValidation::Utf8,
        Some("field 'expr' must be set in rule"),
    ),
    (
        "invalid_record_name.bad.yaml",
        NameValidation::Utf8,
        Some("braces present in the recording rule name; should it be in expr?: strawberry{flavor=\"sweet\"}"),
    ),
    (
        "bad_field.bad.yaml",
        NameValidation::Utf8,
        Some("field annotation not found"),
    ),
    (
        "invalid_label_name.bad.yaml",
        NameValidation::Utf8,
        Some("invalid label name"),
    ),
    (
        "record_and_for.bad.yaml",
        NameValidation::Utf8,
        Some("invalid field 'for' in recording rule"),
    ),
    (
        "record_and_keep_firing_for.bad.yaml",
        NameValidation::Utf8,
        Some("invalid field 'keep_firing_for' in recording rule"),
    ),
    (
        "legacy_validation_annotation.bad.yaml",
        NameValidation::Legacy,
        Some("invalid annotation name: ins-tance"),
    ),
];

/// Parses `path` and, when valid, builds every group (Prometheus's
/// `LoadGroups`); the errors as text.
fn load(path: &Path, names: NameValidation) -> Vec<String> {
    let options = ParseOptions {
        names,
        ..ParseOptions::default()
    };
    match parse_file(path, &options) {
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
        Ok(file) => file
            .groups
            .iter()
            .filter_map(|g| {
                Group::new(&path.to_string_lossy(), g, &GroupOptions::default())
                    .err()
                    .map(|e| e.to_string())
            })
            .collect(),
    }
}

fn check_rule_files(dir: &str, cases: &[(&str, NameValidation, Option<&str>)]) -> usize {
    for (file, names, want) in cases {
        let errs = load(&upstream(dir, file), *names);
        match want {
            None => assert!(errs.is_empty(), "{dir}/{file}: {errs:#?}"),
            Some(text) => {
                assert!(!errs.is_empty(), "{dir}/{file} should be invalid");
                assert!(
                    errs[0].contains(text),
                    "{dir}/{file}: first error {:?} lacks {text:?}",
                    errs[0]
                );
            }
        }
    }
    cases.len()
}

#[test]
fn rulefmt_testdata_gets_prometheus_verdicts() {
    let n = check_rule_files("rulefmt", RULEFMT_CASES);
    println!("rulefmt cases: {n} of {n} give Prometheus's verdict");
}

#[test]
fn rule_fixtures_and_promtool_rule_files_get_prometheus_verdicts() {
    let u = NameValidation::Utf8;
    let fixtures: Vec<(&str, NameValidation, Option<&str>)> = [
        "alert_rule.yaml",
        "alert_rule1.yaml",
        "rules.yaml",
        "rules1.yaml",
        "rules2.yaml",
        "rules2_copy.yaml",
        "rules_chain.yaml",
        "rules_dependencies.yaml",
        "rules_indeterminates.yaml",
        "rules_multiple.yaml",
        "rules_multiple_dependents_on_base.yaml",
        "rules_multiple_groups.yaml",
        "rules_multiple_independent.yaml",
    ]
    .into_iter()
    .map(|f| (f, u, None))
    .chain([(
        "invalid_rules.yaml",
        u,
        Some("field unexpected_field not found in type rulefmt.Rule"),
    )])
    .collect();
    let a = check_rule_files("fixtures", &fixtures);
    let promtool = [
        ("rules.yml", u, None),
        ("rules_duplicates.yml", u, None),
        ("rules-bad.yml", u, Some("")),
    ];
    let b = check_rule_files("promtool", &promtool);
    println!(
        "rule-file cases: {} of {} give Prometheus's verdict",
        a + b,
        a + b
    );
}
