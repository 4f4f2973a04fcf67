//! Which blocks to downsample, as Thanos's compactor decides.

use std::collections::HashSet;

use aion_tsdb::block::{BlockMeta, Ulid};

use crate::{RES_1H, RES_1H_MIN_BLOCK_RANGE, RES_5M, RES_5M_MIN_BLOCK_RANGE};

/// The blocks of `metas` to downsample to `resolution` ([`RES_5M`] takes
/// raw blocks, [`RES_1H`] takes 5 m blocks), oldest first. A block is left
/// out when blocks of the target resolution already cover all its sources
/// (Thanos's rule, so running twice does nothing new) and, with `by_age`,
/// when it spans less than Thanos's threshold: 40 h for 5 m, 10 d for 1 h.
/// Other resolutions plan nothing.
pub fn plan_downsampling(metas: &[BlockMeta], resolution: i64, by_age: bool) -> Vec<Ulid> {
    let (from, min_range) = match resolution {
        RES_5M => (0, RES_5M_MIN_BLOCK_RANGE),
        RES_1H => (RES_5M, RES_1H_MIN_BLOCK_RANGE),
        _ => return Vec::new(),
    };
    let res = |m: &BlockMeta| m.thanos.as_ref().map_or(0, |t| t.downsample_resolution);
    let covered: HashSet<Ulid> = metas
        .iter()
        .filter(|m| res(m) == resolution)
        .flat_map(|m| m.compaction.sources.iter().copied())
        .collect();
    let mut todo: Vec<&BlockMeta> = metas
        .iter()
        .filter(|m| res(m) == from)
        .filter(|m| !by_age || m.max_time - m.min_time >= min_range)
        .filter(|m| !m.compaction.sources.iter().all(|s| covered.contains(s)))
        .collect();
    todo.sort_by_key(|m| (m.min_time, m.ulid));
    todo.iter().map(|m| m.ulid).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_tsdb::block::ThanosMeta;

    const H: i64 = 3_600_000;

    fn meta(n: u128, hours: i64, res: i64, sources: &[u128]) -> BlockMeta {
        let mut m = BlockMeta::new(Ulid(n), 0, hours * H);
        m.compaction.sources = sources.iter().map(|&s| Ulid(s)).collect();
        if res > 0 {
            m.thanos = Some(ThanosMeta {
                downsample_resolution: res,
                ..ThanosMeta::default()
            });
        }
        m
    }

    #[test]
    fn age_thresholds_and_coverage_follow_thanos() {
        let metas = [
            meta(1, 2, 0, &[1]),
            meta(2, 48, 0, &[2, 3]),
            meta(4, 48, 0, &[4]),
            meta(5, 48, RES_5M, &[4]),
            meta(6, 240, RES_5M, &[6]),
        ];
        assert_eq!(plan_downsampling(&metas, RES_5M, true), [Ulid(2)]);
        assert_eq!(plan_downsampling(&metas, RES_5M, false), [Ulid(1), Ulid(2)]);
        assert_eq!(plan_downsampling(&metas, RES_1H, true), [Ulid(6)]);
        assert_eq!(plan_downsampling(&metas, RES_1H, false), [Ulid(5), Ulid(6)]);
        assert!(plan_downsampling(&metas, 42, false).is_empty());
    }
}
