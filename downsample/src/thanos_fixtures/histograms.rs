//! Native histograms downsampled: Thanos's `TestDownSampleNativeHistogram`,
//! `TestDownsampleNativeHistograms`, `TestDownsampleMixedChunkTypes`,
//! `TestDownsampleNHCutNewChunk` and `TestApplyCounterResetsIteratorHistograms`
//! (ported tables: see `mod.rs`). The test histograms are those of
//! Prometheus's `tsdbutil.GenerateTestFloatHistogram(s)`, which Thanos's
//! tables are built from.
//!
//! Histograms compare by content (hint, schema, zero threshold, counts and
//! sum within Thanos's relative 1e-9, non-empty buckets by index), not by
//! how spans cut the buckets.

use std::collections::BTreeMap;

use aion_chunkenc::{AppendOutcome, Encoding, FloatHistogramAppender, HistogramAppender};
use aion_chunkenc::{XorAppender, STALE_NAN};
use aion_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use aion_storage::{SampleValue, SeriesChunk};

use super::{aggregates, downsample_series, xor_chunk, Samples};
use crate::aggr::{encode_aggr_chunk_parts, AggrChunk, AggrType};
use crate::query::{series_values, Aggregate};
use crate::{RES_1H, RES_5M};

use CounterResetHint::{Gauge, NotCounterReset, Unknown};

type Hists = Vec<(i64, FloatHistogram)>;
type Chunks = Vec<SeriesChunk<Vec<u8>>>;

fn spans() -> Vec<Span> {
    vec![
        Span {
            offset: 0,
            length: 2,
        },
        Span {
            offset: 1,
            length: 2,
        },
    ]
}

/// Prometheus's `tsdbutil.GenerateTestFloatHistogram(i)` (hint unknown).
fn gen(i: i64) -> FloatHistogram {
    let f = i as f64;
    let buckets = vec![f + 1.0, f + 2.0, f + 1.0, f + 1.0];
    FloatHistogram {
        count: 12.0 + 9.0 * f,
        zero_count: 2.0 + f,
        zero_threshold: 0.001,
        sum: 18.4 * (f + 1.0),
        schema: 1,
        positive_spans: spans(),
        positive_buckets: buckets.clone(),
        negative_spans: spans(),
        negative_buckets: buckets,
        ..FloatHistogram::default()
    }
}

/// Prometheus's `GenerateTestFloatHistograms(n)` for each `n` in turn
/// (Thanos's `generateFloatHistograms`): every run counts up from 0, so a
/// new run is a counter reset.
fn gens(runs: &[i64]) -> Vec<FloatHistogram> {
    runs.iter()
        .flat_map(|&n| {
            (0..n).map(|i| {
                let mut h = gen(i);
                if i > 0 {
                    h.counter_reset_hint = NotCounterReset;
                }
                h
            })
        })
        .collect()
}

fn with_hint(mut h: FloatHistogram, hint: CounterResetHint) -> FloatHistogram {
    h.counter_reset_hint = hint;
    h
}

/// The running counter totals with resets folded in, Thanos's
/// `counterResetAdjustFloatHistograms`.
fn adjusted(hs: &[FloatHistogram]) -> Vec<FloatHistogram> {
    let mut out: Vec<FloatHistogram> = Vec::new();
    for (i, h) in hs.iter().enumerate() {
        let next = match out.last() {
            None => h.clone(),
            Some(total) => {
                let mut total = total.clone();
                if h.detect_reset(&hs[i - 1]) {
                    total.add(h).unwrap();
                } else {
                    let mut delta = h.clone();
                    delta.sub(&hs[i - 1]).unwrap();
                    total.add(&delta).unwrap();
                }
                total
            }
        };
        out.push(next);
    }
    out
}

/// Thanos's `expectedFloatHistogramsCounter`: the last running total.
fn counter_of(hs: &[FloatHistogram], hint: CounterResetHint) -> FloatHistogram {
    with_hint(adjusted(hs).pop().unwrap(), hint)
}

/// Thanos's `sumHistograms`: the plain sum, as a gauge.
fn sum_of(hs: &[FloatHistogram]) -> FloatHistogram {
    let mut sum = hs[0].clone();
    for h in &hs[1..] {
        sum.add(h).unwrap();
    }
    with_hint(sum, Gauge)
}

/// Thanos's `expectedFloatHistogramsSum`: the sum of the running totals
/// from `from` on, as a gauge.
fn sum_of_adjusted(hs: &[FloatHistogram], from: usize) -> FloatHistogram {
    sum_of(&adjusted(hs)[from..])
}

/// Thanos's `generateFloatHistogramSamples`: one histogram every 30 s.
fn samples_30s(start: i64, hs: Vec<FloatHistogram>) -> Hists {
    hs.into_iter()
        .enumerate()
        .map(|(i, h)| (start + 30_000 * i as i64, h))
        .collect()
}

/// Raw float histogram chunks of `samples`, cut where the appender asks
/// (counter resets among them), as Thanos's `chunksFromHistogramSamples`.
fn hist_chunks(samples: &[(i64, FloatHistogram)]) -> Vec<SeriesChunk<Vec<u8>>> {
    let mut out = Vec::new();
    let mut app = FloatHistogramAppender::new();
    let mut mint = samples[0].0;
    let mut maxt = mint;
    for (t, h) in samples {
        if let AppendOutcome::NewChunk(next) = app.append(*t, h).unwrap() {
            out.push(hist_chunk(
                Encoding::FloatHistogram,
                app.bytes(),
                mint,
                maxt,
            ));
            app = next;
            mint = *t;
        }
        maxt = *t;
    }
    out.push(hist_chunk(
        Encoding::FloatHistogram,
        app.bytes(),
        mint,
        maxt,
    ));
    out
}

fn hist_chunk(encoding: Encoding, data: &[u8], mint: i64, maxt: i64) -> SeriesChunk<Vec<u8>> {
    SeriesChunk {
        min_time: mint,
        max_time: maxt,
        encoding,
        data: data.to_vec(),
    }
}

/// A histogram aggregate chunk's count, counter and sum; it has no min or
/// max.
#[derive(Debug)]
struct HistTable {
    count: Samples,
    counter: Hists,
    sum: Hists,
}

fn hist_table(c: &SeriesChunk<Vec<u8>>) -> HistTable {
    assert_eq!(c.encoding, Encoding::ThanosAggr);
    let a = AggrChunk::parse(&c.data).unwrap();
    assert!(a.is_histogram());
    assert!(a.raw(AggrType::Min).is_none() && a.raw(AggrType::Max).is_none());
    let (mut counter, mut sum) = (Vec::new(), Vec::new());
    a.histograms(AggrType::Counter, &mut counter).unwrap();
    a.histograms(AggrType::Sum, &mut sum).unwrap();
    let count = a.get(AggrType::Count).unwrap().unwrap().samples().unwrap();
    assert!(c.min_time <= c.max_time);
    HistTable {
        count,
        counter,
        sum,
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn buckets(it: impl Iterator<Item = aion_model::histogram::Bucket>) -> BTreeMap<i32, f64> {
    it.filter(|b| b.count != 0.0)
        .map(|b| (b.index, b.count))
        .collect()
}

fn same_buckets(a: &BTreeMap<i32, f64>, b: &BTreeMap<i32, f64>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && close(*x.1, *y.1))
}

/// Whether two histograms hold the same data, Thanos's comparison within
/// `cmpopts.EquateApprox(0, 1e-9)`.
fn same(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.counter_reset_hint == b.counter_reset_hint
        && a.schema == b.schema
        && a.zero_threshold == b.zero_threshold
        && close(a.count, b.count)
        && close(a.sum, b.sum)
        && close(a.zero_count, b.zero_count)
        && same_buckets(
            &buckets(a.positive_bucket_iter()),
            &buckets(b.positive_bucket_iter()),
        )
        && same_buckets(
            &buckets(a.negative_bucket_iter()),
            &buckets(b.negative_bucket_iter()),
        )
}

fn assert_hists(got: &[(i64, FloatHistogram)], want: &[(i64, FloatHistogram)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{what}");
        assert!(
            same(&g.1, &w.1),
            "{what} at {}:\n{:#?}\nwant\n{:#?}",
            g.0,
            g.1,
            w.1
        );
    }
}

fn assert_table(got: &HistTable, count: &[(i64, f64)], counter: Hists, sum: Hists) {
    assert_eq!(got.count, count);
    assert_hists(&got.counter, &counter, "counter");
    assert_hists(&got.sum, &sum, "sum");
}

/// Downsamples raw histogram `samples` to 5 m, then the result to 1 h,
/// through blocks, and returns both outputs.
fn to_5m_and_1h(chunks: &[SeriesChunk<Vec<u8>>]) -> (Chunks, Chunks) {
    let (five, report) = downsample_series(0, RES_5M, chunks).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (hour, report) = downsample_series(RES_5M, RES_1H, &five).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    (five, hour)
}

/// `TestDownSampleNativeHistogram` "float histogram with 30 samples with
/// counter resets and 30s scrape interval" (the one case of that table
/// Thanos runs): runs of 15, 5 and 10 histograms, each starting over.
#[test]
fn thirty_histograms_with_counter_resets() {
    let raw = samples_30s(0, gens(&[15, 5, 10]));
    let chunks = hist_chunks(&raw);
    assert_eq!(chunks.len(), 3, "cut at both resets");
    let (five, hour) = to_5m_and_1h(&chunks);
    assert_eq!(five.len(), 1);
    let mut second = gens(&[15])[10..].to_vec();
    second.extend(gens(&[5]));
    assert_table(
        &hist_table(&five[0]),
        &[(299_999, 10.0), (599_999, 10.0), (870_000, 10.0)],
        vec![
            (299_999, counter_of(&gens(&[10]), Unknown)),
            (599_999, counter_of(&gens(&[15, 5]), NotCounterReset)),
            (870_000, counter_of(&gens(&[15, 5, 10]), NotCounterReset)),
        ],
        vec![
            (299_999, sum_of(&gens(&[10]))),
            (599_999, sum_of(&second)),
            (870_000, sum_of(&gens(&[10]))),
        ],
    );
    assert_eq!(hour.len(), 1);
    assert_table(
        &hist_table(&hour[0]),
        &[(870_000, 30.0)],
        vec![(870_000, counter_of(&gens(&[15, 5, 10]), Unknown))],
        vec![(870_000, sum_of(&gens(&[15, 5, 10])))],
    );
}

/// `TestDownSampleNativeHistogram` "float histogram with 360 samples and
/// 30s scrape interval", to 1 h.
///
/// Thanos skips this case (its loop runs only the first), and its input
/// `generateFloatHistogramSamples(30_000, 0, 360)` starts at 30 s, which
/// its own expectation (windows ending 3 599 999, 7 199 999, 10 770 000 of
/// 120 histograms each) contradicts: 30 000 reads as the scrape interval,
/// so the histograms start at 0 here. Thanos gives no 5 m expectation.
#[test]
fn three_hundred_sixty_histograms_to_1h() {
    let raw = samples_30s(0, gens(&[360]));
    let (_, hour) = to_5m_and_1h(&hist_chunks(&raw));
    assert_eq!(hour.len(), 1);
    let all = gens(&[360]);
    assert_table(
        &hist_table(&hour[0]),
        &[(3_599_999, 120.0), (7_199_999, 120.0), (10_770_000, 120.0)],
        vec![
            (3_599_999, counter_of(&all[..120], Unknown)),
            (7_199_999, counter_of(&all[..240], NotCounterReset)),
            (10_770_000, counter_of(&all, NotCounterReset)),
        ],
        vec![
            (3_599_999, sum_of_adjusted(&all[..120], 0)),
            (7_199_999, sum_of_adjusted(&all[..240], 120)),
            (10_770_000, sum_of_adjusted(&all, 240)),
        ],
    );
}

/// `TestDownSampleNativeHistogram` "gauge float histogram with 30 samples
/// and 30s scrape interval": Thanos gives no expectation (and skips the
/// case). What its code does, and Aion too: for gauges the "counter" is
/// the window's last histogram, the sum the window's sum, all gauges.
#[test]
fn thirty_gauge_histograms() {
    // Prometheus's `GenerateTestGaugeFloatHistograms(30)`.
    let gauges: Vec<FloatHistogram> = (0..30)
        .map(|x| with_hint(gen(((x as f64).sin() * 100.0) as i64 + 100), Gauge))
        .collect();
    let raw = samples_30s(0, gauges.clone());
    let (five, hour) = to_5m_and_1h(&hist_chunks(&raw));
    let windows = [(299_999, 0..10), (599_999, 10..20), (870_000, 20..30)];
    assert_eq!(five.len(), 1);
    assert_table(
        &hist_table(&five[0]),
        &[(299_999, 10.0), (599_999, 10.0), (870_000, 10.0)],
        windows
            .iter()
            .map(|(t, r)| (*t, with_hint(gauges[r.end - 1].clone(), Gauge)))
            .collect(),
        windows
            .iter()
            .map(|(t, r)| (*t, sum_of(&gauges[r.clone()])))
            .collect(),
    );
    assert_table(
        &hist_table(&hour[0]),
        &[(870_000, 30.0)],
        vec![(870_000, with_hint(gauges[29].clone(), Gauge))],
        vec![(870_000, sum_of(&gauges))],
    );
}

/// `TestDownSampleNativeHistogram` "stale float histogram sample": ten
/// histograms and a stale marker; the marker is left out. Thanos skips
/// the case, and starts its input at 30 s against its expectation (last
/// window at 270 000); the histograms start at 0 here. Thanos gives no
/// 1 h expectation: the one hour window holds the same.
#[test]
fn histograms_then_a_stale_marker() {
    let mut raw = samples_30s(0, gens(&[10]));
    raw.push((
        300_000,
        FloatHistogram {
            sum: STALE_NAN,
            ..FloatHistogram::default()
        },
    ));
    let (five, hour) = to_5m_and_1h(&hist_chunks(&raw));
    for (c, hint) in [(&five, Unknown), (&hour, Unknown)] {
        assert_eq!(c.len(), 1);
        assert_table(
            &hist_table(&c[0]),
            &[(270_000, 10.0)],
            vec![(270_000, counter_of(&gens(&[10]), hint))],
            vec![(270_000, sum_of_adjusted(&gens(&[10]), 0))],
        );
    }
}

/// `TestDownSampleNativeHistogram` "gauge sum aggregate no counter reset":
/// eleven histograms, the last alone in its window (whose sum must be a
/// gauge, or appending it after a bigger sum would read as a reset).
/// Thanos skips the case and starts the input at 30 s against its
/// expectation; the histograms start at 0 here.
#[test]
fn eleven_histograms_last_window_alone() {
    let raw = samples_30s(0, gens(&[11]));
    let (five, hour) = to_5m_and_1h(&hist_chunks(&raw));
    assert_eq!(five.len(), 1);
    assert_table(
        &hist_table(&five[0]),
        &[(299_999, 10.0), (300_000, 1.0)],
        vec![
            (299_999, counter_of(&gens(&[10]), Unknown)),
            (300_000, with_hint(gen(10), NotCounterReset)),
        ],
        vec![
            (299_999, sum_of_adjusted(&gens(&[10]), 0)),
            (300_000, with_hint(gen(10), Gauge)),
        ],
    );
    assert_table(
        &hist_table(&hour[0]),
        &[(300_000, 11.0)],
        vec![(300_000, counter_of(&gens(&[11]), Unknown))],
        vec![(300_000, sum_of_adjusted(&gens(&[11]), 0))],
    );
}

/// The histogram of Thanos's `TestDownsampleNativeHistograms`: a real
/// one (schema 3, two observations).
fn observed() -> FloatHistogram {
    FloatHistogram {
        count: 2.0,
        sum: 0.000551209,
        positive_spans: vec![
            Span {
                offset: -97,
                length: 1,
            },
            Span {
                offset: 4,
                length: 1,
            },
        ],
        schema: 3,
        zero_threshold: 2.938735877055719e-39,
        positive_buckets: vec![1.0, 1.0],
        ..FloatHistogram::default()
    }
}

/// The times of `TestDownsampleNativeHistograms`: every minute for about
/// ten hours, 604 samples.
fn minutes() -> Vec<i64> {
    let (start, end) = (1688526018213i64, 1688562258213i64);
    (0..)
        .map(|k| start + 60_000 * k)
        .take_while(|&t| t < end)
        .collect()
}

/// `observed()` times `n`, as a gauge: a window's sum.
fn observed_times(n: f64, sum: f64) -> FloatHistogram {
    let mut h = observed();
    h.count *= n;
    h.sum = sum;
    h.positive_buckets = vec![n, n];
    with_hint(h, Gauge)
}

/// `TestDownsampleNativeHistograms` "regular NH downsampling": the same
/// histogram every minute, to 5 m and on to 1 h.
#[test]
fn regular_native_histogram_downsampling() {
    let raw: Hists = minutes().into_iter().map(|t| (t, observed())).collect();
    assert_eq!(raw.len(), 604);
    let (five, hour) = to_5m_and_1h(&hist_chunks(&raw));
    assert_eq!(five.len(), 1);
    let t5 = hist_table(&five[0]);
    // Five histograms a window, four in the last.
    assert_eq!(t5.count.len(), 121);
    for (i, (_, n)) in t5.count.iter().enumerate() {
        assert_eq!(*n, if i == 120 { 4.0 } else { 5.0 });
    }
    // The counter does not grow: it is the histogram itself, every time.
    assert_eq!(t5.counter.len(), 1 + raw.len() / 5);
    for (i, (_, h)) in t5.counter.iter().enumerate() {
        let hint = if i == 0 { Unknown } else { NotCounterReset };
        assert!(same(h, &with_hint(observed(), hint)), "{i}: {h:?}");
    }
    assert_eq!(t5.sum.len(), 121);
    for (i, (_, h)) in t5.sum.iter().enumerate() {
        let want = if i == 120 {
            observed_times(4.0, 0.002204836)
        } else {
            observed_times(5.0, 0.002756045)
        };
        assert!(same(h, &want), "{i}: {h:?}");
    }
    assert_eq!(hour.len(), 1);
    let t1 = hist_table(&hour[0]);
    assert_eq!(t1.sum.len(), 11);
    for (i, (_, h)) in t1.sum.iter().enumerate() {
        let want = if i == 10 {
            observed_times(4.0, 0.002204836)
        } else {
            observed_times(60.0, 0.03307253999999999)
        };
        assert!(same(h, &want), "{i}: {h:?}");
    }
}

/// `TestDownsampleNativeHistograms` "same series is float and then
/// histogram" (52 histograms, then floats): Thanos checks only that both
/// steps succeed. Each run becomes its own chunks, and every sample is
/// counted once at 5 m and at 1 h.
#[test]
#[allow(clippy::approx_constant)] // Thanos's float value, not π.
fn series_that_is_histogram_then_float() {
    let times = minutes();
    let hists: Hists = times[..52].iter().map(|&t| (t, observed())).collect();
    let floats: Samples = times[52..].iter().map(|&t| (t, 3.14)).collect();
    let mut chunks = hist_chunks(&hists);
    chunks.push(xor_chunk(&floats));
    let (five, hour) = to_5m_and_1h(&chunks);
    for out in [&five, &hour] {
        assert_eq!(out.len(), 2);
        let h = hist_table(&out[0]);
        assert_eq!(h.count.iter().map(|c| c.1).sum::<f64>(), 52.0);
        let f = aggregates(&out[1]);
        assert_eq!(
            f[AggrType::Count as usize].iter().map(|c| c.1).sum::<f64>(),
            552.0
        );
        assert!(h.count.last().unwrap().0 < f[AggrType::Count as usize][0].0);
    }
}

/// `TestDownsampleMixedChunkTypes`: 20 histograms then 20 floats, 15 s
/// apart; the float chunk keeps its own aggregates.
#[test]
fn mixed_chunk_types() {
    let hists: Hists = gens(&[20])
        .into_iter()
        .enumerate()
        .map(|(i, h)| (15_000 * (i as i64 + 1), h))
        .collect();
    let floats: Samples = (0..20).map(|i| (15_000 * (i + 21), i as f64)).collect();
    let mut chunks = hist_chunks(&hists);
    chunks.push(xor_chunk(&floats));
    let (five, hour) = to_5m_and_1h(&chunks);

    assert_eq!(five.len(), 2);
    let all = gens(&[20]);
    assert_table(
        &hist_table(&five[0]),
        &[(299_999, 19.0), (300_000, 1.0)],
        vec![
            (299_999, gen(18)),
            (300_000, with_hint(gen(19), NotCounterReset)),
        ],
        vec![
            (299_999, sum_of_adjusted(&all[..19], 0)),
            (300_000, with_hint(gen(19), Gauge)),
        ],
    );
    let f = aggregates(&five[1]);
    assert_eq!(
        f[AggrType::Count as usize],
        [(599_999, 19.0), (600_000, 1.0)]
    );
    assert_eq!(
        f[AggrType::Counter as usize],
        [
            (315_000, 0.0),
            (599_999, 18.0),
            (600_000, 19.0),
            (600_000, 19.0)
        ]
    );
    assert_eq!(
        f[AggrType::Sum as usize],
        [(599_999, 171.0), (600_000, 19.0)]
    );

    assert_eq!(hour.len(), 2);
    assert_table(
        &hist_table(&hour[0]),
        &[(300_000, 20.0)],
        vec![(300_000, gen(19))],
        vec![(300_000, sum_of_adjusted(&all, 0))],
    );
    let f = aggregates(&hour[1]);
    assert_eq!(f[AggrType::Count as usize], [(600_000, 20.0)]);
    assert_eq!(
        f[AggrType::Counter as usize],
        [(315_000, 0.0), (600_000, 19.0), (600_000, 19.0)]
    );
    assert_eq!(f[AggrType::Sum as usize], [(600_000, 190.0)]);
}

/// `TestDownsampleNHCutNewChunk`: integer and float histogram chunks are
/// one run (no cut between them), an XOR chunk starts another.
#[test]
fn histogram_encodings_share_a_run_floats_do_not() {
    let mut int = HistogramAppender::new();
    for i in 0..10 {
        let h = Histogram {
            count: 12 + 9 * i as u64,
            zero_count: 2 + i as u64,
            zero_threshold: 0.001,
            sum: 18.4 * (i + 1) as f64,
            schema: 1,
            positive_spans: spans(),
            positive_buckets: vec![i + 1, 1, -1, 0],
            negative_spans: spans(),
            negative_buckets: vec![i + 1, 1, -1, 0],
            ..Histogram::default()
        };
        assert!(matches!(
            int.append(15_000 * i, &h).unwrap(),
            AppendOutcome::Appended | AppendOutcome::Recoded
        ));
    }
    let float: Hists = (10..20).map(|i| (15_000 * i, gen(i))).collect();
    let mut chunks = vec![hist_chunk(Encoding::Histogram, int.bytes(), 0, 135_000)];
    chunks.extend(hist_chunks(&float));
    chunks.push(xor_chunk(&[(300_000, 1.0), (315_000, 2.0)]));
    let (five, _) = downsample_series(0, RES_5M, &chunks).unwrap();
    assert_eq!(five.len(), 2);
    let h = hist_table(&five[0]);
    assert_eq!(h.count, [(285_000, 20.0)]);
    // The integer histograms are read as floats: one counter, no reset.
    assert_hists(&h.counter, &[(285_000, gen(19))], "counter");
    assert_eq!(
        aggregates(&five[1])[AggrType::Count as usize],
        [(315_000, 2.0)]
    );
}

/// `TestApplyCounterResetsIteratorHistograms`: Thanos's counter iterator
/// passes histograms through unchanged (their counters have resets folded
/// in already). Aion's equivalent is what a `rate` over histogram
/// aggregate chunks reads: every counter histogram, in order, as stored.
#[test]
fn histogram_counters_are_read_as_stored() {
    let hs = gens(&[40]);
    let mut chunks = Vec::new();
    for part in 0..4 {
        let mut counter = FloatHistogramAppender::new();
        let mut count = XorAppender::new();
        for i in 0..10 {
            let k = part * 10 + i;
            let t = 100 * k as i64;
            assert!(matches!(
                counter.append(t, &hs[k]).unwrap(),
                AppendOutcome::Appended | AppendOutcome::Recoded
            ));
            count.append(t, 1.0).unwrap();
        }
        let mut data = Vec::new();
        encode_aggr_chunk_parts(
            [
                Some((Encoding::Xor, count.bytes())),
                None,
                None,
                None,
                Some((Encoding::FloatHistogram, counter.bytes())),
            ],
            &mut data,
        );
        chunks.push(data);
    }
    let parsed: Vec<AggrChunk<'_>> = chunks
        .iter()
        .map(|d| AggrChunk::parse(d).unwrap())
        .collect();
    let got = series_values(&parsed, Aggregate::One(AggrType::Counter)).unwrap();
    assert_eq!(got.len(), 40);
    for (k, (t, v)) in got.iter().enumerate() {
        assert_eq!(*t, 100 * k as i64);
        let SampleValue::FloatHistogram(h) = v else {
            panic!("{v:?}")
        };
        // Each chunk's first histogram carries its chunk header's hint
        // (unknown for a chunk that starts without a known reset).
        let hint = if k % 10 == 0 {
            Unknown
        } else {
            NotCounterReset
        };
        assert!(same(h, &with_hint(hs[k].clone(), hint)), "{k}: {h:?}");
        assert!(k == 0 || got[k - 1].0 <= *t);
    }
}

/// Difference from Thanos (deliberate): when a window's histogram cannot
/// share the sub-chunk with the windows before (here the zero threshold
/// grows mid-batch), Thanos's `appendFloatHistogram` swaps in the new
/// chunk the appender returns and so silently drops the earlier windows
/// of that sub-chunk. Aion refuses the series with an error naming the
/// window rather than write an aggregate chunk that lost data.
#[test]
fn a_window_that_cannot_share_the_sub_chunk_is_an_error() {
    let mut raw = samples_30s(0, gens(&[20]));
    for (_, h) in raw.iter_mut().skip(10) {
        h.zero_threshold = 0.01;
    }
    // Raw chunks cut where the threshold changes, as Prometheus cuts them.
    let chunks = hist_chunks(&raw);
    assert_eq!(chunks.len(), 2);
    let err = downsample_series(0, RES_5M, &chunks).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot share its chunk"), "{msg}");
    assert!(msg.contains("window at 570000"), "{msg}");
}
