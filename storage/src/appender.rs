//! The write side: what rule evaluators, remote-write receivers and
//! backfills append through.

use aion_model::histogram::{FloatHistogram, Histogram};
use aion_model::{Labels, SeriesRef};

use crate::{Error, ErrorKind, Result};

/// Something samples can be written to: a Db, an agent's WAL, a host's own
/// store.
pub trait Appendable: Send + Sync {
    /// A new appender. Appenders are cheap; take one per batch (a scrape,
    /// a remote-write request, a rule group's evaluation).
    fn appender(&self) -> Box<dyn Appender + '_>;
}

/// A batch of appends that becomes visible atomically on
/// [`commit`](Appender::commit), or not at all on
/// [`rollback`](Appender::rollback), as Prometheus's `storage.Appender`.
///
/// Each append takes a series reference from an earlier append of the same
/// series (or 0 when there is none) and the series' labels; a store uses
/// the reference as a shortcut where it still knows it and falls back to
/// the labels otherwise. Appends return the series' reference.
///
/// Rejected samples are errors of the [`ErrorKind`]s a receiver maps to a
/// client error ([`ErrorKind::is_bad_input`]): out of order, out of bounds,
/// too old, duplicate timestamp with a different value, invalid series.
/// A store that validates at append (as the Db does) leaves the rest of
/// the batch unaffected by a rejected sample; one that validates at commit
/// (as [`MemStorage`](crate::MemStorage)) rejects the commit instead.
pub trait Appender: Send {
    /// Appends a float sample at `t` (ms).
    fn append(&mut self, series: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef>;

    /// Appends an integer native histogram sample. Stores without
    /// histograms refuse with [`ErrorKind::Unsupported`].
    fn append_histogram(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef> {
        let _ = (series, labels, t, h);
        Err(Error::msg(
            ErrorKind::Unsupported,
            "this storage does not store native histograms",
        ))
    }

    /// Appends a float native histogram sample; as
    /// [`append_histogram`](Appender::append_histogram).
    fn append_float_histogram(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        fh: &FloatHistogram,
    ) -> Result<SeriesRef> {
        let _ = (series, labels, t, fh);
        Err(Error::msg(
            ErrorKind::Unsupported,
            "this storage does not store native histograms",
        ))
    }

    /// Makes the batch visible and durable as the store promises; the
    /// appender is then ready for another batch.
    fn commit(&mut self) -> Result<()>;

    /// Discards the batch; the appender is then ready for another.
    fn rollback(&mut self) -> Result<()>;
}
