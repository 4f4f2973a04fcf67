//! A criterion measurement of the benchmark thread's CPU time, for the
//! shared 2-core machines the figures are taken on: wall-clock time there
//! includes however long the thread waited for a core (often more than
//! the work itself), CPU time does not. Included by benches with `#[path]`.
//!
//! Linux keeps a thread's time on a CPU, in nanoseconds, as the first field
//! of `/proc/thread-self/schedstat`; where that file cannot be read the
//! clock falls back to wall-clock time, and [`CpuClock::name`] says which
//! one a run used. The kernel brings that figure up to date at scheduler
//! ticks and switches only (every 4 ms here), so a reading can be up to a
//! tick old: [`configure`] makes every criterion sample long enough (20
//! flat samples of 200 ms) for that to stay within ±2 % of a sample and
//! cancel out in the median.

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, SamplingMode};

/// Sets `group` up for a tick-granular clock: 20 samples of equal
/// iteration counts, 4 s of CPU time in all, after 1 s of warm-up.
pub fn configure(group: &mut BenchmarkGroup<'_, CpuClock>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

/// Thread CPU time, or wall-clock time where Linux's schedstat is missing.
pub struct CpuClock {
    cpu: bool,
    epoch: Instant,
}

/// Criterion's own formatter for nanosecond durations.
static WALL: WallTime = WallTime;

const SCHEDSTAT: &str = "/proc/thread-self/schedstat";

fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string(SCHEDSTAT).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl CpuClock {
    /// The thread CPU clock if this system has one, else wall-clock time.
    pub fn new() -> Self {
        CpuClock {
            cpu: thread_cpu_ns().is_some(),
            epoch: Instant::now(),
        }
    }

    /// Which clock the figures are in, for the bench's first lines.
    pub fn name(&self) -> &'static str {
        if self.cpu {
            "thread CPU time (/proc/thread-self/schedstat)"
        } else {
            "wall-clock time (no /proc/thread-self/schedstat here)"
        }
    }

    fn now_ns(&self) -> u64 {
        if self.cpu {
            // Readable when the clock was made; mixing in wall-clock
            // readings would make every figure meaningless.
            thread_cpu_ns().unwrap_or_else(|| panic!("{SCHEDSTAT} became unreadable"))
        } else {
            self.epoch.elapsed().as_nanos() as u64
        }
    }
}

impl Measurement for CpuClock {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        self.now_ns()
    }

    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(self.now_ns().saturating_sub(start))
    }

    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}
