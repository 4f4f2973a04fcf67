//! Interop with Prometheus's own tools (Debian's promtool 2.42):
//!
//! * a block promtool builds from OpenMetrics opens in Aion's reader, which
//!   finds exactly the series `promtool tsdb dump` prints and the counts
//!   and cardinalities `promtool tsdb analyze` reports;
//! * re-writing that index with Aion's writer gives identical bytes;
//! * a block whose index Aion wrote (with hand-built XOR chunks) is
//!   accepted by `promtool tsdb analyze` and `promtool tsdb dump`, which
//!   report the same series, label names, cardinalities and samples.
//!
//! Without promtool the tests print a note and pass, unless
//! `AION_REQUIRE_PROMTOOL=1` (set by `scripts/test`), which makes them fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use aion_index::disk::{IndexFileReader, IndexFileWriter, WriterOptions};
use aion_index::postings::Postings;
use aion_index::{ChunkMeta, IndexReader};
use aion_model::Labels;

fn promtool() -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/bin/promtool")];
    let found = candidates.into_iter().find(|p| p.exists()).or_else(|| {
        let out = Command::new("which").arg("promtool").output().ok()?;
        let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!p.is_empty()).then(|| PathBuf::from(p))
    });
    if found.is_none() {
        if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("promtool not found but AION_REQUIRE_PROMTOOL=1 (apt-get install prometheus)");
        }
        eprintln!("note: promtool not found; skipping promtool interop test");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run promtool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// One series of the test data: label pairs and samples (ms, value).
type TestSeries = (Vec<(&'static str, String)>, Vec<(i64, f64)>);

/// The test data set.
fn dataset() -> Vec<TestSeries> {
    let mut out = Vec::new();
    let samples = |seed: usize| -> Vec<(i64, f64)> {
        (0..300)
            .map(|k| (k as i64 * 15_000, (seed * 1000 + k) as f64 * 0.5))
            .collect()
    };
    let mut seed = 0;
    for job in ["api", "db", "web"] {
        for code in ["200", "404", "500"] {
            for instance in ["10.0.0.1:9100", "10.0.0.2:9100"] {
                seed += 1;
                out.push((
                    vec![
                        ("__name__", "http_requests_total".to_string()),
                        ("job", job.to_string()),
                        ("code", code.to_string()),
                        ("instance", instance.to_string()),
                    ],
                    samples(seed),
                ));
            }
        }
    }
    for cpu in 0..4 {
        for mode in ["idle", "system", "user"] {
            seed += 1;
            out.push((
                vec![
                    ("__name__", "node_cpu_seconds_total".to_string()),
                    ("cpu", cpu.to_string()),
                    ("mode", mode.to_string()),
                    ("instance", "n1".to_string()),
                ],
                samples(seed),
            ));
        }
    }
    seed += 1;
    out.push((
        vec![
            ("__name__", "weird_gauge".to_string()),
            ("path", "/a\"b\\c".to_string()),
            ("note", "h\u{e9}llo w\u{f6}rld".to_string()),
        ],
        samples(seed),
    ));
    out
}

fn labels_of(pairs: &[(&str, String)]) -> Labels {
    let p: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Labels::from_pairs(&p).unwrap()
}

fn openmetrics(data: &[TestSeries]) -> String {
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (pairs, _)) in data.iter().enumerate() {
        by_name.entry(&pairs[0].1).or_default().push(i);
    }
    let mut s = String::new();
    for (name, idxs) in by_name {
        writeln!(s, "# TYPE {name} gauge").unwrap();
        for i in idxs {
            let (pairs, samples) = &data[i];
            let labels: Vec<String> = pairs[1..]
                .iter()
                .map(|(n, v)| {
                    let esc = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{n}=\"{esc}\"")
                })
                .collect();
            for (t, v) in samples {
                writeln!(
                    s,
                    "{name}{{{}}} {v} {}",
                    labels.join(","),
                    *t as f64 / 1000.0
                )
                .unwrap();
            }
        }
    }
    s.push_str("# EOF\n");
    s
}

/// Parses `promtool tsdb dump` into series string → samples.
fn parse_dump(out: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut m: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let cut = line.rfind("} ").expect("dump line has labels");
        let (labels, rest) = line.split_at(cut + 1);
        let mut it = rest.split_whitespace();
        let v: f64 = it.next().unwrap().parse().unwrap();
        let t: i64 = it.next().unwrap().parse().unwrap();
        m.entry(labels.to_string()).or_default().push((t, v));
    }
    m
}

/// What `promtool tsdb analyze --limit=1000` reports.
#[derive(Debug, PartialEq)]
struct Analysis {
    series: usize,
    label_names: usize,
    unique_pairs: usize,
    total_pairs: usize,
    label_cardinality: BTreeMap<String, usize>,
    metric_cardinality: BTreeMap<String, usize>,
}

fn parse_analyze(out: &str) -> Analysis {
    let field = |key: &str| -> usize {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing in analyze output:\n{out}"))
            .trim()
            .parse()
            .unwrap()
    };
    let list = |header: &str| -> BTreeMap<String, usize> {
        out.lines()
            .skip_while(|l| *l != header)
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (n, name) = l.split_once(' ').unwrap();
                (name.to_string(), n.parse().unwrap())
            })
            .collect()
    };
    Analysis {
        series: field("Series: "),
        label_names: field("Label names: "),
        unique_pairs: field("Postings (unique label pairs): "),
        total_pairs: field("Postings entries (total label pairs): "),
        label_cardinality: list("Highest cardinality labels:"),
        metric_cardinality: list("Highest cardinality metric names:"),
    }
}

/// The same figures computed with Aion's reader.
fn analysis_of<R: IndexReader>(ix: &R) -> Analysis {
    let names = ix.label_names().unwrap();
    let mut unique_pairs = 0;
    let mut total_pairs = 0;
    let mut label_cardinality = BTreeMap::new();
    for n in &names {
        let values = ix.label_values(n).unwrap();
        unique_pairs += values.len();
        label_cardinality.insert(n.clone(), values.len());
        for v in &values {
            total_pairs += ix.postings(n, &[v]).unwrap().collect_refs().len();
        }
    }
    let metric_cardinality = ix
        .label_values("__name__")
        .unwrap()
        .into_iter()
        .map(|v| {
            let n = ix.postings("__name__", &[&v]).unwrap().collect_refs().len();
            (v, n)
        })
        .collect();
    Analysis {
        series: ix.all_postings().unwrap().collect_refs().len(),
        label_names: names.len(),
        unique_pairs,
        total_pairs,
        label_cardinality,
        metric_cardinality,
    }
}

fn single_block(dir: &Path) -> PathBuf {
    let blocks: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    assert_eq!(blocks.len(), 1, "expected one block in {dir:?}: {blocks:?}");
    blocks.into_iter().next().unwrap()
}

/// Builds a block with promtool from the data set; returns (db dir guard,
/// block dir).
fn promtool_block(promtool: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let om = tmp.path().join("data.om");
    std::fs::write(&om, openmetrics(&dataset())).unwrap();
    let db = tmp.path().join("db");
    run(Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&db));
    // `tsdb dump` opens the directory as a DB, which wants a WAL dir.
    std::fs::create_dir_all(db.join("wal")).unwrap();
    let block = single_block(&db);
    (tmp, block)
}

#[test]
fn reads_promtool_index_exactly() {
    let Some(promtool) = promtool() else { return };
    let (_tmp, block) = promtool_block(&promtool);
    let db = block.parent().unwrap();
    let ix = IndexFileReader::open(block.join("index")).unwrap();
    ix.verify().unwrap();

    // Series: exactly what `tsdb dump` prints, in the same (label) order,
    // and chunk metas that partition each series' sample timestamps.
    let dump = parse_dump(&run(Command::new(&promtool).args(["tsdb", "dump"]).arg(db)));
    let series: Vec<_> = ix.series_iter().map(|s| s.unwrap()).collect();
    let ours: Vec<String> = series.iter().map(|s| s.labels.to_string()).collect();
    let theirs: Vec<String> = dump.keys().cloned().collect();
    assert_eq!(ours, theirs);
    assert_eq!(series.len(), dataset().len());
    let mut last_ref = 0;
    for s in &series {
        let samples = &dump[&s.labels.to_string()];
        assert!(s.chunks.len() >= 2, "{}: {:?}", s.labels, s.chunks);
        for t in samples.iter().map(|x| x.0) {
            let covering = s
                .chunks
                .iter()
                .filter(|c| c.min_time <= t && t <= c.max_time)
                .count();
            assert_eq!(covering, 1, "{} t={t}", s.labels);
        }
        assert_eq!(s.chunks[0].min_time, samples[0].0);
        assert_eq!(s.chunks.last().unwrap().max_time, samples.last().unwrap().0);
        for c in &s.chunks {
            assert!(c.chunk_ref > last_ref || last_ref == 0);
            last_ref = c.chunk_ref;
        }
    }

    // Postings and label values: exactly the series carrying each pair.
    let mut expected: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in &series {
        for l in &s.labels {
            expected
                .entry((l.name.to_string(), l.value.to_string()))
                .or_default()
                .insert(s.labels.to_string());
        }
    }
    let mut seen_pairs = 0;
    for name in ix.label_names().unwrap() {
        let values = ix.label_values(&name).unwrap();
        let want: Vec<String> = expected
            .keys()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(values, want, "values of {name}");
        for v in values {
            let got: BTreeSet<String> = ix
                .postings(&name, &[&v])
                .unwrap()
                .collect_refs()
                .into_iter()
                .map(|r| ix.series_labels(r).unwrap().to_string())
                .collect();
            assert_eq!(
                got,
                expected[&(name.clone(), v.clone())],
                "postings {name}={v}"
            );
            seen_pairs += 1;
        }
    }
    assert_eq!(seen_pairs, expected.len());

    // Counts and cardinalities: what `tsdb analyze` reports.
    let analyze = run(Command::new(&promtool)
        .args(["tsdb", "analyze", "--limit=1000"])
        .arg(db)
        .arg(block.file_name().unwrap()));
    assert_eq!(analysis_of(&ix), parse_analyze(&analyze));
}

#[test]
fn rewrites_promtool_index_byte_identically() {
    let Some(promtool) = promtool() else { return };
    let (tmp, block) = promtool_block(&promtool);
    let original = std::fs::read(block.join("index")).unwrap();
    let ix = IndexFileReader::from_bytes(&original[..]).unwrap();

    let path = tmp.path().join("rewritten");
    let mut w = IndexFileWriter::create(&path, WriterOptions::default()).unwrap();
    for s in ix.symbols() {
        w.add_symbol(s.unwrap()).unwrap();
    }
    for s in ix.series_iter() {
        let s = s.unwrap();
        let r = w.add_series(&s.labels, &s.chunks).unwrap();
        assert_eq!(r, s.series_ref);
    }
    w.finish().unwrap();
    let rewritten = std::fs::read(&path).unwrap();
    assert_eq!(rewritten.len(), original.len());
    if let Some(i) = (0..original.len()).find(|&i| original[i] != rewritten[i]) {
        panic!("first difference at byte {i} of {}", original.len());
    }
}

/// A 2-sample XOR chunk whose samples share a value: the header, the first
/// sample's varint time and 64-bit value, the second's uvarint time delta,
/// and a single `0` bit ("value unchanged") padded to a byte.
fn xor_chunk(t0: i64, t1: i64, v: f64) -> Vec<u8> {
    let mut b = vec![0, 2];
    let mut zz = ((t0 << 1) ^ (t0 >> 63)) as u64;
    while zz >= 0x80 {
        b.push(zz as u8 | 0x80);
        zz >>= 7;
    }
    b.push(zz as u8);
    b.extend_from_slice(&v.to_bits().to_be_bytes());
    let mut d = (t1 - t0) as u64;
    while d >= 0x80 {
        b.push(d as u8 | 0x80);
        d >>= 7;
    }
    b.push(d as u8);
    b.push(0);
    b
}

#[test]
fn promtool_accepts_aion_written_index() {
    let Some(promtool) = promtool() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let ulid = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
    let block = db.join(ulid);
    std::fs::create_dir_all(block.join("chunks")).unwrap();
    std::fs::create_dir_all(db.join("wal")).unwrap();

    let mut series: Vec<Labels> = dataset().iter().map(|(p, _)| labels_of(p)).collect();
    series.sort();
    let symbols: BTreeSet<String> = series
        .iter()
        .flat_map(|l| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
                .collect::<Vec<_>>()
        })
        .collect();

    // Chunks: three 2-sample chunks per series, written in index order.
    let mut segment = vec![0x85, 0xBD, 0x40, 0xDD, 1, 0, 0, 0];
    let mut metas: Vec<Vec<ChunkMeta>> = Vec::new();
    let mut expected_dump = Vec::new();
    for (i, l) in series.iter().enumerate() {
        let mut m = Vec::new();
        for k in 0..3i64 {
            let (t0, t1) = (k * 60_000, k * 60_000 + 15_000);
            let v = (i * 10) as f64 + k as f64;
            let data = xor_chunk(t0, t1, v);
            let chunk_ref = segment.len() as u64; // segment 0
            segment.push(data.len() as u8); // uvarint len (< 128)
            segment.push(1); // XOR encoding
            segment.extend_from_slice(&data);
            let crc = aion_model::encoding::crc32c(&segment[chunk_ref as usize + 1..]);
            segment.extend_from_slice(&crc.to_be_bytes());
            m.push(ChunkMeta::new(t0, t1, chunk_ref));
            for t in [t0, t1] {
                expected_dump.push(format!("{l} {v} {t}"));
            }
        }
        metas.push(m);
    }
    std::fs::write(block.join("chunks/000001"), &segment).unwrap();
    // Tombstones: magic, version 1, then a CRC32C of nothing after the
    // version byte (0).
    std::fs::write(
        block.join("tombstones"),
        [0x01, 0x30, 0xBA, 0x30, 1, 0, 0, 0, 0],
    )
    .unwrap();

    let mut w = IndexFileWriter::create(block.join("index"), WriterOptions::default()).unwrap();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    for (l, m) in series.iter().zip(&metas) {
        w.add_series(l, m).unwrap();
    }
    w.finish().unwrap();

    let num_chunks = series.len() * 3;
    let meta = format!(
        "{{\n\t\"ulid\": \"{ulid}\",\n\t\"minTime\": 0,\n\t\"maxTime\": 135001,\n\t\"stats\": {{\n\t\t\"numSamples\": {},\n\t\t\"numSeries\": {},\n\t\t\"numChunks\": {num_chunks}\n\t}},\n\t\"compaction\": {{\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"{ulid}\"\n\t\t]\n\t}},\n\t\"version\": 1\n}}",
        num_chunks * 2,
        series.len()
    );
    std::fs::write(block.join("meta.json"), meta).unwrap();

    let analyze = run(Command::new(&promtool)
        .args(["tsdb", "analyze", "--limit=1000"])
        .arg(&db)
        .arg(ulid));
    let ix = IndexFileReader::open(block.join("index")).unwrap();
    let theirs = parse_analyze(&analyze);
    assert_eq!(theirs.series, series.len());
    assert_eq!(analysis_of(&ix), theirs);

    let dump = run(Command::new(&promtool).args(["tsdb", "dump"]).arg(&db));
    let dumped: Vec<&str> = dump.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(dumped, expected_dump);
}
