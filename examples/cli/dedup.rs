//! `--replica-label` and `--dedup` of `aion query` and `aion query-range`:
//! the data read through Aion's HA deduplication, as Thanos's querier
//! reads it with `--query.replica-label` and `--deduplication.func`.

use aion_storage::dedup::{DedupMode, DedupQueryable};
use aion_storage::Queryable;
use clap::Args;

/// The deduplication flags, shared by both query commands.
#[derive(Args, Debug, Clone, Default)]
pub struct DedupFlags {
    /// Deduplicate replicas: series equal but for this label are one
    /// series, without it (repeatable, as Thanos's
    /// --query.replica-label).
    #[arg(long = "replica-label", value_name = "NAME", value_parser = parse_replica_label)]
    pub replica_labels: Vec<String>,
    /// How replicas merge: penalty (Thanos's default: follow one replica,
    /// switch on gaps) or chain (every sample, each timestamp once, for
    /// identical receive-style replicas). Needs --replica-label.
    #[arg(long = "dedup", value_name = "MODE", default_value = "penalty",
          value_parser = parse_mode, requires = "replica_labels")]
    pub mode: DedupMode,
}

impl DedupFlags {
    /// `q`, deduplicated when replica labels were given (otherwise `q`
    /// unchanged, as Thanos deduplicates only with replica labels).
    pub fn wrap<Q: Queryable>(&self, q: Q) -> DedupQueryable<Q> {
        DedupQueryable::new(q, self.replica_labels.clone(), self.mode)
    }
}

fn parse_replica_label(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("replica label: empty name".into());
    }
    Ok(s.to_string())
}

fn parse_mode(s: &str) -> Result<DedupMode, String> {
    s.parse()
        .map_err(|e: aion_storage::dedup::ParseDedupModeError| e.to_string())
}
