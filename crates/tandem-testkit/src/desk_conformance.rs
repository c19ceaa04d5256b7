//! The desk conformance scenarios: the executable form of `crates/tandem-sdk/DESK-SPEC.md`.
//! Each is a `pub async fn` generic over a [`DeskDriver`]; the
//! [`desk_conformance!`](crate::desk_conformance) macro expands to one `#[tokio::test]`
//! per scenario. A failing scenario panics with the rule it enforces.

use crate::desk_driver::{AgentAction, DeskConfigOf, DeskDriver, DeskHarness, build};
use crate::desk_ops::{appended, briefing, line, open};
use crate::desk_recording::RecordingDesk;
use crate::driver::example_tables;
use crate::fake::{Recorded, Reply};
use std::time::Duration;
use tandem_sdk::handoff::{HandoffClosed, HandoffUpdated};
use tandem_sdk::{DeskDelivery, DeskEventKind, DeskFactory, DeskOp, ErrorKind, TransferTarget};

/// The agent who acts first, and the one who is refused until a transfer.
const AGENT: &str = "7";
const OTHER: &str = "8";

/// Whether any request body carries `text` (raw, JSON or form-encoded spaces).
fn carried(requests: &[Recorded], text: &str) -> bool {
    let forms = [
        text.to_owned(),
        text.replace(' ', "+"),
        text.replace(' ', "%20"),
    ];
    requests.iter().any(|r| {
        let body = String::from_utf8_lossy(&r.body);
        forms.iter().any(|f| body.contains(f.as_str()))
    })
}

fn closed(id: &str, delivery: &str) -> DeskDelivery {
    DeskDelivery {
        id: delivery.into(),
        op: DeskOp::Close(HandoffClosed {
            version: "1".into(),
            kind: "handoff.closed".into(),
            handoff_id: id.into(),
            conversation_id: "conv-1".into(),
            reason: "timed_out".into(),
        }),
    }
}

/// DESK-SPEC K1: the shipped example config parses into the desk's config (unknown keys
/// refused) and passes `validate`.
pub async fn desk_config_example_parses<D: DeskDriver>() {
    let kind = D::Factory::KIND;
    // `queues` is a key of every desk table, read by the server itself.
    for (id, table) in example_tables(D::EXAMPLE, "desks", kind, &["queues"]) {
        let config: DeskConfigOf<D> = table
            .try_into()
            .unwrap_or_else(|e| panic!("[desks.{id}] does not deserialize: {e}"));
        if let Err(errors) = D::Factory::validate(&config) {
            panic!("[desks.{id}] does not validate: {errors}");
        }
    }
}

/// DESK-SPEC D1, D2: `Open` puts the briefing on the platform, and a retried `Open` (same
/// delivery) returns the same thread without a second one.
pub async fn open_delivers_the_briefing_once<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let delivery = open(briefing("ho-kit-1"));
    let first = h
        .deliver(delivery.clone())
        .await
        .unwrap_or_else(|e| panic!("an Open the platform accepts succeeds: {e}"));
    assert!(
        carried(&h.requests(), "I want a refund"),
        "the briefing's transcript reaches the platform"
    );
    assert_eq!(h.driver.threads(&h.platform), 1, "one thread per handoff");
    let again = h
        .deliver(delivery)
        .await
        .unwrap_or_else(|e| panic!("a retried Open succeeds: {e}"));
    assert_eq!(again, first, "a retried Open returns the same thread");
    assert_eq!(
        h.driver.threads(&h.platform),
        1,
        "a retried Open makes no second thread"
    );
}

/// DESK-SPEC D3: a later customer message reaches the handoff's thread.
pub async fn append_reaches_the_thread<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    h.open("ho-kit-2").await;
    let text = "Is anyone there? 4417";
    h.deliver(appended("ho-kit-2", "d-append-1", text))
        .await
        .unwrap_or_else(|e| panic!("an Append the platform accepts succeeds: {e}"));
    assert!(
        carried(&h.requests(), text),
        "the customer's message reaches the platform"
    );
    assert_eq!(
        h.driver.threads(&h.platform),
        1,
        "appended, not a new thread"
    );
}

/// DESK-SPEC D4: `Close` and `Update` deliveries succeed (retried too): the desk shows
/// them or acknowledges them, never fails them for good.
pub async fn close_and_update_are_delivered<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    h.open("ho-kit-3").await;
    let update = DeskDelivery {
        id: "d-update-1".into(),
        op: DeskOp::Update(HandoffUpdated {
            version: "1".into(),
            kind: "handoff.updated".into(),
            handoff_id: "ho-kit-3".into(),
            conversation_id: "conv-1".into(),
            change: "rerouted".into(),
            target: Some("support_lead".into()),
            priority: Some("high".into()),
            assignee: None,
            at: "2026-01-01T10:05:00Z".into(),
        }),
    };
    h.deliver(update)
        .await
        .unwrap_or_else(|e| panic!("an Update succeeds: {e}"));
    for attempt in 1..=2 {
        h.deliver(closed("ho-kit-3", "d-close-1"))
            .await
            .unwrap_or_else(|e| panic!("Close (attempt {attempt}) succeeds: {e}"));
    }
}

/// DESK-SPEC A1, A2: a correctly signed agent reply is handed to the core once, with the
/// handoff id, the text and the agent; the platform's redelivery of the same event is
/// answered 2xx and recorded once.
pub async fn agent_reply_is_recorded_once<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let thread = h.open("ho-kit-4").await;
    let text = "Hi, I am Jonas from billing.";
    for attempt in 1..=2 {
        let request = h.event(&thread, AGENT, &AgentAction::Reply(text.into()), 1);
        let (status, body) = h.call(request).await;
        assert!(
            status.is_success(),
            "delivery {attempt} of an agent reply is answered 2xx, got {status}: {body:?}"
        );
    }
    let events = h.core.events();
    assert_eq!(events.len(), 1, "recorded once: {events:?}");
    let e = &events[0].event;
    assert_eq!(e.handoff_id, "ho-kit-4", "the reply names its handoff");
    assert_eq!(
        e.kind,
        DeskEventKind::AgentMessage { text: text.into() },
        "the agent's text, unchanged"
    );
    assert_eq!(
        e.agent.as_ref().map(|a| a.id.as_str()),
        Some(AGENT),
        "the acting agent is named"
    );
    assert!(
        !events[0].dedupe_key.is_empty(),
        "a dedupe key from what the platform signed"
    );
}

/// DESK-SPEC A3: an agent action with a wrong signature is answered 401/403 and nothing
/// reaches the core.
pub async fn forged_agent_event_is_rejected<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let thread = h.open("ho-kit-5").await;
    let (status, _) = h
        .call(h.driver.forged_event(&thread, AGENT, "forged reply", 2))
        .await;
    assert!(
        status.as_u16() == 401 || status.as_u16() == 403,
        "a forged agent action is answered 401/403, got {status}"
    );
    assert!(h.core.events().is_empty(), "nothing recorded");
}

/// DESK-SPEC A4: the platform's accept, resolve, release and transfer become the
/// matching events; resolving is required, the others where the platform has them.
pub async fn agent_actions_map_to_events<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let thread = h.open("ho-kit-6").await;
    let actions = [
        (AgentAction::Accept, DeskEventKind::Accepted),
        (
            AgentAction::TransferToQueue("support_lead".into()),
            DeskEventKind::Transferred {
                to: TransferTarget::Queue("support_lead".into()),
            },
        ),
        (AgentAction::Release, DeskEventKind::Released),
        (AgentAction::Resolve, DeskEventKind::Resolved),
    ];
    let mut event = 10;
    for (action, kind) in actions {
        event += 1;
        let Some(request) = h.driver.agent_event(&thread, AGENT, &action, event) else {
            assert!(
                action != AgentAction::Resolve,
                "agents MUST be able to resolve a handoff on the desk"
            );
            continue;
        };
        let (status, body) = h.call(request).await;
        assert!(
            status.is_success(),
            "{action:?} is answered 2xx, got {status}: {body:?}"
        );
        let last = h
            .core
            .events()
            .pop()
            .unwrap_or_else(|| panic!("{action:?} is recorded"));
        assert_eq!(last.event.handoff_id, "ho-kit-6");
        assert_eq!(last.event.kind, kind, "{action:?} maps to {kind:?}");
    }
}

/// DESK-SPEC A5: an action by an agent who does not own the handoff is refused by the
/// core; the desk records nothing and shows the refusal to the agent (an error answer
/// carrying the reason, or a notice on the platform). After the owner transfers the
/// handoff, the other agent's reply goes through.
pub async fn owner_only_actions_and_transfer<D: DeskDriver>() {
    let h = DeskHarness::<D>::start_with(RecordingDesk::owning()).await;
    let thread = h.open("ho-kit-7").await;
    let accept = h
        .driver
        .agent_event(&thread, AGENT, &AgentAction::Accept, 20)
        .unwrap_or_else(|| h.event(&thread, AGENT, &AgentAction::Reply("I'm on it.".into()), 20));
    let (status, _) = h.call(accept).await;
    assert!(
        status.is_success(),
        "the first agent takes it, got {status}"
    );
    assert_eq!(h.core.owner("ho-kit-7").as_deref(), Some(AGENT));

    let before = h.core.events().len();
    let intruder = "Let me answer instead.";
    let (status, body) = h
        .call(h.event(&thread, OTHER, &AgentAction::Reply(intruder.into()), 21))
        .await;
    assert_eq!(
        h.core.events().len(),
        before,
        "a refused action records nothing"
    );
    assert_eq!(h.core.refused().len(), 1, "the core was asked and refused");
    let message = RecordingDesk::refusal_message(AGENT);
    let answered = String::from_utf8_lossy(&body);
    let in_answer = status.is_client_error()
        && (answered.contains("not_owner") || answered.contains(message.as_str()));
    if !in_answer {
        assert!(
            status.is_success(),
            "a refusal is either an error answer naming it or a 2xx, got {status}"
        );
        crate::eventually(2, "the refusal shown on the platform", || async {
            carried(&h.requests(), &message).then_some(())
        })
        .await;
    }

    let transfer = AgentAction::TransferToAgent(OTHER.into());
    let Some(request) = h.driver.agent_event(&thread, AGENT, &transfer, 22) else {
        return;
    };
    let (status, _) = h.call(request).await;
    assert!(
        status.is_success(),
        "the owner's transfer is answered 2xx, got {status}"
    );
    assert!(
        h.core.events().iter().any(|e| matches!(
            &e.event.kind,
            DeskEventKind::Transferred { to: TransferTarget::Agent(a) } if a.id == OTHER
        )),
        "a transfer to the other agent is recorded: {:?}",
        h.core.events()
    );
    let (status, _) = h
        .call(h.event(
            &thread,
            OTHER,
            &AgentAction::Reply("Now it's me.".into()),
            23,
        ))
        .await;
    assert!(status.is_success(), "the new owner's reply is answered 2xx");
    assert!(
        matches!(
            h.core.events().last().map(|e| &e.event.kind),
            Some(DeskEventKind::AgentMessage { text }) if text == "Now it's me."
        ),
        "after the transfer the new owner's reply is recorded"
    );
}

/// DESK-SPEC A6: when the core cannot record an action (store down), the platform is not
/// answered 2xx, so it redelivers.
pub async fn unrecorded_action_is_not_acknowledged<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let thread = h.open("ho-kit-8").await;
    h.core.set_unavailable(true);
    let (status, _) = h
        .call(h.event(
            &thread,
            AGENT,
            &AgentAction::Reply("Still there?".into()),
            30,
        ))
        .await;
    assert!(
        status.is_server_error(),
        "an action that was not recorded is answered 5xx (redeliver), got {status}"
    );
    h.core.set_unavailable(false);
    assert!(h.core.events().is_empty());
}

/// DESK-SPEC E1, E2: delivery failures are classified, not retried by the desk: 429 →
/// `RateLimited` with the hint, 401 → `Auth` (not retried), 5xx → `Transient`.
pub async fn delivery_errors_are_classified<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    h.open("ho-kit-9").await;
    let cases = [
        (
            Reply::RateLimited {
                retry_after_secs: 2,
            },
            ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
            },
            true,
        ),
        (Reply::Unauthorized, ErrorKind::Auth, false),
        (Reply::ServerError, ErrorKind::Transient, true),
    ];
    for (i, (reply, kind, retryable)) in cases.into_iter().enumerate() {
        let before = h.requests().len();
        h.driver.script(&h.platform, reply.clone());
        let err = h
            .deliver(appended("ho-kit-9", &format!("d-err-{i}"), "hello?"))
            .await
            .expect_err("a delivery the platform refuses fails");
        assert_eq!(err.kind(), kind, "{reply:?} is classified: {err}");
        assert_eq!(err.is_retryable(), retryable, "{reply:?}: retryable?");
        assert_eq!(
            h.requests().len(),
            before + 1,
            "{reply:?}: exactly one request; desks never retry themselves"
        );
    }
}

/// DESK-SPEC E3: a platform that cannot be reached is a transient error (the outbox
/// retries), not a failure for good.
pub async fn unreachable_platform_is_transient<D: DeskDriver>() {
    let driver = D::default();
    let platform = driver.start_platform().await;
    let config = driver.config(&platform);
    drop(platform);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let core = RecordingDesk::new();
    let (built, _shutdown) = build::<D>(config, &core).await;
    let err = built
        .desk
        .deliver(open(briefing("ho-kit-10")))
        .await
        .expect_err("delivering to a stopped platform fails");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.is_retryable());
}

/// DESK-SPEC L1: a desk's worker, if it has one, ends within 2 s of shutdown, with `Ok`.
pub async fn desk_shutdown_is_prompt<D: DeskDriver>() {
    let h = DeskHarness::<D>::start().await;
    let Some(worker) = h.built.worker.as_ref() else {
        return;
    };
    let run = tokio::spawn(worker());
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("the worker ends within 2 s of shutdown")
        .expect("the worker does not panic");
    assert!(
        ended.is_ok(),
        "a worker stopped by shutdown ends with Ok: {ended:?}"
    );
}

/// DESK-SPEC T1: nothing at INFO or above carries customer data (name, transcript,
/// messages), agent text or the desk's secrets, whatever happens (deliveries, agent
/// actions, forged requests, refused credentials).
pub async fn desk_telemetry_is_compliant<D: DeskDriver>() {
    let (captured, _guard) = crate::telemetry::capture();
    let h = DeskHarness::<D>::start().await;
    let private = [
        "Zelda Quintero",
        "Private customer text 7731",
        "Private later text 8842",
        "Private agent text 9953",
    ];
    let mut b = briefing("ho-kit-11");
    b.customer.display_name = Some(private[0].into());
    b.summary.status = private[1].into();
    b.transcript.push(line("customer", private[1]));
    let receipt = h
        .deliver(open(b))
        .await
        .unwrap_or_else(|e| panic!("Open succeeds: {e}"));
    let thread = crate::desk_driver::Thread {
        handoff_id: "ho-kit-11".into(),
        reference: receipt.thread.unwrap_or_else(|| "ho-kit-11".into()),
    };
    let _ = h
        .deliver(appended("ho-kit-11", "d-tel-1", private[2]))
        .await;
    let _ = h
        .call(h.event(&thread, AGENT, &AgentAction::Reply(private[3].into()), 40))
        .await;
    let _ = h
        .call(h.driver.forged_event(&thread, AGENT, private[3], 41))
        .await;
    h.driver.script(&h.platform, Reply::Unauthorized);
    let _ = h
        .deliver(appended("ho-kit-11", "d-tel-2", private[2]))
        .await;
    let secrets = h.driver.secrets();
    for event in captured.info_and_above() {
        for text in private {
            assert!(
                !event.text.contains(text),
                "customer or agent text at {}: {}",
                event.level,
                event.text
            );
        }
        for secret in &secrets {
            assert!(
                secret.is_empty() || !event.text.contains(secret.as_str()),
                "a secret at {}: {}",
                event.level,
                event.text
            );
        }
    }
}

/// Expands to one `#[tokio::test]` per desk conformance scenario for a
/// [`DeskDriver`](crate::desk_driver::DeskDriver). The desk's dev-dependencies need
/// `tokio` with `macros` and `rt`.
#[macro_export]
macro_rules! desk_conformance {
    ($driver:ty) => {
        $crate::desk_conformance!(@scenarios $driver;
            desk_config_example_parses,
            open_delivers_the_briefing_once,
            append_reaches_the_thread,
            close_and_update_are_delivered,
            agent_reply_is_recorded_once,
            forged_agent_event_is_rejected,
            agent_actions_map_to_events,
            owner_only_actions_and_transfer,
            unrecorded_action_is_not_acknowledged,
            delivery_errors_are_classified,
            unreachable_platform_is_transient,
            desk_shutdown_is_prompt,
            desk_telemetry_is_compliant,
        );
    };
    (@scenarios $driver:ty; $($scenario:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $scenario() {
                $crate::desk_conformance::$scenario::<$driver>().await;
            }
        )+
    };
}
