//! Segment files: listing, deleting and the file-system calls around them.
//!
//! A log directory holds segment files named by their number with eight
//! digits (`00000000`, `00000001`, …, see [`crate::naming`]), numbered
//! without gaps. Other entries
//! (checkpoint directories, temporary files) are ignored by the listing.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::naming::{parse_index, segment_path};

/// Size of a page: fragments never cross one, and a closed segment is a
/// whole number of them.
pub const PAGE_SIZE: usize = 32 * 1024;

/// Default maximum segment size, as in Prometheus (128 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 * 1024 * 1024;

/// One segment file found in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentRef {
    /// The segment number.
    pub index: u32,
    /// File size in bytes when listed.
    pub size: u64,
}

/// The newest of `segments` (in order, as [`list_segments`] gives them)
/// holding any bytes: the one a torn write can end, and what opening a log
/// checks for one.
pub(crate) fn newest_written(segments: &[SegmentRef]) -> Option<SegmentRef> {
    segments.iter().rev().find(|s| s.size > 0).copied()
}

/// Lists the segments of `dir` in order.
///
/// Fails if the numbers have a gap: a missing segment means lost records,
/// and replaying around it would silently skip them.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentRef>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("listing segments in", dir, e))?;
    let mut refs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing segments in", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(parsed) = parse_index(name) else {
            continue;
        };
        let path = entry.path();
        let index = parsed.map_err(|()| Error::UnexpectedEntry {
            path: path.clone(),
            reason: "segment number does not fit 32 bits",
        })?;
        let meta = entry
            .metadata()
            .map_err(|e| Error::io("reading metadata of", &path, e))?;
        if !meta.is_file() {
            return Err(Error::UnexpectedEntry {
                path,
                reason: "a segment name that is not a regular file",
            });
        }
        refs.push(SegmentRef {
            index,
            size: meta.len(),
        });
    }
    refs.sort_unstable();
    for w in refs.windows(2) {
        if w[0].index == w[1].index {
            return Err(Error::UnexpectedEntry {
                path: segment_path(dir, w[0].index),
                reason: "two files name the same segment number",
            });
        }
        if w[0].index + 1 != w[1].index {
            return Err(Error::SegmentGap {
                dir: dir.to_path_buf(),
                missing: w[0].index + 1,
            });
        }
    }
    Ok(refs)
}

/// The first and last segment numbers of `dir`, or `None` if it holds no
/// segment.
pub fn segment_range(dir: &Path) -> Result<Option<(u32, u32)>> {
    let refs = list_segments(dir)?;
    Ok(match (refs.first(), refs.last()) {
        (Some(f), Some(l)) => Some((f.index, l.index)),
        _ => None,
    })
}

/// Makes the directory entries of `dir` (creations, renames, deletions)
/// durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io("opening directory", dir, e))?;
    d.sync_all()
        .map_err(|e| Error::io("syncing directory", dir, e))
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// Deletes the segments of `dir` numbered below `before`, oldest first.
///
/// Deleting in ascending order keeps the remaining segments consecutive at
/// every instant, so a crash part-way leaves a listable log. Returns the
/// deleted numbers.
pub fn delete_segments_before(dir: &Path, before: u32) -> Result<Vec<u32>> {
    let mut deleted = Vec::new();
    for s in list_segments(dir)? {
        if s.index >= before {
            break;
        }
        remove_file_if_exists(&segment_path(dir, s.index))?;
        deleted.push(s.index);
    }
    if !deleted.is_empty() {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_ignores_other_entries_and_rejects_gaps() {
        let dir = tempfile::tempdir().unwrap();
        for i in [3u32, 4, 5] {
            fs::write(segment_path(dir.path(), i), b"").unwrap();
        }
        fs::create_dir(dir.path().join("checkpoint.00000002")).unwrap();
        fs::write(dir.path().join("00000006.repair"), b"x").unwrap();
        let refs = list_segments(dir.path()).unwrap();
        assert_eq!(refs.iter().map(|r| r.index).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(segment_range(dir.path()).unwrap(), Some((3, 5)));

        fs::remove_file(segment_path(dir.path(), 4)).unwrap();
        let err = list_segments(dir.path()).unwrap_err();
        assert!(matches!(err, Error::SegmentGap { missing: 4, .. }), "{err}");
    }

    #[test]
    fn deletes_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0u32..5 {
            fs::write(segment_path(dir.path(), i), b"").unwrap();
        }
        assert_eq!(delete_segments_before(dir.path(), 3).unwrap(), [0, 1, 2]);
        assert_eq!(segment_range(dir.path()).unwrap(), Some((3, 4)));
        assert!(delete_segments_before(dir.path(), 3).unwrap().is_empty());
    }
}
