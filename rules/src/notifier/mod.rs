//! Notifications: the alerts a rule evaluation hands to the host, shaped
//! as Prometheus hands them to Alertmanager.
//!
//! After each evaluation of an alerting rule, the alerts that are due
//! (firing ones not sent for `resend_delay`, and resolved ones) become
//! [`Notification`]s: `startsAt` is when the alert fired, `endsAt` the
//! resolve time or, while firing, `4 × max(resend_delay, interval)` ahead
//! (so two lost evaluations or sends do not resolve it), `generatorURL`
//! the external URL's table link for the rule's expression, and external
//! labels are added where the alert lacks them. The host's [`Notifier`]
//! delivers them; [`alertmanager::encode_v2`] writes Alertmanager's v2
//! API body. No networking here: the host owns the HTTP client.

pub mod alertmanager;
mod resend;
pub mod url;

use aion_model::{Labels, LabelsBuilder};

use crate::alerting::Alert;

pub use resend::needs_sending;

/// One alert as sent to Alertmanager (Prometheus's `notifier.Alert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The alert's labels with external labels added.
    pub labels: Labels,
    /// Expanded annotations, sorted by name.
    pub annotations: Vec<(String, String)>,
    /// When it started firing (ms since the epoch).
    pub starts_at: i64,
    /// When it resolved, or until when this notification holds (ms).
    pub ends_at: i64,
    /// Link back to the rule's expression in the external UI.
    pub generator_url: String,
}

/// The host's delivery of alerts: an Alertmanager client, a log, a test's
/// inbox. Called from the evaluating thread right after each alerting
/// rule's evaluation, with the alerts due for sending (never empty);
/// delivery that may block should queue and return.
pub trait Notifier: Send + Sync {
    /// Delivers `alerts` of the rule whose expression is `expr`.
    fn notify(&self, expr: &str, alerts: Vec<Notification>);
}

impl std::fmt::Debug for dyn Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

/// What every notification of a host shares.
#[derive(Debug, Clone, Default)]
pub struct NotifyContext {
    /// The external URL (`--web.external-url`), without a trailing `/`.
    pub external_url: String,
    /// Labels added to every alert that lacks them.
    pub external_labels: Labels,
}

impl NotifyContext {
    /// `alert` of the rule with expression `expr` as a notification.
    pub fn notification(&self, expr: &str, alert: &Alert) -> Notification {
        let mut labels = alert.labels.clone();
        if !self.external_labels.is_empty() {
            let mut lb = LabelsBuilder::from(&alert.labels);
            for l in self.external_labels.iter() {
                if alert.labels.get(l.name).is_none() {
                    lb.set(l.name, l.value);
                }
            }
            if let Ok(l) = lb.build() {
                labels = l;
            }
        }
        Notification {
            labels,
            annotations: alert.annotations.clone(),
            starts_at: alert.fired_at.unwrap_or(0),
            ends_at: alert.resolved_at.or(alert.valid_until).unwrap_or_default(),
            generator_url: format!(
                "{}{}",
                self.external_url,
                url::table_link_for_expression(expr)
            ),
        }
    }
}
