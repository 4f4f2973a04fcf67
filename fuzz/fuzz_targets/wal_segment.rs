//! WAL segment reading over arbitrary bytes: the record reader, the record
//! decoders behind it, and opening a log whose newest segment holds the
//! bytes (torn-tail detection and cutting). Nothing may panic, and a log
//! that opened must then read without error.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use aion::wal::record::RecordDecoder;
use aion::wal::{segment_path, SegmentReader, Wal, WalOptions, WalReader};
use libfuzzer_sys::fuzz_target;

/// A per-process scratch directory, on tmpfs when there is one (every
/// open flushes to disk).
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        base.join(format!("aion-fuzz-wal-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = RecordDecoder::default();
    let mut reader = SegmentReader::new(data);
    while let Ok(Some(rec)) = reader.next_record() {
        let _ = decoder.decode(rec);
    }

    let dir = scratch().join("wal");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(segment_path(&dir, 0), data).unwrap();
    if Wal::open(&dir, WalOptions::default()).is_ok() {
        let mut r = WalReader::replay(&dir).unwrap();
        while r.next_record().expect("a log that opened reads cleanly").is_some() {}
    }
});
