//! The rule manager: loads rule files into groups and evaluates each
//! group on its schedule, as Prometheus's `rules.Manager`.
//!
//! Two ways to drive it:
//! * host-driven: [`Manager::evaluate_due`] runs, in the caller's thread,
//!   every group whose slot has come at the time given (deterministic:
//!   tests, backfills, a host with its own loop);
//! * owned threads: [`Manager::run`] starts one thread per group (as
//!   Prometheus runs a goroutine per group), each sleeping on the
//!   manager's [`Clock`] until its next slot; independent groups evaluate
//!   concurrently, rules within a group in order. [`Manager::stop`] (or
//!   dropping the manager) lets evaluations in progress finish and joins
//!   the threads.
//!
//! [`Manager::update`] loads (and reloads) rule files: nothing changes if
//! any file fails; unchanged groups keep running; changed groups keep the
//! state of their unchanged rules (see [`reload`]); removed groups stop
//! and their series are marked stale two intervals later (so a renamed
//! group can take them over first). On the first load, alerting rules'
//! `for` state is restored from `ALERTS_FOR_STATE` after each group's
//! second evaluation ([`crate::restore`]).
//!
//! ```
//! use std::sync::Arc;
//! use aion_model::Labels;
//! use aion_rules::manager::{ManualClock, Manager, ManagerOptions};
//! use aion_storage::MemStorage;
//!
//! let db = Arc::new(MemStorage::new());
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]).unwrap();
//! db.append(&up, 0, 1.0).unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let mut opts = ManagerOptions::default();
//! opts.clock = clock.clone();
//! let mgr = Manager::new(db.clone(), db.clone(), opts);
//! mgr.update_sources(&[("r.yml".into(), b"groups:
//!   - name: g
//!     interval: 10s
//!     rules:
//!       - record: job:up:sum
//!         expr: sum(up)
//! ".to_vec())]).unwrap();
//! // The group's first slot: its phase (a hash of name and file) plus
//! // an interval.
//! let first = mgr.next_due_ns().unwrap();
//! assert_eq!(mgr.evaluate_due(first - 1), 0);
//! assert_eq!(mgr.evaluate_due(first), 1);
//! let g = &mgr.status()[0];
//! assert_eq!(g.health.evaluations, 1);
//! assert_eq!(g.rules[0].health.health.as_str(), "ok");
//! ```

mod clock;
pub mod reload;
mod runner;
mod schedule;
mod status;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use aion_model::Labels;
use aion_storage::{Appendable, Queryable};

pub use clock::{Clock, ManualClock, Stop, SystemClock};
pub use schedule::{Due, Schedule};
pub use status::{GroupStatus, RuleKind, RuleStatus};

use crate::notifier::{Notifier, NotifyContext};
use crate::restore::RestoreOptions;
use crate::rulefmt::{self, FileError, ParseOptions};
use crate::slot::ns_to_ms;
use crate::{Group, GroupOptions, LoadError, Rule};
use runner::{Env, GroupCell, GroupRun};

/// How a manager evaluates and notifies.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Engine, default interval and query offset, and the external labels
    /// and URL (used by templates and notifications alike).
    pub group: GroupOptions,
    /// How rule files are read.
    pub parse: ParseOptions,
    /// Prometheus's `rules.alert.resend-delay` (ms), default 1 min.
    pub resend_delay: i64,
    /// Outage tolerance and grace period of the `for`-state restore.
    pub restore: RestoreOptions,
    /// The time source of [`Manager::run`]'s threads and of reloads.
    pub clock: Arc<dyn Clock>,
    /// Where alerts go; none: alerts are evaluated and written, not sent.
    pub notifier: Option<Arc<dyn Notifier>>,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            group: GroupOptions::default(),
            parse: ParseOptions::default(),
            resend_delay: 60_000,
            restore: RestoreOptions::default(),
            clock: Arc::new(SystemClock),
            notifier: None,
        }
    }
}

/// Why a (re)load changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A rule file could not be read or is invalid.
    #[error(transparent)]
    File(#[from] FileError),
    /// A rule file's content is invalid (sources given as bytes).
    #[error("{file}: {source}")]
    Content {
        /// The source's name.
        file: String,
        /// What is wrong.
        source: rulefmt::Error,
    },
    /// A valid rule could not be built (its expression or a template).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A scheduler thread could not be started.
    #[error("starting the evaluation thread of group {group:?}: {source}")]
    Thread {
        /// The group.
        group: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A group the manager runs.
struct Slot {
    cell: Arc<GroupCell>,
    thread: Option<JoinHandle<()>>,
}

impl Slot {
    fn stop(&mut self) {
        self.cell.stop.raise();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Stale markers owed for a removed group.
struct PendingStale {
    due_ns: i64,
    t: i64,
    series: Vec<Labels>,
}

#[derive(Default)]
struct Inner {
    groups: BTreeMap<(String, String), Slot>,
    restored: bool,
    running: bool,
    pending_stale: Vec<PendingStale>,
    stale_threads: Vec<(Arc<Stop>, JoinHandle<()>)>,
}

/// The rule manager (see the module docs).
pub struct Manager {
    env: Arc<Env>,
    options: ManagerOptions,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager reading through `queryable` and writing rule output
    /// through `appendable` (usually the same Db), with no groups yet.
    pub fn new(
        queryable: Arc<dyn Queryable>,
        appendable: Arc<dyn Appendable>,
        options: ManagerOptions,
    ) -> Manager {
        let env = Env {
            queryable,
            appendable,
            notifier: options.notifier.clone(),
            notify: NotifyContext {
                external_url: options
                    .group
                    .templates
                    .external_url
                    .trim_end_matches('/')
                    .to_string(),
                external_labels: options.group.templates.external_labels.clone(),
            },
            resend_delay: options.resend_delay,
            restore: options.restore,
            clock: options.clock.clone(),
        };
        Manager {
            env: Arc::new(env),
            options,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads `files` (as given: the path is part of each group's identity
    /// and slot) and replaces the running groups; on any error the
    /// previous groups keep running and every error is returned.
    pub fn update(&self, files: &[impl AsRef<Path>]) -> Result<(), Vec<UpdateError>> {
        let mut errors = Vec::new();
        let mut groups = Vec::new();
        for f in files {
            let f = f.as_ref();
            match rulefmt::parse_file(f, &self.options.parse) {
                Err(errs) => errors.extend(errs.into_iter().map(UpdateError::File)),
                Ok(rgs) => {
                    let name = f.to_string_lossy();
                    for rg in &rgs.groups {
                        match Group::new(&name, rg, &self.options.group) {
                            Ok(g) => groups.push(g),
                            Err(e) => errors.push(e.into()),
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.update_groups(groups)
    }

    /// [`update`](Self::update) from rule file contents, each named as its
    /// file would be.
    pub fn update_sources(&self, sources: &[(String, Vec<u8>)]) -> Result<(), Vec<UpdateError>> {
        let mut errors = Vec::new();
        let mut groups = Vec::new();
        for (name, content) in sources {
            match rulefmt::parse(content, &self.options.parse) {
                Err(errs) => errors.extend(errs.into_iter().map(|source| UpdateError::Content {
                    file: name.clone(),
                    source,
                })),
                Ok(rgs) => {
                    for rg in &rgs.groups {
                        match Group::new(name, rg, &self.options.group) {
                            Ok(g) => groups.push(g),
                            Err(e) => errors.push(e.into()),
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.update_groups(groups)
    }

    /// Replaces the running groups with `groups` (built by the host), with
    /// [`update`](Self::update)'s reload rules.
    pub fn update_groups(&self, groups: Vec<Group>) -> Result<(), Vec<UpdateError>> {
        let mut inner = self.lock();
        let first = !inner.restored;
        inner.restored = true;
        let now = self.env.clock.now_ns();
        let mut old = std::mem::take(&mut inner.groups);
        let mut errors = Vec::new();
        for mut g in groups {
            let key = (g.file().to_string(), g.name().to_string());
            let mut should_restore = false;
            if let Some(mut slot) = old.remove(&key) {
                if slot.cell.lock().group.same_as(&g) {
                    inner.groups.insert(key, slot);
                    continue;
                }
                slot.stop();
                g.copy_state_from(&mut slot.cell.lock().group);
            } else if first {
                for r in g.rules_mut() {
                    if let Rule::Alerting(a) = r {
                        a.set_restored(false);
                        should_restore = true;
                    }
                }
            }
            let schedule = Schedule::new(g.name(), g.file(), g.interval(), now);
            let cell = Arc::new(GroupCell {
                run: Mutex::new(GroupRun {
                    group: g,
                    schedule,
                    iterations: 0,
                    missed: 0,
                    scheduled: 0,
                    should_restore,
                    restore: None,
                }),
                stop: Stop::new(),
            });
            let mut slot = Slot { cell, thread: None };
            if inner.running {
                match runner::spawn(slot.cell.clone(), self.env.clone()) {
                    Ok(t) => slot.thread = Some(t),
                    Err(source) => errors.push(UpdateError::Thread {
                        group: key.1.clone(),
                        source,
                    }),
                }
            }
            inner.groups.insert(key, slot);
        }
        for (_, mut slot) in old {
            slot.stop();
            let mut run = slot.cell.lock();
            let g = &mut run.group;
            let pending = PendingStale {
                due_ns: now + 2 * g.interval() * 1_000_000,
                t: ns_to_ms(now) - g.query_offset(),
                series: g.take_all_series(),
            };
            drop(run);
            if pending.series.is_empty() {
                continue;
            }
            if inner.running {
                let stop = Arc::new(Stop::new());
                match spawn_stale(pending, stop.clone(), self.env.clone()) {
                    Ok(t) => inner.stale_threads.push((stop, t)),
                    Err(source) => errors.push(UpdateError::Thread {
                        group: "stale markers".into(),
                        source,
                    }),
                }
            } else {
                inner.pending_stale.push(pending);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Host-driven evaluation: runs, one after another in this thread,
    /// every group whose slot has come by `now_ns` (ns since the epoch),
    /// and writes stale markers owed for removed groups. Returns the
    /// number of group evaluations run. Do not mix with [`run`](Self::run).
    pub fn evaluate_due(&self, now_ns: i64) -> usize {
        let mut inner = self.lock();
        let mut n = 0;
        for slot in inner.groups.values() {
            if runner::iterate(&mut slot.cell.lock(), &self.env, now_ns, Some(now_ns)) {
                n += 1;
            }
        }
        let (due, keep) = std::mem::take(&mut inner.pending_stale)
            .into_iter()
            .partition(|p| p.due_ns <= now_ns);
        inner.pending_stale = keep;
        for p in due {
            write_stale(&p, &*self.env.appendable);
        }
        n
    }

    /// When the next group evaluation is due (ns), for a host-driven loop.
    pub fn next_due_ns(&self) -> Option<i64> {
        let inner = self.lock();
        let groups = inner
            .groups
            .values()
            .map(|s| s.cell.lock().schedule.next_ns());
        groups
            .chain(inner.pending_stale.iter().map(|p| p.due_ns))
            .min()
    }

    /// Starts one evaluation thread per group (and per later-loaded
    /// group) on the manager's clock.
    pub fn run(&self) -> Result<(), Vec<UpdateError>> {
        let mut inner = self.lock();
        inner.running = true;
        let mut errors = Vec::new();
        for ((_, name), slot) in inner.groups.iter_mut() {
            if slot.thread.is_none() {
                match runner::spawn(slot.cell.clone(), self.env.clone()) {
                    Ok(t) => slot.thread = Some(t),
                    Err(source) => errors.push(UpdateError::Thread {
                        group: name.clone(),
                        source,
                    }),
                }
            }
        }
        for p in std::mem::take(&mut inner.pending_stale) {
            let stop = Arc::new(Stop::new());
            match spawn_stale(p, stop.clone(), self.env.clone()) {
                Ok(t) => inner.stale_threads.push((stop, t)),
                Err(source) => errors.push(UpdateError::Thread {
                    group: "stale markers".into(),
                    source,
                }),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Stops the evaluation threads, letting evaluations in progress
    /// finish, and joins them. Stale markers still owed for removed groups
    /// are dropped, as Prometheus drops them at shutdown. The groups stay
    /// loaded ([`run`](Self::run) starts them again).
    pub fn stop(&self) {
        let mut inner = self.lock();
        inner.running = false;
        for slot in inner.groups.values() {
            slot.cell.stop.raise();
        }
        for slot in inner.groups.values_mut() {
            if let Some(t) = slot.thread.take() {
                let _ = t.join();
            }
            // A stopped group can run again.
            slot.cell.stop.reset();
        }
        for (stop, t) in std::mem::take(&mut inner.stale_threads) {
            stop.raise();
            let _ = t.join();
        }
    }

    /// Every group's state: health, counters and alerts. Waits for an
    /// evaluation in progress of a group to finish before reading it.
    pub fn status(&self) -> Vec<GroupStatus> {
        let inner = self.lock();
        inner
            .groups
            .values()
            .map(|s| GroupStatus::of(&s.cell.lock()))
            .collect()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_stale(p: &PendingStale, appendable: &dyn Appendable) {
    let mut app = appendable.appender();
    for s in &p.series {
        // Newer data from another rule wins; these errors say so.
        let _ = app.append(0, s, p.t, aion_chunkenc::STALE_NAN);
    }
    let _ = app.commit();
}

fn spawn_stale(p: PendingStale, stop: Arc<Stop>, env: Arc<Env>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("rules-stale".into())
        .spawn(move || {
            if env.clock.sleep_until(p.due_ns, &stop) {
                write_stale(&p, &*env.appendable);
            }
        })
}
