//! The channel conformance scenarios: the executable form of `crates/tandem-sdk/SPEC.md`.
//! Each is a `pub async fn` generic over a [`ChannelDriver`]; the
//! [`channel_conformance!`](crate::channel_conformance) macro expands to one
//! `#[tokio::test]` per scenario. A failing scenario panics with the rule it enforces.

use crate::driver::{ChannelDriver, ConfigOf, Harness, example_tables};
use crate::fake::Reply;
use crate::recording::RecordingInbound;
use std::time::Duration;
use tandem_model::{Button, ChoiceStyle, Content, OutboundContent};
use tandem_sdk::{ChannelFactory, ErrorKind};

const TEXT: &str = "Where is my order A-1042?";

/// SPEC C1: the shipped `config/examples/<kind>.toml` parses into the adapter's config
/// (unknown keys refused) and passes `validate`.
pub async fn config_example_parses<D: ChannelDriver>() {
    let kind = D::Factory::KIND;
    for (id, table) in example_tables(D::EXAMPLE, "channels", kind, &[]) {
        let config: ConfigOf<D> = table
            .try_into()
            .unwrap_or_else(|e| panic!("[channels.{id}] does not deserialize: {e}"));
        if let Err(errors) = D::Factory::validate(&config) {
            panic!("[channels.{id}] does not validate: {errors}");
        }
    }
}

/// SPEC I1: one platform message gives exactly one `InboundMessage`, with a platform
/// message id, the sender's subject and the text, on the channel's id.
pub async fn inbound_text_is_normalized<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    let from = h.driver.sender();
    let (status, body) = h.call(h.driver.inbound_text(&from, TEXT, "100001")).await;
    assert!(
        status.is_success(),
        "a valid webhook is answered 2xx, got {status}: {body:?}"
    );
    let accepted = h.inbound.accepted();
    assert_eq!(
        accepted.len(),
        1,
        "exactly one message recorded: {accepted:?}"
    );
    let m = &accepted[0];
    assert_eq!(m.channel, h.channel, "the message carries the channel's id");
    assert!(
        !m.platform_message_id.as_str().is_empty(),
        "platform message id set"
    );
    assert_eq!(
        m.sender.subject, from,
        "the sender's subject is the platform's id"
    );
    assert_eq!(m.sender.channel, h.channel);
    assert_eq!(
        m.content,
        Content::Text {
            text: TEXT.to_owned()
        },
        "text normalized"
    );
}

/// SPEC I2: the same payload delivered twice is answered 2xx both times and recorded
/// once (same platform message id).
pub async fn inbound_redelivery_is_harmless<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    let from = h.driver.sender();
    for attempt in 1..=2 {
        let (status, _) = h.call(h.driver.inbound_text(&from, TEXT, "100002")).await;
        assert!(
            status.is_success(),
            "delivery {attempt} answered 2xx, got {status}"
        );
    }
    assert_eq!(h.inbound.accepted().len(), 1, "recorded once");
    assert_eq!(h.inbound.duplicates(), 1, "the redelivery was a duplicate");
}

/// SPEC I3: a request with a bad signature (or secret) is answered 401/403 and nothing
/// reaches the core.
pub async fn inbound_forged_is_rejected<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    let from = h.driver.sender();
    let (status, _) = h.call(h.driver.inbound_forged(&from, TEXT, "100003")).await;
    assert!(
        status.as_u16() == 401 || status.as_u16() == 403,
        "a forged request is answered 401/403, got {status}"
    );
    assert!(
        h.inbound.is_empty(),
        "nothing recorded from a forged request"
    );
}

/// SPEC I4: the platform is answered only after the durable write: while the write is
/// pending no answer goes out, and when it fails the answer is non-2xx (so the
/// platform redelivers).
pub async fn inbound_ack_waits_for_sink<D: ChannelDriver>() {
    let failing = Harness::<D>::start_with(RecordingInbound::failing(), false).await;
    let from = failing.driver.sender();
    let (status, _) = failing
        .call(failing.driver.inbound_text(&from, TEXT, "100004"))
        .await;
    assert!(
        !status.is_success(),
        "a failed durable write must not be acknowledged, got {status}"
    );
    assert!(
        status.is_server_error(),
        "a store outage is a 5xx (redeliver), got {status}"
    );
    assert!(failing.inbound.accepted().is_empty());

    let gated = Harness::<D>::start_with(RecordingInbound::gated(), false).await;
    let routes = gated.built.routes.clone().expect("routes");
    let request = gated.driver.inbound_text(&from, TEXT, "100005");
    let call = tokio::spawn(async move {
        use tower::ServiceExt;
        routes.oneshot(request).await.map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !call.is_finished(),
        "the platform was answered before the durable write finished"
    );
    gated.inbound.release();
    let status = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("answered once the write finished")
        .expect("request task")
        .unwrap_or_else(|e| match e {});
    assert!(
        status.is_success(),
        "answered 2xx after the write, got {status}"
    );
}

/// SPEC O1: one send makes exactly one platform request, and the `Delivery` carries the
/// platform's message id.
pub async fn outbound_text_is_sent_once<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    h.driver.script(&h.platform, Reply::Ok);
    let delivery = h
        .built
        .adapter
        .send(h.message(OutboundContent::text("Your order ships today.")))
        .await
        .unwrap_or_else(|e| panic!("a send the platform accepts succeeds: {e}"));
    let sends = h.sends();
    assert_eq!(sends.len(), 1, "exactly one platform request");
    assert!(
        String::from_utf8_lossy(&sends[0].body).contains("Your order ships today."),
        "the text is sent"
    );
    if D::RETURNS_PLATFORM_ID {
        assert!(
            delivery
                .platform_message_id
                .as_deref()
                .is_some_and(|id| !id.is_empty()),
            "the delivery carries the platform id: {delivery:?}"
        );
    }
}

/// SPEC O2: a rate-limit answer maps to `RateLimited` with the platform's retry hint,
/// and the adapter does not retry by itself.
pub async fn outbound_429_is_rate_limited<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    h.driver.script(
        &h.platform,
        Reply::RateLimited {
            retry_after_secs: 2,
        },
    );
    let err = h
        .built
        .adapter
        .send(h.message(OutboundContent::text("hello")))
        .await
        .expect_err("a rate-limited send fails");
    assert_eq!(
        err.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        },
        "429 with retry-after 2 s: {err}"
    );
    assert!(err.is_retryable());
    assert_eq!(h.sends().len(), 1, "adapters never retry themselves");
}

/// SPEC O3: rejected credentials map to `Auth`, which is not retried.
pub async fn outbound_401_is_auth<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    h.driver.script(&h.platform, Reply::Unauthorized);
    let err = h
        .built
        .adapter
        .send(h.message(OutboundContent::text("hello")))
        .await
        .expect_err("a send with bad credentials fails");
    assert_eq!(err.kind(), ErrorKind::Auth, "401 is an auth error: {err}");
    assert!(!err.is_retryable(), "auth errors are not retried");
    assert_eq!(h.sends().len(), 1, "adapters never retry themselves");
}

/// SPEC O4: content within the declared capabilities is sent; content beyond them is
/// refused with `Unsupported` before any platform request (never cut or dropped); an
/// inbound event the adapter does not understand is recorded as `Unsupported`.
pub async fn capabilities_match_behaviour<D: ChannelDriver>() {
    let h = Harness::<D>::start().await;
    let caps = h.built.adapter.capabilities().clone();
    let button = |i: usize| Button {
        title: format!("Option {i}"),
        payload: format!("opt{i}"),
    };
    if caps.max_buttons >= 2 {
        let content = OutboundContent::with_buttons("Pick one", (1..=2).map(button).collect());
        h.built
            .adapter
            .send(h.message(content))
            .await
            .unwrap_or_else(|e| panic!("two buttons are within the capabilities: {e}"));
    }
    let before = h.sends().len();
    let too_many = caps
        .max_buttons
        .max(caps.max_quick_replies)
        .max(caps.max_list_rows)
        + 1;
    let mut content =
        OutboundContent::with_buttons("Pick one", (1..=too_many).map(button).collect());
    content.style = ChoiceStyle::Buttons;
    let err = h
        .built
        .adapter
        .send(h.message(content))
        .await
        .expect_err("more buttons than declared must be refused");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let long = OutboundContent::text("x".repeat(caps.max_text_len + 1));
    let err = h
        .built
        .adapter
        .send(h.message(long))
        .await
        .expect_err("text over max_text_len must be refused, not cut");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(
        h.sends().len(),
        before,
        "refused content makes no platform request"
    );

    let from = h.driver.sender();
    if let Some(request) = h.driver.inbound_unsupported(&from, "100006") {
        let (status, _) = h.call(request).await;
        assert!(
            status.is_success(),
            "an unknown event is acknowledged, got {status}"
        );
        let accepted = h.inbound.accepted();
        assert_eq!(
            accepted.len(),
            1,
            "an unknown event is recorded, never dropped"
        );
        assert!(
            matches!(&accepted[0].content, Content::Unsupported { kind } if !kind.is_empty()),
            "recorded as Unsupported with its kind: {:?}",
            accepted[0].content
        );
    }
}

/// SPEC L1: after the shutdown token is cancelled, the channel's worker ends within 2 s.
pub async fn shutdown_is_prompt<D: ChannelDriver>() {
    let h = Harness::<D>::start_with(RecordingInbound::new(), true).await;
    let Some(worker) = h.built.worker.as_ref() else {
        return;
    };
    let run = tokio::spawn(worker());
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(2), run).await;
    let result = ended.expect("the worker ends within 2 s of shutdown");
    let result = result.expect("the worker does not panic");
    assert!(
        result.is_ok(),
        "a worker stopped by shutdown ends with Ok: {result:?}"
    );
}

/// SPEC T1: inbound processing runs in an `inbound` span carrying `channel.kind` and
/// `channel.id`; no event at INFO or above contains message text or the sender's id.
pub async fn telemetry_is_compliant<D: ChannelDriver>() {
    let (captured, _guard) = crate::telemetry::capture();
    let h = Harness::<D>::start().await;
    let from = h.driver.sender();
    let secret_text = "Unique private text 7731";
    let (status, _) = h
        .call(h.driver.inbound_text(&from, secret_text, "100007"))
        .await;
    assert!(status.is_success());
    h.driver.script(&h.platform, Reply::Unauthorized);
    let _ = h
        .built
        .adapter
        .send(h.message(OutboundContent::text(secret_text)))
        .await;
    let spans = captured.spans();
    let inbound = spans
        .iter()
        .find(|s| s.name == tandem_sdk::telemetry::SPAN_INBOUND)
        .unwrap_or_else(|| panic!("an `inbound` span is recorded; spans: {spans:?}"));
    for field in [
        tandem_sdk::telemetry::CHANNEL_KIND,
        tandem_sdk::telemetry::CHANNEL_ID,
    ] {
        assert!(
            inbound.fields.iter().any(|(k, _)| k == field),
            "the inbound span carries `{field}`: {inbound:?}"
        );
    }
    for event in captured.info_and_above() {
        assert!(
            !event.text.contains(secret_text),
            "message text at {}: {}",
            event.level,
            event.text
        );
        assert!(
            !event.text.contains(&from),
            "sender id at {}: {}",
            event.level,
            event.text
        );
    }
}

/// Expands to one `#[tokio::test]` per channel conformance scenario for a
/// [`ChannelDriver`](crate::ChannelDriver). The adapter's dev-dependencies need
/// `tokio` with `macros` and `rt`.
#[macro_export]
macro_rules! channel_conformance {
    ($driver:ty) => {
        $crate::channel_conformance!(@scenarios $driver;
            config_example_parses,
            inbound_text_is_normalized,
            inbound_redelivery_is_harmless,
            inbound_forged_is_rejected,
            inbound_ack_waits_for_sink,
            outbound_text_is_sent_once,
            outbound_429_is_rate_limited,
            outbound_401_is_auth,
            capabilities_match_behaviour,
            shutdown_is_prompt,
            telemetry_is_compliant,
        );
    };
    (@scenarios $driver:ty; $($scenario:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $scenario() {
                $crate::conformance::$scenario::<$driver>().await;
            }
        )+
    };
}
