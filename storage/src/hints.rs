//! What a query engine tells a backend about a select, so it can prune.

/// Hints a query engine passes to `select` so a backend can prune work. A
/// backend may ignore them; results must be correct either way.
///
/// The hints borrow from the caller (the function name and grouping come
/// from the query's syntax tree), so building them allocates nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelectHints<'a> {
    /// Start of the data the caller needs (ms, inclusive).
    pub start: i64,
    /// End of the data the caller needs (ms, inclusive).
    pub end: i64,
    /// Query resolution step (ms); 0 for instant queries.
    pub step: i64,
    /// Range of a range selector (ms), 0 for instant vector selectors.
    pub range: i64,
    /// The function the selector feeds, e.g. `rate`; `series` for metadata
    /// calls that need no samples.
    pub func: Option<&'a str>,
    /// Labels of the enclosing aggregation's `by`/`without` clause.
    pub grouping: &'a [String],
    /// Whether `grouping` is a `by` (true) or `without` (false) list.
    pub by: bool,
}

impl SelectHints<'_> {
    /// Whether the caller needs series only, no samples (`func == "series"`,
    /// as Prometheus's API sets for `/api/v1/series`).
    pub fn series_only(&self) -> bool {
        self.func == Some("series")
    }
}
