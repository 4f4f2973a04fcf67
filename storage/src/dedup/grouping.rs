//! Replicas found and merged: a stream of series whose replica labels are
//! already gone, where replicas of one series are adjacent, becomes one
//! series per label set.

use aion_chunkenc::SampleIterator;
use aion_model::Labels;

use super::{is_counter_func, penalty_merge, DedupMode};
use crate::{ChainIterator, Error, Result, Series, SeriesSet};

/// One series per run of adjacent series with equal labels, its samples
/// the run's merged by the [`DedupMode`], as Thanos's `dedup.NewSeriesSet`.
///
/// The input must have its replica labels removed and be sorted by the
/// remaining labels, so that replicas are adjacent ([`DedupQuerier`]
/// arranges that); equal label sets that are not adjacent stay separate
/// series.
///
/// [`DedupQuerier`]: super::DedupQuerier
pub struct DedupSeriesSet<'a> {
    set: Box<dyn SeriesSet<'a> + 'a>,
    mode: DedupMode,
    counter: bool,
    /// The first series of the next run, read ahead.
    peek: Option<Series<'a>>,
    /// An error met while reading ahead, reported after the run before it.
    failed: Option<Error>,
    started: bool,
}

impl<'a> DedupSeriesSet<'a> {
    /// Groups `set`; `func` is the function the selector feeds (the select
    /// hint), which makes the penalty merge counter-aware for `rate`,
    /// `increase`, `irate` and `resets`.
    pub fn new(set: Box<dyn SeriesSet<'a> + 'a>, func: Option<&str>, mode: DedupMode) -> Self {
        DedupSeriesSet {
            set,
            mode,
            counter: is_counter_func(func),
            peek: None,
            failed: None,
            started: false,
        }
    }

    /// Reads the next input series into `peek`, or the error into `failed`.
    fn read_ahead(&mut self) {
        match self.set.next() {
            Some(Ok(s)) => self.peek = Some(s),
            Some(Err(e)) => self.failed = Some(e),
            None => {}
        }
    }

    fn merge(&self, labels: Labels, mut replicas: Vec<Box<dyn SampleIterator + 'a>>) -> Series<'a> {
        let samples = if replicas.len() == 1 {
            replicas.pop().expect("one replica")
        } else {
            match self.mode {
                DedupMode::Chain => Box::new(ChainIterator::new(replicas)),
                DedupMode::Penalty => penalty_merge(replicas, self.counter),
            }
        };
        Series { labels, samples }
    }
}

impl<'a> SeriesSet<'a> for DedupSeriesSet<'a> {
    fn next(&mut self) -> Option<Result<Series<'a>>> {
        if !self.started {
            self.started = true;
            self.read_ahead();
        }
        let Some(first) = self.peek.take() else {
            return self.failed.take().map(Err);
        };
        let labels = first.labels;
        let mut replicas = vec![first.samples];
        loop {
            self.read_ahead();
            match self.peek.take() {
                Some(s) if s.labels == labels => replicas.push(s.samples),
                other => {
                    self.peek = other;
                    break;
                }
            }
        }
        Some(Ok(self.merge(labels, replicas)))
    }

    fn warnings(&self) -> Vec<String> {
        self.set.warnings()
    }
}
