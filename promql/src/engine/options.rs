//! How an engine and a query are configured: [`EngineOptions`] (engine
//! wide, Prometheus 3's defaults and flags) and [`QueryOptions`] (per
//! query overrides).

use std::time::Duration;

use super::cancel::CancellationToken;
use crate::parser::ParseOptions;

/// Engine-wide settings. The defaults are Prometheus 3's defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant vector selector looks for a sample (ms).
    /// Prometheus's `--query.lookback-delta`, default 5 minutes.
    pub lookback_delta: i64,
    /// Most samples a query may hold in memory at once; more is
    /// [`Error::TooManySamples`](crate::Error::TooManySamples).
    /// Prometheus's `--query.max-samples`, default 50 000 000.
    pub max_samples: usize,
    /// Most bytes a query may hold in memory at once; more is
    /// [`Error::QueryMemoryLimit`](crate::Error::QueryMemoryLimit), naming
    /// what was being held. `None` (the default) is no limit and no
    /// accounting at all. Counted where the engine holds data, from the
    /// sizes of what is really allocated: samples buffered in range
    /// windows (vector capacity × 16 bytes, plus start timestamps and
    /// histograms), series of a parallel selector batch, vectors held
    /// whole (`sort`, vector matching and its per-step indexes, `info`,
    /// `label_replace`, the result), aggregation groups (per-step cells),
    /// `topk`-style heaps, `histogram_quantile` buckets, subquery points
    /// and name removal's duplicate check, each series with
    /// its label bytes (charged per holder, so label sets shared with
    /// storage count once per holder: an upper bound). Charges are released
    /// when the data is dropped, so the peak is what is limited. Not
    /// counted: storage's own caches and chunk decoders, per-thread scratch
    /// buffers between series, per-step scalar arrays, allocator overhead. Prometheus has only
    /// `max_samples`; this is Mimir's
    /// `-querier.max-estimated-memory-consumption-per-query`.
    pub max_query_bytes: Option<usize>,
    /// Longest a query may run; `None` for no limit. Prometheus's
    /// `--query.timeout`, default 2 minutes.
    pub timeout: Option<Duration>,
    /// Step of subqueries written without one (`[1h:]`), in ms: the
    /// global evaluation interval, default 1 minute.
    pub default_subquery_step: i64,
    /// Keep the metric name until the end of evaluation and drop it only
    /// then (Prometheus's `promql-delayed-name-removal` feature; off by
    /// default, as in Prometheus).
    pub delayed_name_removal: bool,
    /// Allow the `@` modifier (on in Prometheus since 2.33).
    pub enable_at_modifier: bool,
    /// Allow negative offsets (on in Prometheus since 2.33).
    pub enable_negative_offset: bool,
    /// How query text is parsed (experimental functions and syntax).
    pub parse_options: ParseOptions,
    /// Process the series of a selector in batches on the calling thread
    /// and the threads of rayon's global pool (the host sizes it), all
    /// reading and processing batches in turn; results are the same as
    /// with `false` (one thread) and come in the same order.
    pub parallel: bool,
    /// Use the samples' start timestamps (where the storage has them) in
    /// `rate`, `increase`, `irate` and `resets`, and return them from
    /// `start_timestamp()` (Prometheus's `use-start-timestamps`; off by
    /// default, as in Prometheus).
    pub use_start_timestamps: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: 5 * 60 * 1000,
            max_samples: 50_000_000,
            max_query_bytes: None,
            timeout: Some(Duration::from_secs(120)),
            default_subquery_step: 60 * 1000,
            delayed_name_removal: false,
            enable_at_modifier: true,
            enable_negative_offset: true,
            parse_options: ParseOptions::default(),
            parallel: true,
            use_start_timestamps: false,
        }
    }
}

impl EngineOptions {
    /// The settings Prometheus's own PromQL test scripts assume: 10 000
    /// samples, a 100 s timeout, delayed name removal, start timestamps and
    /// every experimental feature.
    pub fn prometheus_test_suite() -> Self {
        EngineOptions {
            max_samples: 10_000,
            timeout: Some(Duration::from_secs(100)),
            delayed_name_removal: true,
            use_start_timestamps: true,
            parse_options: ParseOptions::experimental(),
            ..EngineOptions::default()
        }
    }
}

/// Per-query settings.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Stops the query when canceled.
    pub cancel: Option<CancellationToken>,
    /// Overrides [`EngineOptions::lookback_delta`] (ms) when positive.
    pub lookback_delta: Option<i64>,
    /// Overrides [`EngineOptions::timeout`].
    pub timeout: Option<Duration>,
}
