//! Who a web visitor is: the `hello` frame's `user_token`, `user_hash` or nothing.
//!
//! Every attribute Tandem trusts is signed by the site's server with `identity_secret`:
//!
//! - `user_token` (recommended): a JWT, HS256, claims `sub` (the site's user id, required),
//!   `exp` (required), and optionally `email`, `phone`, `name`. All of them are verified:
//!   the email and phone may join or merge customers like any verified fact.
//! - `user_hash`: hex(HMAC-SHA256(identity_secret, user.id)) signs the id alone. The
//!   browser's `user.email` and `user.phone` are then unverified claims: they may only
//!   suggest a link to a customer who holds them verified, never join or merge, so no
//!   visitor gets another customer's transcript by typing their email.
//! - Neither (or a wrong one): an anonymous visitor, with the browser's email and phone
//!   as unverified claims too.

use crate::protocol::User;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tandem_sdk::model::{ChannelId, ExternalIdentity};
use tandem_sdk::signature::verify_hmac_sha256_hex;

/// Longest `user_token` read (a JWT with a handful of claims is a few hundred bytes).
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 30;

/// The claims of a `user_token`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct TokenClaims {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) phone: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// The claims of `token` when it is an HS256 JWT signed with `secret`, unexpired, with a
/// non-empty `sub`. `None` otherwise (the visitor is then not verified by it).
pub(crate) fn verify_user_token(secret: &[u8], token: &str) -> Option<TokenClaims> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data =
        jsonwebtoken::decode::<TokenClaims>(token, &DecodingKey::from_secret(secret), &validation)
            .ok()?;
    let claims = data.claims;
    (!claims.sub.is_empty() && claims.sub.len() <= 200).then_some(claims)
}

/// A visitor as `hello` identified them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identified {
    /// `user:<id>` for a verified user; `None` for an anonymous visitor.
    pub(crate) user_subject: Option<String>,
    /// What the core is told.
    pub(crate) identity: ExternalIdentity,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Identifies a visitor from `hello` (see the module docs). `anonymous_subject` is used
/// when nothing verifies.
pub(crate) fn identify(
    channel: ChannelId,
    secret: Option<&[u8]>,
    user: User,
    user_hash: Option<&str>,
    user_token: Option<&str>,
    anonymous_subject: impl FnOnce() -> String,
) -> Identified {
    if let (Some(secret), Some(token)) = (secret, user_token)
        && let Some(claims) = verify_user_token(secret, token)
    {
        let subject = format!("user:{}", claims.sub);
        let mut identity = ExternalIdentity::new(channel, subject.clone());
        identity.verified = true;
        identity.verified_email = non_empty(claims.email);
        identity.verified_phone = non_empty(claims.phone);
        identity.display_name = non_empty(claims.name).or(non_empty(user.name));
        return Identified {
            user_subject: Some(subject),
            identity,
        };
    }
    let hashed_id = match (secret, user.id.as_deref(), user_hash) {
        (Some(secret), Some(id), Some(hash)) if !id.is_empty() && id.len() <= 200 => {
            verify_hmac_sha256_hex(secret, &[id.as_bytes()], hash).then(|| id.to_owned())
        }
        _ => None,
    };
    let subject = hashed_id
        .as_ref()
        .map_or_else(anonymous_subject, |id| format!("user:{id}"));
    let mut identity = ExternalIdentity::new(channel, subject.clone());
    identity.verified = hashed_id.is_some();
    // Only the id is signed: the rest is what the browser says.
    identity.display_name = non_empty(user.name);
    identity.claimed_email = non_empty(user.email);
    identity.claimed_phone = non_empty(user.phone);
    Identified {
        user_subject: hashed_id.map(|_| subject),
        identity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"identity-secret";

    fn token(claims: serde_json::Value, key: &[u8], alg: Algorithm) -> String {
        encode(&Header::new(alg), &claims, &EncodingKey::from_secret(key)).unwrap()
    }

    fn in_an_hour() -> i64 {
        tandem_sdk::signature::unix_now() + 3600
    }

    fn user(id: &str, email: &str) -> User {
        User {
            id: Some(id.into()),
            email: Some(email.into()),
            name: Some("Browser Name".into()),
            phone: Some("+15550001111".into()),
        }
    }

    fn anon() -> String {
        "anon:x".into()
    }

    #[test]
    fn a_signed_token_verifies_every_claim() {
        let t = token(
            json!({"sub": "a", "email": "a@example.com", "phone": "+15550002222", "name": "Ann", "exp": in_an_hour()}),
            SECRET,
            Algorithm::HS256,
        );
        let got = identify(
            ChannelId::new("webchat"),
            Some(SECRET),
            user("someone-else", "victim@example.com"),
            None,
            Some(&t),
            anon,
        );
        assert_eq!(got.user_subject.as_deref(), Some("user:a"));
        assert!(got.identity.verified);
        assert_eq!(
            got.identity.verified_email.as_deref(),
            Some("a@example.com")
        );
        assert_eq!(got.identity.verified_phone.as_deref(), Some("+15550002222"));
        assert_eq!(got.identity.display_name.as_deref(), Some("Ann"));
        assert_eq!(got.identity.claimed_email, None);
    }

    #[test]
    fn a_hash_signs_the_id_only_so_the_browser_email_is_a_claim() {
        let hash = tandem_sdk::signature::hmac_sha256_hex(SECRET, &[b"a"]);
        let got = identify(
            ChannelId::new("webchat"),
            Some(SECRET),
            user("a", "victim@example.com"),
            Some(&hash),
            None,
            anon,
        );
        assert_eq!(got.user_subject.as_deref(), Some("user:a"));
        assert!(got.identity.verified);
        assert_eq!(got.identity.verified_email, None, "never a verified email");
        assert_eq!(got.identity.verified_phone, None);
        assert_eq!(
            got.identity.claimed_email.as_deref(),
            Some("victim@example.com")
        );
        assert_eq!(got.identity.claimed_phone.as_deref(), Some("+15550001111"));
    }

    #[test]
    fn forged_expired_or_malformed_tokens_verify_nothing() {
        let exp = in_an_hour();
        let forged = [
            token(
                json!({"sub": "a", "exp": exp}),
                b"other-secret",
                Algorithm::HS256,
            ),
            token(
                json!({"sub": "a", "exp": exp}),
                b"identity-secret ",
                Algorithm::HS256,
            ),
            token(json!({"sub": "a", "exp": exp}), SECRET, Algorithm::HS384),
            token(
                json!({"sub": "a", "exp": tandem_sdk::signature::unix_now() - 120}),
                SECRET,
                Algorithm::HS256,
            ),
            token(json!({"sub": "a"}), SECRET, Algorithm::HS256),
            token(json!({"sub": "", "exp": exp}), SECRET, Algorithm::HS256),
            token(
                json!({"email": "a@example.com", "exp": exp}),
                SECRET,
                Algorithm::HS256,
            ),
            "not.a.jwt".to_owned(),
            String::new(),
            "a".repeat(MAX_TOKEN_LEN + 1),
        ];
        for t in forged {
            assert_eq!(verify_user_token(SECRET, &t), None, "{t}");
            let got = identify(
                ChannelId::new("webchat"),
                Some(SECRET),
                User::default(),
                None,
                Some(&t),
                anon,
            );
            assert_eq!(got.user_subject, None);
            assert!(!got.identity.verified);
        }
        // An unsigned ("alg": "none") token is refused too.
        let none = format!(
            "{}.{}.",
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", "eyJzdWIiOiJhIiwiZXhwIjo0MTAyNDQ0ODAwfQ"
        );
        assert_eq!(verify_user_token(SECRET, &none), None);
    }

    #[test]
    fn without_a_secret_everyone_is_anonymous() {
        let t = token(
            json!({"sub": "a", "exp": in_an_hour()}),
            SECRET,
            Algorithm::HS256,
        );
        let got = identify(
            ChannelId::new("webchat"),
            None,
            user("a", "a@example.com"),
            Some("00"),
            Some(&t),
            anon,
        );
        assert_eq!(got.identity.subject, "anon:x");
        assert!(!got.identity.verified);
        assert_eq!(got.identity.verified_email, None);
    }
}

/// Fuzz targets of the `hello` frame parser and the identity checks (`TANDEM_FUZZ_CASES`,
/// see `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::protocol::ClientFrame;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &[
        "type",
        "session",
        "user",
        "id",
        "email",
        "name",
        "phone",
        "user_hash",
        "user_token",
        "text",
        "payload",
        "title",
        "hello",
        "message",
        "postback",
        "typing",
    ];
    const SEED: &[u8] = br#"{"type":"hello","session":"s","user":{"id":"42","email":"a@x.test","name":"Ada","phone":"+15550001111"},"user_hash":"00ff","user_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.x"}"#;

    fn run(text: &str) {
        if let Ok(ClientFrame::Hello {
            user,
            user_hash,
            user_token,
            ..
        }) = serde_json::from_str::<ClientFrame>(text)
        {
            let _ = identify(
                ChannelId::new("webchat"),
                Some(b"identity-secret"),
                user.unwrap_or_default(),
                user_hash.as_deref(),
                user_token.as_deref(),
                || "anon:x".into(),
            );
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_client_frames_never_panic_on_text(text in ".{0,512}") {
            run(&text);
        }

        #[test]
        fn fuzz_client_frames_never_panic_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            run(&v.to_string());
        }

        #[test]
        fn fuzz_client_frames_never_panic_on_mutated_hellos(bytes in fuzz::mutated(SEED)) {
            run(&String::from_utf8_lossy(&bytes));
        }
    }
}
