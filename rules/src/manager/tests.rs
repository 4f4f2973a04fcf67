use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aion_chunkenc::{is_stale_nan, ValueType};
use aion_model::{Labels, Matcher};
use aion_storage::{MemStorage, Queryable};

use super::*;
use crate::notifier::Notification;
use crate::slot::eval_offset_ns;
use crate::AlertState;

const S: i64 = 1_000_000_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs).unwrap()
}

/// Every sample of the series named `name`, by series.
fn samples(db: &MemStorage, name: &str) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = q.select(true, None, &[Matcher::equal("__name__", name)]);
    let mut out = Vec::new();
    while let Some(s) = set.next() {
        let mut s = s.unwrap();
        let mut v = Vec::new();
        while s.samples.next() == ValueType::Float {
            v.push(s.samples.at());
        }
        out.push((s.labels, v));
    }
    out
}

fn manager(db: &Arc<MemStorage>, clock: Arc<dyn Clock>) -> Manager {
    let opts = ManagerOptions {
        clock,
        ..ManagerOptions::default()
    };
    Manager::new(db.clone(), db.clone(), opts)
}

fn src(name: &str, text: &str) -> Vec<(String, Vec<u8>)> {
    vec![(name.to_string(), text.as_bytes().to_vec())]
}

const RECORD: &str = "groups:
  - name: g
    interval: 10s
    rules:
      - record: total
        expr: sum(x)
      - record: double
        expr: total * 2
";

fn seed_x(db: &MemStorage, until_s: i64) {
    let l = labels(&[("__name__", "x"), ("a", "1")]);
    let mut t = 0;
    while t <= until_s * 1000 {
        db.append(&l, t, 1.0).unwrap();
        t += 5_000;
    }
}

#[test]
fn host_driven_evaluations_land_on_the_groups_slots() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", RECORD)).unwrap();
    let off = eval_offset_ns("g", "r.yml", 10_000);
    let first = mgr.next_due_ns().unwrap();
    assert_eq!(first, off + 10 * S, "the slot after load");
    assert_eq!(mgr.evaluate_due(first - 1), 0);
    assert_eq!(mgr.evaluate_due(first), 1);
    assert_eq!(mgr.evaluate_due(first + 5 * S), 0);
    assert_eq!(mgr.evaluate_due(first + 10 * S), 1);
    let st = &mgr.status()[0];
    assert_eq!(st.health.evaluations, 2);
    assert_eq!(st.health.iterations_missed, 0);
    assert_eq!(st.iterations_scheduled, 2);
    assert_eq!(st.health.last_evaluation, Some(ns_to_ms(first + 10 * S)));
    // Later rules see earlier rules' output of the same evaluation.
    let d = samples(&db, "double");
    assert_eq!(
        d[0].1,
        vec![(ns_to_ms(first), 2.0), (ns_to_ms(first + 10 * S), 2.0)]
    );
}

#[test]
fn late_evaluations_count_missed_iterations() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", RECORD)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    mgr.evaluate_due(first);
    // 35 s later: two slots missed, the third evaluated.
    assert_eq!(mgr.evaluate_due(first + 35 * S), 1);
    let st = &mgr.status()[0];
    assert_eq!(st.health.iterations_missed, 2);
    assert_eq!(st.iterations_scheduled, 4);
    assert_eq!(st.health.last_evaluation, Some(ns_to_ms(first + 30 * S)));
}

/// Waits (bounded) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn threads_evaluate_groups_on_the_clock_and_stop_cleanly() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let clock = Arc::new(ManualClock::new(0));
    let mgr = manager(&db, clock.clone());
    let two = "groups:
  - name: a
    interval: 10s
    rules:
      - record: ra
        expr: sum(x)
  - name: b
    interval: 20s
    rules:
      - record: rb
        expr: sum(x)
";
    mgr.update_sources(&src("r.yml", two)).unwrap();
    mgr.run().unwrap();
    let evals = |m: &Manager| {
        m.status()
            .iter()
            .map(|g| g.health.evaluations)
            .collect::<Vec<_>>()
    };
    assert_eq!(evals(&mgr), vec![0, 0]);
    clock.set(20 * S + 20 * S);
    eventually("both groups' first evaluations", || {
        evals(&mgr) == vec![1, 1]
    });
    clock.set(40 * S + 20 * S);
    eventually("the next slots", || {
        let e = evals(&mgr);
        e[0] >= 2 && e[1] >= 2
    });
    mgr.stop();
    let after = evals(&mgr);
    clock.set(1000 * S);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(evals(&mgr), after, "no evaluation after stop");
    // Every slot due was evaluated or counted missed.
    for g in mgr.status() {
        assert_eq!(
            g.iterations_scheduled,
            g.health.evaluations + g.health.iterations_missed
        );
    }
}

const ALERT: &str = "groups:
  - name: g
    interval: 10s
    rules:
      - record: total
        expr: sum(x)
      - alert: High
        expr: x > 0
        for: 30s
        labels:
          severity: page
";

#[test]
fn reload_keeps_unchanged_groups_and_the_state_of_unchanged_rules() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", ALERT)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    for i in 0..3 {
        mgr.evaluate_due(first + i * 10 * S);
    }
    let active_at = mgr.status()[0].rules[1].alerts[0].active_at;
    assert_eq!(active_at, ns_to_ms(first));
    // Same content: the group keeps running as it was.
    mgr.update_sources(&src("r.yml", ALERT)).unwrap();
    assert_eq!(mgr.status()[0].health.evaluations, 3);
    // The recording rule removed, the alert unchanged: the alert keeps its
    // `for` progress and fires on time; `total` goes stale.
    let changed = "groups:
  - name: g
    interval: 10s
    rules:
      - alert: High
        expr: x > 0
        for: 30s
        labels:
          severity: page
";
    mgr.update_sources(&src("r.yml", changed)).unwrap();
    let st = &mgr.status()[0];
    assert_eq!(st.rules.len(), 1);
    assert_eq!(st.rules[0].alerts[0].active_at, active_at);
    assert_eq!(st.rules[0].alerts[0].state, AlertState::Pending);
    mgr.evaluate_due(first + 30 * S);
    let st = &mgr.status()[0];
    assert_eq!(st.rules[0].alerts[0].state, AlertState::Firing);
    let total = samples(&db, "total");
    let last = *total[0].1.last().unwrap();
    assert_eq!(last.0, ns_to_ms(first + 30 * S));
    assert!(is_stale_nan(last.1), "removed rule's series marked stale");
}

#[test]
fn removed_groups_go_stale_two_intervals_later() {
    let clock = Arc::new(ManualClock::new(0));
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let mgr = manager(&db, clock.clone());
    mgr.update_sources(&src("r.yml", RECORD)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    mgr.evaluate_due(first);
    clock.set(first + 3 * S);
    mgr.update_sources(&src("other.yml", "groups: []\n"))
        .unwrap();
    assert!(mgr.status().is_empty());
    mgr.evaluate_due(first + 22 * S);
    assert!(!samples(&db, "total")[0].1.iter().any(|s| is_stale_nan(s.1)));
    mgr.evaluate_due(first + 23 * S);
    for name in ["total", "double"] {
        let s = samples(&db, name);
        let last = *s[0].1.last().unwrap();
        assert_eq!(last.0, ns_to_ms(first + 3 * S));
        assert!(is_stale_nan(last.1), "{name} stale");
    }
}

#[derive(Default)]
struct Inbox(Mutex<Vec<(String, Vec<Notification>)>>);

impl crate::Notifier for Inbox {
    fn notify(&self, expr: &str, alerts: Vec<Notification>) {
        self.0.lock().unwrap().push((expr.to_string(), alerts));
    }
}

#[test]
fn notifications_follow_prometheus_resend_and_resolve_rules() {
    let db = Arc::new(MemStorage::new());
    let l = labels(&[("__name__", "x"), ("a", "1")]);
    for t in (0..=120).step_by(5) {
        db.append(&l, t * 1000, 1.0).unwrap();
    }
    let inbox = Arc::new(Inbox::default());
    let mut opts = ManagerOptions {
        clock: Arc::new(ManualClock::new(0)),
        notifier: Some(inbox.clone()),
        resend_delay: 30_000,
        ..ManagerOptions::default()
    };
    opts.group.templates.external_url = "http://prom.example:9090/".into();
    opts.group.templates.external_labels = labels(&[("cluster", "eu"), ("severity", "x")]);
    let mgr = Manager::new(db.clone(), db.clone(), opts);
    let rules = "groups:
  - name: g
    interval: 10s
    rules:
      - alert: Up
        expr: x > 0
        labels:
          severity: page
        annotations:
          summary: 'x is {{ $value }}'
";
    mgr.update_sources(&src("r.yml", rules)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    let at = |i: i64| first + i * 10 * S;
    mgr.evaluate_due(at(0));
    let sent = std::mem::take(&mut *inbox.0.lock().unwrap());
    assert_eq!(sent.len(), 1, "fires at once (no `for`) and is sent");
    let (expr, n) = &sent[0];
    assert_eq!(expr, "x > 0");
    assert_eq!(n[0].starts_at, ns_to_ms(at(0)));
    // max(resend 30 s, interval 10 s) × 4 ahead.
    assert_eq!(n[0].ends_at, ns_to_ms(at(0)) + 120_000);
    assert_eq!(
        n[0].generator_url,
        "http://prom.example:9090/graph?g0.expr=x+%3E+0&g0.tab=1"
    );
    assert_eq!(
        n[0].labels,
        labels(&[
            ("a", "1"),
            ("alertname", "Up"),
            ("cluster", "eu"),
            ("severity", "page")
        ])
    );
    assert_eq!(n[0].annotations, vec![("summary".into(), "x is 1".into())]);
    // Not again until the resend delay has passed.
    for i in 1..=3 {
        mgr.evaluate_due(at(i));
    }
    assert!(inbox.0.lock().unwrap().is_empty());
    mgr.evaluate_due(at(4));
    assert_eq!(inbox.0.lock().unwrap().len(), 1, "resent after 30 s");
    inbox.0.lock().unwrap().clear();
    // Data ends at 120 s; x is gone 5 min later: resolved, sent at once
    // with endsAt the resolve time, and kept (resent) for 15 minutes.
    let gone = (120 + 300) * S + first % (10 * S) + 10 * S;
    mgr.evaluate_due(gone);
    let sent = std::mem::take(&mut *inbox.0.lock().unwrap());
    let resolved_at = mgr.status()[0].rules[0].alerts[0].resolved_at.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1[0].ends_at, resolved_at);
    assert_eq!(sent[0].1[0].starts_at, ns_to_ms(at(0)));
    mgr.evaluate_due(gone + 40 * S);
    assert_eq!(inbox.0.lock().unwrap().len(), 1, "resolved alert resent");
    mgr.evaluate_due(gone + 16 * 60 * S);
    assert!(
        mgr.status()[0].rules[0].alerts.is_empty(),
        "dropped after 15 min"
    );
}

const RESTORE: &str = "groups:
  - name: g
    interval: 60s
    rules:
      - alert: Long
        expr: x > 0
        for: 30m
";

/// Runs RESTORE from 0 for `run_for_s`, then restarts at `restart_s`:
/// returns the first manager's last ALERTS_FOR_STATE (t, active since) and
/// the restored alert's active_at.
fn restart(run_for_s: i64, restart_s: i64) -> (i64, i64, i64, i64) {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, restart_s + 600);
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    let mut t = first;
    while t <= run_for_s * S {
        mgr.evaluate_due(t);
        t += 60 * S;
    }
    let before = mgr.status()[0].rules[0].alerts[0].clone();
    drop(mgr);
    let state = samples(&db, "ALERTS_FOR_STATE");
    let (down_t, v) = *state[0].1.last().unwrap();
    assert_eq!(v, (before.active_at / 1000) as f64);
    let mgr = manager(&db, Arc::new(ManualClock::new(restart_s * S)));
    mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
    let n = state[0].1.len();
    let a = mgr.next_due_ns().unwrap();
    mgr.evaluate_due(a);
    // Nothing written before the restore: it would overwrite the state.
    assert_eq!(samples(&db, "ALERTS_FOR_STATE")[0].1.len(), n);
    let restore_at = a + 60 * S;
    mgr.evaluate_due(restore_at);
    let st = &mgr.status()[0];
    assert_eq!(st.restore.as_ref().unwrap().restored, 1);
    (
        down_t,
        before.active_at,
        ns_to_ms(restore_at),
        st.rules[0].alerts[0].active_at,
    )
}

#[test]
fn restore_shifts_pending_time_by_the_outage() {
    // Pending for ~10 min of 30 when it went down: 20 min remain, more
    // than the grace period, so the outage is added.
    let (down, active, ts, restored) = restart(11 * 60, 20 * 60);
    let down_s = down / 1000 * 1000;
    assert_eq!(restored, active / 1000 * 1000 + (ts - down_s));
}

#[test]
fn restore_grants_the_grace_period() {
    // Pending ~25 min of 30: 5 min remain, less than the 10 min grace:
    // it fires 10 min after the restore.
    let (_, _, ts, restored) = restart(26 * 60, 30 * 60);
    assert_eq!(restored, ts + 600_000 - 1_800_000);
}

#[test]
fn restore_keeps_firing_alerts_firing() {
    let (_, active, _, restored) = restart(40 * 60, 45 * 60);
    assert_eq!(restored, active / 1000 * 1000);
}

#[test]
fn restore_ignores_state_older_than_the_outage_tolerance() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 4 * 3600);
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    for i in 0..10 {
        mgr.evaluate_due(first + i * 60 * S);
    }
    drop(mgr);
    let mgr = manager(&db, Arc::new(ManualClock::new(3 * 3600 * S)));
    mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
    let a = mgr.next_due_ns().unwrap();
    mgr.evaluate_due(a);
    mgr.evaluate_due(a + 60 * S);
    let st = &mgr.status()[0];
    assert_eq!(st.restore.as_ref().unwrap().restored, 0);
    assert_eq!(st.rules[0].alerts[0].active_at, ns_to_ms(a));
}

#[test]
fn a_failed_reload_keeps_the_running_groups() {
    let db = Arc::new(MemStorage::new());
    let mgr = manager(&db, Arc::new(ManualClock::new(0)));
    mgr.update_sources(&src("r.yml", RECORD)).unwrap();
    let err = mgr
        .update_sources(&src(
            "r.yml",
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(\n",
        ))
        .unwrap_err();
    assert!(err[0].to_string().starts_with("r.yml: "), "{}", err[0]);
    assert_eq!(mgr.status()[0].rules.len(), 2);
}

#[test]
fn for_state_survives_a_db_restart() {
    use aion_tsdb::{Db, Options};
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_000_000 * S;
    let x = labels(&[("__name__", "x"), ("a", "1")]);
    let first_active;
    let down;
    {
        let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
        let mut app = db.appender();
        // 40 minutes of data: rule output at "now" stays within the
        // head's appendable range (an hour behind its newest sample).
        for k in 0..=(40 * 60 / 15) {
            app.append(0, &x, start / 1_000_000 + k * 15_000, 1.0)
                .unwrap();
        }
        app.commit().unwrap();
        drop(app);
        let mgr = Manager::new(
            db.clone(),
            db.clone(),
            ManagerOptions {
                clock: Arc::new(ManualClock::new(start)),
                ..ManagerOptions::default()
            },
        );
        mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
        let mut t = mgr.next_due_ns().unwrap();
        // Pending for 10 minutes of its 30.
        for _ in 0..11 {
            mgr.evaluate_due(t);
            t += 60 * S;
        }
        first_active = mgr.status()[0].rules[0].alerts[0].active_at;
        down = ns_to_ms(t - 60 * S);
        drop(mgr);
        Arc::try_unwrap(db).unwrap().close().unwrap();
    }
    // Up again 5 minutes later, from the WAL.
    let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let restart = ns_to_ms(start) + (down - ns_to_ms(start)) + 5 * 60_000;
    let mgr = Manager::new(
        db.clone(),
        db.clone(),
        ManagerOptions {
            clock: Arc::new(ManualClock::new(restart * 1_000_000)),
            ..ManagerOptions::default()
        },
    );
    mgr.update_sources(&src("r.yml", RESTORE)).unwrap();
    let a = mgr.next_due_ns().unwrap();
    mgr.evaluate_due(a);
    mgr.evaluate_due(a + 60 * S);
    let st = &mgr.status()[0];
    assert_eq!(st.restore.as_ref().unwrap().restored, 1);
    let restored = st.rules[0].alerts[0].active_at;
    // The outage (restore time minus the last state sample, in whole
    // seconds) is added to the original start.
    let ts = ns_to_ms(a + 60 * S);
    assert_eq!(
        restored,
        first_active / 1000 * 1000 + (ts - down / 1000 * 1000)
    );
    assert_eq!(st.rules[0].alerts[0].state, AlertState::Pending);
}

/// A storage whose next query takes `delay` of the manual clock's time
/// (once): a deterministic slow evaluation.
struct Slow {
    db: Arc<MemStorage>,
    clock: Arc<ManualClock>,
    delay: Mutex<Duration>,
}

impl Queryable for Slow {
    fn querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> aion_storage::Result<Box<dyn aion_storage::Querier + '_>> {
        let d = std::mem::take(&mut *self.delay.lock().unwrap());
        self.clock.advance(d);
        self.db.querier(mint, maxt)
    }
}

#[test]
fn a_thread_counts_the_slots_an_overrunning_evaluation_missed() {
    let db = Arc::new(MemStorage::new());
    seed_x(&db, 600);
    let clock = Arc::new(ManualClock::new(0));
    let slow = Arc::new(Slow {
        db: db.clone(),
        clock: clock.clone(),
        delay: Mutex::new(Duration::ZERO),
    });
    let mgr = Manager::new(
        slow.clone(),
        db.clone(),
        ManagerOptions {
            clock: clock.clone(),
            ..ManagerOptions::default()
        },
    );
    let one = "groups:
  - name: g
    interval: 10s
    rules:
      - record: total
        expr: sum(x)
";
    mgr.update_sources(&src("r.yml", one)).unwrap();
    let first = mgr.next_due_ns().unwrap();
    mgr.run().unwrap();
    // The first evaluation's query takes 25 s: the slots at +10 s and
    // +20 s pass meanwhile; the thread evaluates +20 s at once (as
    // Prometheus's ticker does) and counts +10 s missed.
    *slow.delay.lock().unwrap() = Duration::from_secs(25);
    clock.set(first);
    eventually("the catch-up evaluation", || {
        mgr.status()[0].health.evaluations >= 2
    });
    // Nothing else is due before +30 s.
    std::thread::sleep(Duration::from_millis(20));
    mgr.stop();
    let st = &mgr.status()[0];
    assert_eq!(st.health.evaluations, 2);
    assert_eq!(st.health.iterations_missed, 1);
    assert_eq!(st.iterations_scheduled, 3);
    assert_eq!(st.health.last_evaluation, Some(ns_to_ms(first + 20 * S)));
}
