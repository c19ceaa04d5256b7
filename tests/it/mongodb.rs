//! Scenarios of the other modules run again with `[store] kind = "mongodb"`: the binary on
//! the test server (`TANDEM_TEST_MONGODB_URI`, which `scripts/test` sets after starting
//! SecantusDB), each scenario on a database of its own, dropped afterwards. Without a
//! server they are skipped with a printed note; under `CI=true` they fail instead.

use tandem_e2e::TestStore;

/// Runs `$scenario_on(&store)` on MongoDB as test `$name`.
macro_rules! on_mongodb {
    ($($name:ident => $scenario:path;)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(store) = TestStore::mongodb(stringify!($name)) else {
                    return;
                };
                $scenario(&store).await;
                store.assert_used().await;
            }
        )+
    };
}

on_mongodb! {
    webchat_conversation => crate::webchat::hello_message_answer_and_fallback_on;
    webchat_conversation_survives_a_restart => crate::webchat::resume_after_restart_replays_history_on;
    whatsapp_text_gets_one_reply => crate::whatsapp::handshake_reply_forgery_and_redelivery_on;
    handoff_to_the_console_desk => crate::console::agent_takes_a_refund_in_the_console_on;
    pending_outbox_survives_kill9 => crate::outbox::kill9_with_unsent_replies_then_every_reply_delivered_once_on;
}
