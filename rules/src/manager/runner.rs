//! One group's evaluation loop: the state a group carries between
//! evaluations and the thread that runs it on the manager's clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use aion_storage::{Appendable, Queryable};

use super::clock::{Clock, Stop};
use super::schedule::Schedule;
use crate::alerting::AlertingRule;
use crate::group::Notify;
use crate::notifier::{Notifier, NotifyContext};
use crate::restore::{restore_for_state, RestoreOptions, RestoreReport};
use crate::slot::ns_to_ms;
use crate::{Alert, Group};

/// What every group of a manager shares.
pub(crate) struct Env {
    pub queryable: Arc<dyn Queryable>,
    pub appendable: Arc<dyn Appendable>,
    pub notifier: Option<Arc<dyn Notifier>>,
    pub notify: NotifyContext,
    pub resend_delay: i64,
    pub restore: RestoreOptions,
    pub clock: Arc<dyn Clock>,
}

/// A group and its schedule and counters.
#[derive(Debug)]
pub(crate) struct GroupRun {
    pub group: Group,
    pub schedule: Schedule,
    /// Evaluations run.
    pub iterations: u64,
    /// Slots skipped because an evaluation overran (or the host was late).
    pub missed: u64,
    /// Slots due, run or missed.
    pub scheduled: u64,
    /// Restore `for` state after the second evaluation (first load only).
    pub should_restore: bool,
    /// The restore, once done.
    pub restore: Option<RestoreReport>,
}

/// A group shared between its thread, the manager and status readers.
#[derive(Debug)]
pub(crate) struct GroupCell {
    pub run: Mutex<GroupRun>,
    pub stop: Stop,
}

impl GroupCell {
    pub fn lock(&self) -> MutexGuard<'_, GroupRun> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs the evaluation due at `now_ns`, if one is; true if it ran. A
/// restore after it happens at `restore_at_ns`, or the clock's time after
/// the evaluation when `None`.
pub(crate) fn iterate(
    run: &mut GroupRun,
    env: &Env,
    now_ns: i64,
    restore_at_ns: Option<i64>,
) -> bool {
    let Some(due) = run.schedule.take(now_ns) else {
        return false;
    };
    run.missed += due.missed;
    run.scheduled += due.missed + 1;
    let t = ns_to_ms(due.slot_ns);
    let mut send = |rule: &AlertingRule, alerts: Vec<Alert>| {
        if let Some(n) = &env.notifier {
            let expr = rule.expr().to_string();
            let out = alerts
                .iter()
                .map(|a| env.notify.notification(&expr, a))
                .collect();
            n.notify(&expr, out);
        }
    };
    let mut notify = Notify {
        resend_delay: env.resend_delay,
        send: &mut send,
    };
    run.group
        .evaluate_with(t, &*env.queryable, &*env.appendable, Some(&mut notify));
    run.iterations += 1;
    let health = run.group.health_mut();
    health.iterations_missed = run.missed;
    if run.should_restore && run.iterations >= 2 {
        // As Prometheus: after the second evaluation, so recording rules
        // the alerts depend on have caught up.
        let now = ns_to_ms(restore_at_ns.unwrap_or_else(|| env.clock.now_ns()));
        run.restore = Some(restore_for_state(
            &mut run.group,
            &*env.queryable,
            now,
            &env.restore,
        ));
        run.should_restore = false;
    }
    true
}

/// The thread evaluating `cell`'s group on `env`'s clock until its stop
/// is raised (an evaluation in progress finishes first).
pub(crate) fn spawn(cell: Arc<GroupCell>, env: Arc<Env>) -> std::io::Result<JoinHandle<()>> {
    let name = format!("rules-{}", cell.lock().group.name());
    std::thread::Builder::new().name(name).spawn(move || loop {
        let next = cell.lock().schedule.next_ns();
        if !env.clock.sleep_until(next, &cell.stop) {
            return;
        }
        let now = env.clock.now_ns();
        iterate(&mut cell.lock(), &env, now, None);
    })
}
