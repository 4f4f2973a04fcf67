//! `aion labels DIR [NAME]`: the label names of a data directory, or the
//! values of one label, as Prometheus's `/api/v1/labels` and
//! `/api/v1/label/NAME/values` answer them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aion_storage::Queryable;
use clap::Args;

use crate::Failure;

#[derive(Args)]
pub struct LabelsArgs {
    /// The data directory.
    pub dir: PathBuf,
    #[command(flatten)]
    pub open: crate::warnings::OpenFlags,
    /// Print the values of this label instead of the label names.
    pub name: Option<String>,
    /// Only series matching this selector (repeatable; a series matching
    /// any counts).
    #[arg(long = "match", value_name = "SELECTOR")]
    pub matchers: Vec<String>,
    /// Only series with samples at or after this time (ms).
    #[arg(long, value_name = "T", default_value_t = i64::MIN, allow_negative_numbers = true)]
    pub min_time: i64,
    /// Only series with samples at or before this time (ms).
    #[arg(long, value_name = "T", default_value_t = i64::MAX, allow_negative_numbers = true)]
    pub max_time: i64,
}

pub const HELP: &str = "\
Output: one name (or value) per line, sorted, each once, over the blocks and
the head. SELECTOR is a PromQL series selector (`up{job=\"api\"}`,
`{__name__=~\"node_.*\"}`); with several --match a series matching any of them
counts, as with the `match[]` parameters of Prometheus's HTTP API. The
directory is opened read-only.

Examples:
  aion labels data/                          # every label name
  aion labels data/ __name__                 # every metric name
  aion labels data/ instance --match 'up{job=\"node\"}'
  aion labels data/ --match '{__name__=~\"http_.*\"}' --min-time 1700000000000";

pub fn run(args: LabelsArgs) -> Result<(), Failure> {
    let selectors = args
        .matchers
        .iter()
        .map(|s| crate::parse_selector(s))
        .collect::<Result<Vec<_>, _>>()?;
    if args.min_time > args.max_time {
        return Err(Failure(format!(
            "--min-time {} is after --max-time {}",
            args.min_time, args.max_time
        )));
    }
    let db = crate::warnings::open_read_only(&args.dir, args.open)?;
    let q = db.querier(args.min_time, args.max_time)?;
    let lookup = |matchers: &[aion_model::Matcher]| match &args.name {
        Some(name) => q.label_values(name, matchers),
        None => q.label_names(matchers),
    };
    let found: BTreeSet<String> = if selectors.is_empty() {
        lookup(&[])?.into_iter().collect()
    } else {
        let mut all = BTreeSet::new();
        for ms in &selectors {
            all.extend(lookup(ms)?);
        }
        all
    };
    let mut out = String::new();
    for s in found {
        out.push_str(&s);
        out.push('\n');
    }
    crate::print_stdout(&out)
}
