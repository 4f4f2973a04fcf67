//! `aion compact DIR`: one compaction of a data directory now, as
//! Prometheus's background compaction would run it.

use std::path::PathBuf;
use std::time::Instant;

use aion_tsdb::{CompactProgress, Db, Options};
use clap::Args;

use crate::gofmt::go_duration;
use crate::progress::ProgressBar;
use crate::Failure;

#[derive(Args)]
pub struct CompactArgs {
    /// The data directory.
    #[arg(default_value = "data/")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub open: crate::warnings::OpenFlags,
    /// The head's block range (Prometheus's
    /// --storage.tsdb.min-block-duration).
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration_ms, default_value = "2h")]
    pub block_duration: i64,
    /// How long to keep data (Prometheus's --storage.tsdb.retention.time);
    /// older blocks are deleted. Also caps the largest block at 10% of it.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration_ms, default_value = "15d")]
    pub retention: i64,
}

pub const HELP: &str = "\
Opens DIR for writing (takes its lock: stop the process that has it open
first) and compacts it once: while the head spans more than 1.5 block
ranges, its oldest range is written to a block and the WAL is truncated;
then blocks are merged as Prometheus's leveled planner chooses (2h → 6h →
18h ...); then blocks past retention are deleted. The options must be the
ones the directory's writer uses, or it compacts differently.

A progress line is drawn on stderr when it is a terminal; stdout lists the
blocks written and deleted, then one summary line.

Examples:
  aion compact data/
  aion compact --retention 30d data/";

pub fn run(args: CompactArgs) -> Result<(), Failure> {
    let start = Instant::now();
    // Opening for writing would create a mistyped directory.
    if !args.dir.is_dir() {
        return Err(Failure(format!(
            "{}: no such directory",
            args.dir.display()
        )));
    }
    let db = Db::open(
        &args.dir,
        args.open.options(Options {
            block_range_ms: args.block_duration,
            retention_ms: args.retention,
            background_compaction: false,
            ..Options::default()
        }),
    )?;
    crate::warnings::print_open_warnings(&db);
    let mut bar = ProgressBar::stderr();
    let report = db.compact_with_progress(&mut |p| match p {
        CompactProgress::PersistingHead {
            min_time,
            max_time,
            done,
            total,
        } => bar.show(
            &format!("writing head range [{min_time}, {max_time}) to a block"),
            done as u64,
            total as u64,
        ),
        CompactProgress::MergingBlocks {
            parents,
            min_time,
            max_time,
        } => bar.status(&format!(
            "merging {parents} blocks into one of {}",
            go_duration(max_time - min_time)
        )),
        CompactProgress::ApplyingRetention => bar.status("applying retention"),
        _ => {}
    });
    bar.clear();
    let report = report?;
    db.close()?;
    let mut out = String::new();
    for u in &report.head_blocks {
        out.push_str(&format!("head block written: {u}\n"));
    }
    for u in &report.compacted_blocks {
        out.push_str(&format!("compacted block written: {u}\n"));
    }
    for u in &report.deleted_blocks {
        out.push_str(&format!("block deleted: {u}\n"));
    }
    out.push_str(&format!(
        "compacted {}: {} head block(s), {} compacted block(s) written, {} block(s) deleted ({:.2}s)\n",
        args.dir.display(),
        report.head_blocks.len(),
        report.compacted_blocks.len(),
        report.deleted_blocks.len(),
        start.elapsed().as_secs_f64()
    ));
    crate::print_stdout(&out)
}
