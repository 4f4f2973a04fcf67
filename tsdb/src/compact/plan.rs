//! Which blocks to compact next: Prometheus's leveled planner.

use ulid::Ulid;

use crate::block::BlockMeta;

/// Prometheus's block ranges: `min`, `min·step`, `min·step²`, … (`steps`
/// of them). With the defaults, 2 h, 6 h, 18 h, 54 h, ….
///
/// ```
/// use aion_tsdb::compact::exponential_block_ranges;
/// let h = 3_600_000;
/// assert_eq!(exponential_block_ranges(2 * h, 4, 3), [2 * h, 6 * h, 18 * h, 54 * h]);
/// ```
pub fn exponential_block_ranges(min: i64, steps: usize, step: i64) -> Vec<i64> {
    let mut ranges = Vec::with_capacity(steps);
    let mut r = min;
    for _ in 0..steps {
        ranges.push(r);
        r = r.saturating_mul(step);
    }
    ranges
}

/// The ranges a database compacts into: Prometheus's 10 ranges from the
/// block range up, keeping only those not above the maximum block
/// duration (10% of retention, at most 31 days, as Prometheus derives its
/// default).
pub fn compaction_ranges(block_range: i64, max_block_duration: i64) -> Vec<i64> {
    let mut ranges = exponential_block_ranges(block_range, 10, 3);
    if max_block_duration > block_range {
        ranges.retain(|&r| r <= max_block_duration);
    } else {
        ranges.truncate(1);
    }
    ranges
}

/// The maximum block duration Prometheus derives from a retention:
/// 10% of it, capped at 31 days, and never below the block range.
pub fn max_block_duration(block_range: i64, retention: i64) -> i64 {
    const DAY: i64 = 24 * 3600 * 1000;
    let mut max = 31 * DAY;
    if retention > 0 && retention / 10 < max {
        max = retention / 10;
    }
    max.max(block_range)
}

/// Picks the blocks to compact together next, as Prometheus's
/// `LeveledCompactor.Plan` does:
///
/// 1. overlapping blocks first (vertical compaction), all that overlap
///    the first overlap found;
/// 2. otherwise, leaving out the newest block (a window to back it up),
///    the first group of blocks filling a whole range of the next level
///    (or lying before the newest block), from the smallest level up;
/// 3. otherwise, a large enough block with more than 5% tombstones (or
///    entirely deleted) on its own, to rewrite it without deleted data.
///
/// Blocks whose earlier compaction failed are not grouped again. Returns
/// the ULIDs to compact (empty: nothing to do).
pub fn plan(metas: &[BlockMeta], ranges: &[i64]) -> Vec<Ulid> {
    let mut ms: Vec<&BlockMeta> = metas.iter().collect();
    ms.sort_by_key(|m| m.min_time);
    let overlapping = select_overlapping(&ms);
    if !overlapping.is_empty() {
        return overlapping;
    }
    if ms.is_empty() {
        return Vec::new();
    }
    let ms = &ms[..ms.len() - 1];
    let selected = select_ranges(ms, ranges);
    if !selected.is_empty() {
        return selected;
    }
    for m in ms.iter().rev() {
        if m.max_time - m.min_time < ranges[ranges.len() / 2] {
            if m.stats.num_tombstones > 0 && m.stats.num_tombstones >= m.stats.num_series {
                return vec![m.ulid];
            }
            break;
        }
        if m.stats.num_tombstones as f64 / (m.stats.num_series + 1) as f64 > 0.05 {
            return vec![m.ulid];
        }
    }
    Vec::new()
}

fn select_overlapping(ms: &[&BlockMeta]) -> Vec<Ulid> {
    let mut out = Vec::new();
    let Some(first) = ms.first() else {
        return out;
    };
    let mut global_max = first.max_time;
    for i in 1..ms.len() {
        let m = ms[i];
        if m.min_time < global_max {
            if out.is_empty() {
                out.push(ms[i - 1].ulid);
            }
            out.push(m.ulid);
        } else if !out.is_empty() {
            break;
        }
        global_max = global_max.max(m.max_time);
    }
    out
}

fn select_ranges(ms: &[&BlockMeta], ranges: &[i64]) -> Vec<Ulid> {
    if ranges.len() < 2 || ms.is_empty() {
        return Vec::new();
    }
    let high = ms[ms.len() - 1].min_time;
    for &r in &ranges[1..] {
        for part in split_by_range(ms, r) {
            if part.iter().any(|m| m.compaction.failed) {
                continue;
            }
            let mint = part[0].min_time;
            let maxt = part[part.len() - 1].max_time;
            if (maxt - mint == r || maxt <= high) && part.len() > 1 {
                return part.iter().map(|m| m.ulid).collect();
            }
        }
    }
    Vec::new()
}

/// Groups blocks (sorted by min time) by the aligned range of width `tr`
/// that contains them; blocks spanning more than one range are skipped.
fn split_by_range<'a>(ms: &[&'a BlockMeta], tr: i64) -> Vec<Vec<&'a BlockMeta>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ms.len() {
        let m = ms[i];
        let t0 = if m.min_time >= 0 {
            tr * (m.min_time / tr)
        } else {
            tr * ((m.min_time - tr + 1) / tr)
        };
        if m.max_time > t0 + tr {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < ms.len() && ms[i].max_time <= t0 + tr {
            group.push(ms[i]);
            i += 1;
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn meta(n: u8, min: i64, max: i64) -> BlockMeta {
        let mut b = [0u8; 16];
        b[15] = n;
        BlockMeta::new(Ulid::from_bytes(b), min, max)
    }

    fn ids(v: &[Ulid]) -> Vec<u8> {
        v.iter().map(|u| u.to_bytes()[15]).collect()
    }

    #[test]
    fn ranges() {
        let r = compaction_ranges(2 * H, max_block_duration(2 * H, 15 * 24 * H));
        // 10% of 15 d = 36 h: 2 h, 6 h, 18 h.
        assert_eq!(r, [2 * H, 6 * H, 18 * H]);
        assert_eq!(
            compaction_ranges(2 * H, max_block_duration(2 * H, 0)).last(),
            Some(&(486 * H))
        );
    }

    #[test]
    fn plans_like_prometheus() {
        let r = [2 * H, 6 * H, 18 * H];
        // Three 2 h blocks of a 6 h range plus a newer one: the three.
        let ms = [
            meta(1, 0, 2 * H),
            meta(2, 2 * H, 4 * H),
            meta(3, 4 * H, 6 * H),
            meta(4, 6 * H, 8 * H),
        ];
        assert_eq!(ids(&plan(&ms, &r)), [1, 2, 3]);
        // The newest block is never taken: two blocks of a range, no more.
        assert!(plan(&ms[..3], &r).is_empty());
        // Blocks before the newest one are compacted even with a gap.
        let ms = [
            meta(1, 0, 2 * H),
            meta(2, 2 * H, 4 * H),
            meta(3, 8 * H, 10 * H),
            meta(4, 10 * H, 12 * H),
        ];
        assert_eq!(ids(&plan(&ms, &r)), [1, 2]);
        assert!(
            plan(&ms[..3], &r).is_empty(),
            "the newest block is left out first"
        );
        // Overlaps come first.
        let ms = [
            meta(1, 0, 2 * H),
            meta(2, 2 * H, 4 * H),
            meta(3, 3 * H, 5 * H),
            meta(4, 6 * H, 8 * H),
        ];
        assert_eq!(ids(&plan(&ms, &r)), [2, 3]);
        // A failed compaction keeps its range out.
        let mut failed = meta(2, 2 * H, 4 * H);
        failed.compaction.failed = true;
        let ms = [
            meta(1, 0, 2 * H),
            failed,
            meta(3, 4 * H, 6 * H),
            meta(4, 6 * H, 8 * H),
        ];
        assert!(plan(&ms, &r).is_empty());
        // A big block with many tombstones is rewritten alone.
        let mut big = meta(1, 0, 18 * H);
        big.stats.num_series = 100;
        big.stats.num_tombstones = 10;
        let ms = [big, meta(2, 18 * H, 20 * H)];
        assert_eq!(ids(&plan(&ms, &r)), [1]);
        // A small block entirely deleted, too.
        let mut gone = meta(1, 0, 2 * H);
        gone.stats.num_series = 3;
        gone.stats.num_tombstones = 3;
        let ms = [gone, meta(2, 2 * H, 4 * H)];
        assert_eq!(ids(&plan(&ms, &r)), [1]);
    }
}
