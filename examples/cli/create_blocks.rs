//! `aion create-blocks-from rules`: backfills recording rules over a data
//! directory into new blocks, as `promtool tsdb create-blocks-from rules`
//! does over a Prometheus server's HTTP API, but reading the data in
//! process (read-only).

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aion_promql::Engine;
use aion_rules::backfill::{backfill_group, BackfillRange, RuleOutput};
use aion_rules::rulefmt::{parse_file, ParseOptions};
use aion_rules::{Group, GroupOptions};
use aion_tsdb::backfill::{BackfillOptions, Backfiller};
use aion_tsdb::Db;
use clap::Args;

use crate::timeparse::parse_time_ms;
use crate::Failure;

#[derive(Args)]
pub struct RulesArgs {
    /// The data directory the rules read (opened read-only; nothing is
    /// written there). Takes the place of promtool's `--url`.
    pub data_dir: PathBuf,
    /// Rule files; their recording rules are backfilled.
    #[arg(required = true)]
    pub rule_files: Vec<String>,
    /// First evaluation time: RFC 3339 or Unix seconds. Required.
    #[arg(long, value_name = "T")]
    pub start: String,
    /// Last evaluation time: RFC 3339 or Unix seconds (default: 3 hours
    /// ago).
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// Where the new blocks go.
    #[arg(long, default_value = "data/")]
    pub output_dir: PathBuf,
    /// Interval of groups that set none.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration_ms, default_value = "60s")]
    pub eval_interval: i64,
    /// Longest block to create; rounded down to one of Prometheus's block
    /// ranges, at least 2h.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration_ms)]
    pub max_block_duration: Option<i64>,
}

pub const HELP: &str = "\
Evaluates every recording rule of the RULE_FILEs over DATA_DIR from --start
to --end, at the times promtool picks (each group's evaluation slots,
shifted by the hash of its name and rule file as given, every group
interval), and writes the results as blocks into --output-dir: one block
per rule and 2-hour window, as promtool does. Move them into a data
directory (or let Prometheus pick them up) to use them.

The differences from promtool: promtool queries a server (`--url`); this
reads DATA_DIR in process, read-only (a live Prometheus or Aion may be
writing it). A rule whose results are native histograms is backfilled
with them (float histogram chunks, cut as Prometheus 3's head cuts them);
promtool 2.42 and 3 drop such results without a word. Alerting rules are not evaluated, as promtool's documentation
says (promtool 2.42 and 3 in fact write an alerting rule's expression
results as a series named after the alert; Aion does not). As in promtool,
each rule is evaluated on its own: a rule does not see another rule's
backfilled output.

Exit codes: 0 success, 1 invalid rule file or evaluation error, 2 usage
error.

Examples:
  aion create-blocks-from rules --start 2024-01-01T00:00:00Z \\
      --end 2024-01-02T00:00:00Z --output-dir new/ data/ rules.yml";

/// Runs the backfill.
pub fn rules(args: RulesArgs) -> Result<(), Failure> {
    let began = Instant::now();
    let end_ms = match &args.end {
        Some(e) => parse_time_ms(e).map_err(|e| Failure(format!("error parsing end time: {e}")))?,
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            now - 3 * 3_600_000
        }
    };
    let start_ms = parse_time_ms(&args.start)
        .map_err(|e| Failure(format!("error parsing start time: {e}")))?;
    if start_ms >= end_ms {
        return Err(Failure("start time is not before end time".into()));
    }
    let block_duration_ms = args.max_block_duration.map_or(
        aion_tsdb::DEFAULT_BLOCK_RANGE_MS,
        BackfillOptions::block_duration_for,
    );
    let range = BackfillRange {
        start_s: start_ms.div_euclid(1000),
        end_s: end_ms.div_euclid(1000),
        block_duration_ms,
    };

    let options = GroupOptions {
        default_interval: args.eval_interval,
        ..GroupOptions::default()
    };
    let mut groups = Vec::new();
    for file in &args.rule_files {
        let parsed = parse_file(file.as_ref(), &ParseOptions::default()).map_err(|errs| {
            let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            Failure(format!("rule importer parse error: {}", text.join("\n")))
        })?;
        for rg in &parsed.groups {
            let g = Group::new(file, rg, &options)
                .map_err(|e| Failure(format!("rule importer parse error: {e}")))?;
            groups.push(g);
        }
    }

    // DATA_DIR is only read: new blocks in it would change what is read.
    if let (Ok(a), Ok(b)) = (args.data_dir.canonicalize(), args.output_dir.canonicalize()) {
        if a == b {
            return Err(Failure(format!(
                "--output-dir {} is DATA_DIR: write the blocks elsewhere, then move them in",
                args.output_dir.display()
            )));
        }
    }
    let db = Db::open_read_only(&args.data_dir)?;
    let engine = Engine::default();
    let backfill_options = BackfillOptions {
        block_duration_ms,
        ..BackfillOptions::default()
    };
    let (mut samples, mut blocks, mut failed) = (0u64, 0usize, false);
    for g in &groups {
        // One backfill per rule, so each rule gets blocks of its own.
        let mut current: Option<(usize, Backfiller)> = None;
        let mut finish = |b: Backfiller| -> Result<(), String> {
            let report = b.finish().map_err(|e| e.to_string())?;
            blocks += report.blocks.len();
            Ok(())
        };
        let result = backfill_group(g, &engine, &db, &range, &mut |i, labels, t, v| {
            if current.as_ref().is_none_or(|(r, _)| *r != i) {
                if let Some((_, b)) = current.take() {
                    finish(b)?;
                }
                let b = Backfiller::new(&args.output_dir, backfill_options.clone())
                    .map_err(|e| e.to_string())?;
                current = Some((i, b));
            }
            let (_, b) = current.as_mut().expect("set above");
            match v {
                RuleOutput::Float(v) => b.add(labels, t, v),
                RuleOutput::Histogram(h) => b.add_float_histogram(labels, t, h),
            }
            .map_err(|e| e.to_string())
        });
        let last = current.take().map(|(_, b)| finish(b)).transpose();
        match (result, last) {
            (Ok(n), Ok(_)) => samples += n,
            (Err(e), _) => {
                failed = true;
                eprintln!("rule importer error: group {:?}: {e}", g.name());
            }
            (_, Err(e)) => {
                failed = true;
                eprintln!("rule importer error: group {:?}: add: {e}", g.name());
            }
        }
    }
    db.close()?;
    if failed {
        return Err(Failure("error importing rules".into()));
    }
    println!(
        "backfilled {samples} samples of {} group(s) into {blocks} block(s) in {} ({:.2}s)",
        groups.len(),
        args.output_dir.display(),
        began.elapsed().as_secs_f64()
    );
    Ok(())
}
