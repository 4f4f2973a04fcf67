//! Options of a [`Db`](crate::Db), with Prometheus's defaults.

use crate::{Error, Result};

/// Two hours in milliseconds: Prometheus's block range and head chunk range.
pub const DEFAULT_BLOCK_RANGE_MS: i64 = 2 * 60 * 60 * 1000;

/// Fifteen days in milliseconds: Prometheus's default retention.
pub const DEFAULT_RETENTION_MS: i64 = 15 * 24 * 60 * 60 * 1000;

/// Prometheus's default target of samples per head chunk
/// (`--storage.tsdb.samples-per-chunk`).
pub const DEFAULT_SAMPLES_PER_CHUNK: usize = 120;

/// Prometheus's default number of samples an in-memory out-of-order chunk
/// holds before it is m-mapped (`OutOfOrderCapMax`).
pub const DEFAULT_OUT_OF_ORDER_CAP_MAX: usize = 32;

/// The largest `out_of_order_cap_max` Prometheus accepts.
pub const MAX_OUT_OF_ORDER_CAP_MAX: usize = 255;

/// The encoding of new float chunks (Prometheus's
/// `storage.tsdb.chunk_encoding.floats`, 3.11+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatChunkEncoding {
    /// XOR (encoding 1): what every Prometheus reads. The default.
    #[default]
    Xor,
    /// XOR2 (encoding 4): smaller chunks for scrape-shaped data, read only
    /// by Prometheus 3.11 and later. A chunk already open when the option
    /// changes is finished in its encoding, as Prometheus does.
    Xor2,
}

/// How a [`Db`](crate::Db) behaves. `Options::default()` is what a
/// Prometheus server uses out of the box.
///
/// ```
/// use aion_tsdb::Options;
/// let o = Options::default();
/// assert_eq!(o.block_range_ms, 2 * 3600 * 1000);
/// assert_eq!(o.samples_per_chunk, 120);
/// assert!(o.wal_compression);
/// let custom = Options { max_head_series: Some(1_000_000), ..Options::default() };
/// assert!(custom.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Length of a block and of the head's chunk range (ms); chunks are cut
    /// at multiples of it. Prometheus: `--storage.tsdb.min-block-duration`,
    /// default 2h.
    pub block_range_ms: i64,
    /// How long data is kept (ms). Prometheus: `--storage.tsdb.retention.time`,
    /// default 15d. Enforced on blocks.
    pub retention_ms: i64,
    /// Total size of blocks to keep (bytes), `None` for no limit.
    /// Prometheus: `--storage.tsdb.retention.size`, default off.
    pub retention_bytes: Option<u64>,
    /// How far behind the head's newest sample an out-of-order sample may
    /// be (ms) (Prometheus's `storage.tsdb.out_of_order_time_window`).
    /// Default 0: out-of-order samples are refused. Samples accepted out of
    /// order are logged to `wbl/` and compacted into their own blocks.
    pub out_of_order_time_window_ms: i64,
    /// Samples per in-memory out-of-order chunk before it is m-mapped to
    /// `chunks_head/` (Prometheus's `OutOfOrderCapMax`, default 32, at
    /// most 255).
    pub out_of_order_cap_max: usize,
    /// Snappy-compress WAL records (Prometheus default: on).
    pub wal_compression: bool,
    /// Maximum WAL segment size in bytes (Prometheus default 128 MiB).
    pub wal_segment_size: u64,
    /// When the WAL is flushed to disk; the default matches Prometheus
    /// (on segment rotation and close, not per commit).
    pub wal_sync: aion_wal::SyncPolicy,
    /// Target number of samples per head chunk (Prometheus default 120).
    /// Chunks end at a chunk-range boundary, near this count, at twice this
    /// count, or when larger than 1005 bytes, as in Prometheus 3.
    pub samples_per_chunk: usize,
    /// Encoding of new float chunks in the head (default XOR, as
    /// Prometheus's `chunk_encoding.floats`). Histogram chunks are always
    /// cut at about 1 KiB, with at least 10 histograms each.
    pub float_chunk_encoding: FloatChunkEncoding,
    /// Refuse new series once the head holds this many; existing series
    /// keep accepting samples. `None` (default): no limit.
    pub max_head_series: Option<usize>,
    /// Threads replaying the WAL on open; 0 (default) uses the number of
    /// available CPUs.
    pub replay_concurrency: usize,
    /// Largest block compaction may produce (ms). `None` (default):
    /// Prometheus's rule, 10% of the retention, at most 31 days. Blocks are
    /// compacted through the ranges 2 h · 3ⁿ up to it.
    pub max_block_duration_ms: Option<i64>,
    /// On open, rename a block that cannot be read to `<ULID>.corrupted`
    /// and go on with the rest (reported by `Db::warnings`), instead of
    /// failing. Default: off — opening fails, naming the block and why.
    pub quarantine_corrupt_blocks: bool,
    /// Run compaction (head persistence, block compaction, retention) on a
    /// thread the `Db` owns, every [`Options::compaction_interval`]. Off:
    /// the host calls `Db::compact` on its own schedule. Default: on, as in
    /// Prometheus.
    pub background_compaction: bool,
    /// How often the background compaction checks for work (Prometheus:
    /// every minute).
    pub compaction_interval: std::time::Duration,
    /// Do not create the `lock` file (Prometheus's
    /// `--storage.tsdb.no-lockfile`). Two writers on one directory corrupt
    /// it: only for hosts that guarantee exclusivity themselves.
    pub no_lockfile: bool,
    /// Strict opening, as `promtool tsdb` behaves: refuse to open (with
    /// [`Error::Damaged`] naming the file and offset) on any damage the
    /// default skips, cuts or moves aside with a warning — an unreadable
    /// block (even with [`Options::quarantine_corrupt_blocks`]), damage in
    /// the WAL or its checkpoint, a torn record at the WAL's end, a
    /// damaged `chunks_head/` file. Nothing on disk is changed first. For
    /// inspection and backup tools, where an answer with data silently
    /// missing is worse than none; a server wants the default, which
    /// recovers after a crash and says what it lost. Default: off.
    pub refuse_damaged_data: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_range_ms: DEFAULT_BLOCK_RANGE_MS,
            retention_ms: DEFAULT_RETENTION_MS,
            retention_bytes: None,
            out_of_order_time_window_ms: 0,
            out_of_order_cap_max: DEFAULT_OUT_OF_ORDER_CAP_MAX,
            wal_compression: true,
            wal_segment_size: aion_wal::DEFAULT_SEGMENT_SIZE,
            wal_sync: aion_wal::SyncPolicy::default(),
            samples_per_chunk: DEFAULT_SAMPLES_PER_CHUNK,
            float_chunk_encoding: FloatChunkEncoding::Xor,
            max_head_series: None,
            replay_concurrency: 0,
            no_lockfile: false,
            max_block_duration_ms: None,
            quarantine_corrupt_blocks: false,
            background_compaction: true,
            compaction_interval: std::time::Duration::from_secs(60),
            refuse_damaged_data: false,
        }
    }
}

impl Options {
    /// Checks that the options can work.
    pub fn validate(&self) -> Result<()> {
        if self.block_range_ms <= 0 {
            return Err(Error::InvalidOptions(format!(
                "block range must be positive, got {} ms",
                self.block_range_ms
            )));
        }
        if self.retention_ms < 0 {
            return Err(Error::InvalidOptions(format!(
                "retention must not be negative, got {} ms",
                self.retention_ms
            )));
        }
        if self.out_of_order_time_window_ms < 0 {
            return Err(Error::InvalidOptions(format!(
                "out-of-order time window must not be negative, got {} ms",
                self.out_of_order_time_window_ms
            )));
        }
        if !(1..=MAX_OUT_OF_ORDER_CAP_MAX).contains(&self.out_of_order_cap_max) {
            return Err(Error::InvalidOptions(format!(
                "out-of-order cap max must be between 1 and {MAX_OUT_OF_ORDER_CAP_MAX}, got {}",
                self.out_of_order_cap_max
            )));
        }
        if self.samples_per_chunk < 4 || self.samples_per_chunk > u16::MAX as usize / 2 {
            return Err(Error::InvalidOptions(format!(
                "samples per chunk must be between 4 and {}, got {}",
                u16::MAX / 2,
                self.samples_per_chunk
            )));
        }
        if self.wal_segment_size < aion_wal::PAGE_SIZE as u64
            || !self
                .wal_segment_size
                .is_multiple_of(aion_wal::PAGE_SIZE as u64)
        {
            return Err(Error::InvalidOptions(format!(
                "WAL segment size must be a positive multiple of {} bytes, got {}",
                aion_wal::PAGE_SIZE,
                self.wal_segment_size
            )));
        }
        Ok(())
    }

    pub(crate) fn wal_options(&self) -> aion_wal::WalOptions {
        aion_wal::WalOptions {
            segment_size: self.wal_segment_size,
            compression: if self.wal_compression {
                aion_wal::Compression::Snappy
            } else {
                aion_wal::Compression::None
            },
            sync: self.wal_sync,
        }
    }
}
