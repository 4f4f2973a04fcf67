//! Crash and damage tests: a log cut at any byte, or with bytes flipped
//! near its end, reopens without panicking, keeps every record completed
//! before the damage, and returns nothing that was not written.
//!
//! The always-on tests take a few seconds; the exhaustive variants are
//! `#[ignore]`d: `cargo test -p aion-wal --test crash -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};

use aion_wal::record::{self, RefSample};
use aion_wal::{repair, segment_path, Compression, Error, Wal, WalOptions, WalReader, PAGE_SIZE};

/// splitmix64: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A temporary directory, on tmpfs when there is one: these tests open
/// the log tens of thousands of times, and every open flushes to disk.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// A log written without a clean close (as a crash leaves it), with the
/// exact extent of every record.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    options: WalOptions,
    records: Vec<Vec<u8>>,
    /// Per record: segment, start offset, end offset.
    extents: Vec<(u32, u64, u64)>,
    last_segment: u32,
    last_bytes: Vec<u8>,
}

/// A samples record of pseudo-random size: mostly small, sometimes empty,
/// sometimes spanning several pages.
fn make_record(rng: &mut Rng) -> Vec<u8> {
    let n = match rng.below(20) {
        0 => return Vec::new(),
        1 => 3000 + rng.below(6000),
        _ => 1 + rng.below(150),
    };
    let base_t = rng.below(1 << 40) as i64;
    let samples: Vec<RefSample> = (0..n)
        .map(|i| RefSample {
            r#ref: rng.below(500),
            t: base_t + i as i64 * 15_000,
            v: if rng.below(3) == 0 {
                rng.below(100) as f64
            } else {
                f64::from_bits(rng.next())
            },
        })
        .collect();
    let mut buf = Vec::new();
    record::encode_samples(&samples, &mut buf);
    buf
}

/// Extents of the records in a segment, found by walking its fragments
/// (independently of the crate's reader).
fn record_extents(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut off = 0usize;
    let mut start = 0usize;
    while off < bytes.len() {
        let typ = bytes[off] & 0b111;
        if bytes[off] == 0 {
            off = (off / PAGE_SIZE + 1) * PAGE_SIZE;
            continue;
        }
        let len = u16::from_be_bytes([bytes[off + 1], bytes[off + 2]]) as usize;
        let end = off + 7 + len;
        if typ == 1 || typ == 2 {
            start = off;
        }
        if typ == 1 || typ == 4 {
            out.push((start as u64, end as u64));
        }
        off = end;
    }
    out
}

fn build(seed: u64, records: usize, segment_pages: u64, compression: Compression) -> Fixture {
    let tmp = scratch_dir();
    let dir = tmp.path().join("wal");
    let options = WalOptions {
        segment_size: segment_pages * PAGE_SIZE as u64,
        compression,
        ..WalOptions::default()
    };
    let mut rng = Rng(seed);
    let (mut wal, _) = Wal::open(&dir, options).unwrap();
    let mut written = Vec::new();
    while written.len() < records {
        let batch: Vec<Vec<u8>> = (0..1 + rng.below(3))
            .map(|_| make_record(&mut rng))
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        wal.log(&refs).unwrap();
        written.extend(batch);
    }
    // No close: the last page stays partial, as after a crash.
    drop(wal);
    let (first, last) = aion_wal::segment_range(&dir).unwrap().unwrap();
    let mut extents = Vec::new();
    for s in first..=last {
        let bytes = fs::read(segment_path(&dir, s)).unwrap();
        extents.extend(record_extents(&bytes).into_iter().map(|(a, b)| (s, a, b)));
    }
    assert_eq!(
        extents.len(),
        written.len(),
        "fixture walk found every record"
    );
    let last_bytes = fs::read(segment_path(&dir, last)).unwrap();
    assert!(
        last_bytes.len() > 3 * PAGE_SIZE,
        "the last segment spans several pages"
    );
    Fixture {
        _tmp: tmp,
        dir,
        options,
        records: written,
        extents,
        last_segment: last,
        last_bytes,
    }
}

impl Fixture {
    /// Replaces the last segment with `bytes` and deletes segments a
    /// previous open created.
    fn install(&self, bytes: &[u8]) {
        fs::write(segment_path(&self.dir, self.last_segment), bytes).unwrap();
        let mut s = self.last_segment + 1;
        while segment_path(&self.dir, s).exists() {
            fs::remove_file(segment_path(&self.dir, s)).unwrap();
            s += 1;
        }
    }

    /// The records of the last segment (and any after it), preceded by the
    /// untouched records of earlier segments.
    fn read_back(&self) -> Vec<Vec<u8>> {
        let before = self
            .extents
            .iter()
            .take_while(|e| e.0 < self.last_segment)
            .count();
        let mut out = self.records[..before].to_vec();
        let mut r = WalReader::open(&self.dir, self.last_segment..).unwrap();
        while let Some(rec) = r
            .next_record()
            .unwrap_or_else(|e| panic!("replay failed: {e}"))
        {
            out.push(rec.to_vec());
        }
        out
    }

    /// Number of records complete before byte `offset` of the last segment.
    fn complete_before(&self, offset: u64) -> usize {
        self.extents
            .iter()
            .take_while(|&&(s, _, end)| s < self.last_segment || end <= offset)
            .count()
    }

    fn truncate_at(&self, cut: u64) {
        self.install(&self.last_bytes[..cut as usize]);
        let (wal, report) = Wal::open(&self.dir, self.options)
            .unwrap_or_else(|e| panic!("open after cutting at {cut}: {e}"));
        drop(wal);
        let kept = self.complete_before(cut);
        // A record cut in the middle is reported as a torn tail.
        let torn = self
            .extents
            .iter()
            .find(|&&(s, start, end)| s == self.last_segment && start < cut && cut < end);
        match (torn, &report.torn_tail) {
            (None, None) => {}
            (Some(&(_, start, _)), Some(t)) => {
                assert_eq!(t.at.offset, start, "cut at {cut}");
                assert_eq!(t.dropped_bytes, cut - start, "cut at {cut}");
            }
            (want, got) => panic!("cut at {cut}: expected torn record {want:?}, report {got:?}"),
        }
        let got = self.read_back();
        assert_eq!(got.len(), kept, "cut at {cut}");
        assert!(got == self.records[..kept], "cut at {cut}: records differ");
    }

    /// Flips bytes at `offsets` of the last segment, reopens (repairing if
    /// the damage is not a torn tail) and checks what is read back.
    fn flip(&self, flips: &[(usize, u8)]) {
        let mut bytes = self.last_bytes.clone();
        for &(at, mask) in flips {
            bytes[at] ^= mask;
        }
        self.install(&bytes);
        let context = || format!("flips {flips:?}");
        match Wal::open(&self.dir, self.options) {
            Ok(_) => {}
            Err(e @ (Error::Corrupt { .. } | Error::Unsupported { .. })) => {
                let at = e.position().unwrap();
                assert_eq!(at.segment, self.last_segment, "{}: {e}", context());
                let first_damage = flips.iter().map(|f| f.0).min().unwrap() as u64;
                assert!(
                    at.offset <= first_damage,
                    "{}: {e} reported after the damage",
                    context()
                );
                repair(at).unwrap_or_else(|e| panic!("{}: repair: {e}", context()));
                Wal::open(&self.dir, self.options)
                    .unwrap_or_else(|e| panic!("{}: open after repair: {e}", context()));
            }
            Err(e) => panic!("{}: {e}", context()),
        }
        let got = self.read_back();
        let first_damage = flips.iter().map(|f| f.0).min().unwrap() as u64;
        let kept = self.complete_before(first_damage);
        assert!(
            got.len() >= kept,
            "{}: lost records before the damage",
            context()
        );
        assert!(got[..kept] == self.records[..kept], "{}", context());
        // Nothing invented: later records are original records, in order.
        // The one exception is the format's: a fragment's header byte is
        // not checksummed, so clearing the snappy flag of a compressed
        // record returns its compressed bytes. Those start with the
        // uncompressed length (≥ 17, as shorter records never compress),
        // an unknown record type that replay skips.
        let mut next = kept;
        for rec in &got[kept..] {
            if record::record_type(rec).is_none() && self.options.compression == Compression::Snappy
            {
                continue;
            }
            let found = self.records[next..].iter().position(|r| r == rec);
            let Some(i) = found else {
                panic!("{}: invented record of {} bytes", context(), rec.len());
            };
            next += i + 1;
        }
    }
}

/// Cuts the last segment at every byte of `window`, then at `random`
/// random offsets.
fn truncation_sweep(
    f: &Fixture,
    window: std::ops::RangeInclusive<usize>,
    random: usize,
    seed: u64,
) {
    for cut in window {
        f.truncate_at(cut as u64);
    }
    let mut rng = Rng(seed);
    for _ in 0..random {
        f.truncate_at(rng.below(f.last_bytes.len() as u64 + 1));
    }
}

/// Every byte around the last page boundary of the last segment: the end
/// of a page (records, padding) and the start of the next.
fn around_last_page_boundary(f: &Fixture, width: usize) -> std::ops::RangeInclusive<usize> {
    let len = f.last_bytes.len();
    let boundary = (len - 1) / PAGE_SIZE * PAGE_SIZE;
    boundary - width / 2..=(boundary + width / 2).min(len)
}

fn flip_sweep(f: &Fixture, trials: usize, tail: usize, seed: u64) {
    let len = f.last_bytes.len();
    let mut rng = Rng(seed);
    for _ in 0..trials {
        let n = 1 + rng.below(3) as usize;
        let flips: Vec<(usize, u8)> = (0..n)
            .map(|_| {
                let at = len - 1 - rng.below(tail.min(len) as u64) as usize;
                (at, 1 + rng.below(255) as u8)
            })
            .collect();
        f.flip(&flips);
    }
}

#[test]
fn truncation_near_the_end() {
    let f = build(1, 400, 8, Compression::None);
    let len = f.last_bytes.len();
    truncation_sweep(&f, around_last_page_boundary(&f, 1500), 0, 0);
    truncation_sweep(&f, len - 600..=len, 400, 2);
}

#[test]
fn truncation_of_a_compressed_log() {
    let f = build(3, 400, 8, Compression::Snappy);
    let len = f.last_bytes.len();
    truncation_sweep(&f, around_last_page_boundary(&f, 1000), 0, 0);
    truncation_sweep(&f, len - 300..=len, 300, 4);
}

#[test]
fn flipped_bytes_in_the_tail() {
    for (seed, compression) in [(5, Compression::None), (6, Compression::Snappy)] {
        let f = build(seed, 400, 8, compression);
        flip_sweep(&f, 300, 3 * PAGE_SIZE, seed * 7);
    }
}

#[test]
fn damage_before_the_tail_is_an_error_until_repaired() {
    let f = build(8, 400, 8, Compression::None);
    // Damage the data of a record in the first page of the last segment.
    let &(_, start, end) = f
        .extents
        .iter()
        .find(|&&(s, start, end)| s == f.last_segment && end - start > 20 && start > 0)
        .unwrap();
    let mut bytes = f.last_bytes.clone();
    bytes[start as usize + 12] ^= 0xff;
    f.install(&bytes);
    let err = Wal::open(&f.dir, f.options).unwrap_err();
    let at = err.position().unwrap().clone();
    assert_eq!((at.segment, at.offset), (f.last_segment, start), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{:08}", f.last_segment)) && message.contains(&start.to_string()),
        "error names segment and offset: {message}"
    );
    let report = repair(&at).unwrap();
    assert_eq!(report.cut_at.offset, start);
    assert_eq!(report.dropped_bytes, f.last_bytes.len() as u64 - start);
    let (_, open) = Wal::open(&f.dir, f.options).unwrap();
    assert!(open.torn_tail.is_none());
    let kept = f.complete_before(start);
    assert!(f.read_back() == f.records[..kept]);
    let _ = end;
}

#[test]
#[ignore = "exhaustive: minutes"]
fn exhaustive_truncation() {
    for (seed, compression) in [(11, Compression::None), (12, Compression::Snappy)] {
        let f = build(seed, 1500, 16, compression);
        let len = f.last_bytes.len();
        truncation_sweep(&f, len.saturating_sub(4 * PAGE_SIZE)..=len, 5000, seed);
    }
}

#[test]
#[ignore = "exhaustive: minutes"]
fn exhaustive_flips() {
    for (seed, compression) in [(13, Compression::None), (14, Compression::Snappy)] {
        let f = build(seed, 1500, 16, compression);
        flip_sweep(&f, 20_000, 4 * PAGE_SIZE, seed);
    }
}
