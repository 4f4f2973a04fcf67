//! Helpers shared by unit tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::disk::{IndexFileWriter, WriterOptions};
use crate::ChunkMeta;
use aion_model::Labels;

/// Writes `series` (any order, unique label sets) as an index file in
/// `dir`, symbols and order as the writer requires.
pub(crate) fn write_index(
    dir: &Path,
    series: &[(Labels, Vec<ChunkMeta>)],
    options: WriterOptions,
) -> PathBuf {
    let path = dir.join("index");
    let mut symbols = BTreeSet::new();
    for (l, _) in series {
        for label in l {
            symbols.insert(label.name.to_string());
            symbols.insert(label.value.to_string());
        }
    }
    let mut sorted: Vec<&(Labels, Vec<ChunkMeta>)> = series.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut w = IndexFileWriter::create(&path, options).unwrap();
    for s in &symbols {
        w.add_symbol(s).unwrap();
    }
    for (l, c) in sorted {
        w.add_series(l, c).unwrap();
    }
    w.finish().unwrap();
    path
}
