//! promtool's `--enable-feature` for the rule commands: the PromQL syntax
//! and evaluation features a rule file may use.

use aion_promql::ParseOptions;

/// The features promtool knows, applied to Prometheus 3's default parser
/// options; unknown names get promtool's warning (on stdout, without a
/// newline, as promtool prints it). Duration expressions are always on,
/// as in Prometheus 3.14 (where `promql-duration-expr` is a no-op).
/// Returns the parser options and whether delayed name removal is on.
pub fn promql_features(list: &[String]) -> (ParseOptions, bool) {
    let mut opts = ParseOptions {
        duration_expressions: true,
        ..ParseOptions::default()
    };
    let mut delayed_name_removal = false;
    for f in list {
        for o in f.split(',') {
            match o {
                "promql-experimental-functions" => opts.experimental_functions = true,
                "promql-delayed-name-removal" => delayed_name_removal = true,
                "promql-duration-expr" => {}
                "promql-extended-range-selectors" => opts.extended_range_selectors = true,
                "promql-binop-fill-modifiers" => opts.binop_fill_modifiers = true,
                "" => {}
                other => print!("  WARNING: Unknown feature passed to --enable-feature: {other}"),
            }
        }
    }
    (opts, delayed_name_removal)
}
