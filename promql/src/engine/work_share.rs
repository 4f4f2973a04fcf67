//! Processing a selector's series on every core, the calling thread
//! included, with the results passed on in storage order.
//!
//! The calling thread reads batches of series from storage (serial: an
//! index walk and label merging), queues them, passes finished batches on
//! in order (the sink, an aggregation, is serial too) and, whenever it has
//! nothing of that to do, processes a queued batch itself. Helper tasks on
//! the rayon pool take queued batches as long as there are any. Nobody
//! waits for a whole batch to finish before the next one starts, and the
//! caller's serial work overlaps the helpers' instead of idling a core:
//! with a parallel iterator per batch, the pool's threads went to sleep
//! and woke up again at every batch, and the serial parts ran alone.
//!
//! Results go to the sink in batch order whoever processed them, so a
//! query's result does not depend on the number of threads.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::{Condvar, Mutex};

use super::error::Result;

/// Batches read ahead per worker (the caller and each helper).
const AHEAD_PER_WORKER: usize = 2;

struct State<T, R> {
    /// Batches read and not yet taken, with their numbers.
    queue: VecDeque<(u64, Vec<T>)>,
    /// Batches processed and not yet passed on.
    done: BTreeMap<u64, Vec<R>>,
    /// No more batches will be queued: helpers leave once the queue is
    /// empty. Set at the end and on a failure.
    closed: bool,
}

struct Shared<T, R> {
    state: Mutex<State<T, R>>,
    changed: Condvar,
}

/// Runs `process` over every item of the batches `next_batch` reads into
/// a vector with room for `batch_size` (an empty batch ends them), on the calling thread and `helpers` rayon
/// tasks, and passes each batch's results to `sink` in the order the
/// batches were read. Each worker has its own `S` scratch state. The
/// first error of `next_batch`, `sink` or `check` (called between steps,
/// for cancellation) ends the run and is returned.
pub(crate) fn run<T, R, S>(
    helpers: usize,
    batch_size: usize,
    mut next_batch: impl FnMut(&mut Vec<T>) -> Result<()>,
    process: impl Fn(T, &mut S) -> R + Sync,
    mut sink: impl FnMut(Vec<R>) -> Result<()>,
    check: impl Fn() -> Result<()>,
) -> Result<()>
where
    T: Send,
    R: Send,
    S: Default,
{
    let shared = Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            done: BTreeMap::new(),
            closed: false,
        }),
        changed: Condvar::new(),
    };
    let ahead = AHEAD_PER_WORKER * (helpers + 1);
    let (shared, process) = (&shared, &process);
    let mut outcome = Ok(());
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(move |_| help(shared, process));
        }
        outcome = lead(
            shared,
            ahead,
            batch_size,
            &mut next_batch,
            process,
            &mut sink,
            &check,
        );
        let mut st = shared.state.lock();
        st.closed = true;
        st.queue.clear();
        drop(st);
        shared.changed.notify_all();
    });
    outcome
}

/// A helper: processes queued batches until the queue is closed and empty.
fn help<T, R, S: Default>(shared: &Shared<T, R>, process: &(impl Fn(T, &mut S) -> R + Sync)) {
    let mut scratch = S::default();
    let mut st = shared.state.lock();
    loop {
        let Some((i, batch)) = st.queue.pop_front() else {
            if st.closed {
                return;
            }
            shared.changed.wait(&mut st);
            continue;
        };
        drop(st);
        let results: Vec<R> = batch
            .into_iter()
            .map(|t| process(t, &mut scratch))
            .collect();
        st = shared.state.lock();
        st.done.insert(i, results);
        shared.changed.notify_all();
    }
}

/// The calling thread's part: read, pass on in order, and process when
/// there is nothing else to do.
fn lead<T, R, S: Default>(
    shared: &Shared<T, R>,
    ahead: usize,
    batch_size: usize,
    next_batch: &mut impl FnMut(&mut Vec<T>) -> Result<()>,
    process: &impl Fn(T, &mut S) -> R,
    sink: &mut impl FnMut(Vec<R>) -> Result<()>,
    check: &impl Fn() -> Result<()>,
) -> Result<()> {
    let mut scratch = S::default();
    let (mut read, mut passed) = (0u64, 0u64);
    let mut exhausted = false;
    loop {
        check()?;
        let mut st = shared.state.lock();
        if !exhausted && st.queue.len() < ahead {
            drop(st);
            let mut batch = Vec::with_capacity(batch_size);
            next_batch(&mut batch)?;
            if batch.is_empty() {
                exhausted = true;
            } else {
                shared.state.lock().queue.push_back((read, batch));
                shared.changed.notify_one();
                read += 1;
            }
            continue;
        }
        if let Some(results) = st.done.remove(&passed) {
            drop(st);
            sink(results)?;
            passed += 1;
            continue;
        }
        if exhausted && passed == read {
            return Ok(());
        }
        if let Some((i, batch)) = st.queue.pop_front() {
            drop(st);
            let results: Vec<R> = batch
                .into_iter()
                .map(|t| process(t, &mut scratch))
                .collect();
            shared.state.lock().done.insert(i, results);
            continue;
        }
        // Every batch left is with a helper.
        shared.changed.wait(&mut st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::error::Error;

    fn batches(n: usize, size: usize) -> impl FnMut(&mut Vec<usize>) -> Result<()> {
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

    #[test]
    fn the_first_error_ends_the_run() {
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
            assert!(r.is_err());
            assert_eq!(passed, 160);
            // A failing read ends it too, after what was read before.
            let mut n = 0;
            let r = run(
                helpers,
                1,
                |b: &mut Vec<u32>| {
                    n += 1;
                    if n == 5 {
                        return Err(Error::Storage("read failed".into()));
                    }
                    b.push(n);
                    Ok(())
                },
                |x, _: &mut ()| x,
                |_| Ok(()),
                || Ok(()),
            );
            assert!(r.is_err());
        }
    }
}
