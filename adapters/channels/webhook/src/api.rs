//! Wire DTOs of the generic webhook channel.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub(crate) struct InboundBody {
    pub(crate) id: String,
    pub(crate) from: From,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) postback: Option<Postback>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct From {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Postback {
    pub(crate) payload: String,
    #[serde(default)]
    pub(crate) title: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutboundBody<'a> {
    pub(crate) version: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) id: &'a str,
    pub(crate) conversation_id: &'a str,
    pub(crate) to: &'a str,
    pub(crate) from: &'static str,
    pub(crate) text: &'a str,
    pub(crate) buttons: Vec<ButtonDto<'a>>,
    pub(crate) at: String,
    /// The agent's display name on agent messages, when the desk named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) agent_name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ButtonDto<'a> {
    pub(crate) title: &'a str,
    pub(crate) payload: &'a str,
}
