//! The first stage of WAL replay: a thread that reads the log, checks its
//! checksums and decodes the float samples records, handing them in log
//! order to the thread that applies them.
//!
//! Reading, CRC checking and decoding the samples are about half of a
//! replay's CPU time and need nothing from the head, so they run beside
//! the applying thread (series creation, the m-mapped-chunk filter and the
//! dispatch to the append workers) instead of before it on the same
//! thread. Everything else (series, tombstones, histograms, ...) is passed
//! on as read and decoded by the applying thread, which keeps the order of
//! records and every decision about them where it was.

use std::sync::mpsc::SyncSender;

use aion_wal::record::{decode_samples, record_type, RecordType, RefSample};
use aion_wal::{SegmentPosition, WalReader};
use parking_lot::Mutex;

/// Batches queued between the reading and the applying thread: enough to
/// ride over a slow series record without holding much.
pub(super) const READ_AHEAD: usize = 4;
/// Decoded samples per batch (1.5 MB). Records go over in batches because
/// a hand-over per record (one scrape's worth) made the two threads wake
/// each other thousands of times a second.
const BATCH_SAMPLES: usize = 64 * 1024;
/// Records per batch at most (for logs of small records).
const BATCH_RECORDS: usize = 64;

/// What the reading thread hands on, in log order.
pub(super) enum Item {
    /// A float samples record (type 2 or 11), decoded. The vector comes
    /// from, and should go back to, the shared sample-vector pool.
    Samples(Vec<RefSample>),
    /// Any other record as read, with where it starts (for the error
    /// message if it does not decode).
    Other(Vec<u8>, SegmentPosition),
    /// Damage (a bad checksum, a torn or undecodable record): replay stops
    /// here and the log may be repaired from this position.
    Damaged(SegmentPosition, String),
    /// An error that is not damage (I/O, a record this build cannot read):
    /// the open fails.
    Failed(aion_wal::Error),
}

/// Reads `reader` to its end (or its first error) and sends what it finds
/// down `tx`, in batches of records in log order; stops early when the
/// receiver has gone. Returns the reader, for what it knows at the end (a
/// skipped torn tail).
pub(super) fn read_log(
    mut reader: WalReader,
    tx: SyncSender<Vec<Item>>,
    pool: &Mutex<Vec<Vec<RefSample>>>,
) -> WalReader {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut batch_samples = 0;
    loop {
        let item = match reader.next_record() {
            Ok(None) => break,
            Ok(Some(rec)) => match record_type(rec) {
                Some(RecordType::Samples | RecordType::SamplesV2) => {
                    let mut samples = pool.lock().pop().unwrap_or_default();
                    match decode_samples(rec, &mut samples) {
                        Ok(()) => Item::Samples(samples),
                        Err(e) => {
                            let at = reader.position().expect("a record was just read");
                            let why = format!("bad record in {at}: {e}");
                            Item::Damaged(at, why)
                        }
                    }
                }
                _ => {
                    let rec = rec.to_vec();
                    Item::Other(rec, reader.position().expect("a record was just read"))
                }
            },
            // Only damage is cut away; a record this build cannot read
            // (zstd) is data, and stops the open instead.
            Err(e) => match (&e, e.position()) {
                (aion_wal::Error::Corrupt { .. } | aion_wal::Error::Record { .. }, Some(at)) => {
                    Item::Damaged(at.clone(), e.to_string())
                }
                _ => Item::Failed(e),
            },
        };
        let last = matches!(item, Item::Damaged(..) | Item::Failed(_));
        if let Item::Samples(s) = &item {
            batch_samples += s.len();
        }
        batch.push(item);
        if last || batch_samples >= BATCH_SAMPLES || batch.len() >= BATCH_RECORDS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_RECORDS));
            batch_samples = 0;
            if tx.send(full).is_err() || last {
                return reader;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    reader
}
