//! The names of the entries of a log directory: segment files and
//! checkpoint directories.
//!
//! Names are pure functions of numbers, with no file-system access and no
//! error type, so the error module can name a segment's path and the
//! modules that list, read and write entries all agree on one spelling
//! (see `docs/formats.md#wal-segments`).
//!
//! | item | concept |
//! |---|---|
//! | [`segment_name`], [`segment_path`] | segment `N` is the file `N` in eight digits |
//! | [`checkpoint_dir`] | checkpoint `N` is the directory `checkpoint.N` in eight digits |
//! | [`tmp_checkpoint_dir`] | where a checkpoint is built before its rename |
//! | `parse_index` | the number a digit-only name stands for |

use std::path::{Path, PathBuf};

/// Prefix of checkpoint directory names.
pub(crate) const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// Suffix of a checkpoint directory still being written.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// The file name of segment `index`.
pub fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// The path of segment `index` in `dir`.
pub fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_name(index))
}

/// The path of checkpoint `index` in `wal_dir`.
pub fn checkpoint_dir(wal_dir: &Path, index: u32) -> PathBuf {
    wal_dir.join(format!("{CHECKPOINT_PREFIX}{index:08}"))
}

/// The path checkpoint `index` is written under before it is renamed to
/// [`checkpoint_dir`]: replay ignores it, opening the log deletes it.
pub(crate) fn tmp_checkpoint_dir(wal_dir: &Path, index: u32) -> PathBuf {
    wal_dir.join(format!("{CHECKPOINT_PREFIX}{index:08}{TMP_SUFFIX}"))
}

/// Parses a name made only of ASCII digits (Prometheus accepts any width):
/// `None` if it is not such a name, `Some(Err(()))` if it is one whose
/// number does not fit 32 bits.
pub(crate) fn parse_index(name: &str) -> Option<Result<u32, ()>> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(name.parse::<u32>().map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_eight_digits() {
        assert_eq!(segment_name(0), "00000000");
        assert_eq!(segment_name(123), "00000123");
        assert_eq!(segment_name(123_456_789), "123456789");
        let wal = Path::new("wal");
        assert_eq!(checkpoint_dir(wal, 7), wal.join("checkpoint.00000007"));
        assert_eq!(
            tmp_checkpoint_dir(wal, 7),
            wal.join("checkpoint.00000007.tmp")
        );
    }

    #[test]
    fn parses_digit_names_only() {
        assert_eq!(parse_index("00000012"), Some(Ok(12)));
        assert_eq!(parse_index("7"), Some(Ok(7)));
        assert_eq!(parse_index("99999999999"), Some(Err(())));
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("00000001.tmp"), None);
        assert_eq!(parse_index("+1"), None);
    }
}
