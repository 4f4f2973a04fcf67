//! Memory figures the kernel keeps for a process, from
//! `/proc/<pid>/status` (Linux): the peak resident set (`VmHWM`) that
//! benchmarks report, and its anonymous and file-backed parts.
//!
//! Shared by the examples that print `peak_rss_kb=` (`aion`,
//! `bench_blocks`, `head_bench`, `promql_interop`) with `#[path]`.

// Not every includer reads every figure.
#![allow(dead_code)]

/// The value in kB of `field` (`"VmHWM:"`, `"RssAnon:"`, …) for process
/// `pid` (`"self"` for this one), or 0 where `/proc` does not have it
/// (another OS, a process that has exited), so a report still prints.
pub fn status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The peak resident set size (kB) of process `pid` (`"self"` for this
/// one): its high-water mark, so measure one workload per process.
pub fn vm_hwm_kb(pid: &str) -> u64 {
    status_kb(pid, "VmHWM:")
}

/// [`vm_hwm_kb`] of this process.
pub fn peak_rss_kb() -> u64 {
    vm_hwm_kb("self")
}
