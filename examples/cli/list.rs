//! `aion list DIR`: the blocks of a data directory, as `promtool tsdb
//! list` prints them, then the head's range and size.

use std::path::PathBuf;

use clap::Args;

use crate::gofmt::{base2_bytes, go_duration, go_time_utc, tabwrite};
use crate::Failure;

#[derive(Args)]
pub struct ListArgs {
    /// The data directory.
    #[arg(default_value = "data/")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub open: crate::warnings::OpenFlags,
    /// Print times as UTC dates and sizes with binary units.
    #[arg(short = 'r', long)]
    pub human_readable: bool,
}

pub const HELP: &str = "\
Output: first the block table exactly as `promtool tsdb list` prints it
(ULID, min/max time in ms, duration, samples, chunks, series, size in bytes;
with -r dates in UTC and sizes like 5KiB902B), blocks sorted by min time.
Then, when the head holds data, a blank line and a second table: the head's
min/max time, duration, series and chunks (the samples still in the WAL and
chunks_head/, not yet in a block). The directory is opened read-only.

Examples:
  aion list data/
  aion list -r data/
  aion list data/ | sed '/^$/q'     # the block table only";

pub fn run(args: ListArgs) -> Result<(), Failure> {
    let db = crate::warnings::open_read_only(&args.dir, args.open)?;
    let time = |t: i64| {
        if args.human_readable {
            go_time_utc(t)
        } else {
            t.to_string()
        }
    };
    let size = |n: u64| {
        if args.human_readable {
            base2_bytes(n)
        } else {
            n.to_string()
        }
    };
    let header = [
        "BLOCK ULID",
        "MIN TIME",
        "MAX TIME",
        "DURATION",
        "NUM SAMPLES",
        "NUM CHUNKS",
        "NUM SERIES",
        "SIZE",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for b in db.blocks() {
        let meta = b.meta();
        rows.push(vec![
            meta.ulid.to_string(),
            time(meta.min_time),
            time(meta.max_time),
            go_duration(meta.max_time - meta.min_time),
            meta.stats.num_samples.to_string(),
            meta.stats.num_chunks.to_string(),
            meta.stats.num_series.to_string(),
            size(b.size()),
        ]);
    }
    // promtool's `tabwriter.NewWriter(os.Stdout, 13, 0, 2, ' ', 0)`.
    let mut out = tabwrite(&rows, 13, 2);

    let head = db.head_stats(0);
    if head.num_series > 0 && head.max_time != i64::MIN {
        let rows = vec![
            [
                "HEAD MIN TIME",
                "HEAD MAX TIME",
                "DURATION",
                "NUM SERIES",
                "NUM CHUNKS",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec![
                time(head.min_time),
                time(head.max_time),
                go_duration(head.max_time - head.min_time),
                head.num_series.to_string(),
                head.num_chunks.to_string(),
            ],
        ];
        out.push('\n');
        out.push_str(&tabwrite(&rows, 13, 2));
    }
    crate::print_stdout(&out)
}
