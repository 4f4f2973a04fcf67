//! What the head holds: counts, memory and cardinality statistics (what
//! `promtool tsdb analyze` and Prometheus's TSDB status page show).

use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;

use aion_model::METRIC_NAME;

use super::Head;

/// A name (or `name=value` pair) with a count, for top-N lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelCount {
    /// The label name, metric name, or `name=value` pair.
    pub name: String,
    /// The count (series, values or bytes, depending on the list).
    pub count: u64,
}

/// A snapshot of the head's size and cardinality, from
/// [`Db::head_stats`](crate::Db::head_stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: usize,
    /// Chunks in the head (on disk and open).
    pub num_chunks: usize,
    /// Time of the oldest sample (ms), `i64::MAX` if none.
    pub min_time: i64,
    /// Time of the newest sample (ms), `i64::MIN` if none.
    pub max_time: i64,
    /// `chunks_head/` files and their bytes.
    pub chunk_files: usize,
    /// Bytes of `chunks_head/` files.
    pub chunk_file_bytes: u64,
    /// Estimated heap bytes of series (label references, open chunks,
    /// metadata), the label strings, series maps and postings.
    pub heap_bytes: usize,
    /// Samples appended since open (replayed ones included).
    pub samples_appended: u64,
    /// Samples accepted at append time but dropped at commit because an
    /// earlier sample of the batch or a concurrent commit made them out of
    /// order (or they repeated the newest sample exactly).
    pub samples_dropped_at_commit: u64,
    /// Samples refused as out of order.
    pub out_of_order_refused: u64,
    /// Samples refused as out of bounds.
    pub out_of_bounds_refused: u64,
    /// Samples refused as duplicates with a different value.
    pub duplicates_refused: u64,
    /// Samples refused as older than the out-of-order window.
    pub too_old_refused: u64,
    /// Samples stored out of order (counted in `samples_appended` too).
    pub out_of_order_appended: u64,
    /// New series refused by the head series limit.
    pub series_limit_refused: u64,
    /// Series created and removed since open.
    pub series_created: u64,
    /// Series removed by truncation since open.
    pub series_removed: u64,
    /// Number of distinct `name=value` pairs.
    pub num_label_pairs: usize,
    /// Metric names with the most series.
    pub series_count_by_metric_name: Vec<LabelCount>,
    /// Label names with the most distinct values.
    pub value_count_by_label_name: Vec<LabelCount>,
    /// Label names whose values take the most bytes over all series.
    pub memory_in_bytes_by_label_name: Vec<LabelCount>,
    /// `name=value` pairs on the most series.
    pub series_count_by_label_pair: Vec<LabelCount>,
}

/// Keeps the `n` largest counts.
struct TopN {
    n: usize,
    heap: BinaryHeap<std::cmp::Reverse<(u64, String)>>,
}

impl TopN {
    fn new(n: usize) -> Self {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    fn push(&mut self, count: u64, name: impl FnOnce() -> String) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            let min = self.heap.peek().map_or(0, |r| r.0 .0);
            if count <= min {
                return;
            }
        }
        self.heap.push(std::cmp::Reverse((count, name())));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<LabelCount> {
        let mut v: Vec<LabelCount> = self
            .heap
            .into_iter()
            .map(|r| LabelCount {
                name: r.0 .1,
                count: r.0 .0,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        v
    }
}

impl Head {
    /// Counts, memory and the `top_n` largest entries of each cardinality
    /// list. Walks every series: milliseconds per hundred thousand series.
    pub fn stats(&self, top_n: usize) -> HeadStats {
        let mut num_chunks = 0;
        let mut series_heap = 0;
        self.series.for_each(|s| {
            let st = s.lock();
            num_chunks += st.num_chunks();
            series_heap += s.heap_bytes(&st);
        });
        let mut metrics = TopN::new(top_n);
        let mut names = TopN::new(top_n);
        let mut bytes = TopN::new(top_n);
        let mut pairs = TopN::new(top_n);
        let mut num_label_pairs = 0;
        let mut per_name: std::collections::HashMap<String, (u64, u64)> = Default::default();
        self.postings.for_each_list(|n, v, count| {
            if n.is_empty() {
                return;
            }
            num_label_pairs += 1;
            let count = count as u64;
            if n == METRIC_NAME {
                metrics.push(count, || v.to_string());
            }
            pairs.push(count, || format!("{n}={v}"));
            let e = per_name.entry(n.to_string()).or_default();
            e.0 += 1;
            e.1 += (n.len() + v.len()) as u64 * count;
        });
        for (n, (values, size)) in per_name {
            names.push(values, || n.clone());
            bytes.push(size, || n);
        }
        let (chunk_files, chunk_file_bytes) = self.chunks.usage();
        let c = &self.counters;
        HeadStats {
            num_series: self.num_series(),
            num_chunks,
            min_time: self.min_time(),
            max_time: self.max_time(),
            chunk_files,
            chunk_file_bytes,
            heap_bytes: series_heap
                + self.series.heap_bytes()
                + self.symbols.heap_bytes()
                + self.postings.heap_bytes()
                + self.known_pool.lock().heap_bytes(),
            samples_appended: c.samples_appended.load(Ordering::Relaxed),
            samples_dropped_at_commit: c.samples_dropped_at_commit.load(Ordering::Relaxed),
            out_of_order_refused: c.out_of_order_refused.load(Ordering::Relaxed),
            out_of_bounds_refused: c.out_of_bounds_refused.load(Ordering::Relaxed),
            duplicates_refused: c.duplicates_refused.load(Ordering::Relaxed),
            too_old_refused: c.too_old_refused.load(Ordering::Relaxed),
            out_of_order_appended: c.out_of_order_appended.load(Ordering::Relaxed),
            series_limit_refused: c.series_limit_refused.load(Ordering::Relaxed),
            series_created: c.series_created.load(Ordering::Relaxed),
            series_removed: c.series_removed.load(Ordering::Relaxed),
            num_label_pairs,
            series_count_by_metric_name: metrics.into_sorted(),
            value_count_by_label_name: names.into_sorted(),
            memory_in_bytes_by_label_name: bytes.into_sorted(),
            series_count_by_label_pair: pairs.into_sorted(),
        }
    }
}
