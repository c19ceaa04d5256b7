//! A capturing `tracing` layer: records every event (level, message and fields, and the
//! fields of the spans around it) and every span, so tests can assert what an adapter
//! logs. Installed per thread ([`capture`]), so parallel tests do not see each other.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One captured event.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    /// Its level.
    pub level: Level,
    /// Its target (module path).
    pub target: String,
    /// The message and every field, `name=value`, then the fields of every span in
    /// scope: what a log line would show.
    pub text: String,
}

/// One captured span.
#[derive(Debug, Clone)]
pub struct CapturedSpan {
    /// Its name.
    pub name: String,
    /// Its fields, as recorded so far.
    pub fields: Vec<(String, String)>,
}

/// Everything captured so far. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
    spans: Arc<Mutex<Vec<(u64, CapturedSpan)>>>,
}

impl Captured {
    /// Every event.
    pub fn events(&self) -> Vec<CapturedEvent> {
        self.events.lock().expect("capture lock").clone()
    }

    /// Every span.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.spans
            .lock()
            .expect("capture lock")
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Events at INFO or above (INFO, WARN, ERROR).
    pub fn info_and_above(&self) -> Vec<CapturedEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.level <= Level::INFO)
            .collect()
    }

    fn span_fields(&self, id: &Id) -> String {
        let spans = self.spans.lock().expect("capture lock");
        spans
            .iter()
            .find(|(sid, _)| *sid == id.into_u64())
            .map(|(_, s)| {
                s.fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }
}

/// Installs a capturing subscriber as this thread's default (until the guard drops)
/// and returns what it captures. Every level is captured.
pub fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    // tracing-core caches each callsite's interest process-wide. While exactly one
    // dispatcher is registered, a callsite first hit on *another* thread (a parallel
    // test without a subscriber) asks only that thread's no-op default and is cached as
    // "never", so this thread's capture would miss it. A second, permanent (no-op)
    // dispatcher makes tracing ask every live dispatcher instead.
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(CaptureLayer(captured.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, guard)
}

struct CaptureLayer(Captured);

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.spans.lock().expect("capture lock").push((
            id.into_u64(),
            CapturedSpan {
                name: attrs.metadata().name().to_owned(),
                fields: fields.0,
            },
        ));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut spans = self.0.spans.lock().expect("capture lock");
        if let Some((_, span)) = spans.iter_mut().find(|(sid, _)| *sid == id.into_u64()) {
            span.fields.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut text = String::new();
        for (k, v) in &fields.0 {
            let _ = write!(text, "{k}={v} ");
        }
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let _ = write!(text, "{} ", self.0.span_fields(&span.id()));
            }
        }
        self.0
            .events
            .lock()
            .expect("capture lock")
            .push(CapturedEvent {
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                text,
            });
    }
}
