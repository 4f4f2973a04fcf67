//! Bad input never panics: arbitrary unit-test files, and timestamps
//! round-trip through the RFC 3339 reader.

use proptest::prelude::*;

use super::file::{parse_test_file, parse_time};
use super::run::{run_group, Context};

/// Fragments unit-test files are made of, so generated inputs reach the
/// decoder's and the runner's corners.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tests:\n".to_string()),
        Just("  - interval: 1m\n".to_string()),
        Just("    input_series:\n".to_string()),
        Just("      - series: 'up{job=\"a\"}'\n".to_string()),
        Just("        values: '1+1x3 _ stale'\n".to_string()),
        Just("        values: '{{sum:1}}'\n".to_string()),
        Just("    promql_expr_test:\n".to_string()),
        Just("      - expr: up\n".to_string()),
        Just("        eval_time: 2m\n".to_string()),
        Just("        exp_samples: [{labels: up, value: 1}]\n".to_string()),
        Just("    alert_rule_test:\n".to_string()),
        Just("      - alertname: A\n".to_string()),
        Just("        exp_alerts: [{exp_labels: {a: b}}]\n".to_string()),
        Just("    start_timestamp: 2024-01-01T00:00:00Z\n".to_string()),
        Just("evaluation_interval: x\n".to_string()),
        Just("fuzzy_compare: true\n".to_string()),
        Just("[".to_string()),
        Just("{".to_string()),
        Just("'".to_string()),
        "[ -~\n]{0,8}",
    ]
}

proptest! {
    #[test]
    fn test_files_never_panic(parts in proptest::collection::vec(fragment(), 0..20)) {
        let text: String = parts.concat();
        if let Ok(file) = parse_test_file(&text, false) {
            let order = std::collections::HashMap::new();
            let ctx = Context {
                eval_interval: 60_000,
                order: &order,
                fuzzy: file.fuzzy_compare,
                rule_files: &[],
                ignore_unknown_fields: false,
                debug: true,
                at_modifier: true,
                negative_offset: true,
                promql: &aion_promql::ParseOptions::default(),
                delayed_name_removal: false,
            };
            for mut tg in file.tests {
                // Keep the evaluation loop short.
                tg.interval = tg.interval.max(1);
                tg.alert_rule_tests.retain(|a| a.eval_time < 3_600_000);
                tg.promql_expr_tests.retain(|p| p.eval_time < 3_600_000);
                let _ = run_group(&tg, &ctx, &mut Vec::new());
            }
        }
    }

    #[test]
    fn rfc3339_times_round_trip(secs in -62_135_596_800i64..253_402_300_799, ms in 0i64..1000) {
        let t = secs * 1000 + ms;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = aion_model::civil::civil_from_days(days);
        let text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        prop_assert_eq!(parse_time(&text).unwrap(), t);
    }

    #[test]
    fn times_never_panic(s in "[0-9T:Z.+-]{0,30}") {
        let _ = parse_time(&s);
    }
}
