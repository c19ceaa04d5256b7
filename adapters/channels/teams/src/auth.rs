//! Inbound authentication (docs/platform-contracts.md §4.2): the `Authorization: Bearer <JWT>`
//! Bot Framework puts on every activity, checked with `jsonwebtoken` against the keys
//! published through the OpenID metadata.
//!
//! [`Verifier::verify`] checks, before the body is trusted: the scheme, RS256/384/512,
//! the signature with the key named by `kid`, `iss` = `https://api.botframework.com`,
//! `aud` = the app id, `exp`/`nbf` with 5 minutes of clock skew. It returns the signing
//! key's `endorsements` and the `serviceurl` claim, which the caller compares with the
//! activity (`channelId` endorsed, `serviceUrl` equal).
//!
//! Keys are cached: refreshed after 24 hours, and an unknown `kid` triggers at most one
//! refetch per [`Verifier::unknown_kid_refetch`] (one hour, like botbuilder), so forged
//! tokens cannot make Tandem hammer the metadata endpoint.

use crate::api::{Claims, Jwk, Jwks, OpenIdConfiguration};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The issuer of channel → bot tokens.
pub(crate) const ISSUER: &str = "https://api.botframework.com";
/// Longest lifetime left on a token accepted (Bot Framework tokens live about an hour):
/// an `exp` further out, up to `i64::MAX`, is refused rather than trusted for ever.
const MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5 * 60;

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// The token is malformed, expired, for another audience or issuer, signed with an
    /// unknown key or not signed by the key it names (401).
    Invalid(&'static str),
    /// The signing keys could not be fetched, so nothing can be verified (503).
    KeysUnavailable,
}

/// What a valid token asserts, for the checks against the activity.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `serviceurl` claim.
    pub service_url: Option<String>,
    /// The channels the signing key is endorsed for.
    pub endorsements: Vec<String>,
}

impl Verified {
    /// Why this authentic token does not vouch for an activity of `channel_id` from
    /// `service_url` in `activity_tenant` (a 403), or `None` when it does: the signing key
    /// must be endorsed for the channel, the `serviceurl` claim must be the activity's
    /// `serviceUrl`, and when `expected_tenant` is set the activity's tenant (if it names
    /// one) must be it.
    pub fn mismatch(
        &self,
        channel_id: &str,
        service_url: &str,
        activity_tenant: Option<&str>,
        expected_tenant: Option<&str>,
    ) -> Option<&'static str> {
        if channel_id.is_empty() || !self.endorsements.iter().any(|e| e == channel_id) {
            return Some("the signing key is not endorsed for this channel");
        }
        if self.service_url.as_deref() != Some(service_url) {
            return Some("the token's serviceurl differs from the activity's serviceUrl");
        }
        if let (Some(expected), Some(actual)) = (expected_tenant, activity_tenant)
            && !expected.eq_ignore_ascii_case(actual)
        {
            return Some("the activity comes from another tenant");
        }
        None
    }
}

struct Key {
    key: DecodingKey,
    endorsements: Vec<String>,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Key>,
    /// Last successful fetch.
    fetched_at: Option<Instant>,
    /// Last attempt, successful or not.
    attempted_at: Option<Instant>,
}

/// Validates inbound tokens; holds the key cache.
pub struct Verifier {
    app_id: String,
    metadata_url: String,
    http: reqwest::Client,
    keys: Mutex<KeySet>,
    /// Keys older than this are refetched (24 h).
    pub(crate) refresh_after: Duration,
    /// An unknown `kid` refetches the keys only when the last attempt is older (1 h).
    pub(crate) unknown_kid_refetch: Duration,
    /// After a failed fetch, the next attempt waits this long (10 s).
    pub(crate) retry_failed_after: Duration,
}

impl Verifier {
    /// A verifier for tokens addressed to `app_id`, with keys from `metadata_url`.
    pub fn new(app_id: &str, metadata_url: &str, http: reqwest::Client) -> Self {
        Self {
            app_id: app_id.to_owned(),
            metadata_url: metadata_url.to_owned(),
            http,
            keys: Mutex::new(KeySet::default()),
            refresh_after: Duration::from_secs(24 * 3600),
            unknown_kid_refetch: Duration::from_secs(3600),
            retry_failed_after: Duration::from_secs(10),
        }
    }

    /// Checks the `Authorization` header value.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Verified, AuthError> {
        let token = authorization
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("malformed token"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(AuthError::Invalid("algorithm not allowed"));
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::Invalid("token names no key"))?;

        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[self.app_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);

        let (key, endorsements) = self.key(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(reason(e.kind())))?;
        let now = tandem_sdk::signature::unix_now().max(0).unsigned_abs();
        if data
            .claims
            .exp
            .is_none_or(|exp| exp > now.saturating_add(MAX_LIFETIME_SECS))
        {
            return Err(AuthError::Invalid("token expires too far ahead"));
        }
        Ok(Verified {
            service_url: data.claims.serviceurl,
            endorsements,
        })
    }

    /// The key named `kid` and its endorsements. The cache is refreshed when stale or
    /// when `kid` is unknown (at most once per `unknown_kid_refetch`).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Vec<String>), AuthError> {
        let mut set = self.keys.lock().await;
        let attempted = set.attempted_at.map(|t| t.elapsed());
        let stale = set
            .fetched_at
            .is_none_or(|t| t.elapsed() >= self.refresh_after);
        let refresh = if stale {
            attempted.is_none_or(|a| a >= self.retry_failed_after)
        } else {
            !set.keys.contains_key(kid) && attempted.is_none_or(|a| a >= self.unknown_kid_refetch)
        };
        if refresh {
            let now = Instant::now();
            set.attempted_at = Some(now);
            match self.fetch().await {
                Ok(keys) => {
                    set.keys = keys;
                    set.fetched_at = Some(now);
                }
                Err(reason) => {
                    tracing::warn!(
                        error = reason,
                        "Fetching the Bot Framework signing keys failed; keeping the cached ones."
                    );
                }
            }
        }
        if set.fetched_at.is_none() {
            return Err(AuthError::KeysUnavailable);
        }
        set.keys
            .get(kid)
            .map(|k| (k.key.clone(), k.endorsements.clone()))
            .ok_or(AuthError::Invalid("unknown signing key"))
    }

    /// Fetches the metadata, then the JWKS; keeps the RSA keys.
    async fn fetch(&self) -> Result<HashMap<String, Key>, &'static str> {
        let config: OpenIdConfiguration = self
            .get_json(&self.metadata_url)
            .await
            .map_err(|_| "OpenID metadata unavailable")?;
        let jwks: Jwks = self
            .get_json(&config.jwks_uri)
            .await
            .map_err(|_| "key set unavailable")?;
        let mut keys = HashMap::new();
        for value in jwks.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            if jwk.kty != "RSA" || jwk.kid.is_empty() {
                continue;
            }
            let Ok(key) = DecodingKey::from_rsa_components(&jwk.n, &jwk.e) else {
                continue;
            };
            keys.insert(
                jwk.kid,
                Key {
                    key,
                    endorsements: jwk.endorsements,
                },
            );
        }
        if keys.is_empty() {
            return Err("no usable RSA key published");
        }
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ()> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|_| ())?;
        if !response.status().is_success() {
            return Err(());
        }
        response.json().await.map_err(|_| ())
    }
}

/// A short reason for the 401 answer (it names no token content).
fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "token expired",
        K::ImmatureSignature => "token not yet valid",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidAudience => "wrong audience",
        K::InvalidSignature => "bad signature",
        K::MissingRequiredClaim(_) => "required claim missing",
        K::InvalidAlgorithm => "algorithm not allowed",
        _ => "invalid token",
    }
}
