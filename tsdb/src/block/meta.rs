//! A block's `meta.json` (`docs/formats.md#meta-json`), with the optional
//! Thanos section (`docs/formats.md#meta-json-thanos`).
//!
//! Written exactly as Prometheus writes it (Go's `json.MarshalIndent` with a
//! tab: same key order, same omitted-when-zero rules, same string escaping,
//! no trailing newline), so files are byte-identical for identical metas.
//! A meta with a Thanos section is written as Thanos writes it (its JSON
//! encoder adds a final newline).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use ulid::Ulid;

use crate::{Error, Result};

/// The name of the meta file in a block directory.
pub const META_FILENAME: &str = "meta.json";

/// The only `version` Prometheus (and Thanos) accept.
pub const META_VERSION_1: i64 = 1;

/// `compaction.hints` value of blocks built from out-of-order data.
pub const HINT_FROM_OUT_OF_ORDER: &str = "from-out-of-order";

/// Counts describing a block's contents (`stats`). Zero counts are left out
/// of the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// All samples (floats and histograms).
    pub num_samples: u64,
    /// Float samples (written by Prometheus ≥ 3.6).
    pub num_float_samples: u64,
    /// Histogram samples (written by Prometheus ≥ 3.6).
    pub num_histogram_samples: u64,
    /// Series.
    pub num_series: u64,
    /// Chunks.
    pub num_chunks: u64,
    /// Tombstone intervals.
    pub num_tombstones: u64,
}

/// A block a compaction read from (`compaction.parents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDesc {
    /// The parent's ULID.
    pub ulid: Ulid,
    /// Its minimum time (ms, inclusive).
    pub min_time: i64,
    /// Its maximum time (ms, exclusive).
    pub max_time: i64,
}

/// How a block came to be (`compaction`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionMeta {
    /// 1 for blocks cut from the head or backfilled; one more than the
    /// highest parent level after a compaction.
    pub level: i64,
    /// Every level-1 block whose data this block holds, sorted.
    pub sources: Vec<Ulid>,
    /// The block is empty after a compaction and may be deleted.
    pub deletable: bool,
    /// The blocks compacted into this one.
    pub parents: Vec<BlockDesc>,
    /// A compaction of this block failed before; the planner skips it.
    pub failed: bool,
    /// Sorted hints such as [`HINT_FROM_OUT_OF_ORDER`].
    pub hints: Vec<String>,
}

/// One file listed in the Thanos section (`thanos.files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThanosFile {
    /// Path relative to the block directory.
    pub rel_path: String,
    /// Size in bytes; 0 is left out (Thanos lists `meta.json` without one).
    pub size_bytes: i64,
}

/// The section Thanos adds to `meta.json` (`thanos`): which producer a
/// block belongs to and how it was processed. With it, Thanos's sidecar,
/// store and compactor tooling accept the block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThanosMeta {
    /// External labels identifying the producer (and tenant).
    pub labels: BTreeMap<String, String>,
    /// Downsampling resolution in ms: 0 for raw data.
    pub downsample_resolution: i64,
    /// Who produced the block: `sidecar`, `receive`, `compactor`, … or
    /// empty.
    pub source: String,
    /// Chunk segment file names (deprecated by Thanos in favour of
    /// `files`); left out when empty.
    pub segment_files: Vec<String>,
    /// The block's files, sorted by path; left out when empty.
    pub files: Vec<ThanosFile>,
    /// Members of the section this version does not interpret, kept in
    /// their order and written back after the known ones.
    pub other: Vec<(String, Value)>,
}

/// A block's `meta.json`.
///
/// ```
/// use aion_tsdb::block::BlockMeta;
/// let id = "01M80KAXQCMR99TXKV0APBRDMA".parse().unwrap();
/// let mut meta = BlockMeta::new(id, 1000, 2233204);
/// meta.stats.num_samples = 151;
/// meta.stats.num_series = 3;
/// meta.stats.num_chunks = 4;
/// let json = meta.to_json();
/// assert!(json.starts_with("{\n\t\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMA\",\n\t\"minTime\": 1000,"));
/// assert!(json.ends_with("\t\"version\": 1\n}"));
/// assert_eq!(BlockMeta::parse(json.as_bytes(), "meta.json".as_ref()).unwrap(), meta);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// The block's ULID, also its directory name.
    pub ulid: Ulid,
    /// Smallest timestamp the block may hold (ms, inclusive).
    pub min_time: i64,
    /// Bound above every timestamp in the block (ms, exclusive).
    pub max_time: i64,
    /// What it holds.
    pub stats: BlockStats,
    /// How it was made.
    pub compaction: CompactionMeta,
    /// Format version, always 1.
    pub version: i64,
    /// The Thanos section, if any.
    pub thanos: Option<ThanosMeta>,
}

impl BlockMeta {
    /// A level-1 meta for a new block `ulid` over `[min_time, max_time)`,
    /// its own only source.
    pub fn new(ulid: Ulid, min_time: i64, max_time: i64) -> Self {
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats: BlockStats::default(),
            compaction: CompactionMeta {
                level: 1,
                sources: vec![ulid],
                ..CompactionMeta::default()
            },
            version: META_VERSION_1,
            thanos: None,
        }
    }

    /// Whether the block's range `[min_time, max_time)` overlaps the
    /// closed query range `[mint, maxt]`.
    pub fn overlaps_closed(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint < self.max_time
    }

    /// This block as a parent entry.
    pub fn desc(&self) -> BlockDesc {
        BlockDesc {
            ulid: self.ulid,
            min_time: self.min_time,
            max_time: self.max_time,
        }
    }

    /// The file contents, as Prometheus (or, with a Thanos section, Thanos)
    /// writes them.
    pub fn to_json(&self) -> String {
        let mut w = JsonWriter::default();
        w.open('{');
        w.key("ulid");
        w.string(&self.ulid.to_string());
        w.key("minTime");
        w.raw(&self.min_time.to_string());
        w.key("maxTime");
        w.raw(&self.max_time.to_string());
        w.key("stats");
        w.open('{');
        let s = &self.stats;
        for (name, v) in [
            ("numSamples", s.num_samples),
            ("numFloatSamples", s.num_float_samples),
            ("numHistogramSamples", s.num_histogram_samples),
            ("numSeries", s.num_series),
            ("numChunks", s.num_chunks),
            ("numTombstones", s.num_tombstones),
        ] {
            if v != 0 {
                w.key(name);
                w.raw(&v.to_string());
            }
        }
        w.close('}');
        w.key("compaction");
        w.open('{');
        let c = &self.compaction;
        w.key("level");
        w.raw(&c.level.to_string());
        if !c.sources.is_empty() {
            w.key("sources");
            w.open('[');
            for s in &c.sources {
                w.element();
                w.string(&s.to_string());
            }
            w.close(']');
        }
        if c.deletable {
            w.key("deletable");
            w.raw("true");
        }
        if !c.parents.is_empty() {
            w.key("parents");
            w.open('[');
            for p in &c.parents {
                w.element();
                w.open('{');
                w.key("ulid");
                w.string(&p.ulid.to_string());
                w.key("minTime");
                w.raw(&p.min_time.to_string());
                w.key("maxTime");
                w.raw(&p.max_time.to_string());
                w.close('}');
            }
            w.close(']');
        }
        if c.failed {
            w.key("failed");
            w.raw("true");
        }
        if !c.hints.is_empty() {
            w.key("hints");
            w.open('[');
            for h in &c.hints {
                w.element();
                w.string(h);
            }
            w.close(']');
        }
        w.close('}');
        w.key("version");
        w.raw(&self.version.to_string());
        if let Some(t) = &self.thanos {
            w.key("thanos");
            w.open('{');
            w.key("version");
            w.raw("1");
            w.key("labels");
            w.open('{');
            for (k, v) in &t.labels {
                w.key(k);
                w.string(v);
            }
            w.close('}');
            w.key("downsample");
            w.open('{');
            w.key("resolution");
            w.raw(&t.downsample_resolution.to_string());
            w.close('}');
            w.key("source");
            w.string(&t.source);
            if !t.segment_files.is_empty() {
                w.key("segment_files");
                w.open('[');
                for f in &t.segment_files {
                    w.element();
                    w.string(f);
                }
                w.close(']');
            }
            if !t.files.is_empty() {
                w.key("files");
                w.open('[');
                for f in &t.files {
                    w.element();
                    w.open('{');
                    w.key("rel_path");
                    w.string(&f.rel_path);
                    if f.size_bytes != 0 {
                        w.key("size_bytes");
                        w.raw(&f.size_bytes.to_string());
                    }
                    w.close('}');
                }
                w.close(']');
            }
            for (k, v) in &t.other {
                w.key(k);
                w.value(v);
            }
            w.close('}');
        }
        w.close('}');
        let mut out = w.out;
        if self.thanos.is_some() {
            out.push('\n');
        }
        out
    }

    /// Parses `meta.json` contents; `path` is named in errors. Refuses any
    /// `version` but 1, as Prometheus does.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::corrupt(path, 0, reason);
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::corrupt(
                path,
                byte_offset(bytes, e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let version = int_field(obj, "version", path)?.unwrap_or(0);
        if version != META_VERSION_1 {
            return Err(bad(format!("unexpected meta file version {version}")));
        }
        let ulid = ulid_field(obj.get("ulid"), "ulid", path)?;
        let min_time = int_field(obj, "minTime", path)?.unwrap_or(0);
        let max_time = int_field(obj, "maxTime", path)?.unwrap_or(0);
        let mut stats = BlockStats::default();
        if let Some(s) = obj.get("stats") {
            let s = s
                .as_object()
                .ok_or_else(|| bad("\"stats\" is not an object".into()))?;
            let u = |k: &str| -> Result<u64> {
                match s.get(k) {
                    None | Some(Value::Null) => Ok(0),
                    Some(v) => v
                        .as_u64()
                        .ok_or_else(|| bad(format!("\"stats.{k}\" is not an unsigned integer"))),
                }
            };
            stats = BlockStats {
                num_samples: u("numSamples")?,
                num_float_samples: u("numFloatSamples")?,
                num_histogram_samples: u("numHistogramSamples")?,
                num_series: u("numSeries")?,
                num_chunks: u("numChunks")?,
                num_tombstones: u("numTombstones")?,
            };
        }
        let mut compaction = CompactionMeta::default();
        if let Some(c) = obj.get("compaction") {
            let c = c
                .as_object()
                .ok_or_else(|| bad("\"compaction\" is not an object".into()))?;
            compaction.level = int_field(c, "level", path)?.unwrap_or(0);
            for s in array_field(c, "sources", path)? {
                compaction
                    .sources
                    .push(ulid_field(Some(s), "compaction.sources", path)?);
            }
            compaction.deletable = bool_field(c, "deletable", path)?;
            compaction.failed = bool_field(c, "failed", path)?;
            for p in array_field(c, "parents", path)? {
                let p = p
                    .as_object()
                    .ok_or_else(|| bad("\"compaction.parents\" entry is not an object".into()))?;
                compaction.parents.push(BlockDesc {
                    ulid: ulid_field(p.get("ulid"), "compaction.parents.ulid", path)?,
                    min_time: int_field(p, "minTime", path)?.unwrap_or(0),
                    max_time: int_field(p, "maxTime", path)?.unwrap_or(0),
                });
            }
            for h in array_field(c, "hints", path)? {
                compaction.hints.push(
                    h.as_str()
                        .ok_or_else(|| bad("\"compaction.hints\" entry is not a string".into()))?
                        .to_string(),
                );
            }
        }
        let thanos = match obj.get("thanos") {
            None | Some(Value::Null) => None,
            Some(t) => Some(parse_thanos(t, path)?),
        };
        Ok(BlockMeta {
            ulid,
            min_time,
            max_time,
            stats,
            compaction,
            version,
            thanos,
        })
    }

    /// Reads `<dir>/meta.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(META_FILENAME);
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Self::parse(&bytes, &path)
    }

    /// Writes `<dir>/meta.json` atomically (via `meta.json.tmp`, fsynced and
    /// renamed) and returns its size.
    pub fn write(&self, dir: &Path) -> Result<u64> {
        let json = self.to_json();
        crate::fsutil::write_atomic(&dir.join(META_FILENAME), json.as_bytes())?;
        Ok(json.len() as u64)
    }
}

fn parse_thanos(t: &Value, path: &Path) -> Result<ThanosMeta> {
    let bad = |reason: String| Error::corrupt(path, 0, reason);
    let t = t
        .as_object()
        .ok_or_else(|| bad("\"thanos\" is not an object".into()))?;
    let version = int_field(t, "version", path)?.unwrap_or(0);
    if version != 0 && version != 1 {
        return Err(bad(format!(
            "unexpected meta file Thanos section version {version}"
        )));
    }
    let mut m = ThanosMeta::default();
    for (k, v) in t {
        match k.as_str() {
            "version" => {}
            "labels" => match v {
                Value::Null => {}
                Value::Object(l) => {
                    for (name, value) in l {
                        let value = value.as_str().ok_or_else(|| {
                            bad(format!("\"thanos.labels.{name}\" is not a string"))
                        })?;
                        m.labels.insert(name.clone(), value.to_string());
                    }
                }
                _ => return Err(bad("\"thanos.labels\" is not an object".into())),
            },
            "downsample" => {
                let d = v
                    .as_object()
                    .ok_or_else(|| bad("\"thanos.downsample\" is not an object".into()))?;
                m.downsample_resolution = int_field(d, "resolution", path)?.unwrap_or(0);
            }
            "source" => {
                m.source = v
                    .as_str()
                    .ok_or_else(|| bad("\"thanos.source\" is not a string".into()))?
                    .to_string();
            }
            "segment_files" => {
                for f in v.as_array().into_iter().flatten() {
                    m.segment_files.push(
                        f.as_str()
                            .ok_or_else(|| {
                                bad("\"thanos.segment_files\" entry is not a string".into())
                            })?
                            .to_string(),
                    );
                }
            }
            "files" => {
                for f in v.as_array().into_iter().flatten() {
                    let f = f
                        .as_object()
                        .ok_or_else(|| bad("\"thanos.files\" entry is not an object".into()))?;
                    m.files.push(ThanosFile {
                        rel_path: f
                            .get("rel_path")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("\"thanos.files\" entry without rel_path".into()))?
                            .to_string(),
                        size_bytes: int_field(f, "size_bytes", path)?.unwrap_or(0),
                    });
                }
            }
            _ => m.other.push((k.clone(), v.clone())),
        }
    }
    Ok(m)
}

fn int_field(obj: &serde_json::Map<String, Value>, key: &str, path: &Path) -> Result<Option<i64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::corrupt(path, 0, format!("\"{key}\" is not an integer"))),
    }
}

fn bool_field(obj: &serde_json::Map<String, Value>, key: &str, path: &Path) -> Result<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| Error::corrupt(path, 0, format!("\"{key}\" is not a boolean"))),
    }
}

fn array_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a [Value]> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(Error::corrupt(
            path,
            0,
            format!("\"{key}\" is not an array"),
        )),
    }
}

fn ulid_field(v: Option<&Value>, key: &str, path: &Path) -> Result<Ulid> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| Error::corrupt(path, 0, format!("\"{key}\" is missing or not a string")))?;
    parse_ulid(s).ok_or_else(|| Error::corrupt(path, 0, format!("\"{key}\": invalid ULID {s:?}")))
}

/// Parses a ULID as Prometheus names blocks (26 characters of Crockford
/// base32, case-insensitive).
pub fn parse_ulid(s: &str) -> Option<Ulid> {
    if s.len() != 26 {
        return None;
    }
    Ulid::from_string(s).ok()
}

/// The byte offset of 1-based `line` and `column` in `bytes` (for
/// `serde_json` errors, which count that way).
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> u64 {
    let mut offset = 0usize;
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        if i + 1 == line {
            return (offset + column.saturating_sub(1)) as u64;
        }
        offset += l.len() + 1;
    }
    bytes.len() as u64
}

/// Emits JSON formatted as Go's `json.MarshalIndent(v, "", "\t")`.
#[derive(Default)]
struct JsonWriter {
    out: String,
    depth: usize,
    /// Whether the current container has no member yet.
    empty: Vec<bool>,
}

impl JsonWriter {
    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push('\t');
        }
    }

    fn open(&mut self, c: char) {
        self.out.push(c);
        self.depth += 1;
        self.empty.push(true);
    }

    fn close(&mut self, c: char) {
        self.depth -= 1;
        if !self.empty.pop().unwrap_or(true) {
            self.newline();
        }
        self.out.push(c);
    }

    /// Starts the next member of the current container.
    fn element(&mut self) {
        if let Some(empty) = self.empty.last_mut() {
            if !*empty {
                self.out.push(',');
            }
            *empty = false;
        }
        self.newline();
    }

    fn key(&mut self, k: &str) {
        self.element();
        self.string(k);
        self.out.push_str(": ");
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn string(&mut self, s: &str) {
        aion_model::gotext::write_json_string(&mut self.out, s);
    }

    /// An arbitrary value (kept from a file we read) in the same layout.
    fn value(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                self.open('{');
                for (k, v) in m {
                    self.key(k);
                    self.value(v);
                }
                self.close('}');
            }
            Value::Array(a) => {
                self.open('[');
                for v in a {
                    self.element();
                    self.value(v);
                }
                self.close(']');
            }
            Value::String(s) => self.string(s),
            other => self.raw(&other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMTOOL_META: &str = "{\n\t\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMA\",\n\t\"minTime\": 1000,\n\t\"maxTime\": 2233204,\n\t\"stats\": {\n\t\t\"numSamples\": 151,\n\t\t\"numSeries\": 3,\n\t\t\"numChunks\": 4\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01M80KAXQCMR99TXKV0APBRDMA\"\n\t\t]\n\t},\n\t\"version\": 1\n}";

    #[test]
    fn promtool_meta_round_trips_byte_for_byte() {
        let m = BlockMeta::parse(PROMTOOL_META.as_bytes(), Path::new("meta.json")).unwrap();
        assert_eq!(m.stats.num_samples, 151);
        assert_eq!(m.compaction.sources, [m.ulid]);
        assert_eq!(m.to_json(), PROMTOOL_META);
    }

    #[test]
    fn compacted_meta_layout() {
        let a: Ulid = "01M80KAXQCMR99TXKV0APBRDMA".parse().unwrap();
        let b: Ulid = "01M80KAXQCMR99TXKV0APBRDMB".parse().unwrap();
        let c: Ulid = "01M80KAXQCMR99TXKV0APBRDMC".parse().unwrap();
        let mut m = BlockMeta::new(c, 0, 7200000);
        m.compaction.level = 2;
        m.compaction.sources = vec![a, b];
        m.compaction.parents = vec![
            BlockDesc {
                ulid: a,
                min_time: 0,
                max_time: 3600000,
            },
            BlockDesc {
                ulid: b,
                min_time: 3600000,
                max_time: 7200000,
            },
        ];
        m.compaction.deletable = true;
        m.compaction.hints = vec![HINT_FROM_OUT_OF_ORDER.into()];
        let want = "{\n\t\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMC\",\n\t\"minTime\": 0,\n\t\"maxTime\": 7200000,\n\t\"stats\": {},\n\t\"compaction\": {\n\t\t\"level\": 2,\n\t\t\"sources\": [\n\t\t\t\"01M80KAXQCMR99TXKV0APBRDMA\",\n\t\t\t\"01M80KAXQCMR99TXKV0APBRDMB\"\n\t\t],\n\t\t\"deletable\": true,\n\t\t\"parents\": [\n\t\t\t{\n\t\t\t\t\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMA\",\n\t\t\t\t\"minTime\": 0,\n\t\t\t\t\"maxTime\": 3600000\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMB\",\n\t\t\t\t\"minTime\": 3600000,\n\t\t\t\t\"maxTime\": 7200000\n\t\t\t}\n\t\t],\n\t\t\"hints\": [\n\t\t\t\"from-out-of-order\"\n\t\t]\n\t},\n\t\"version\": 1\n}";
        assert_eq!(m.to_json(), want);
        assert_eq!(
            BlockMeta::parse(want.as_bytes(), Path::new("m")).unwrap(),
            m
        );
    }

    #[test]
    fn thanos_section() {
        let id: Ulid = "01M80KAXQCMR99TXKV0APBRDMA".parse().unwrap();
        let mut m = BlockMeta::new(id, 0, 10);
        m.stats.num_samples = 1;
        m.thanos = Some(ThanosMeta {
            labels: [("cluster".to_string(), "eu<1>".to_string())].into(),
            downsample_resolution: 0,
            source: "sidecar".into(),
            ..ThanosMeta::default()
        });
        let json = m.to_json();
        assert!(json.ends_with("\t\"version\": 1,\n\t\"thanos\": {\n\t\t\"version\": 1,\n\t\t\"labels\": {\n\t\t\t\"cluster\": \"eu\\u003c1\\u003e\"\n\t\t},\n\t\t\"downsample\": {\n\t\t\t\"resolution\": 0\n\t\t},\n\t\t\"source\": \"sidecar\"\n\t}\n}\n"), "{json}");
        assert_eq!(
            BlockMeta::parse(json.as_bytes(), Path::new("m")).unwrap(),
            m
        );
        // Unknown members survive a round trip.
        let with_extra = json.replace(
            "\"source\": \"sidecar\"",
            "\"source\": \"sidecar\",\n\t\t\"index_stats\": {}",
        );
        let m2 = BlockMeta::parse(with_extra.as_bytes(), Path::new("m")).unwrap();
        assert_eq!(m2.to_json(), with_extra);
    }

    #[test]
    fn refuses_bad_files_naming_them() {
        let p = Path::new("/data/01M80KAXQCMR99TXKV0APBRDMA/meta.json");
        for (input, want) in [
            ("{", "invalid JSON"),
            ("[]", "not a JSON object"),
            (
                "{\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMA\", \"version\": 2}",
                "version 2",
            ),
            ("{\"ulid\": \"nope\", \"version\": 1}", "invalid ULID"),
            ("{\"version\": 1}", "\"ulid\" is missing"),
            (
                "{\"ulid\": \"01M80KAXQCMR99TXKV0APBRDMA\", \"version\": 1, \"minTime\": \"x\"}",
                "\"minTime\" is not an integer",
            ),
        ] {
            let err = BlockMeta::parse(input.as_bytes(), p)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{input}: {err}");
            assert!(err.contains("meta.json"), "{err}");
        }
    }
}
