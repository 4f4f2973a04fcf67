//! `aion analyze DIR [BLOCK]`: the cardinality report of one block (or
//! the head), with the sections of `promtool tsdb analyze`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use aion_model::Matcher;
use aion_storage::ChunkQuerier;
use aion_tsdb::block::Block;
use aion_tsdb::block::BlockChunkQuerier;
use clap::Args;

use crate::gofmt::go_duration;
use crate::Failure;

#[derive(Args)]
pub struct AnalyzeArgs {
    /// The data directory.
    #[arg(default_value = "data/")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub open: crate::warnings::OpenFlags,
    /// The block's ULID, or `head`. Default: the newest block (by ULID),
    /// or the head when there is no block.
    pub block: Option<String>,
    /// How many items to show in each list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Analyze only the series matching this selector.
    #[arg(long = "match", value_name = "SELECTOR")]
    pub matcher: Option<String>,
}

pub const HELP: &str = "\
Output: the sections of `promtool tsdb analyze`, in its order and format:
the block's ID, duration and series; label names, unique label pairs and
total label pairs; then lists of `<count> <item>`, largest first (ties by
name), at most --limit each:
  Label pairs most involved in churning   (how many series' worth of the
  Label names most involved in churning    block's range they leave uncovered)
  Most common label pairs                 (series per name=value)
  Label names with highest cumulative label value length
  Highest cardinality labels              (distinct values per name)
  Highest cardinality metric names        (series per __name__)
As in promtool 3, the default block is the one whose ULID is newest (the
last written; promtool 2.x takes the one with the newest data), 2.x's
`Series:` line reads `Total Series:`, and --match restricts everything to the
matching series. BLOCK `head` analyzes the in-memory head
(samples not yet in a block). Not implemented: promtool's --extended
(chunk size histograms). The directory is opened read-only.

Examples:
  aion analyze data/
  aion analyze data/ 01HQ9V3X4ZC5G1R5KXN8Q2J7WS --limit 50
  aion analyze data/ head --match '{job=\"api\"}'";

pub fn run(args: AnalyzeArgs) -> Result<(), Failure> {
    let matchers = match &args.matcher {
        Some(s) => Some(crate::parse_selector(s)?),
        None => None,
    };
    let db = crate::warnings::open_read_only(&args.dir, args.open)?;
    let mut blocks = db.blocks();
    blocks.sort_by_key(|b| b.ulid());
    let chosen: Option<std::sync::Arc<Block>> = match args.block.as_deref() {
        Some("head") => None,
        Some(id) => Some(
            blocks
                .iter()
                .find(|b| b.ulid().to_string().eq_ignore_ascii_case(id))
                .cloned()
                .ok_or_else(|| {
                    Failure(format!("block {id} not found in {}", args.dir.display()))
                })?,
        ),
        // promtool takes the block whose ULID has the latest timestamp,
        // the first in name order among equals.
        None => blocks
            .iter()
            .fold(None, |best: Option<&std::sync::Arc<Block>>, b| match best {
                Some(x) if x.ulid().timestamp_ms() >= b.ulid().timestamp_ms() => Some(x),
                _ => Some(b),
            })
            .cloned(),
    };
    let report = match &chosen {
        Some(b) => {
            let meta = b.meta();
            let q = BlockChunkQuerier::new(b.clone(), meta.min_time, meta.max_time);
            let target = Target {
                id: meta.ulid.to_string(),
                min_time: meta.min_time,
                max_time: meta.max_time,
                series: meta.stats.num_series,
            };
            analyze(
                &q,
                &target,
                matchers.as_deref(),
                args.matcher.as_deref(),
                args.limit,
            )?
        }
        None => {
            let head = db.head();
            if head.num_series() == 0 || head.max_time() == i64::MIN {
                return Err(Failure(format!(
                    "no blocks and an empty head in {}",
                    args.dir.display()
                )));
            }
            let (min_time, max_time) = (head.min_time(), head.max_time());
            let q = head.chunk_querier(min_time, max_time);
            let target = Target {
                id: "head".to_string(),
                min_time,
                max_time,
                series: head.num_series() as u64,
            };
            analyze(
                &q,
                &target,
                matchers.as_deref(),
                args.matcher.as_deref(),
                args.limit,
            )?
        }
    };
    crate::print_stdout(&report)
}

/// What is analyzed: a block or the head.
struct Target {
    id: String,
    min_time: i64,
    max_time: i64,
    series: u64,
}

fn analyze(
    q: &dyn ChunkQuerier,
    target: &Target,
    matchers: Option<&[Matcher]>,
    matcher_text: Option<&str>,
    limit: usize,
) -> Result<String, Failure> {
    let mut out = String::new();
    let span = target.max_time - target.min_time;
    writeln!(out, "Block ID: {}", target.id)?;
    writeln!(out, "Duration: {}", go_duration(span))?;
    writeln!(out, "Total Series: {}", target.series)?;
    if let Some(m) = matcher_text {
        writeln!(out, "Matcher: {m}")?;
    }
    let selected: &[Matcher] = matchers.unwrap_or(&[]);
    let names = q.label_names(selected)?;
    writeln!(out, "Label names: {}", names.len())?;

    let all = [Matcher::equal("", "")];
    let mut set = q.select(
        false,
        None,
        if selected.is_empty() { &all } else { selected },
    );
    // Per label pair: series count and time not covered; per label name:
    // time not covered; per metric name: series count.
    let mut pairs: HashMap<String, (u64, u64)> = HashMap::new();
    let mut names_uncovered: HashMap<String, u64> = HashMap::new();
    let mut metric_series: HashMap<String, u64> = HashMap::new();
    let mut entries = 0u64;
    let mut matched = 0u64;
    while let Some(series) = set.next() {
        let mut series = series?;
        let mut first = None;
        let mut last = None;
        while let Some(chunk) = series.chunks.next() {
            let chunk = chunk?;
            first.get_or_insert(chunk.min_time);
            last = Some(chunk.max_time);
        }
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        matched += 1;
        let uncovered = (span - (last - first)).max(0) as u64;
        for aion_model::Label { name, value } in series.labels.iter() {
            let e = pairs.entry(format!("{name}={value}")).or_default();
            e.0 += 1;
            e.1 += uncovered;
            *names_uncovered.entry(name.to_string()).or_default() += uncovered;
            entries += 1;
            if name == "__name__" {
                *metric_series.entry(value.to_string()).or_default() += 1;
            }
        }
    }
    if matchers.is_some() {
        writeln!(out, "Matched series: {matched}")?;
    }
    writeln!(out, "Postings (unique label pairs): {}", pairs.len())?;
    writeln!(out, "Postings entries (total label pairs): {entries}")?;

    // Churn is in units of "whole block ranges not covered", truncated as
    // promtool's uint64(float64(m) / float64(span)) does.
    let churn = |m: u64| {
        if span > 0 {
            (m as f64 / span as f64) as u64
        } else {
            0
        }
    };
    section(
        &mut out,
        "Label pairs most involved in churning",
        pairs.iter().map(|(k, v)| (k.clone(), churn(v.1))).collect(),
        limit,
    );
    section(
        &mut out,
        "Label names most involved in churning",
        names_uncovered
            .iter()
            .map(|(k, &v)| (k.clone(), churn(v)))
            .collect(),
        limit,
    );
    section(
        &mut out,
        "Most common label pairs",
        pairs.iter().map(|(k, v)| (k.clone(), v.0)).collect(),
        limit,
    );
    let mut value_length = Vec::with_capacity(names.len());
    let mut cardinality = Vec::with_capacity(names.len());
    for name in &names {
        let values = q.label_values(name, selected)?;
        value_length.push((name.clone(), values.iter().map(|v| v.len() as u64).sum()));
        cardinality.push((name.clone(), values.len() as u64));
    }
    section(
        &mut out,
        "Label names with highest cumulative label value length",
        value_length,
        limit,
    );
    section(&mut out, "Highest cardinality labels", cardinality, limit);
    section(
        &mut out,
        "Highest cardinality metric names",
        metric_series.into_iter().collect(),
        limit,
    );
    Ok(out)
}

/// A blank line, `title:`, then `count item` lines, largest count first.
/// promtool's sort is unstable; ties go by item here so runs agree.
fn section(out: &mut String, title: &str, mut items: Vec<(String, u64)>, limit: usize) {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.push_str(&format!("\n{title}:\n"));
    for (item, count) in items.into_iter().take(limit) {
        out.push_str(&format!("{count} {item}\n"));
    }
}
