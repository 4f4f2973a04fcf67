//! Byte compatibility with XOR chunks that Prometheus wrote.
//!
//! Two OpenMetrics inputs generated below ("edges": hand-picked bucket
//! edges, value windows and irregular series; "shapes": the benchmarks'
//! reference chunks) are turned into blocks by
//! `promtool tsdb create-blocks-from openmetrics`. Every chunk in the
//! block's `chunks/000001` must decode to exactly the input samples, and
//! Aion's appender must re-encode those samples to the same bytes.
//!
//! The chunks promtool 2.42 wrote are also kept in
//! `tests/data/promtool-2.42-chunks.txt` (see its header), so the same
//! check runs where promtool is not installed; when it is, the test also
//! proves that file still matches promtool's output.
//!
//! One known difference: Prometheus 2.x's bit writer (before
//! prometheus/prometheus#14854, released in 3.0) leaves one extra zero byte
//! at the end of a chunk whose last write was whole bytes starting on a
//! byte boundary, e.g. every one-sample chunk. Aion writes what 3.x writes;
//! the check accepts the 2.x form only in exactly that shape (our bytes,
//! which end on a byte boundary, plus one zero byte).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use aion_chunkenc::synthetic::{self, Rng, Shape};
use aion_chunkenc::{Chunk, Encoding, SampleIterator, ValueType, XorAppender};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/promtool-2.42-chunks.txt"
);

/// Go's `math.NaN()`, which Prometheus's parser returns for `NaN`.
const GO_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

struct Series {
    name: String,
    samples: Vec<(i64, f64)>,
}

/// One promtool run: a set of series, turned into one block.
struct Input {
    name: &'static str,
    /// Sorted by name, which is the order of the block's index and chunks.
    series: Vec<Series>,
}

fn series(name: &str, samples: Vec<(i64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        samples,
    }
}

/// Series in the block [0, 2h): bucket edges and value windows (the same
/// sequences as the golden tests in src/xor/golden_tests.rs), a one-sample
/// chunk, and long irregular series that span several chunks.
fn edges() -> Input {
    let zeros = |ts: &[i64]| ts.iter().map(|&t| (t, 0.0)).collect();
    let value_windows = [
        1.0,
        f64::from_bits(0x3ff0_0000_0000_0001),
        f64::from_bits(0x3ff0_0000_0000_0002),
        1.5,
        -1.5,
        f64::from_bits(0x3ff8_0000_0000_0001),
        f64::from_bits(0x3ff8_0000_0000_0001),
        -0.0,
        f64::INFINITY,
        f64::from_bits(GO_NAN_BITS),
    ];

    // Irregular intervals (1 ms to 15 s, sometimes a minute) and values of
    // every kind: random bit patterns, repeats, small steps, specials.
    let mut rng = Rng::new(7);
    let mut t = 500;
    let mut v = 0.0f64;
    let irregular = (0..400)
        .map(|_| {
            t += 1 + rng.below(15_000) as i64;
            if rng.below(20) == 0 {
                t += rng.below(60_000) as i64;
            }
            v = match rng.below(8) {
                0 | 1 => v,
                2 => v + 1.0,
                3 => f64::from_bits(v.to_bits() ^ (1 << rng.below(64))),
                4 => [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300, 1e300]
                    [rng.below(6) as usize],
                _ => f64::from_bits(rng.next_u64()),
            };
            if v.is_nan() {
                v = f64::from_bits(GO_NAN_BITS); // the only NaN text can carry
            }
            (t, v)
        })
        .collect();

    // A walk in units in the last place: deltas under 2^32 have 32 or more
    // leading zeros, so their leading count is clamped to 31.
    let mut bits = 1.0f64.to_bits();
    let ulp_walk = (0..200)
        .map(|k| {
            if rng.below(3) != 0 {
                let magnitude = rng.below(40);
                bits += rng.below(1 << magnitude);
            }
            (1_000 + k * 15_000, f64::from_bits(bits))
        })
        .collect();

    Input {
        name: "edges",
        series: vec![
            series(
                "a_dod_14_17",
                zeros(&[
                    1_000, 101_000, 209_192, 309_193, 401_002, 558_347, 650_157, 741_967,
                ]),
            ),
            series(
                "b_dod_20_64",
                zeros(&[
                    1_000, 601_000, 1_135_464, 2_194_216, 2_728_681, 3_787_435, 4_321_901,
                    4_856_367,
                ]),
            ),
            series(
                "c_value_windows",
                (0..).map(|k| k * 1_000).zip(value_windows).collect(),
            ),
            series(
                "d_notes_example",
                vec![
                    (1000, 1.0),
                    (2000, 1.0),
                    (3000, 2.0),
                    (4001, 2.0),
                    (5002, 2.5),
                ],
            ),
            series("e_single_sample", vec![(1000, 1.0)]),
            series("f_irregular", irregular),
            series("g_ulp_walk", ulp_walk),
        ],
    }
}

/// The benchmarks' reference chunks, one series per shape.
fn shapes() -> Input {
    let mut series: Vec<_> = Shape::ALL
        .iter()
        .map(|&shape| Series {
            name: shape.name().to_string(),
            samples: synthetic::reference(shape),
        })
        .collect();
    series.sort_by(|a, b| a.name.cmp(&b.name));
    Input {
        name: "shapes",
        series,
    }
}

fn inputs() -> [Input; 2] {
    [edges(), shapes()]
}

/// The input as OpenMetrics text. Timestamps are seconds; Prometheus
/// converts them with `int64(seconds * 1000)`, which truncates, so each is
/// written half a millisecond late to land on the intended millisecond
/// despite floating-point rounding.
fn openmetrics(input: &Input) -> String {
    let mut out = String::from("# TYPE aion_test gauge\n");
    for s in &input.series {
        for &(t, v) in &s.samples {
            assert!(t >= 0);
            let value = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                (if v > 0.0 { "+Inf" } else { "-Inf" }).to_string()
            } else {
                format!("{v:?}") // shortest text that parses back to the same bits
            };
            writeln!(
                out,
                "aion_test{{series=\"{}\"}} {value} {}.{:03}5",
                s.name,
                t / 1000,
                t % 1000
            )
            .unwrap();
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The promtool binary, or `None` (after saying so) if it is missing and
/// the caller did not demand it.
fn promtool() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = std::iter::once(PathBuf::from("/usr/bin"))
        .chain(candidates)
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("AION_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("promtool not found, and AION_REQUIRE_PROMTOOL=1 demands it (apt-get install prometheus)");
        }
        eprintln!("note: promtool not found; skipping the live Prometheus check (the captured vectors still ran)");
    }
    found
}

/// A chunk as stored in a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredChunk {
    encoding: u8,
    data: Vec<u8>,
}

/// Runs promtool on `input` and returns the chunks of the one block it
/// writes, in file order.
fn promtool_chunks(promtool: &Path, input: &Input) -> Vec<StoredChunk> {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join(format!("{}.om", input.name));
    std::fs::write(&om, openmetrics(input)).unwrap();
    let out = dir.path().join("blocks");
    std::fs::create_dir(&out).unwrap();
    let result = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "promtool failed: {}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );

    let blocks: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    assert_eq!(
        blocks.len(),
        1,
        "expected one block in {out:?}; promtool said:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let block = &blocks[0];

    let segments: Vec<_> = std::fs::read_dir(block.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(segments, ["000001"]);
    let chunks = parse_segment(&std::fs::read(block.join("chunks/000001")).unwrap());

    let meta = std::fs::read_to_string(block.join("meta.json")).unwrap();
    let total: usize = input.series.iter().map(|s| s.samples.len()).sum();
    assert!(
        meta.contains(&format!("\"numSamples\": {total},")),
        "{meta}"
    );
    assert!(
        meta.contains(&format!("\"numChunks\": {}", chunks.len())),
        "{meta}"
    );
    chunks
}

/// A block chunk segment (`docs/formats.md#chunk-segments`): magic,
/// version, then `uvarint len | encoding | data | be32 crc32c(encoding ++
/// data)`.
fn parse_segment(file: &[u8]) -> Vec<StoredChunk> {
    assert_eq!(file[..4], [0x85, 0xbd, 0x40, 0xdd], "segment magic");
    assert_eq!(file[4..8], [1, 0, 0, 0], "segment version and padding");
    let mut pos = 8;
    let mut chunks = Vec::new();
    while pos < file.len() {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = file[pos];
            pos += 1;
            len |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        let encoding = file[pos];
        let data = file[pos + 1..pos + 1 + len].to_vec();
        pos += 1 + len;
        let crc = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap());
        pos += 4;
        assert_eq!(
            crc,
            aion_model::encoding::crc32c_append(aion_model::encoding::crc32c(&[encoding]), &data),
            "CRC of chunk {}",
            chunks.len()
        );
        chunks.push(StoredChunk { encoding, data });
    }
    chunks
}

/// What checking one run's chunks found.
struct Outcome {
    /// The series each chunk belongs to, in chunk order.
    owners: Vec<String>,
    /// Chunks whose bytes equal Aion's exactly.
    identical: usize,
    /// Series whose chunk carried Prometheus 2.x's extra trailing zero byte.
    trailing_zero: Vec<String>,
}

/// Decodes every chunk, checks the samples against the input (chunks cover
/// the series in order), and re-encodes them with Aion's appender.
fn check(input: &Input, chunks: &[StoredChunk]) -> Outcome {
    let mut outcome = Outcome {
        owners: Vec::new(),
        identical: 0,
        trailing_zero: Vec::new(),
    };
    let mut series = input.series.iter().peekable();
    let mut offset = 0;
    for (i, stored) in chunks.iter().enumerate() {
        assert_eq!(stored.encoding, Encoding::Xor as u8, "chunk {i}");
        let chunk = Chunk::from_raw(stored.encoding, &stored.data[..]).unwrap();

        let mut decoded = Vec::with_capacity(chunk.num_samples());
        let mut it = chunk.iter();
        while it.next() == ValueType::Float {
            decoded.push(it.at());
        }
        assert!(it.err().is_none(), "chunk {i}: {:?}", it.err());
        assert_eq!(decoded.len(), chunk.num_samples());

        if series.peek().is_some_and(|s| offset == s.samples.len()) {
            series.next();
            offset = 0;
        }
        let owner = series.peek().expect("more chunks than samples");
        let expected = &owner.samples[offset..offset + decoded.len()];
        offset += decoded.len();
        assert_eq!(
            bits(&decoded),
            bits(expected),
            "chunk {i} of series {}",
            owner.name
        );
        outcome.owners.push(owner.name.clone());

        let mut app = XorAppender::new();
        for &(t, v) in &decoded {
            app.append(t, v).unwrap();
        }
        let ours = app.bytes();
        if ours == stored.data {
            outcome.identical += 1;
        } else if app.bit_len() % 8 == 0
            && stored.data.len() == ours.len() + 1
            && stored.data[..ours.len()] == *ours
            && stored.data[ours.len()] == 0
        {
            outcome.trailing_zero.push(owner.name.clone());
        } else {
            panic!(
                "chunk {i} of series {} differs\nprometheus: {}\naion:       {}",
                owner.name,
                hex(&stored.data),
                hex(ours)
            );
        }
    }
    let last = series.next().expect("no chunks");
    assert_eq!(
        offset,
        last.samples.len(),
        "series {} incomplete",
        last.name
    );
    assert!(series.next().is_none(), "series without chunks");
    outcome
}

/// Checks that apply to both the live and the captured chunks.
fn check_run(input: &Input, chunks: &[StoredChunk]) -> Outcome {
    let outcome = check(input, chunks);
    match input.name {
        "edges" => {
            // Prometheus 2.x's extra byte after a one-sample chunk.
            assert!(outcome
                .trailing_zero
                .contains(&"e_single_sample".to_string()));
        }
        "shapes" => {
            assert_eq!(outcome.owners, ["constant", "counter", "noisy_gauge"]);
            assert_eq!(outcome.identical, 3);
            for (owner, stored) in outcome.owners.iter().zip(chunks) {
                let samples = synthetic::REFERENCE_SAMPLES as f64;
                eprintln!(
                    "prometheus 2.42 reference chunk {owner}: {} bytes = {:.3} bytes/sample",
                    stored.data.len(),
                    stored.data.len() as f64 / samples
                );
            }
        }
        _ => unreachable!(),
    }
    outcome
}

#[test]
fn promtool_chunks_decode_and_reencode_identically() {
    let Some(promtool) = promtool() else { return };
    let mut captured = String::new();
    let stored = read_vectors();
    for input in inputs() {
        let chunks = promtool_chunks(&promtool, &input);
        let outcome = check_run(&input, &chunks);
        for (owner, chunk) in outcome.owners.iter().zip(&chunks) {
            writeln!(captured, "{} {owner} {}", input.name, hex(&chunk.data)).unwrap();
        }
    }
    if std::env::var("AION_CAPTURE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(VECTORS, format!("{VECTORS_HEADER}{captured}")).unwrap();
        return;
    }
    let live: Vec<_> = captured.lines().map(str::to_string).collect();
    assert!(
        live == stored,
        "{VECTORS} no longer matches promtool's output; \
         regenerate it with AION_CAPTURE_VECTORS=1 cargo test -p aion-chunkenc --test prometheus_bytes"
    );
}

#[test]
fn captured_promtool_chunks_decode_and_reencode_identically() {
    let lines = read_vectors();
    assert!(!lines.is_empty());
    for input in inputs() {
        let mut owners = Vec::new();
        let mut chunks = Vec::new();
        for line in &lines {
            let mut fields = line.split(' ');
            let (run, owner, data) = (fields.next(), fields.next(), fields.next());
            if run != Some(input.name) {
                continue;
            }
            owners.push(owner.unwrap().to_string());
            chunks.push(StoredChunk {
                encoding: Encoding::Xor as u8,
                data: unhex(data.unwrap()),
            });
        }
        let outcome = check_run(&input, &chunks);
        assert_eq!(outcome.owners, owners, "run {}", input.name);
    }
}

const VECTORS_HEADER: &str = "\
# XOR chunks written by Prometheus 2.42 (Debian package 2.42.0+ds-5+deb12u1).
#
# Produced by tests/prometheus_bytes.rs with
#   AION_CAPTURE_VECTORS=1 cargo test -p aion-chunkenc --test prometheus_bytes
# which, for each input (`edges`, `shapes`), writes the OpenMetrics text that
# the test's openmetrics() generates, runs
#   promtool tsdb create-blocks-from openmetrics <input>.om <dir>
# and reads every chunk of <dir>/<block>/chunks/000001 in file order.
# Each line: input name, series label value, chunk data in hex (the bytes
# after the encoding byte, which is 1 for all of them, without the CRC).
";

fn read_vectors() -> Vec<String> {
    std::fs::read_to_string(VECTORS)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
