//! `aion downsample DIR`: Thanos-compatible 5 m and 1 h blocks from the
//! blocks in a directory, as Thanos's compactor writes them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use aion_downsample::{downsample_block, plan_downsampling, RES_1H, RES_5M};
use aion_tsdb::block::{parse_ulid, Block, BlockMeta};
use clap::Args;

use crate::Failure;

#[derive(Args)]
pub struct DownsampleArgs {
    /// A directory of blocks (a Thanos bucket's layout: one directory per
    /// block ULID).
    pub dir: PathBuf,
    /// Downsample to this resolution now, whatever the blocks' age: `5m`
    /// (from raw blocks) or `1h` (from 5m blocks). Without it, both steps
    /// run by age as Thanos's compactor does.
    #[arg(long, value_name = "RES", value_parser = parse_resolution)]
    pub resolution: Option<i64>,
    /// Where to write the new blocks (default: DIR).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub const HELP: &str = "\
Reads every block of DIR and writes downsampled blocks with Thanos's
aggregate chunks (count, sum, min, max, counter per window; count, sum and
counter histograms for native histogram series) and a
`thanos` section in meta.json (downsample.resolution 300000 or 3600000).
Without --resolution, raw blocks spanning at least 40h become 5m blocks and
5m blocks spanning at least 10d become 1h blocks, as Thanos's compactor
decides; with it, every block of the preceding resolution is downsampled
now. Blocks whose sources a block of the target resolution already covers
are skipped, so running twice writes nothing new. Source blocks are kept.

Prometheus cannot read downsampled chunks: a data directory with a wal/
(one a Prometheus or Aion process writes) is refused as DIR unless --out
names another directory.

Output: one line per block written, then a summary line; skipped or
repaired data is printed as `warning: ` lines on stderr.

Examples:
  aion downsample bucket/
  aion downsample --resolution 5m bucket/
  aion downsample --resolution 1h --out bucket-1h/ bucket/";

fn parse_resolution(s: &str) -> Result<i64, String> {
    match s {
        "5m" => Ok(RES_5M),
        "1h" => Ok(RES_1H),
        _ => Err(format!("resolution {s:?}: want 5m or 1h")),
    }
}

fn res_name(res: i64) -> &'static str {
    match res {
        RES_5M => "5m",
        RES_1H => "1h",
        _ => "raw",
    }
}

/// What `aion query --resolution` reads: a fixed resolution (ms) or Thanos's
/// automatic choice by step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryResolution {
    /// Blocks of at most this resolution (ms), the coarsest available.
    Max(i64),
    /// `max_source_resolution` = step / 5, as Thanos's querier with
    /// auto-downsampling (raw for instant queries).
    Auto,
}

/// Parses `raw`, `5m`, `1h` or `auto`.
pub fn parse_query_resolution(s: &str) -> Result<QueryResolution, String> {
    match s {
        "raw" => Ok(QueryResolution::Max(0)),
        "auto" => Ok(QueryResolution::Auto),
        _ => parse_resolution(s)
            .map(QueryResolution::Max)
            .map_err(|_| format!("resolution {s:?}: want raw, 5m, 1h or auto")),
    }
}

/// Opens every block of `dir` for a query at `max_resolution` (ms).
pub fn open_for_query(
    dir: &Path,
    max_resolution: i64,
) -> Result<aion_downsample::DownsampledQueryable, Failure> {
    let mut blocks = Vec::new();
    for m in read_metas(dir)? {
        blocks.push(Block::open(dir.join(m.ulid.to_string()))?);
    }
    aion_downsample::DownsampledQueryable::new(blocks, max_resolution).ok_or_else(|| {
        Failure(format!(
            "{}: no block of resolution {} or finer",
            dir.display(),
            res_name(max_resolution)
        ))
    })
}

/// The metas of every block directory of `dir`.
fn read_metas(dir: &Path) -> Result<Vec<BlockMeta>, Failure> {
    let mut metas = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    for e in entries {
        let e = e.map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
        let name = e.file_name();
        let Some(_) = name.to_str().and_then(parse_ulid) else {
            continue;
        };
        match BlockMeta::read(&e.path()) {
            Ok(m) => metas.push(m),
            Err(err) => eprintln!("warning: skipped block {}: {err}", e.path().display()),
        }
    }
    Ok(metas)
}

pub fn run(args: DownsampleArgs) -> Result<(), Failure> {
    let start = Instant::now();
    if !args.dir.is_dir() {
        return Err(Failure(format!(
            "{}: no such directory",
            args.dir.display()
        )));
    }
    let out_dir = args.out.clone().unwrap_or_else(|| args.dir.clone());
    if out_dir == args.dir && args.dir.join("wal").is_dir() {
        return Err(Failure(format!(
            "{}: is a data directory (it has a wal/); its compaction would merge downsampled blocks into raw data: pass --out",
            args.dir.display()
        )));
    }
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Failure(format!("{}: {e}", out_dir.display())))?;
    let steps: &[i64] = match args.resolution {
        Some(r) => std::slice::from_ref(match r {
            RES_5M => &RES_5M,
            _ => &RES_1H,
        }),
        None => &[RES_5M, RES_1H],
    };
    let mut out = String::new();
    let (mut written, mut chunk_bytes, mut samples) = (0u64, 0u64, 0u64);
    for &res in steps {
        // The 1h step sees the 5m blocks the first step wrote.
        let mut metas = read_metas(&args.dir)?;
        if out_dir != args.dir {
            metas.extend(read_metas(&out_dir)?);
        }
        for ulid in plan_downsampling(&metas, res, args.resolution.is_none()) {
            let src = [&args.dir, &out_dir]
                .into_iter()
                .map(|d| d.join(ulid.to_string()))
                .find(|p| p.is_dir())
                .ok_or_else(|| Failure(format!("block {ulid} vanished")))?;
            let block = Block::open(&src)?;
            let (meta, report) = downsample_block(&block, &out_dir, res)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            chunk_bytes += report.chunk_bytes_read;
            samples += report.samples_read;
            match meta {
                Some(m) => {
                    written += 1;
                    out.push_str(&format!(
                        "downsampled block written: {} ({} from {ulid}, {} series, {} chunks)\n",
                        m.ulid,
                        res_name(res),
                        m.stats.num_series,
                        m.stats.num_chunks
                    ));
                }
                None => eprintln!("warning: block {ulid} held no samples; nothing written"),
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    out.push_str(&format!(
        "downsampled {}: {written} block(s) written, {:.1} MiB of chunks and {samples} samples read ({secs:.2}s)\n",
        args.dir.display(),
        chunk_bytes as f64 / (1024.0 * 1024.0),
    ));
    crate::print_stdout(&out)
}
