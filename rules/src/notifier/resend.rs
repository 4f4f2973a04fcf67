//! Which alerts are due for sending after an evaluation: Prometheus's
//! `needsSending` and `sendAlerts`.

use crate::alerting::{Alert, AlertState, AlertingRule};

/// Whether `alert` is due at `ts` (ms): never while pending; at once when
/// resolved since it was last sent; otherwise once `resend_delay` (ms)
/// has passed since the last send.
pub fn needs_sending(alert: &Alert, ts: i64, resend_delay: i64) -> bool {
    if alert.state == AlertState::Pending {
        return false;
    }
    let last_sent = alert.last_sent_at;
    if let Some(resolved) = alert.resolved_at {
        if last_sent.is_none_or(|s| resolved > s) {
            return true;
        }
    }
    match last_sent {
        None => true,
        Some(s) => s + resend_delay < ts,
    }
}

impl AlertingRule {
    /// The alerts due at `ts` (ms), marked sent: each one's `valid_until`
    /// becomes `ts + 4 × max(resend_delay, interval)`, which allows two
    /// failed evaluations or sends before Alertmanager resolves it.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay: i64, interval: i64) -> Vec<Alert> {
        let delta = resend_delay.max(interval);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if needs_sending(a, ts, resend_delay) {
                a.last_sent_at = Some(ts);
                a.valid_until = Some(ts + 4 * delta);
                out.push(a.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aion_model::Labels;

    fn alert(state: AlertState) -> Alert {
        Alert {
            state,
            labels: Labels::new(),
            annotations: Vec::new(),
            value: 1.0,
            active_at: 0,
            fired_at: Some(0),
            resolved_at: None,
            keep_firing_since: None,
            last_sent_at: None,
            valid_until: None,
        }
    }

    #[test]
    fn pending_is_never_sent() {
        assert!(!needs_sending(&alert(AlertState::Pending), 10, 60_000));
    }

    #[test]
    fn firing_is_resent_after_the_delay() {
        let mut a = alert(AlertState::Firing);
        assert!(needs_sending(&a, 0, 60_000));
        a.last_sent_at = Some(0);
        assert!(!needs_sending(&a, 60_000, 60_000));
        assert!(needs_sending(&a, 60_001, 60_000));
    }

    #[test]
    fn resolved_is_sent_at_once_then_after_the_delay() {
        let mut a = alert(AlertState::Inactive);
        a.last_sent_at = Some(0);
        a.resolved_at = Some(15_000);
        assert!(needs_sending(&a, 15_000, 60_000));
        a.last_sent_at = Some(15_000);
        assert!(!needs_sending(&a, 30_000, 60_000));
        assert!(needs_sending(&a, 75_001, 60_000));
    }
}
