//! A fake Bot Framework for Microsoft Teams (docs/platform-contracts.md §4), on one server:
//!
//! - the OpenID metadata (`GET /v1/.well-known/openidconfiguration`, `jwks_uri` pointing
//!   at itself) and the key set (`GET /v1/.well-known/keys`): one RSA key published
//!   as `fake-bf-key-1` endorsed for `msteams`, and again as `fake-bf-key-2` endorsed
//!   only for `webchat` and `directline`;
//! - the token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client credentials, form
//!   bodies recorded) issuing `fake-teams-access-<n>` tokens;
//! - the Bot Connector under the service URL `<base>/teams/`: send activity (answered
//!   from the script), create conversation (1:1, or a new thread in a Teams channel with
//!   `isGroup` and `channelData.channel.id`, answered from the send script and recorded
//!   for [`TeamsFake::channel_threads`]), get member (scriptable members, including
//!   anonymous ones; unknown users are 404 `MemberNotFoundInConversation`); calls
//!   without an issued token are 401.
//!
//! [`mint`] signs inbound tokens: valid ones, and each kind of forgery Tandem must
//! refuse ([`TokenKind`]).

use super::{Core, Incoming, Recorded, Reply, Server, Shared, answer, incoming};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

/// The issuer of channel → bot tokens.
pub const TEAMS_ISSUER: &str = "https://api.botframework.com";
/// The key id of the published key endorsed for `msteams`.
pub const TEAMS_KID: &str = "fake-bf-key-1";
/// The key id of the same key published without the `msteams` endorsement.
pub const TEAMS_UNENDORSED_KID: &str = "fake-bf-key-2";
/// The tenant of the fixtures.
pub const TEAMS_TENANT: &str = "c0ffee00-1234-4abc-9def-0123456789ab";
/// The scope Tandem must ask tokens for.
pub const TEAMS_SCOPE: &str = "https://api.botframework.com/.default";

/// The fake's signing key (RSA-2048, PKCS#1), generated once with openssl for tests only.
const KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAvOSUqvEwIQoNhVVpIWGnuWLMmGly9qU47ySD25kHdJ2l++Md
tZXG99QSUO79drzk2S+0dtrEKbW2hGLCNVbEBIEwAqrWy5jBS/LDUOkGaCfEkOul
bh5h/1lWzZOl9QwKlL8iykS3t+wJXtL1L1jegI0T8IpIX9jQaRQUJlzv2zU5dIBQ
EuPxhmlN/WBlxv3TGJRukdsIfUXxQDkTNZjmZRjsvG/SRrV5joTAyMLAXYUtJvvj
TEJVhXEq+sjkwfCfBKHTaHD+MQ70x0mcBbG0Nm8+2+naThNEnBUV/P9XKOx6Igjq
fiy9MfHkTG3J/VFA+VglGGFW3Tvln9110BlfFwIDAQABAoIBAAQblgtGbEOFRaUz
crI7i26bcjn5eq4k10e43yoBYLyHSSEtktHS5gOYF9kThjn0z0Buqlmc73/wtOPM
7TURVyxTgUj6XVCkJV/5CyJRTvn1rQkLXT4ENYfC2GgA4Mg8o//ds2xh18gm8k7R
/tIx+CfxHKpLqsAODDCczStgZ57rg1nh4kB2LQ6wyVI/6jyXsFOz4VXb/n/mk41/
GERulb9toKkN0Wlp8BudZ+cAbAl3n0miv/WDPjCtOwEAhuAppX6yW9mjuopMX1SC
v+r+KdF2AaN+hVaBJDHGxXNcb0VFAPA/0SUU3s/QWMUAin0b8xFCsOaMVS9JX9Sy
SwaEe6ECgYEA+TjTclna0ZHwJG9MSebcvLUshSz/+ZBsC3sfFizeuAqomz5drBaB
gVMuoKIwKV3G+wZPJm9rnZ0B+3Z7M3cvcITo3cMF6TzviEmkVWpMqG8P3HbOXfW1
NJ0CqEF9G5uvZTbFH/tmc5ojfREhoooXHBgNVZ/d3163LLuEUH6EMGkCgYEAwge4
xN9l+BEGj2Uwi7nYyQs1kwF26En9j65aQ6zk5jbFFbwihOFbbdul9x+LgXbJe/qE
EmNpod1UcW7VOQkiT9jqAaU03/7hRNCeFfBzMsnrOL10JG7FL0027GEkf8pC756b
/Mmv9h/lk+UzrEp7R6dH+reXasX67fnhfo3PI38CgYBh8LYP+0XmE/8WonKNnF9k
/aIYWB3kWqBLRsBpu4pvMykdkT3IsjOEukbZs8NPjl3zKoCSbzkQgLJVuzMhf5Yy
FtlYxRqelWbg3WfqdVLY4oSONFZXUIc8vPNdYhcjcWRVV1fSgL67cXi+3qukL7Zz
QPSEkMXl0VgVCUAvTfju+QKBgEOclzkbM5gmrqeHNkxqPW2JF2kbiIjXR6Equ097
zuOd0D2Lqmetc8OrV4DuoBlEAF/QYvdZZvS9gHBqk6hlU2yJhLmADRXE5lCpdXzl
pe7bx7ik4/TSGKor+OiTzTkujPacyXRj/4n/gWtw4fm2lpDYbM+j7AKL7K3Cdl44
IicXAoGBAOdCKxgWFtpRxyx3Vr3yf/m7FElYfjiTN/aJ5PzGXUkgRH+zQVySK/YQ
tC6j0+hcgLM2pMc6BuZPgv5LMIugDLh2Cu98dhGUpIs7xupMSktLiNeYbg9w7+rv
uGJEDl+cq0ZZslRJT+CLh2/hTLEYoYljcyqv6zrZ3ODzvC2lum6L
-----END RSA PRIVATE KEY-----
";
/// The base64url modulus of [`KEY_PEM`] (its exponent is `AQAB`).
const KEY_N: &str = "vOSUqvEwIQoNhVVpIWGnuWLMmGly9qU47ySD25kHdJ2l--MdtZXG99QSUO79drzk2S-0dtrEKbW2hGLCNVbEBIEwAqrWy5jBS_LDUOkGaCfEkOulbh5h_1lWzZOl9QwKlL8iykS3t-wJXtL1L1jegI0T8IpIX9jQaRQUJlzv2zU5dIBQEuPxhmlN_WBlxv3TGJRukdsIfUXxQDkTNZjmZRjsvG_SRrV5joTAyMLAXYUtJvvjTEJVhXEq-sjkwfCfBKHTaHD-MQ70x0mcBbG0Nm8-2-naThNEnBUV_P9XKOx6Igjqfiy9MfHkTG3J_VFA-VglGGFW3Tvln9110BlfFw";
/// A key the fake never publishes: tokens signed with it are forgeries.
const FORGER_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEA4wyWzLyM1O58lzBtY1Fcq7H5+XR7EAk8XkEHUmtpxAsQTy1m
BfJNAWV2NkahPuGIbIaVtpUJtyg3Prw75AasYtqy1mqbyN2UxCOiGTSYZPgX1VR5
wRbvEdwi/DA7IKUU5xkGBUL95pSvnuE3Y2eLhYFpPZ6AFNyEKot8znCxi0C6WcHQ
jn8luzB7lAmOFGrYUn44R7W0LHov5j8HLR7BTs+o6/6MYvO8R0BR8Zancw4SHefD
BCmlz/GpX/4TSZeIPG/ieVCYvmlMCQ+ZYnf1bRvhPOmvYuwuwmgmQY7q57EN4Ixf
QSahcW6pUR3QgccWSrO4NpBWX7MWdYjLF3RIfwIDAQABAoIBAF7ywEtdHC3dj7ew
Fkae2zin5GgH6IDDw/2MhzHV3nSPxeG+k/gvpDlNw1oePkcsDJ+JxqkEeXwhMr0m
/Yq1qbhrSbd1/LDKzPAbEKomvwYWY+0f9wyi+RYIb47z4n4b2vprkgN4SPJ4wlqY
R0/oGMYbYLXWhyxyLUkXbPlt0ilvfe8v/E8aVPOrJqRkKsIeWFjL4Ia++0HDcP91
l+ZBRGfz+nh3sbH8z98SsJ62z5aepeFqqP7EbU3hcMT7Cu7qRRNoE8Z0sZZ+v+aw
nw29R51Z2DZvLaC90rK6UEIpzpL6b7NWebWOZRBeW1iB3yoXv34XXB/b5NFTE/Bh
MmEyy+ECgYEA9g6EvUbiCpX33YLye7qsvt/tIOsNjPS3036vjRri6nsA7V9Uhs+c
ateS6y97+soPAoiwlej0TciDAecJxXqjUg1eHx2RQPYkfp2ZGD2ncHbSdz9IAli0
8wtlYwMJeO6RS1DcfNoDjlxr25OcpdpuSaZwtGjqPc3aOSVihEIQeR8CgYEA7Dlv
h6p4pL2jt3uZ15k+0Q8tk1Pv5UOzHA06mj9IedBVdgkOATT+Z2Saa0LrehutKQk8
45I09J7vEh9TcPjxn9PFPvABdP+rvVN4gXxtt8jOen+DLW9wNoe9xqT+lG3KirDr
jtbfDHYs2qtUdH0ghk56Dvffu2bsFxYtzsM4ZKECgYAlXzsmDHgUp4aILHVr+YR3
UUeQ8mKSgDDTfLBpPCYu+xO++fW6rBnT2H5GHmY0RzBUcDJx8nn4vnW3ekHvrprT
wZgEHdeMCFaurH0uQ18FI+b/mar0QEjriVWS3kk4BvQmflee1vYnTz5KkXb/cdfC
c/c2T6EUVgnJGDaIZAhgfQKBgASnQP4wKn48ShxUL/yiRS2DGge78I7YnY+g5xWg
x4G2y+guV3tImvZYcf5I7DCUmP2k8/EbsTVcaCM4QMGJ9eCLIGiT+8NdQfnRyh7q
35JuPzsEhgYAGvrIA8IFAArWetXulEVVEEHDljCcjWZaDKj4pMjksyCS73Wo9zAK
gnLhAoGAUiKw3q6j5zQnCka4Td+457Wv3vBVEGaZeROeOu2plstw3LVYmo1qXWEu
dZgeByJa4O4Wnk9GAMUm2nSJ3xzg6uOZrJy4PIHmnb4LZM24G/P2goBcKQNtSJH8
tynmcMB2VmsJJT8nnzICNG8Qpkzn2oy8x0ih/glHyl6CDYdO/kg=
-----END RSA PRIVATE KEY-----
";

/// Which inbound token to mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Valid for the app and the activity.
    Valid,
    /// For another app id (`aud`).
    WrongAudience,
    /// From another issuer.
    WrongIssuer,
    /// Expired ten minutes ago (beyond the 5-minute skew).
    Expired,
    /// Expired two minutes ago (within the 5-minute skew: still accepted).
    ExpiredWithinSkew,
    /// Not valid before ten minutes from now (beyond the skew).
    NotYetValid,
    /// Names a key the fake never published.
    UnknownKid,
    /// Names the published key but is signed by another one.
    BadSignature,
    /// Signed by a published key that is not endorsed for `msteams`.
    Unendorsed,
    /// Its `serviceurl` claim differs from the activity's `serviceUrl`.
    ServiceUrlMismatch,
    /// Signed with HS256 using the public modulus as the secret (algorithm confusion).
    Hs256,
    /// Expired 301 seconds ago (one second beyond the skew).
    ExpiredJustBeyondSkew,
    /// Not valid before 330 seconds from now: 30 seconds beyond the skew, so the token is
    /// still early when the clock ticks between minting and checking (at 301 s it was
    /// accepted whenever a second boundary fell in between).
    NotBeforeJustBeyondSkew,
    /// `exp` at `i64::MAX`.
    ExpiresAtMax,
    /// `exp` at `i64::MIN`.
    ExpiresAtMin,
}

/// `Bearer <JWT>` for an activity whose `serviceUrl` is `service_url`, for `app_id`.
pub fn mint(app_id: &str, service_url: &str, kind: TokenKind) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (nbf, exp) = match kind {
        TokenKind::Expired => (now - 4200, now - 600),
        TokenKind::ExpiredWithinSkew => (now - 3720, now - 120),
        TokenKind::NotYetValid => (now + 600, now + 4200),
        TokenKind::ExpiredJustBeyondSkew => (now - 3900, now - 301),
        TokenKind::NotBeforeJustBeyondSkew => (now + 330, now + 3900),
        TokenKind::ExpiresAtMax => (now - 60, i64::MAX),
        TokenKind::ExpiresAtMin => (now - 60, i64::MIN),
        _ => (now - 60, now + 3600),
    };
    let claims = json!({
        "iss": if kind == TokenKind::WrongIssuer { "https://sts.windows.net/evil/" } else { TEAMS_ISSUER },
        "aud": if kind == TokenKind::WrongAudience { "00000000-0000-0000-0000-000000000000" } else { app_id },
        "serviceurl": if kind == TokenKind::ServiceUrlMismatch { "https://smba.attacker.example/teams/" } else { service_url },
        "nbf": nbf,
        "exp": exp,
    });
    let kid = match kind {
        TokenKind::UnknownKid => "fake-bf-key-unpublished",
        TokenKind::Unendorsed => TEAMS_UNENDORSED_KID,
        _ => TEAMS_KID,
    };
    let (alg, key) = match kind {
        TokenKind::UnknownKid | TokenKind::BadSignature => (Algorithm::RS256, rsa_key(FORGER_PEM)),
        TokenKind::Hs256 => (Algorithm::HS256, EncodingKey::from_secret(KEY_N.as_bytes())),
        _ => (Algorithm::RS256, rsa_key(KEY_PEM)),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.x5t = Some(kid.to_owned());
    let token = jsonwebtoken::encode(&header, &claims, &key).expect("signing a test token");
    format!("Bearer {token}")
}

fn rsa_key(pem: &str) -> jsonwebtoken::EncodingKey {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("embedded test key");
    jsonwebtoken::EncodingKey::from_rsa_der(&der)
}

/// A Teams user as the fixtures describe one.
#[derive(Debug, Clone)]
pub struct TeamsUser {
    /// The per-bot `29:` id.
    pub id: String,
    /// The Entra object id, if any (anonymous users have none).
    pub aad_object_id: Option<String>,
    /// The display name.
    pub name: String,
}

impl TeamsUser {
    /// A user with an Entra object id.
    pub fn new(id: &str, aad_object_id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            aad_object_id: Some(aad_object_id.to_owned()),
            name: name.to_owned(),
        }
    }

    /// The subject Tandem gives this user: the object id, else the `29:` id.
    pub fn subject(&self) -> &str {
        self.aad_object_id.as_deref().unwrap_or(&self.id)
    }

    /// The `from` account of this user's activities.
    pub fn account(&self) -> Value {
        let mut account = json!({"id": self.id, "name": self.name});
        if let Some(aad) = &self.aad_object_id {
            account["aadObjectId"] = json!(aad);
        }
        account
    }
}

/// How the fake answers one connector call.
#[derive(Debug, Clone)]
enum Scripted {
    Common(Reply),
    Error {
        status: u16,
        code: String,
        retry_after_secs: Option<u64>,
    },
}

/// A running fake Bot Framework.
#[derive(Debug)]
pub struct TeamsFake {
    server: Server,
    state: Shared<TeamsState>,
}

#[derive(Debug)]
struct TeamsState {
    core: Core,
    app_id: String,
    app_password: String,
    base: OnceLock<String>,
    sends: Mutex<VecDeque<Scripted>>,
    lookups: Mutex<VecDeque<Scripted>>,
    members: Mutex<HashMap<String, Value>>,
    tokens: Mutex<Vec<String>>,
    threads: Mutex<Vec<(String, Value)>>,
    token_lifetime_secs: Mutex<u64>,
}

impl TeamsFake {
    /// Starts a fake Bot Framework for the bot `app_id` with client secret `app_password`.
    pub async fn start(app_id: &str, app_password: &str) -> Self {
        let state = Arc::new(TeamsState {
            core: Core::default(),
            app_id: app_id.to_owned(),
            app_password: app_password.to_owned(),
            base: OnceLock::new(),
            sends: Mutex::new(VecDeque::new()),
            lookups: Mutex::new(VecDeque::new()),
            members: Mutex::new(HashMap::new()),
            tokens: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            token_lifetime_secs: Mutex::new(3599),
        });
        let app = Router::new()
            .route(
                "/teams/v3/attachments/{id}/views/{view}",
                axum::routing::get(attachment),
            )
            .fallback(handle)
            .with_state(state.clone());
        let server = super::serve(app).await;
        let _ = state.base.set(server.base.clone());
        Self { server, state }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.server.base
    }

    /// To configure as `openid_metadata_url`.
    pub fn openid_metadata_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.server.base)
    }

    /// To configure as `token_url` (the multi-tenant path).
    pub fn token_url(&self) -> String {
        format!("{}/botframework.com/oauth2/v2.0/token", self.server.base)
    }

    /// The connector's service URL (with its trailing `/`, as Teams sends it).
    pub fn service_url(&self) -> String {
        format!("{}/teams/", self.server.base)
    }

    /// The `contentUrl` of an image a user sent (`<service url>v3/attachments/{id}/views/
    /// original`), served only with a token this fake issued, as the Bot Connector does.
    /// Its bytes are `FAKE-TEAMS-ATTACHMENT-<id>` (`image/png`).
    pub fn attachment_url(&self, id: &str) -> String {
        format!("{}v3/attachments/{id}/views/original", self.service_url())
    }

    /// `Bearer <JWT>` for `activity` (its `serviceUrl`), for this fake's app.
    pub fn bearer(&self, activity: &Value, kind: TokenKind) -> String {
        mint(
            &self.state.app_id,
            activity["serviceUrl"].as_str().unwrap_or_default(),
            kind,
        )
    }

    /// Queues how the next activity send is answered.
    pub fn script(&self, reply: Reply) {
        self.push_send(Scripted::Common(reply));
    }

    /// Queues an error answer of the next activity send: `status` with the Bot
    /// Framework error `code` (e.g. 403 `ConversationBlockedByUser`).
    pub fn script_error(&self, status: u16, code: &str, retry_after_secs: Option<u64>) {
        self.push_send(Scripted::Error {
            status,
            code: code.to_owned(),
            retry_after_secs,
        });
    }

    fn push_send(&self, s: Scripted) {
        self.state.sends.lock().expect("fake lock").push_back(s);
    }

    /// Queues how the next member lookup is answered (ahead of the known members).
    pub fn script_lookup(&self, reply: Reply) {
        self.state
            .lookups
            .lock()
            .expect("fake lock")
            .push_back(Scripted::Common(reply));
    }

    /// Makes `member` (a `GET …/members/{id}` answer) known by its `id`, `objectId`
    /// and `userPrincipalName`.
    pub fn add_member(&self, member: Value) {
        let mut members = self.state.members.lock().expect("fake lock");
        for key in ["id", "objectId", "userPrincipalName"] {
            if let Some(k) = member[key].as_str() {
                members.insert(k.to_owned(), member.clone());
            }
        }
    }

    /// Makes `user` known as a member with `email` and `upn`.
    pub fn add_user(&self, user: &TeamsUser, email: Option<&str>, upn: Option<&str>) {
        let (given, surname) = user.name.split_once(' ').unwrap_or((&user.name, ""));
        let mut member = json!({
            "id": user.id,
            "givenName": given,
            "surname": surname,
            "tenantId": TEAMS_TENANT,
            "userRole": "user",
        });
        if let Some(aad) = &user.aad_object_id {
            member["objectId"] = json!(aad);
        }
        if let Some(e) = email {
            member["email"] = json!(e);
        }
        if let Some(u) = upn {
            member["userPrincipalName"] = json!(u);
        }
        self.add_member(member);
    }

    /// Makes `user` known as an anonymous member (no email, no UPN).
    pub fn add_anonymous(&self, user: &TeamsUser) {
        self.add_member(json!({
            "id": user.id,
            "name": user.name,
            "tenantId": TEAMS_TENANT,
            "userRole": "anonymous",
        }));
    }

    /// Sets the `expires_in` of the tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        *self.state.token_lifetime_secs.lock().expect("fake lock") = secs;
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// Activity sends (`POST …/conversations/{id}/activities[/{id}]`).
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == Method::POST && is_activity_path(&r.path))
            .collect()
    }

    /// The sends answered with success.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.sends()
            .into_iter()
            .filter(Recorded::succeeded)
            .collect()
    }

    /// Conversation creations (`POST …/v3/conversations`).
    pub fn created_conversations(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == Method::POST && r.path.ends_with("/v3/conversations"))
            .collect()
    }

    /// Channel threads started (`POST …/v3/conversations` with `isGroup: true`) and
    /// answered with success, in order: `(thread conversation id, request body)`.
    pub fn channel_threads(&self) -> Vec<(String, Value)> {
        self.state.threads.lock().expect("fake lock").clone()
    }

    /// The activities delivered to conversation `conversation_id` (e.g. a thread), in
    /// order.
    pub fn posts_to(&self, conversation_id: &str) -> Vec<Value> {
        self.delivered()
            .into_iter()
            .filter(|r| {
                r.path
                    .split("/v3/conversations/")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .is_some_and(|c| decode_segment(c) == conversation_id)
            })
            .map(|r| r.json())
            .collect()
    }

    /// Member lookups (`GET …/members/{id}`).
    pub fn member_lookups(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == Method::GET && r.path.contains("/members/"))
            .collect()
    }

    /// Token requests (their form bodies are `body`).
    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .collect()
    }

    /// The access tokens issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens.lock().expect("fake lock").clone()
    }
}

/// `…/v3/conversations/{id}/activities` or `…/activities/{id}`.
fn is_activity_path(path: &str) -> bool {
    let Some((_, rest)) = path.split_once("/v3/conversations/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(parts.as_slice(), [_, "activities"] | [_, "activities", _])
}

/// Percent-decodes one path segment.
pub fn decode_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /teams/v3/attachments/{id}/views/{view}`: an attachment's bytes, with a token
/// this fake issued (401 without).
async fn attachment(
    State(st): State<Shared<TeamsState>>,
    axum::extract::Path((id, _view)): axum::extract::Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let issued = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| st.tokens.lock().expect("fake lock").iter().any(|i| i == t));
    if !issued {
        return answer(
            401,
            json!({"message": "Authorization has been denied for this request."}),
            &[],
        );
    }
    let mut response = Response::new(axum::body::Body::from(format!(
        "FAKE-TEAMS-ATTACHMENT-{id}"
    )));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("image/png"),
    );
    response
}

async fn handle(State(st): State<Shared<TeamsState>>, req: Request) -> Response {
    let inc = incoming(req).await;
    let (status, body, headers) = route(&st, &inc);
    let response = answer(status, body, &headers);
    st.core.record(inc.recorded(status));
    response
}

type Answered = (u16, Value, Vec<(&'static str, String)>);

fn bf_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn route(st: &TeamsState, inc: &Incoming) -> Answered {
    let path = inc.uri.path();
    let base = st.base.get().cloned().unwrap_or_default();
    match (&inc.method, path) {
        (&Method::GET, "/v1/.well-known/openidconfiguration") => (
            200,
            json!({
                "issuer": TEAMS_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": format!("{base}/v1/.well-known/keys"),
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }),
            vec![],
        ),
        (&Method::GET, "/v1/.well-known/keys") => (200, jwks(), vec![]),
        (&Method::POST, p) if p.ends_with("/oauth2/v2.0/token") => token(st, inc),
        (_, p) if p.starts_with("/teams/v3/conversations") => connector(st, inc, p),
        _ => (404, bf_error("NotFound", "No such endpoint"), vec![]),
    }
}

fn jwks() -> Value {
    let key = |kid: &str, endorsements: &[&str]| {
        json!({
            "kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
            "n": KEY_N, "e": "AQAB", "endorsements": endorsements,
        })
    };
    json!({"keys": [
        key(TEAMS_KID, &["msteams", "webchat", "directline", "emulator"]),
        key(TEAMS_UNENDORSED_KID, &["webchat", "directline"]),
    ]})
}

fn token(st: &TeamsState, inc: &Incoming) -> Answered {
    let form: HashMap<String, String> = String::from_utf8_lossy(&inc.body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode_segment(k), decode_segment(&v.replace('+', " "))))
        })
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        return (400, json!({"error": "unsupported_grant_type"}), vec![]);
    }
    if field("client_id") != Some(st.app_id.as_str())
        || field("client_secret") != Some(st.app_password.as_str())
    {
        return (401, json!({"error": "invalid_client"}), vec![]);
    }
    if field("scope") != Some(TEAMS_SCOPE) {
        return (400, json!({"error": "invalid_scope"}), vec![]);
    }
    let access = format!("fake-teams-access-{}", st.core.next_id());
    st.tokens.lock().expect("fake lock").push(access.clone());
    let lifetime = *st.token_lifetime_secs.lock().expect("fake lock");
    (
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }),
        vec![],
    )
}

fn connector(st: &TeamsState, inc: &Incoming, path: &str) -> Answered {
    let issued = inc
        .bearer()
        .is_some_and(|t| st.tokens.lock().expect("fake lock").iter().any(|i| i == t));
    if !issued {
        return (
            401,
            json!({"message": "Authorization has been denied for this request."}),
            vec![],
        );
    }
    let rest = path
        .trim_start_matches("/teams/v3/conversations")
        .trim_start_matches('/');
    let parts: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    match (&inc.method, parts.as_slice()) {
        (&Method::POST, []) => create_conversation(st, inc),
        (&Method::POST, [_, "activities"] | [_, "activities", _]) => {
            let next = st.sends.lock().expect("fake lock").pop_front();
            scripted(next, || {
                (
                    200,
                    json!({"id": format!("17672616{:05}", st.core.next_id())}),
                )
            })
        }
        (&Method::GET, [_, "members", user]) => {
            let user = decode_segment(user);
            let next = st.lookups.lock().expect("fake lock").pop_front();
            let known = st.members.lock().expect("fake lock").get(&user).cloned();
            scripted(next, || match known {
                Some(member) => (200, member),
                None => (
                    404,
                    bf_error("MemberNotFoundInConversation", "The member was not found."),
                ),
            })
        }
        _ => (404, bf_error("NotFound", "No such endpoint"), vec![]),
    }
}

fn create_conversation(st: &TeamsState, inc: &Incoming) -> Answered {
    let body = inc.json();
    if body["isGroup"] == true {
        return create_channel_thread(st, &body);
    }
    let bot_ok = body["bot"]["id"].as_str() == Some(format!("28:{}", st.app_id).as_str());
    let member_ok = body["members"][0]["id"]
        .as_str()
        .is_some_and(|m| !m.is_empty());
    let tenant_ok = body["tenantId"].as_str().is_some_and(|t| !t.is_empty());
    if !(bot_ok && member_ok && tenant_ok) {
        return (
            400,
            bf_error("BadArgument", "Invalid conversation parameters"),
            vec![],
        );
    }
    (
        201,
        json!({"id": format!("a:fake-conversation-{}", st.core.next_id())}),
        vec![],
    )
}

/// A new thread in a Teams channel (`isGroup`, `channelData.channel.id`, `activity`):
/// answered from the send script, else `{id: "<channel>;messageid=<n>", activityId}`.
fn create_channel_thread(st: &TeamsState, body: &Value) -> Answered {
    let channel = body["channelData"]["channel"]["id"]
        .as_str()
        .filter(|c| c.starts_with("19:"));
    let activity_ok = body["activity"]["type"] == "message";
    let Some(channel) = channel.filter(|_| activity_ok) else {
        return (
            400,
            bf_error("BadArgument", "Invalid conversation parameters"),
            vec![],
        );
    };
    let next = st.sends.lock().expect("fake lock").pop_front();
    scripted(next, || {
        let n = format!("17672616{:05}", st.core.next_id());
        let id = format!("{channel};messageid={n}");
        st.threads
            .lock()
            .expect("fake lock")
            .push((id.clone(), body.clone()));
        (201, json!({"id": id, "activityId": n}))
    })
}

/// The scripted answer, or `ok()` when none is queued.
fn scripted(next: Option<Scripted>, ok: impl FnOnce() -> (u16, Value)) -> Answered {
    match next {
        None | Some(Scripted::Common(Reply::Ok | Reply::AcceptThenFail { .. })) => {
            let (status, body) = ok();
            (status, body, vec![])
        }
        Some(Scripted::Common(Reply::RateLimited { retry_after_secs })) => (
            429,
            bf_error(
                "TooManyRequests",
                "Too many requests. Please retry after some time.",
            ),
            vec![("retry-after", retry_after_secs.to_string())],
        ),
        Some(Scripted::Common(Reply::Unauthorized)) => (
            401,
            json!({"message": "Authorization has been denied for this request."}),
            vec![],
        ),
        Some(Scripted::Common(Reply::ServerError)) => {
            (502, bf_error("ServiceError", "Bad gateway"), vec![])
        }
        Some(Scripted::Common(Reply::WindowClosed)) => {
            (400, bf_error("BadArgument", "Scripted rejection"), vec![])
        }
        Some(Scripted::Common(Reply::Blocked)) => (
            403,
            bf_error(
                "ConversationBlockedByUser",
                "User blocked the conversation with the bot.",
            ),
            vec![],
        ),
        Some(Scripted::Common(Reply::GraphError { status, code, .. })) => (
            status,
            bf_error(&code.to_string(), "Scripted error"),
            vec![],
        ),
        Some(Scripted::Error {
            status,
            code,
            retry_after_secs,
        }) => (
            status,
            bf_error(&code, "Scripted error"),
            retry_after_secs
                .map(|s| vec![("retry-after", s.to_string())])
                .unwrap_or_default(),
        ),
    }
}
