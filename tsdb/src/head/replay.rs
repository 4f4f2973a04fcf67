//! Rebuilding the head on open: the chunks in `chunks_head/`, then the
//! newest WAL checkpoint and the segments after it.
//!
//! One thread reads and decodes records in log order and creates series
//! (attaching their chunks from `chunks_head/`); samples are partitioned by
//! series reference over worker threads that append them, so each series'
//! samples keep their order. Samples already inside a series' mmapped
//! chunks are skipped, as Prometheus does, so only the open chunks are
//! rebuilt from the log.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, sync_channel, Receiver, TryRecvError};
use std::time::Instant;

use aion_chunkenc::is_stale_nan;
use aion_wal::record::{
    Record, RecordDecoder, RefFloatHistogramSample, RefHistogramSample, RefSample,
};
use aion_wal::{SegmentPosition, WalReader};
use parking_lot::Mutex;

use super::batch::HistogramValue;
use super::commit::append_histogram_in_order;
use super::ooo::replay::{attach_mmapped, replay_wbl, WblReplayReport};
use super::open_chunk::SampleKind;
use super::replay_chunks::{load_mmapped_chunks, ChunksBySeries};
use super::replay_reader::{read_log, Batch, Item, Prefilter, ReadAhead};
pub use super::replay_report::ReplayReport;
use super::series::{MemSeries, SeriesState};
use super::series_arc::SeriesArc;
use super::Head;
use crate::{Error, Result};

/// Samples handed to a worker at once.
const SAMPLE_BATCH: usize = 16 * 1024;
/// Batches queued per worker.
const QUEUE_DEPTH: usize = 8;
/// Worker-local series lookup tables are direct-indexed up to this ref.
const DIRECT_LOOKUP_REFS: u64 = 1 << 22;

/// The worker that replays series `r`: a multiply-shift range reduction of
/// a mixed reference (a `%` by a run-time divisor costs a division per
/// sample).
#[inline]
fn worker_of(r: u64, workers: usize) -> usize {
    let mixed = (r.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
    ((u64::from(mixed) * workers as u64) >> 32) as usize
}

/// What a replay worker did.
#[derive(Default)]
struct WorkerResult {
    appended: u64,
    skipped: u64,
    unknown: u64,
    invalid_histograms: u64,
    mint: i64,
    maxt: i64,
    err: Option<Error>,
}

/// Samples handed to a worker: one record type each, in log order per
/// worker, so a series' samples keep their order across record types.
enum Work {
    Floats(Vec<RefSample>),
    Histograms(Vec<RefHistogramSample>),
    FloatHistograms(Vec<RefFloatHistogramSample>),
}

/// A worker's series by reference with the end of their m-mapped chunks:
/// samples up to there are skipped without taking the series' lock.
#[derive(Default)]
struct WorkerSeries {
    direct: Vec<Option<(SeriesArc, i64)>>,
    other: HashMap<u64, (SeriesArc, i64)>,
}

impl WorkerSeries {
    #[inline]
    fn get(&mut self, head: &Head, r: u64) -> Option<&(SeriesArc, i64)> {
        let lookup = |r: u64| {
            head.series.get_by_ref(r).map(|s| {
                let mm_max = s.lock().mmapped.last().map_or(i64::MIN, |c| c.max_time);
                (s, mm_max)
            })
        };
        if r < DIRECT_LOOKUP_REFS {
            let i = r as usize;
            if i >= self.direct.len() {
                self.direct.resize(i + 1, None);
            }
            if self.direct[i].is_none() {
                self.direct[i] = lookup(r);
            }
            self.direct[i].as_ref()
        } else {
            if let std::collections::hash_map::Entry::Vacant(e) = self.other.entry(r) {
                if let Some(x) = lookup(r) {
                    e.insert(x);
                }
            }
            self.other.get(&r)
        }
    }
}

impl WorkerResult {
    /// Notes what appending the sample at `t` did; `false` to stop.
    #[inline]
    fn note(&mut self, t: i64, appended: Result<bool>) -> bool {
        match appended {
            Ok(true) => {
                self.appended += 1;
                self.mint = self.mint.min(t);
                self.maxt = self.maxt.max(t);
            }
            Ok(false) => self.skipped += 1,
            Err(Error::InvalidSample(_)) => self.invalid_histograms += 1,
            Err(e) => {
                self.err = Some(e);
                return false;
            }
        }
        true
    }
}

/// Replays a float sample into its series (lock held): a stale marker of
/// a series whose newest sample is a histogram becomes a histogram stale
/// marker, as in Prometheus's `appendWALFloat`.
fn replay_float(
    head: &Head,
    series: &MemSeries,
    st: &mut SeriesState,
    s: &RefSample,
) -> Result<bool> {
    if is_stale_nan(s.v) {
        if let Some(k @ (SampleKind::Histogram | SampleKind::FloatHistogram)) =
            st.last_kind(&head.chunks)
        {
            return append_histogram_in_order(head, series, st, s.t, HistogramValue::stale(k));
        }
    }
    let appended = st.append(series.series_ref, s.t, s.v, &head.policy, &head.chunks)?;
    if appended {
        series.publish(s.t, s.v);
    }
    Ok(appended)
}

/// Appends the samples of its share of series.
fn run_worker(head: &Head, rx: Receiver<Work>, pool: &Mutex<Vec<Vec<RefSample>>>) -> WorkerResult {
    let mut r = WorkerResult {
        mint: i64::MAX,
        maxt: i64::MIN,
        ..Default::default()
    };
    let mut known = WorkerSeries::default();
    for work in rx {
        match work {
            Work::Floats(mut batch) => {
                if r.err.is_none() {
                    for s in &batch {
                        let Some((series, mm_max)) = known.get(head, s.r#ref) else {
                            r.unknown += 1;
                            continue;
                        };
                        if s.t <= *mm_max {
                            r.skipped += 1;
                            continue;
                        }
                        let mut st = series.lock();
                        if !r.note(s.t, replay_float(head, series, &mut st, s)) {
                            break;
                        }
                    }
                }
                batch.clear();
                pool.lock().push(batch);
            }
            Work::Histograms(batch) => {
                replay_histograms(
                    head,
                    &mut known,
                    &mut r,
                    batch
                        .iter()
                        .map(|s| (s.r#ref, s.t, HistogramValue::Int(&s.h))),
                );
            }
            Work::FloatHistograms(batch) => {
                replay_histograms(
                    head,
                    &mut known,
                    &mut r,
                    batch
                        .iter()
                        .map(|s| (s.r#ref, s.t, HistogramValue::Float(&s.fh))),
                );
            }
        }
    }
    r
}

fn replay_histograms<'a>(
    head: &Head,
    known: &mut WorkerSeries,
    r: &mut WorkerResult,
    samples: impl Iterator<Item = (u64, i64, HistogramValue<'a>)>,
) {
    if r.err.is_some() {
        return;
    }
    for (sref, t, h) in samples {
        let Some((series, mm_max)) = known.get(head, sref) else {
            r.unknown += 1;
            continue;
        };
        if t <= *mm_max {
            r.skipped += 1;
            continue;
        }
        let mut st = series.lock();
        if !r.note(t, append_histogram_in_order(head, series, &mut st, t, h)) {
            return;
        }
    }
}

/// A histogram sample type of the WAL, for the dispatch both share.
trait HistogramRecord: Clone {
    fn key(&self) -> (u64, i64);
    fn set_ref(&mut self, r: u64);
    fn work(list: Vec<Self>) -> Work;
}

impl HistogramRecord for RefHistogramSample {
    fn key(&self) -> (u64, i64) {
        (self.r#ref, self.t)
    }
    fn set_ref(&mut self, r: u64) {
        self.r#ref = r;
    }
    fn work(list: Vec<Self>) -> Work {
        Work::Histograms(list)
    }
}

impl HistogramRecord for RefFloatHistogramSample {
    fn key(&self) -> (u64, i64) {
        (self.r#ref, self.t)
    }
    fn set_ref(&mut self, r: u64) {
        self.r#ref = r;
    }
    fn work(list: Vec<Self>) -> Work {
        Work::FloatHistograms(list)
    }
}

/// Hands a histogram record's samples to their workers (a copy each: the
/// decoder's buffers are reused for the next record), skipping those below
/// `min_valid` and mapping duplicate series references. A worker's floats
/// logged before go first, so every series keeps its order. Returns
/// whether a worker stopped.
fn dispatch<S: HistogramRecord>(
    samples: &[S],
    min_valid: i64,
    multi_ref: &HashMap<u64, u64>,
    skipped: &mut u64,
    shards: &mut [Vec<RefSample>],
    senders: &[std::sync::mpsc::SyncSender<Work>],
    take_buf: &dyn Fn() -> Vec<RefSample>,
) -> bool {
    let workers = senders.len();
    let mut per: Vec<Vec<S>> = (0..workers).map(|_| Vec::new()).collect();
    for s in samples {
        let (r, t) = s.key();
        if t < min_valid {
            *skipped += 1;
            continue;
        }
        let mut s = s.clone();
        let r = match multi_ref.get(&r) {
            Some(&to) => {
                s.set_ref(to);
                to
            }
            None => r,
        };
        per[worker_of(r, workers)].push(s);
    }
    let mut stopped = false;
    for (w, list) in per.into_iter().enumerate().filter(|(_, l)| !l.is_empty()) {
        if !shards[w].is_empty() {
            let floats = std::mem::replace(&mut shards[w], take_buf());
            stopped |= senders[w].send(Work::Floats(floats)).is_err();
        }
        stopped |= senders[w].send(S::work(list)).is_err();
    }
    stopped
}

/// Replays `chunks_head/`, the WAL in `wal_dir` and then the WBL in
/// `wbl_dir` into the empty `head`.
///
/// `open_wal` (a writable open's
/// [`Wal::open_after_replay`](aion_wal::Wal::open_after_replay), which
/// installs the WAL in the head) is called once the log has been read,
/// with the newest segment if the read found it intact, and before any
/// repair of damage the read found. The read defers damage in the newest
/// segment to it: a torn tail it cuts, or damage followed by intact
/// records, its error. So that segment is read once, not once by the open
/// (which used to check it for a torn tail before the replay) and once by
/// the replay.
pub(crate) fn replay(
    head: &Head,
    wal_dir: &Path,
    wbl_dir: &Path,
    read_only: bool,
    strict: bool,
    concurrency: usize,
    open_wal: Option<impl FnOnce(Option<u32>) -> Result<()>>,
) -> Result<ReplayReport> {
    let start = Instant::now();
    let mut report = ReplayReport::default();
    let (mut mmapped, ooo_mmapped, last_ref) = load_mmapped_chunks(head, strict, &mut report)?;

    if wal_dir.is_dir() {
        replay_wal(
            head,
            wal_dir,
            read_only,
            strict,
            concurrency,
            &mut mmapped,
            &mut report,
            open_wal,
        )?;
    } else if let Some(open) = open_wal {
        open(None)?;
    }
    report.mmapped_chunks_ignored += mmapped.left();
    let mut wbl = WblReplayReport::default();
    attach_mmapped(head, ooo_mmapped, &mut wbl);
    if wbl_dir.is_dir() {
        replay_wbl(head, wbl_dir, read_only, strict, last_ref, &mut wbl)?;
    }
    report.wbl = wbl;
    let min_valid = head.min_valid_time();
    if head.min_time() < min_valid {
        head.min_time.store(min_valid, Ordering::Release);
    }
    head.remove_empty_series();
    report.series = head.num_series();
    report.duration = start.elapsed();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn replay_wal(
    head: &Head,
    wal_dir: &Path,
    read_only: bool,
    strict: bool,
    concurrency: usize,
    mmapped: &mut ChunksBySeries,
    report: &mut ReplayReport,
    open_wal: Option<impl FnOnce(Option<u32>) -> Result<()>>,
) -> Result<()> {
    let reader = WalReader::replay(wal_dir)?
        .tolerate_torn_tail(read_only && !strict)
        .defer_newest_damage(open_wal.is_some());
    report.checkpoint = reader.checkpoint();
    report.segments = aion_wal::segment_range(wal_dir)?;
    let min_valid = head.min_valid_time();
    let workers = concurrency.max(1);
    let pool: Mutex<Vec<Vec<RefSample>>> = Mutex::new(Vec::new());
    let mut failure: Option<(SegmentPosition, String)> = None;
    let mut reader_back: Option<WalReader> = None;
    #[allow(unused_mut)]
    let mut ahead = ReadAhead::default();
    #[cfg(test)]
    {
        ahead.hand_off_always = super::replay_reader::HAND_OFF_ALWAYS.get();
    }
    let reader_back = &mut reader_back;

    let results: Vec<WorkerResult> = std::thread::scope(|scope| -> Result<Vec<WorkerResult>> {
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<Work>(QUEUE_DEPTH);
            senders.push(tx);
            let pool = &pool;
            handles.push(scope.spawn(move || run_worker(head, rx, pool)));
        }
        let take_buf = || {
            pool.lock()
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(SAMPLE_BATCH))
        };
        let mut shards: Vec<Vec<RefSample>> = (0..workers).map(|_| take_buf()).collect();
        let mut multi_ref: HashMap<u64, u64> = HashMap::new();
        // The end of each series' m-mapped chunks, by reference, as the
        // worker owning it will see it: samples up to there are already in
        // `chunks_head/` (most of a WAL that a clean shutdown left) and are
        // skipped here, before they are batched and sent.
        let mut mmapped_until: Vec<i64> = Vec::new();
        let mut dec = RecordDecoder::default();
        let mut stopped_early = false;
        let (read_tx, read_rx) = channel::<Batch>();
        let (spare_tx, spare_rx) = channel::<Batch>();
        let ahead = &ahead;
        // However the loop below ends, the reading thread must not wait
        // for room that will never be freed.
        struct CloseOnExit<'a>(&'a ReadAhead);
        impl Drop for CloseOnExit<'_> {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        let close = CloseOnExit(ahead);
        let reading = {
            #[allow(unused_mut)]
            let mut until = mmapped.ends_below(DIRECT_LOOKUP_REFS);
            #[cfg(test)]
            if super::replay_reader::PREFILTER_OFF.get() {
                until.clear();
            }
            let prefilter = Prefilter::new(min_valid, until);
            scope.spawn(move || read_log(reader, prefilter, read_tx, spare_rx, ahead))
        };
        // A batch's bytes are released when it is taken: what is held is
        // what waits in the channel.
        'batches: loop {
            let mut batch = match read_rx.try_recv() {
                Ok(b) => b,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    // Said while waiting: the reading thread hands on
                    // records undecoded meanwhile (`RAW_HANDOFF_RECORDS`).
                    ahead.set_applier_waiting(true);
                    let next = read_rx.recv();
                    ahead.set_applier_waiting(false);
                    match next {
                        Ok(b) => b,
                        Err(_) => break,
                    }
                }
            };
            ahead.release(batch.bytes);
            let (mut samples_at, mut records_at) = (0, 0);
            for item in &batch.items {
                let decoded = match item {
                    Item::Failed(_) => {
                        let Some(Item::Failed(e)) = batch.items.pop() else {
                            unreachable!("a failure ends its batch")
                        };
                        return Err(e.into());
                    }
                    Item::Samples { kept, skipped } => {
                        report.samples_read += skipped;
                        report.samples_skipped += skipped;
                        samples_at += kept;
                        Record::Samples(&batch.samples[samples_at - kept..samples_at])
                    }
                    Item::Other(len, at) => {
                        records_at += len;
                        match dec.decode(&batch.records[records_at - len..records_at]) {
                            Ok(d) => d,
                            Err(e) => {
                                failure = Some((at.clone(), format!("bad record in {at}: {e}")));
                                break 'batches;
                            }
                        }
                    }
                    Item::Damaged(at, why) => {
                        failure = Some((at.clone(), why.clone()));
                        break 'batches;
                    }
                };
                match decoded {
                    Record::Series(series) => {
                        report.series_records += series.len();
                        for rs in series {
                            let (s, _) = head.get_or_create_with_ref(rs.r#ref, &rs.labels);
                            if s.series_ref != rs.r#ref {
                                multi_ref.insert(rs.r#ref, s.series_ref);
                            }
                            if let Some(chunks) = mmapped.take(rs.r#ref) {
                                let mut st = s.lock();
                                if st.mmapped.is_empty() && st.open.is_none() {
                                    let (first, last) = (
                                        chunks.first().map_or(i64::MAX, |c| c.min_time),
                                        chunks.last().map_or(i64::MIN, |c| c.max_time),
                                    );
                                    report.mmapped_chunks += chunks.len();
                                    if s.series_ref < DIRECT_LOOKUP_REFS {
                                        let i = s.series_ref as usize;
                                        if i >= mmapped_until.len() {
                                            mmapped_until.resize(i + 1, i64::MIN);
                                        }
                                        mmapped_until[i] = last;
                                    }
                                    st.mmapped = chunks;
                                    s.republish(&st, &head.chunks);
                                    head.update_min_max(first, last);
                                } else {
                                    report.mmapped_chunks_ignored += chunks.len();
                                }
                            }
                        }
                    }
                    Record::Samples(samples) => {
                        report.samples_read += samples.len() as u64;
                        for s in samples {
                            if s.t < min_valid {
                                report.samples_skipped += 1;
                                continue;
                            }
                            let mut s = *s;
                            if !multi_ref.is_empty() {
                                if let Some(&r) = multi_ref.get(&s.r#ref) {
                                    s.r#ref = r;
                                }
                            }
                            if usize::try_from(s.r#ref)
                                .ok()
                                .and_then(|i| mmapped_until.get(i))
                                .is_some_and(|&until| s.t <= until)
                            {
                                report.samples_skipped += 1;
                                continue;
                            }
                            let w = worker_of(s.r#ref, workers);
                            shards[w].push(s);
                            if shards[w].len() >= SAMPLE_BATCH {
                                let full = std::mem::replace(&mut shards[w], take_buf());
                                if senders[w].send(Work::Floats(full)).is_err() {
                                    stopped_early = true;
                                }
                            }
                        }
                    }
                    Record::HistogramSamples(hs) => {
                        report.histograms_read += hs.len() as u64;
                        let skipped = &mut report.samples_skipped;
                        stopped_early |= dispatch(
                            hs,
                            min_valid,
                            &multi_ref,
                            skipped,
                            &mut shards,
                            &senders,
                            &take_buf,
                        );
                    }
                    Record::FloatHistogramSamples(hs) => {
                        report.histograms_read += hs.len() as u64;
                        let skipped = &mut report.samples_skipped;
                        stopped_early |= dispatch(
                            hs,
                            min_valid,
                            &multi_ref,
                            skipped,
                            &mut shards,
                            &senders,
                            &take_buf,
                        );
                    }
                    Record::Tombstones(ts) => {
                        let mut map = head.tombstones.write();
                        for t in ts {
                            if t.interval.maxt < min_valid {
                                continue;
                            }
                            let r = multi_ref.get(&t.r#ref).copied().unwrap_or(t.r#ref);
                            if head.series.get_by_ref(r).is_none() {
                                report.unknown_series_refs += 1;
                                continue;
                            }
                            map.entry(r).or_default().add(t.interval);
                            report.tombstones += 1;
                        }
                    }
                    Record::Exemplars(_) | Record::Metadata(_) => {
                        report.exemplar_and_metadata_records += 1
                    }
                    Record::MmapMarkers(_) => {
                        *report
                            .unknown_records
                            .entry(Some(aion_wal::record::RecordType::MmapMarkers as u8))
                            .or_default() += 1
                    }
                    Record::Unknown(typ) => *report.unknown_records.entry(typ).or_default() += 1,
                }
                if stopped_early {
                    break 'batches;
                }
            }
            batch.clear();
            // The reading thread may be gone (it stops at damage).
            let _ = spare_tx.send(batch);
        }
        // The reading thread stops at its next hand-over once these are
        // gone.
        drop(read_rx);
        drop(close);
        *reader_back = Some(
            reading
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        for (w, shard) in shards.into_iter().enumerate() {
            if !shard.is_empty() {
                let _ = senders[w].send(Work::Floats(shard));
            }
        }
        drop(senders);
        Ok(handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect())
    })?;

    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    for r in results {
        report.samples_appended += r.appended;
        report.samples_skipped += r.skipped;
        report.unknown_series_refs += r.unknown;
        report.histograms_invalid += r.invalid_histograms;
        mint = mint.min(r.mint);
        maxt = maxt.max(r.maxt);
        if let Some(e) = r.err {
            return Err(e);
        }
    }
    head.update_min_max(mint, maxt);
    head.counters
        .samples_appended
        .fetch_add(report.samples_appended, Ordering::Relaxed);
    if let Some(t) = reader_back.as_ref().and_then(WalReader::torn_tail) {
        report.wal_torn_tail = Some(format!("partial record at {t} skipped"));
    }
    if let Some(open) = open_wal {
        open(
            reader_back
                .as_ref()
                .and_then(WalReader::verified_newest_segment),
        )?;
    }

    if let Some((at, why)) = failure {
        if strict {
            return Err(Error::Damaged(format!("WAL: {why}")));
        }
        report.wal_corruption = Some(why.clone());
        report.wal_corruption_at = Some(at.clone());
        if read_only {
            return Ok(());
        }
        if at.dir != wal_dir {
            // Prometheus too refuses to guess what a damaged checkpoint
            // held.
            return Err(Error::DamagedCheckpoint(why));
        }
        let mut wal = head.wal.lock();
        if let Some(wal) = wal.as_mut() {
            report.wal_repair = Some(wal.repair(&at)?);
        }
    }
    Ok(())
}
