//! The first stage of WAL replay: a thread that reads the log, checks its
//! checksums and decodes the float samples records, handing them in log
//! order to the thread that applies them.
//!
//! Reading, CRC checking and decoding the samples are about half of a
//! replay's CPU time and need nothing from the head, so they run beside
//! the applying thread (series creation and the dispatch to the append
//! workers) instead of before it on the same thread. Everything else
//! (series, tombstones, histograms, ...) is passed on as read and decoded
//! by the applying thread, which keeps the order of records and every
//! decision about them where it was.
//!
//! The reading thread also drops the samples the applying thread would
//! drop first (those inside their series' chunks in `chunks_head/`, most
//! of a log a clean shutdown left, and those before the head's minimum
//! valid time), so that only the rest cross to the other core: see
//! [`Prefilter`] for when it can know.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use aion_model::encoding::{uvarint, uvarint_bytes};
use aion_model::xxh64;
use aion_wal::record::{decode_samples_where, record_type, RecordType, RefSample};
use aion_wal::{SegmentPosition, WalReader};
use parking_lot::{Condvar, Mutex};

#[cfg(test)]
thread_local! {
    /// Replays opened on this thread skip the [`Prefilter`]'s chunk test,
    /// so a test can hold the two ways to the same result.
    pub(super) static PREFILTER_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Replays opened on this thread hand every samples record on
    /// undecoded, as while the applying thread waits.
    pub(super) static HAND_OFF_ALWAYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Bytes of decoded samples and copied records the reading thread may have
/// handed on and the applying thread not yet applied.
///
/// The bound is on bytes, not batches: a log's series records come first
/// and take the applying thread a while (series creation), and the
/// reading thread should meanwhile run on through the samples, most of
/// which it drops, so batches of dropped samples cost next to nothing and
/// do not count.
const READ_AHEAD_BYTES: usize = 8 << 20;
/// Kept samples per batch (768 KB). Records go over in batches because a
/// hand-over per record (one scrape's worth) made the two threads wake
/// each other thousands of times a second.
const BATCH_SAMPLES: usize = 32 * 1024;
/// Records per batch at most (for logs of small records).
const BATCH_RECORDS: usize = 64;
/// While the applying thread waits for it, the reading thread (then the
/// one holding the replay back) hands on samples records undecoded, in
/// batches of this many: the applying thread decodes them and filters by
/// its own table of what `chunks_head/` holds, as it does every record
/// when the prefilter is off. Small, so that it starts at once; it is
/// idle for a third of a clean shutdown's replay, after creating the
/// series.
const RAW_HANDOFF_RECORDS: usize = 8;

/// Records in log order, with the kept samples and the copied records
/// they refer to, and the bytes held (for [`ReadAhead`]).
///
/// The applying thread sends every batch back empty once applied, and the
/// reading thread fills the returned ones before it allocates: the
/// vectors then stay touched memory from one batch to the next instead of
/// each batch taking fresh pages, which the kernel has to fault in and
/// zero (a quarter of a replay's CPU time on a VM where a fault is dear).
#[derive(Default)]
pub(super) struct Batch {
    pub(super) items: Vec<Item>,
    /// The kept samples of the batch's samples records, one after the
    /// other in log order.
    pub(super) samples: Vec<RefSample>,
    /// The batch's other records, one after the other.
    pub(super) records: Vec<u8>,
    /// What the vectors hold allocated (capacity, not length: a recycled
    /// batch holds its memory however little of it is in use).
    pub(super) bytes: usize,
}

impl Batch {
    fn held_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Item>()
            + self.samples.capacity() * std::mem::size_of::<RefSample>()
            + self.records.capacity()
    }

    /// Empties the batch for the reading thread to fill again.
    pub(super) fn clear(&mut self) {
        self.items.clear();
        self.samples.clear();
        self.records.clear();
        self.bytes = 0;
    }
}

/// The bytes handed on and not yet applied, bounding how far the reading
/// thread runs ahead.
#[derive(Default)]
pub(super) struct ReadAhead {
    state: Mutex<ReadAheadState>,
    changed: Condvar,
    /// The applying thread waits for the reading thread: see
    /// [`RAW_HANDOFF_RECORDS`].
    applier_waiting: AtomicBool,
    /// Tests: hand every samples record on undecoded.
    #[cfg(test)]
    pub(super) hand_off_always: bool,
}

#[derive(Default)]
struct ReadAheadState {
    held: usize,
    /// The applying thread has stopped: nothing more will be freed.
    closed: bool,
}

impl ReadAhead {
    /// Waits until `bytes` more may be held (always, when nothing is);
    /// false when the applying thread has stopped.
    fn reserve(&self, bytes: usize) -> bool {
        let mut st = self.state.lock();
        while st.held > 0 && st.held + bytes > READ_AHEAD_BYTES && !st.closed {
            self.changed.wait(&mut st);
        }
        st.held += bytes;
        !st.closed
    }

    /// Whether the applying thread is waiting for a batch (set by it
    /// around its blocking receive).
    fn applier_waits(&self) -> bool {
        #[cfg(test)]
        if self.hand_off_always {
            return true;
        }
        self.applier_waiting.load(Ordering::Relaxed)
    }

    /// The applying thread is about to wait for a batch, or has one.
    pub(super) fn set_applier_waiting(&self, waiting: bool) {
        self.applier_waiting.store(waiting, Ordering::Relaxed);
    }

    /// The applying thread is done with `bytes`.
    pub(super) fn release(&self, bytes: usize) {
        let mut st = self.state.lock();
        st.held -= bytes.min(st.held);
        self.changed.notify_one();
    }

    /// The applying thread stops taking batches.
    pub(super) fn close(&self) {
        self.state.lock().closed = true;
        self.changed.notify_one();
    }
}

/// What the reading thread hands on, in log order.
pub(super) enum Item {
    /// A float samples record (type 2 or 11), decoded, without the samples
    /// the [`Prefilter`] dropped (`skipped` of them): the next `kept` of
    /// the batch's samples.
    Samples { kept: usize, skipped: u64 },
    /// Any other record as read (the next `len` bytes of the batch's
    /// records), with where it starts (for the error message if it does
    /// not decode).
    Other(usize, SegmentPosition),
    /// Damage (a bad checksum, a torn or undecodable record): replay stops
    /// here and the log may be repaired from this position.
    Damaged(SegmentPosition, String),
    /// An error that is not damage (I/O, a record this build cannot read):
    /// the open fails.
    Failed(aion_wal::Error),
}

/// Which samples the reading thread may drop: those the applying thread
/// would skip, decided from what the reading thread has itself seen.
///
/// The applying thread skips a sample older than the head's minimum valid
/// time, and one at or before the end of its series' m-mapped chunks once
/// the series record has attached them. It attaches a reference's chunks
/// when that record creates a new series, i.e. when no earlier series
/// record had the same labels. The reading thread sees the same records in
/// the same order, so it drops a sample inside its reference's chunks only
/// when it has seen that reference's series record, that record was the
/// first with its labels (a label-set hash not seen before) and no other
/// record named the same reference. Anything else (a sample before its
/// series record, a duplicate label set under a second reference, a hash
/// collision) is left to the applying thread, which decides as before.
pub(super) struct Prefilter {
    min_valid: i64,
    /// By reference (direct-indexed, refs with chunks only): the last
    /// m-mapped chunk's max time, and what the series records said.
    chunks_until: Vec<i64>,
    state: Vec<RefState>,
    /// By reference, what the two above decide for a sample, in the one
    /// table the per-sample test reads: samples before this time are
    /// dropped. The minimum valid time, or just past the chunks' end once
    /// the reference is [`RefState::Attached`].
    keep_from: Vec<i64>,
    /// Hashes of the label sets of the series records seen.
    label_sets: HashSet<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefState {
    /// No series record for this reference yet.
    Unseen,
    /// Its series record created the series: its chunks are attached.
    Attached,
    /// Decided by the applying thread.
    Undecided,
}

impl Prefilter {
    /// A filter for a head whose minimum valid time is `min_valid`, with
    /// `chunks_until` the end of each reference's m-mapped chunks
    /// (`i64::MIN` for none).
    pub(super) fn new(min_valid: i64, chunks_until: Vec<i64>) -> Prefilter {
        let state = vec![RefState::Unseen; chunks_until.len()];
        let keep_from = vec![min_valid; chunks_until.len()];
        Prefilter {
            min_valid,
            chunks_until,
            state,
            keep_from,
            label_sets: HashSet::new(),
        }
    }

    /// Notes a series record. Damage is left for the applying thread to
    /// report (replay stops there); what comes before it is noted.
    fn note_series(&mut self, rec: &[u8]) {
        let (label_sets, state) = (&mut self.label_sets, &mut self.state);
        let (keep_from, until, min_valid) =
            (&mut self.keep_from, &self.chunks_until, self.min_valid);
        for_each_label_set(rec, |r, labels_hash| {
            let new_labels = label_sets.insert(labels_hash);
            let Some(i) = usize::try_from(r).ok().filter(|&i| i < state.len()) else {
                return;
            };
            state[i] = if state[i] == RefState::Unseen && new_labels {
                RefState::Attached
            } else {
                RefState::Undecided
            };
            // Up to the chunks' end, inclusive; a chunk ending at the
            // largest time leaves its last sample to the applying thread.
            keep_from[i] = match state[i] {
                RefState::Attached => until[i].saturating_add(1).max(min_valid),
                _ => min_valid,
            };
        });
    }

    /// Whether the applying thread would keep `s` (not skip it).
    #[inline]
    fn keeps(&self, s: &RefSample) -> bool {
        let from = usize::try_from(s.r#ref)
            .ok()
            .and_then(|i| self.keep_from.get(i))
            .copied()
            .unwrap_or(self.min_valid);
        s.t >= from
    }
}

/// Calls `f` with each series' reference and a hash of its label set in
/// the series record `rec`, up to the end or the first malformed byte.
///
/// It walks the record's bytes instead of decoding it (the applying
/// thread decodes it, with its checks): the hash adds up one hash per
/// label pair, so the same labels in another order (the format does not
/// insist on sorted labels) or with other varint spellings hash alike,
/// which is all [`Prefilter`] needs. Different sets may collide; that only
/// leaves a reference to the applying thread.
fn for_each_label_set(rec: &[u8], mut f: impl FnMut(u64, u64)) {
    let mut b = rec.get(1..).unwrap_or_default();
    while let Some((r, rest)) = b.split_first_chunk::<8>() {
        let Some((n, used)) = uvarint(rest) else {
            return;
        };
        b = &rest[used..];
        let mut hash = 0u64;
        for _ in 0..n {
            let Some((name, used)) = uvarint_bytes(b) else {
                return;
            };
            b = &b[used..];
            let Some((value, used)) = uvarint_bytes(b) else {
                return;
            };
            b = &b[used..];
            hash = hash.wrapping_add(xxh64(value, xxh64(name, 0)));
        }
        f(u64::from_be_bytes(*r), hash);
    }
}

/// Reads `reader` to its end (or its first error) and sends what it finds
/// down `tx`, in batches of records in log order, filling the batches that
/// come back on `spare` before allocating new ones; stops early when the
/// receiver has gone. Returns the reader, for what it knows at the end (a
/// skipped torn tail).
pub(super) fn read_log(
    mut reader: WalReader,
    mut prefilter: Prefilter,
    tx: Sender<Batch>,
    spare: Receiver<Batch>,
    ahead: &ReadAhead,
) -> WalReader {
    // The returned batches, and their sample vectors apart, for the
    // batches that keep samples: a clean shutdown's log is nearly all in
    // `chunks_head/`, so most batches keep none and go over without one,
    // holding next to nothing and not held back. Everything that comes
    // back is taken at once: the batches return in the order they went,
    // and the few with samples would otherwise wait behind the many
    // without.
    let mut free: Vec<Batch> = Vec::new();
    let mut stash: Vec<Vec<RefSample>> = Vec::new();
    let take_spares = |free: &mut Vec<Batch>, stash: &mut Vec<Vec<RefSample>>| {
        for mut b in spare.try_iter() {
            if b.samples.capacity() > 0 {
                stash.push(std::mem::take(&mut b.samples));
            }
            free.push(b);
        }
    };
    let new_batch = |free: &mut Vec<Batch>, stash: &mut Vec<Vec<RefSample>>| {
        take_spares(free, stash);
        free.pop().unwrap_or_else(|| Batch {
            items: Vec::with_capacity(BATCH_RECORDS),
            ..Batch::default()
        })
    };
    let mut batch = new_batch(&mut free, &mut stash);
    let mut samples_kept = Vec::new();
    let mut raw_in_batch = 0;
    loop {
        let item = match reader.next_record() {
            Ok(None) => break,
            Ok(Some(rec)) => match record_type(rec) {
                Some(RecordType::Samples | RecordType::SamplesV2)
                    if raw_in_batch > 0 || ahead.applier_waits() =>
                {
                    raw_in_batch += 1;
                    batch.records.extend_from_slice(rec);
                    Item::Other(
                        rec.len(),
                        reader.position().expect("a record was just read"),
                    )
                }
                Some(RecordType::Samples | RecordType::SamplesV2) => {
                    if samples_kept.capacity() == 0 {
                        take_spares(&mut free, &mut stash);
                        samples_kept = stash.pop().unwrap_or_else(|| {
                            // Room for a full batch and one more record
                            // (a sample takes at least 10 bytes).
                            Vec::with_capacity(BATCH_SAMPLES + rec.len() / 10)
                        });
                    }
                    let before = samples_kept.len();
                    // Decoded and filtered in one pass: the samples
                    // `chunks_head/` holds (most of them) are never stored.
                    let keeps = |s: &RefSample| prefilter.keeps(s);
                    match decode_samples_where(rec, &mut samples_kept, keeps) {
                        Ok(skipped) => {
                            let kept = samples_kept.len() - before;
                            Item::Samples { kept, skipped }
                        }
                        Err(e) => {
                            let at = reader.position().expect("a record was just read");
                            let why = format!("bad record in {at}: {e}");
                            Item::Damaged(at, why)
                        }
                    }
                }
                typ => {
                    if typ == Some(RecordType::Series) {
                        prefilter.note_series(rec);
                    }
                    batch.records.extend_from_slice(rec);
                    Item::Other(
                        rec.len(),
                        reader.position().expect("a record was just read"),
                    )
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
        batch.items.push(item);
        if last
            || samples_kept.len() >= BATCH_SAMPLES
            || batch.items.len() >= BATCH_RECORDS
            || raw_in_batch >= RAW_HANDOFF_RECORDS
        {
            raw_in_batch = 0;
            let mut full = std::mem::replace(&mut batch, new_batch(&mut free, &mut stash));
            if !samples_kept.is_empty() {
                full.samples = std::mem::take(&mut samples_kept);
            }
            full.bytes = full.held_bytes();
            if !ahead.reserve(full.bytes) || tx.send(full).is_err() || last {
                return reader;
            }
        }
    }
    if !batch.items.is_empty() {
        batch.samples = samples_kept;
        batch.bytes = batch.held_bytes();
        if ahead.reserve(batch.bytes) {
            let _ = tx.send(batch);
        }
    }
    reader
}
