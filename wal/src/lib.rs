//! Prometheus-compatible write-ahead log: segments, pages, records,
//! checkpoints, repair and tailing.
//!
//! The on-disk format is Prometheus's own (`docs/formats.md#wal-segments`
//! through `#wal-checkpoints`): a `wal/` directory of segment files
//! `00000000`, `00000001`, … made of 32 KiB pages, each record split into
//! checksummed fragments that never cross a page, optionally
//! snappy-compressed; `checkpoint.NNNNNNNN/` directories
//! holding the still-relevant records of deleted segments. A log written by
//! Prometheus replays here, and one written here replays in Prometheus.
//!
//! | module/item | concept |
//! |---|---|
//! | [`Wal`], [`WalOptions`] (`writer.rs`) | appends batches of records; rotation, fsync policy, truncation, checkpointing |
//! | `writer/recovery.rs` | going on after a failed write (full disk): cut the failed batch, start a new segment |
//! | `open.rs` ([`OpenReport`]) | opening for writing: cut a torn tail, remove unfinished checkpoints, start a fresh segment |
//! | `background_sync.rs` | fsync of finished segments off the append path |
//! | [`WalReader`], [`SegmentReader`] (`reader.rs`) | reads a range of segments, or replays checkpoint + segments; one segment from any byte source |
//! | [`LiveReader`] (`live_reader.rs`) | follows a log while it is written |
//! | [`Watcher`] (`watcher.rs`) | tails a live log across rotation and truncation, with the series cache (remote write, agents) |
//! | `cursor.rs` | record-by-record reading of one segment's bytes, shared by the readers and repair |
//! | `assembler.rs` | joins fragments into records and decompresses them |
//! | [`Compression`] (`fragment.rs`) | the fragment layout inside pages |
//! | [`repair()`] (`repair.rs`) | cuts a damaged log back to its intact prefix |
//! | [`create_checkpoint`] (`checkpoint.rs`) | folds old segments into a checkpoint |
//! | [`list_checkpoints`], [`last_checkpoint`] (`checkpoint_dirs.rs`) | finding, listing and deleting checkpoint directories |
//! | [`list_segments`], [`delete_segments_before`] (`segment.rs`) | listing and deleting segment files |
//! | [`segment_path`], [`checkpoint_dir`] (`naming.rs`) | the names of segments and checkpoints |
//! | [`Error`], [`Corruption`], [`SegmentPosition`] (`error.rs`) | errors naming segment and offset |
//! | [`record`] | codecs for series, samples, tombstones, exemplars, metadata, histograms, … |
//!
//! Opening a log for writing cuts a torn tail left by a crash
//! ([`OpenReport::torn_tail`]); any other damage is an error naming the
//! segment and offset ([`Error::Corrupt`]), and [`repair()`] keeps
//! everything before it. A write that fails (no space left, an I/O error)
//! names its cause; the next call cuts what it left and goes on in a new
//! segment ([`Error::Failed`] while that is not possible yet).
//!
//! ```
//! use aion_wal::record::{self, Record, RecordDecoder, RefSample, RefSeries};
//! use aion_wal::{Wal, WalOptions, WalReader};
//! use aion_model::Labels;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
//! let (mut series, mut samples) = (Vec::new(), Vec::new());
//! let labels = Labels::from_pairs(&[("__name__", "up")]).unwrap();
//! record::encode_series(&[RefSeries { r#ref: 1, labels }], &mut series);
//! record::encode_samples(&[RefSample { r#ref: 1, t: 1000, v: 1.0 }], &mut samples);
//! wal.log(&[&series, &samples]).unwrap();
//! wal.close().unwrap();
//!
//! let mut replay = WalReader::replay(dir.path()).unwrap();
//! let mut decoder = RecordDecoder::default();
//! let mut n = 0;
//! while let Some(rec) = replay.next_record().unwrap() {
//!     match decoder.decode(rec).unwrap() {
//!         Record::Samples(s) => n += s.len(),
//!         _ => {}
//!     }
//! }
//! assert_eq!(n, 1);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod assembler;
mod background_sync;
mod checkpoint;
mod checkpoint_dirs;
mod cursor;
mod error;
mod fragment;
mod live_reader;
mod naming;
mod open;
mod reader;
pub mod record;
mod repair;
mod segment;
mod watcher;
mod writer;

pub use checkpoint::{create_checkpoint, CheckpointStats};
pub use checkpoint_dirs::{
    delete_checkpoints_before, last_checkpoint, list_checkpoints, remove_temporary_checkpoints,
};
pub use error::{Corruption, Error, Result, SegmentPosition};
pub use fragment::Compression;
pub use live_reader::LiveReader;
pub use naming::{checkpoint_dir, segment_name, segment_path};
pub use open::OpenReport;
pub use reader::{SegmentReader, WalReader};
pub use repair::{repair, RepairReport, TornTail};
pub use segment::{
    delete_segments_before, list_segments, segment_range, SegmentRef, DEFAULT_SEGMENT_SIZE,
    PAGE_SIZE,
};
pub use watcher::{
    SeriesCache, StartFrom, WalNotify, WatchSink, Watcher, WatcherOptions, WatcherStats,
};
pub use writer::{SyncPolicy, Wal, WalOptions};
