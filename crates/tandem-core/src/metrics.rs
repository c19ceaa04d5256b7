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
    memory: Family<Labels, Gauge<i64, std::sync::atomic::AtomicI64>>,
    processing_errors: Counter<u64, AtomicU64>,
    delivery_reports: Family<Labels, Counter>,
    window_fallbacks: Family<Labels, Counter>,
    reachability: Family<Labels, Counter>,
    sla_breaches: Family<Labels, Counter>,
    escalation_categories: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    assignments: Family<Labels, Counter>,
    reroutes: Family<Labels, Counter>,
    replica: Family<Labels, Gauge>,
    /// Whether every series carries the `replica` label (see [`Metrics::for_replica`]).
    replica_labelled: bool,
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
        Self::build(Registry::with_prefix("tandem"), false)
    }

    /// A fresh set of zeroed metrics whose every series is labelled `replica="<id>"`,
    /// for a process that shares its store with other replicas: their series stay apart
    /// when one scraper, or a sum across replicas, reads them all. Also sets
    /// `tandem_replica_info{replica="<id>"} 1`.
    pub fn for_replica(id: &str) -> Self {
        let label = (
            std::borrow::Cow::Borrowed("replica"),
            std::borrow::Cow::Owned(id.to_owned()),
        );
        let metrics = Self::build(
            Registry::with_prefix_and_labels("tandem", std::iter::once(label)),
            true,
        );
        metrics.replica.get_or_create(&Vec::new()).set(1);
        metrics
    }

    fn build(mut registry: Registry, replica_labelled: bool) -> Self {
        let messages_in = Family::<Labels, Counter>::default();
        let duplicates = Family::<Labels, Counter>::default();
        let messages_out = Family::<Labels, Counter>::default();
        let escalations = Family::<Labels, Counter>::default();
        let retries = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let outbox_depth = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let memory = Family::<Labels, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        let processing_errors = Counter::<u64, AtomicU64>::default();
        let delivery_reports = Family::<Labels, Counter>::default();
        let window_fallbacks = Family::<Labels, Counter>::default();
        let reachability = Family::<Labels, Counter>::default();
        let replica = Family::<Labels, Gauge>::default();
        registry.register(
            "replica_info",
            "1, labelled with the process's replica id (replicas sharing one store tell their series apart by it)",
            replica.clone(),
        );
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
            "memory_bytes",
            "Heap memory as the allocator sees it: allocated (in live objects) and resident \
             (pages it holds in RAM); absent when the allocator cannot say",
            memory.clone(),
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
            "Escalation policy decisions recorded, by whether they escalated (restored from the store at start-up, like the escalation counts)",
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
            replica,
            replica_labelled,
            messages_in,
            duplicates,
            messages_out,
            escalations,
            retries,
            failures,
            outbox_depth,
            memory,
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

    /// Adds `n` recorded decisions of one outcome (used to restore counts at start-up,
    /// with [`Metrics::escalation_add`], so both come from the store).
    pub fn decisions_add(&self, escalate: bool, n: u64) {
        self.decisions
            .get_or_create(&vec![("escalate", escalate.to_string())])
            .inc_by(n);
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

    /// Sets the allocator's view of the heap (bytes in live objects, bytes it keeps resident).
    pub fn set_memory(&self, allocated: u64, resident: u64) {
        for (kind, bytes) in [("allocated", allocated), ("resident", resident)] {
            self.memory
                .get_or_create(&vec![("kind", kind.to_owned())])
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
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

    /// Makes a channel's series visible (at zero) before its first message, so that
    /// dashboards and alerts see every running channel from the start.
    pub fn register_channel(&self, channel: &str) {
        let labels = vec![("channel", channel.to_owned())];
        for family in [
            &self.messages_in,
            &self.duplicates,
            &self.messages_out,
            &self.retries,
        ] {
            let _ = family.get_or_create(&labels);
        }
    }

    /// Makes the policy's series visible (at zero) before the first decision: both
    /// outcomes, every trigger code, and each of `categories`.
    pub fn register_policy(&self, categories: &[&str]) {
        for escalate in ["true", "false"] {
            let _ = self
                .decisions
                .get_or_create(&vec![("escalate", escalate.to_owned())]);
        }
        for reason in TRIGGER_CODES {
            let _ = self
                .escalations
                .get_or_create(&vec![("reason", (*reason).to_owned())]);
        }
        for category in categories {
            let _ = self
                .escalation_categories
                .get_or_create(&vec![("category", (*category).to_owned())]);
        }
    }

    /// Names this process: `tandem_replica_info{replica="<id>"} 1`. Metrics made
    /// [`for_replica`](Metrics::for_replica) are named already: this changes nothing.
    pub fn set_replica(&self, id: &str) {
        if self.replica_labelled {
            return;
        }
        self.replica.clear();
        self.replica
            .get_or_create(&vec![("replica", id.to_owned())])
            .set(1);
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

    /// The OpenMetrics text exposition (`application/openmetrics-text`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The classic Prometheus text exposition (`text/plain; version=0.0.4`), what
    /// `promtool check metrics` and scrapers that do not ask for OpenMetrics read: a
    /// counter's HELP and TYPE name its `_total` samples, no `# UNIT` or `# EOF`.
    pub fn render_classic(&self) -> String {
        openmetrics_to_classic(&self.render())
    }
}

/// Trigger codes every policy can report (INTERFACE: escalation categories and triggers).
const TRIGGER_CODES: &[&str] = &[
    "keyword",
    "sentiment_streak",
    "fallback_loop",
    "low_confidence",
    "vip",
    "repeat_contact",
    "inactivity",
    "event",
];

/// Rewrites an OpenMetrics exposition into the classic text format.
fn openmetrics_to_classic(open: &str) -> String {
    let counters: std::collections::HashSet<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample's metric name has a HELP and a TYPE line of its own, as promtool
    /// requires; nothing OpenMetrics-only remains.
    #[test]
    fn classic_text_has_help_and_type_for_every_sample() {
        let m = Metrics::new();
        m.register_channel("whatsapp");
        m.register_policy(&["revenue"]);
        m.message_in("whatsapp");
        m.set_outbox_depth(3);
        m.set_memory(1 << 20, 3 << 20);
        let text = m.render_classic();
        assert!(!text.contains("# EOF"), "{text}");
        let help: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let types: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let mut samples = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(help.contains(&name), "no HELP for {name}:\n{text}");
            assert!(types.contains(&name), "no TYPE for {name}:\n{text}");
            samples += 1;
        }
        assert!(samples > 10, "{text}");
        assert!(text.contains("tandem_messages_in_total{channel=\"whatsapp\"} 1"));
        assert!(text.contains("# TYPE tandem_messages_in_total counter"));
        assert!(text.contains("tandem_outbox_depth 3"));
        assert!(text.contains("tandem_memory_bytes{kind=\"allocated\"} 1048576"));
        assert!(text.contains("tandem_memory_bytes{kind=\"resident\"} 3145728"));
    }

    /// Series are visible at zero before they are first used.
    #[test]
    fn registered_series_show_at_zero() {
        let m = Metrics::new();
        m.register_channel("telegram");
        m.register_policy(&["legal"]);
        let text = m.render_classic();
        for series in [
            "tandem_messages_in_total{channel=\"telegram\"} 0",
            "tandem_messages_out_total{channel=\"telegram\"} 0",
            "tandem_policy_decisions_total{escalate=\"false\"} 0",
            "tandem_escalations_total{reason=\"keyword\"} 0",
            "tandem_escalations_by_category_total{category=\"legal\"} 0",
        ] {
            assert!(text.contains(series), "{series} missing:\n{text}");
        }
    }
}

#[cfg(test)]
mod replica_tests {
    use super::*;

    #[test]
    fn the_replica_is_named_once() {
        let m = Metrics::new();
        m.set_replica("a");
        m.set_replica("web-1");
        let text = m.render();
        assert!(
            text.contains("tandem_replica_info{replica=\"web-1\"} 1"),
            "{text}"
        );
        assert!(!text.contains("replica=\"a\""), "{text}");
    }
}

#[cfg(test)]
mod replica_label_tests {
    use super::*;

    /// Every sample of a replica's metrics names the replica, once.
    #[test]
    fn every_series_of_a_replica_is_labelled() {
        let m = Metrics::for_replica("web-2");
        m.register_channel("whatsapp");
        m.message_in("whatsapp");
        m.set_replica("ignored");
        let text = m.render_classic();
        assert!(
            text.contains("tandem_replica_info{replica=\"web-2\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tandem_messages_in_total{replica=\"web-2\",channel=\"whatsapp\"} 1"),
            "{text}"
        );
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(
                sample.matches("replica=").count(),
                1,
                "one replica label on {sample}"
            );
            assert!(sample.contains("replica=\"web-2\""), "{sample}");
        }
    }
}
