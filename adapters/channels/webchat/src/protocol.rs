//! The wire frames of the web chat protocol (docs/INTERFACE.md). Nothing else knows the JSON.

use serde::{Deserialize, Serialize};

/// Client → server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClientFrame {
    Hello {
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        user: Option<User>,
        #[serde(default)]
        user_hash: Option<String>,
        /// A JWT (HS256, `identity_secret`) signing `sub`, `email`, `phone`, `name`.
        #[serde(default)]
        user_token: Option<String>,
    },
    Message {
        id: String,
        text: String,
        /// An upload token from `POST /webchat/upload`: the message carries that file
        /// (`text`, when not empty, is its caption).
        #[serde(default)]
        media: Option<String>,
    },
    Postback {
        id: String,
        payload: String,
        #[serde(default)]
        title: Option<String>,
    },
    Typing {},
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct User {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) phone: Option<String>,
}

/// Server → client.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame {
    Welcome {
        session: String,
        conversation_id: String,
        verified: bool,
    },
    Ack {
        id: String,
    },
    Message {
        id: String,
        from: &'static str,
        text: String,
        at: String,
        buttons: Vec<ButtonFrame>,
        /// The agent's display name on live agent messages.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_name: Option<String>,
    },
    Typing {
        from: &'static str,
    },
    Error {
        code: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ButtonFrame {
    pub(crate) title: String,
    pub(crate) payload: String,
}

impl ServerFrame {
    pub(crate) fn error(code: &'static str, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

/// Longest client message id accepted.
pub(crate) const MAX_ID_LEN: usize = 128;
