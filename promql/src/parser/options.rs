//! Which optional PromQL features the parser accepts, and its nesting
//! limit.

/// Which optional PromQL features the parser accepts.
///
/// The default is what a stock Prometheus 3 accepts; the experimental
/// features correspond to Prometheus's feature flags.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Experimental functions and aggregations (`limitk`, `info`,
    /// `sort_by_label`, `mad_over_time`, ...):
    /// `--enable-feature=promql-experimental-functions`.
    pub experimental_functions: bool,
    /// Duration arithmetic in ranges, steps and offsets (`[5m+step()]`):
    /// `--enable-feature=promql-duration-expr`.
    pub duration_expressions: bool,
    /// The `anchored` and `smoothed` modifiers:
    /// `--enable-feature=promql-extended-range-selectors`.
    pub extended_range_selectors: bool,
    /// `fill(...)`, `fill_left(...)`, `fill_right(...)` on binary operators:
    /// `--enable-feature=promql-binop-fill-modifiers`.
    pub binop_fill_modifiers: bool,
    /// Accept Prometheus 2's `holt_winters` (removed in Prometheus 3).
    pub holt_winters: bool,
    /// Deepest allowed nesting of the syntax tree; deeper input is an
    /// error rather than a risk to the stack.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            experimental_functions: false,
            duration_expressions: false,
            extended_range_selectors: false,
            binop_fill_modifiers: false,
            holt_winters: false,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl ParseOptions {
    /// Every experimental feature enabled, as Prometheus's own test suite
    /// runs (`holt_winters` stays off, as in Prometheus 3).
    pub fn experimental() -> Self {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
            ..ParseOptions::default()
        }
    }
}

/// Nesting limit of [`ParseOptions::default`]: 128 levels of parentheses
/// or operators, 64 of function calls or aggregations. Real queries stay
/// far below; it keeps the recursive parser, checker, printer and `Drop`
/// inside a 2 MiB thread stack even in debug builds.
pub const DEFAULT_MAX_DEPTH: usize = 128;
