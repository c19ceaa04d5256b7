//! Counters the gateway exposes at `/metrics` (Prometheus text format).
//!
//! Every counter is defined here once; the router and the outbox increment them, the
//! server renders them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    messages_in: Family<Labels, Counter>,
    duplicates: Family<Labels, Counter>,
    messages_out: Family<Labels, Counter>,
    escalations: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    outbox_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    processing_errors: Counter<u64, AtomicU64>,
    delivery_reports: Family<Labels, Counter>,
    window_fallbacks: Family<Labels, Counter>,
    reachability: Family<Labels, Counter>,
    sla_breaches: Family<Labels, Counter>,
    escalation_categories: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    assignments: Family<Labels, Counter>,
    reroutes: Family<Labels, Counter>,
    connections_refused: Counter<u64, AtomicU64>,
    rate_limited: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of zeroed metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tandem");
        let messages_in = Family::<Labels, Counter>::default();
        let duplicates = Family::<Labels, Counter>::default();
        let messages_out = Family::<Labels, Counter>::default();
        let escalations = Family::<Labels, Counter>::default();
        let retries = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let outbox_depth = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let processing_errors = Counter::<u64, AtomicU64>::default();
        let delivery_reports = Family::<Labels, Counter>::default();
        let window_fallbacks = Family::<Labels, Counter>::default();
        let reachability = Family::<Labels, Counter>::default();
        registry.register(
            "delivery_reports",
            "Platform delivery reports recorded, by channel and status",
            delivery_reports.clone(),
        );
        registry.register(
            "window_fallbacks",
            "Messages sent tagged or as a template because the messaging window was closed, by channel and kind",
            window_fallbacks.clone(),
        );
        registry.register(
            "reachability_changes",
            "Customers marked reachable or unreachable on a channel, by channel and state",
            reachability.clone(),
        );
        registry.register(
            "messages_in",
            "Customer messages received, by channel",
            messages_in.clone(),
        );
        registry.register(
            "inbound_duplicates",
            "Redelivered inbound messages ignored, by channel",
            duplicates.clone(),
        );
        registry.register(
            "messages_out",
            "Messages delivered, by channel",
            messages_out.clone(),
        );
        registry.register(
            "escalations",
            "Escalation triggers that fired, by reason",
            escalations.clone(),
        );
        registry.register(
            "outbox_retries",
            "Delivery attempts scheduled for retry, by channel",
            retries.clone(),
        );
        registry.register(
            "outbox_failures",
            "Deliveries given up, by channel and error kind",
            failures.clone(),
        );
        registry.register(
            "outbox_depth",
            "Unfinished outbox entries",
            outbox_depth.clone(),
        );
        registry.register(
            "processing_errors",
            "Inbound messages whose processing failed and will be retried",
            processing_errors.clone(),
        );
        let sla_breaches = Family::<Labels, Counter>::default();
        registry.register(
            "handoff_sla_breaches",
            "Handoffs not accepted within their priority's SLA, by priority",
            sla_breaches.clone(),
        );
        let escalation_categories = Family::<Labels, Counter>::default();
        registry.register(
            "escalations_by_category",
            "Handoffs decided, by category",
            escalation_categories.clone(),
        );
        let decisions = Family::<Labels, Counter>::default();
        registry.register(
            "policy_decisions",
            "Escalation policy decisions made since start, by whether they escalated",
            decisions.clone(),
        );
        let assignments = Family::<Labels, Counter>::default();
        registry.register(
            "handoff_assignments",
            "Handoffs assigned to an agent by routing, by queue",
            assignments.clone(),
        );
        let reroutes = Family::<Labels, Counter>::default();
        registry.register(
            "handoff_reroutes",
            "Handoffs moved to the overflow queue after an SLA breach, by queue",
            reroutes.clone(),
        );
        let connections_refused = Counter::<u64, AtomicU64>::default();
        registry.register(
            "http_connections_refused",
            "Connections closed at once because the connection cap was reached",
            connections_refused.clone(),
        );
        let rate_limited = Family::<Labels, Counter>::default();
        registry.register(
            "rate_limited",
            "Inbound messages refused by a rate limit, by channel and scope",
            rate_limited.clone(),
        );
        Self {
            registry,
            connections_refused,
            rate_limited,
            escalation_categories,
            decisions,
            assignments,
            reroutes,
            messages_in,
            duplicates,
            messages_out,
            escalations,
            retries,
            failures,
            outbox_depth,
            processing_errors,
            delivery_reports,
            window_fallbacks,
            reachability,
            sla_breaches,
        }
    }

    /// A customer message was recorded.
    pub fn message_in(&self, channel: &str) {
        self.messages_in
            .get_or_create(&vec![("channel", channel.to_owned())])
            .inc();
    }

    /// A redelivery was ignored.
    pub fn duplicate(&self, channel: &str) {
        self.duplicates
            .get_or_create(&vec![("channel", channel.to_owned())])
            .inc();
    }

    /// A message was delivered.
    pub fn message_out(&self, channel: &str) {
        self.messages_out
            .get_or_create(&vec![("channel", channel.to_owned())])
            .inc();
    }

    /// Adds `n` to an escalation count label as the store keeps them (used to restore
    /// counts at start-up): a reason label, or `category:<name>` for a category.
    pub fn escalation_add(&self, label: &str, n: u64) {
        match label.strip_prefix(crate::store::CATEGORY_LABEL_PREFIX) {
            Some(category) => self
                .escalation_categories
                .get_or_create(&vec![("category", category.to_owned())])
                .inc_by(n),
            None => self
                .escalations
                .get_or_create(&vec![("reason", label.to_owned())])
                .inc_by(n),
        };
    }

    /// A recorded policy decision: counted by outcome, and when it escalated, by each
    /// reason and by category (the labels the store counts, so restarts agree).
    pub fn decision(&self, event: &crate::store::EscalationEvent) {
        self.decisions
            .get_or_create(&vec![("escalate", event.escalate.to_string())])
            .inc();
        for label in event.count_labels() {
            self.escalation_add(&label, 1);
        }
    }

    /// A handoff was assigned to an agent (`how`: `on_open`, `from_queue`, `accepted`).
    pub fn assignment(&self, queue: &str) {
        self.assignments
            .get_or_create(&vec![("queue", queue.to_owned())])
            .inc();
    }

    /// A handoff was re-routed to another queue after an SLA breach.
    pub fn reroute(&self, from: &str, to: &str) {
        self.reroutes
            .get_or_create(&vec![("from", from.to_owned()), ("to", to.to_owned())])
            .inc();
    }

    /// A delivery will be retried.
    pub fn retry(&self, channel: &str) {
        self.retries
            .get_or_create(&vec![("channel", channel.to_owned())])
            .inc();
    }

    /// A delivery was given up.
    pub fn failure(&self, channel: &str, kind: &str) {
        self.failures
            .get_or_create(&vec![
                ("channel", channel.to_owned()),
                ("kind", kind.to_owned()),
            ])
            .inc();
    }

    /// Sets the outbox depth gauge.
    pub fn set_outbox_depth(&self, depth: u64) {
        self.outbox_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A handoff outlived its SLA.
    pub fn sla_breach(&self, priority: &str) {
        self.sla_breaches
            .get_or_create(&vec![("priority", priority.to_owned())])
            .inc();
    }

    /// A processing attempt failed.
    pub fn processing_error(&self) {
        self.processing_errors.inc();
    }

    /// A platform delivery report was recorded (`delivered`, `read`, `failed`).
    pub fn delivery_report(&self, channel: &str, status: &str) {
        self.delivery_reports
            .get_or_create(&vec![
                ("channel", channel.to_owned()),
                ("status", status.to_owned()),
            ])
            .inc();
    }

    /// A message was sent tagged (`tag`) or as a template (`template`) because of a
    /// closed messaging window.
    pub fn window_fallback(&self, channel: &str, kind: &str) {
        self.window_fallbacks
            .get_or_create(&vec![
                ("channel", channel.to_owned()),
                ("kind", kind.to_owned()),
            ])
            .inc();
    }

    /// A customer was marked reachable or unreachable on a channel.
    pub fn reachability(&self, channel: &str, reachable: bool) {
        let state = if reachable {
            "reachable"
        } else {
            "unreachable"
        };
        self.reachability
            .get_or_create(&vec![
                ("channel", channel.to_owned()),
                ("state", state.to_owned()),
            ])
            .inc();
    }

    /// A connection was refused at the connection cap.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// An inbound message was refused by a rate limit (`scope`: `session`, `address`,
    /// `sender`).
    pub fn rate_limited(&self, channel: &str, scope: &str) {
        self.rate_limited
            .get_or_create(&vec![
                ("channel", channel.to_owned()),
                ("scope", scope.to_owned()),
            ])
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
