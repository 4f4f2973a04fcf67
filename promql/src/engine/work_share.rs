//! Processing a selector's series on every core, the calling thread
//! included, with the results passed on in storage order.
//!
//! Every worker (the calling thread and helper tasks on the rayon pool)
//! repeats one step: take the reader (a lock: reading storage is serial),
//! read the next batch of series, let go of the reader, process the batch,
//! and leave its results under the batch's number. The calling thread
//! also passes finished batches to the sink in number order (the sink, an
//! aggregation, is serial), and when the batch it needs next is still
//! being processed elsewhere it works on another one meanwhile. Nobody
//! waits for a whole batch to finish before the next one starts, and the
//! serial parts overlap the other workers' processing instead of idling a
//! core: with a parallel iterator per batch, the pool's threads slept and
//! woke up again at every batch, and the serial parts ran alone.
//!
//! A batch is read and processed by the same thread, so the series'
//! sample iterators are freed by the thread that allocated them: freed on
//! another thread, each free waited for the allocator's lock on the
//! reader's arena, and a query of many short series ran slower on two
//! threads than on one.
//!
//! Results go to the sink in batch order whoever processed them, so a
//! query's result does not depend on the number of threads.

use std::collections::BTreeMap;

use parking_lot::{Condvar, Mutex};

use super::error::Result;

/// Batches a worker may be ahead of the sink, per worker.
const AHEAD_PER_WORKER: usize = 2;

struct State<R> {
    /// Number of the next batch to read.
    next: u64,
    /// The reader is exhausted (or failed): no batch numbered `next` or
    /// later will exist.
    exhausted: bool,
    /// Batches processed and not yet passed on; a read failure takes the
    /// place of the batch it prevented.
    done: BTreeMap<u64, Result<Vec<R>>>,
    /// The sink has taken every batch below this.
    passed: u64,
    /// The run is over (finished or failed): helpers leave.
    closed: bool,
    /// A worker panicked: its batch will never come, so the caller stops
    /// waiting (the scope then re-raises the panic on the caller).
    aborted: bool,
}

struct Shared<R, F> {
    state: Mutex<State<R>>,
    changed: Condvar,
    /// Reads the next batch; held while reading.
    reader: Mutex<F>,
    batch_size: usize,
    ahead: u64,
}

/// Runs `process` over every item of the batches `read` fills (into a
/// vector with room for `batch_size`; an empty batch ends them), on the
/// calling thread and `helpers` rayon tasks, and passes each batch's
/// results to `sink` in the order the batches were read. Each worker has
/// its own `S` scratch state. The first error of `read` (in its batch's
/// place), `sink` or `check` (called between steps, for cancellation)
/// ends the run and is returned.
pub(crate) fn run<T, R, S, F>(
    helpers: usize,
    batch_size: usize,
    read: F,
    process: impl Fn(T, &mut S) -> R + Sync,
    mut sink: impl FnMut(Vec<R>) -> Result<()>,
    check: impl Fn() -> Result<()>,
) -> Result<()>
where
    T: Send,
    R: Send,
    S: Default,
    F: FnMut(&mut Vec<T>) -> Result<()> + Send,
{
    let shared = Shared {
        state: Mutex::new(State {
            next: 0,
            exhausted: false,
            done: BTreeMap::new(),
            passed: 0,
            closed: false,
            aborted: false,
        }),
        changed: Condvar::new(),
        reader: Mutex::new(read),
        batch_size,
        ahead: (AHEAD_PER_WORKER * (helpers + 1)) as u64,
    };
    let (shared, process) = (&shared, &process);
    let mut outcome = Ok(());
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(move |_| {
                let _close = Close(&shared.state, &shared.changed);
                let mut scratch = S::default();
                while work(shared, process, &mut scratch, true) {}
            });
        }
        // However the caller leaves (a result, an error, a panic), the
        // helpers must not wait for it any longer.
        let _close = Close(&shared.state, &shared.changed);
        outcome = lead(shared, process, &mut sink, &check);
    });
    outcome
}

/// Closes the run when dropped, and marks it aborted when dropped by a
/// panic.
struct Close<'a, R>(&'a Mutex<State<R>>, &'a Condvar);

impl<R> Drop for Close<'_, R> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.closed = true;
        st.aborted |= std::thread::panicking();
        drop(st);
        self.1.notify_all();
    }
}

/// One step of a worker: reads a batch and processes it. False when there
/// is nothing more to do: the reader is exhausted, or (`wait`) the run is
/// closed; with `wait` it first waits while it is too far ahead of the
/// sink.
fn work<T, R, S, F>(
    shared: &Shared<R, F>,
    process: &(impl Fn(T, &mut S) -> R + Sync),
    scratch: &mut S,
    wait: bool,
) -> bool
where
    F: FnMut(&mut Vec<T>) -> Result<()>,
{
    {
        let mut st = shared.state.lock();
        loop {
            if st.closed || st.exhausted {
                return false;
            }
            if st.next - st.passed < shared.ahead {
                break;
            }
            if !wait {
                return false;
            }
            shared.changed.wait(&mut st);
        }
    }
    let mut reader = shared.reader.lock();
    let n = {
        let mut st = shared.state.lock();
        if st.exhausted || st.closed {
            return false;
        }
        st.next += 1;
        st.next - 1
    };
    let mut batch = Vec::with_capacity(shared.batch_size);
    let read = reader(&mut batch);
    let end = read.is_err() || batch.is_empty();
    if end {
        let mut st = shared.state.lock();
        st.exhausted = true;
        if batch.is_empty() {
            // This number holds no batch: the last one is below it.
            st.next = n;
        }
    }
    drop(reader);
    let results = match read {
        Err(e) => Err(e),
        Ok(()) if batch.is_empty() => {
            shared.changed.notify_all();
            return false;
        }
        Ok(()) => Ok(batch.into_iter().map(|t| process(t, scratch)).collect()),
    };
    shared.state.lock().done.insert(n, results);
    shared.changed.notify_all();
    !end
}

/// The calling thread's part: pass batches on in order, and work when the
/// next one is not ready.
fn lead<T, R, S, F>(
    shared: &Shared<R, F>,
    process: &(impl Fn(T, &mut S) -> R + Sync),
    sink: &mut impl FnMut(Vec<R>) -> Result<()>,
    check: &impl Fn() -> Result<()>,
) -> Result<()>
where
    S: Default,
    F: FnMut(&mut Vec<T>) -> Result<()>,
{
    let mut scratch = S::default();
    loop {
        check()?;
        let ready = {
            let mut st = shared.state.lock();
            if st.aborted {
                return Ok(());
            }
            let passed = st.passed;
            match st.done.remove(&passed) {
                Some(r) => Some(r),
                None if st.exhausted && st.passed == st.next => return Ok(()),
                None => None,
            }
        };
        match ready {
            Some(results) => {
                sink(results?)?;
                shared.state.lock().passed += 1;
                // A helper may wait for the sink to catch up.
                shared.changed.notify_all();
            }
            None => {
                if !work(shared, process, &mut scratch, false) {
                    // Nothing to read now: the batch wanted is with a
                    // helper.
                    let mut st = shared.state.lock();
                    let passed = st.passed;
                    let ready = st.done.contains_key(&passed);
                    let finished = st.exhausted && st.passed == st.next;
                    if !ready && !finished && !st.aborted {
                        shared.changed.wait(&mut st);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::error::Error;

    fn read_failed() -> Error {
        Error::Storage("read failed".into())
    }

    fn batches(n: usize, size: usize) -> impl FnMut(&mut Vec<usize>) -> Result<()> + Send {
        let mut next = 0;
        move |b: &mut Vec<usize>| {
            while b.len() < size && next < n {
                b.push(next);
                next += 1;
            }
            Ok(())
        }
    }

    #[test]
    fn results_come_in_order_whoever_processes_them() {
        for helpers in 0..4 {
            for size in [1, 3, 64] {
                let mut out = Vec::new();
                run(
                    helpers,
                    size,
                    batches(1000, size),
                    |x, calls: &mut u64| {
                        *calls += 1;
                        // Uneven work, so batches finish out of order.
                        if x % 7 == 0 {
                            std::thread::sleep(std::time::Duration::from_micros(50));
                        }
                        x * 2
                    },
                    |r| {
                        out.extend(r);
                        Ok(())
                    },
                    || Ok(()),
                )
                .unwrap();
                assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
            }
        }
    }

    /// A panic in any worker reaches the caller; nobody is left waiting.
    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        for helpers in 0..3 {
            for bad in [0, 5, 999] {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(
                        helpers,
                        4,
                        batches(1000, 4),
                        |x, _: &mut ()| {
                            assert_ne!(x, bad, "planted");
                            x
                        },
                        |_| Ok(()),
                        || Ok(()),
                    )
                }));
                assert!(r.is_err(), "helpers {helpers}, bad {bad}");
            }
        }
    }

    #[test]
    fn the_first_error_in_batch_order_ends_the_run() {
        for helpers in 0..3 {
            let mut passed = 0;
            let r = run(
                helpers,
                16,
                batches(10_000, 16),
                |x, _: &mut ()| x,
                |r| {
                    passed += r.len();
                    if passed >= 160 {
                        return Err(Error::Storage("sink failed".into()));
                    }
                    Ok(())
                },
                || Ok(()),
            );
            assert_eq!(
                r.unwrap_err().to_string(),
                Error::Storage("sink failed".into()).to_string()
            );
            assert_eq!(passed, 160);
            // A failing read comes after every batch read before it.
            let (mut n, mut sunk) = (0, Vec::new());
            let r = run(
                helpers,
                1,
                |b: &mut Vec<u32>| {
                    n += 1;
                    if n == 5 {
                        return Err(read_failed());
                    }
                    b.push(n);
                    Ok(())
                },
                |x, _: &mut ()| x,
                |r| {
                    sunk.extend(r);
                    Ok(())
                },
                || Ok(()),
            );
            assert_eq!(r.unwrap_err().to_string(), read_failed().to_string());
            assert_eq!(sunk, vec![1, 2, 3, 4]);
        }
    }
}
