//! Request authentication (docs/identity.md): every device and admin request carries
//! `Authorization: Tsunagi-Sig key=…, ts=…, nonce=…, sig=…`, an Ed25519 signature over the
//! method, path and query, time, nonce and body hash. The server refuses stale times and
//! repeated nonces.

use std::fmt;
use thiserror::Error;
use tsunagi_crypto::identity::{SigKey, SigPublic, Signature, sha256};

/// The authorization scheme name.
pub const SCHEME: &str = "Tsunagi-Sig";
/// Largest accepted difference between the request time and the server clock.
pub const MAX_SKEW_MS: i64 = 300_000;
/// How long a nonce is remembered (must exceed twice the skew window).
pub const NONCE_TTL_MS: i64 = 600_000;

/// Why a request's authentication is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No or malformed `Authorization` header.
    #[error("missing or malformed Authorization header: {0}")]
    Malformed(String),
    /// The time is too far from the server's clock.
    #[error("request time is {0} ms away from the server clock")]
    Stale(i64),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// A parsed `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// `"admin"` or a device id.
    pub key: String,
    /// Request time, ms since the Unix epoch.
    pub ts: i64,
    /// 32 lower hex digits.
    pub nonce: String,
    /// The signature.
    pub sig: Signature,
}

impl fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuthHeader(key={}, ts={}, nonce={})",
            self.key, self.ts, self.nonce
        )
    }
}

/// The signed bytes: `tsunagi-req/v1\nMETHOD\npath?query\nts\nnonce\nhex(sha256(body))`.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let digest: String = sha256(body).iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "tsunagi-req/v1\n{}\n{path_and_query}\n{ts}\n{nonce}\n{digest}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

impl AuthHeader {
    /// Signs a request as `key` (a device id or `"admin"`).
    pub fn sign(
        key: &str,
        signer: &SigKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<AuthHeader, tsunagi_crypto::CryptoError> {
        let nonce: String = tsunagi_crypto::random_array::<16>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let sig = signer.sign(&request_message(
            method,
            path_and_query,
            now_ms,
            &nonce,
            body,
        ));
        Ok(AuthHeader {
            key: key.to_owned(),
            ts: now_ms,
            nonce,
            sig,
        })
    }

    /// The header value.
    pub fn to_header_value(&self) -> String {
        format!(
            "{SCHEME} key={}, ts={}, nonce={}, sig={}",
            self.key,
            self.ts,
            self.nonce,
            crate::b64::encode(&self.sig.0)
        )
    }

    /// Parses a header value. Strict: every field once, nothing else.
    pub fn parse(value: &str) -> Result<AuthHeader, AuthError> {
        let bad = |m: &str| AuthError::Malformed(m.to_owned());
        let rest = value
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| bad("scheme"))?;
        let (mut key, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or_else(|| bad("field"))?;
            let slot = match k {
                "key" => &mut key,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                _ => return Err(bad("unknown field")),
            };
            if slot.replace(v.to_owned()).is_some() {
                return Err(bad("repeated field"));
            }
        }
        let key = key
            .filter(|k| !k.is_empty() && k.len() <= 64)
            .ok_or_else(|| bad("key"))?;
        let ts = ts
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| bad("ts"))?;
        let nonce = nonce
            .filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("nonce"))?;
        let sig = sig
            .and_then(|s| crate::b64::decode(&s))
            .and_then(|b| Signature::from_bytes(&b).ok())
            .ok_or_else(|| bad("sig"))?;
        Ok(AuthHeader {
            key,
            ts,
            nonce: nonce.to_ascii_lowercase(),
            sig,
        })
    }

    /// Checks time and signature (the caller checks the key's standing and the nonce).
    pub fn verify(
        &self,
        public: &SigPublic,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), AuthError> {
        // Saturating: `ts` is the client's, any i64 (a time near i64::MIN overflowed the
        // subtraction, a panic in debug builds).
        let skew = now_ms.saturating_sub(self.ts);
        if skew.unsigned_abs() > MAX_SKEW_MS.unsigned_abs() {
            return Err(AuthError::Stale(skew));
        }
        public
            .verify(
                &request_message(method, path_and_query, self.ts, &self.nonce, body),
                &self.sig,
            )
            .map_err(|_| AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_header_round_trips_and_verifies() {
        let key = SigKey::generate().unwrap();
        let h = AuthHeader::sign(
            "admin",
            &key,
            "post",
            "/v1/admin/teams?x=1",
            b"{}",
            1_000_000,
        )
        .unwrap();
        let parsed = AuthHeader::parse(&h.to_header_value()).unwrap();
        assert_eq!(parsed, h);
        parsed
            .verify(
                &key.public(),
                "POST",
                "/v1/admin/teams?x=1",
                b"{}",
                1_000_500,
            )
            .unwrap();
        // Any change to what was signed breaks it.
        assert_eq!(
            parsed.verify(
                &key.public(),
                "GET",
                "/v1/admin/teams?x=1",
                b"{}",
                1_000_000
            ),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            parsed.verify(&key.public(), "POST", "/v1/admin/teams", b"{}", 1_000_000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            parsed.verify(
                &key.public(),
                "POST",
                "/v1/admin/teams?x=1",
                b"{ }",
                1_000_000
            ),
            Err(AuthError::BadSignature)
        );
        let other = SigKey::generate().unwrap();
        assert_eq!(
            parsed.verify(
                &other.public(),
                "POST",
                "/v1/admin/teams?x=1",
                b"{}",
                1_000_000
            ),
            Err(AuthError::BadSignature)
        );
        assert!(matches!(
            parsed.verify(
                &key.public(),
                "POST",
                "/v1/admin/teams?x=1",
                b"{}",
                1_000_000 + MAX_SKEW_MS + 1
            ),
            Err(AuthError::Stale(_))
        ));
    }

    /// Found with the auth_header fuzz target (issue 23; its input
    /// fuzz/seeds/auth_header/regress_ts_overflow): a header whose time is near i64::MIN
    /// overflowed `now - ts`, a panic in debug builds; it is stale, like any time far from
    /// the clock.
    #[test]
    fn a_time_far_from_the_clock_is_stale_not_an_overflow() {
        let key = SigKey::generate().unwrap();
        let now = 1_764_000_000_000;
        for ts in [i64::MIN, i64::MIN + 1, -i64::MAX + now - 1, i64::MAX] {
            let h = AuthHeader::sign("admin", &key, "GET", "/v1/keys", b"", ts).unwrap();
            let parsed = AuthHeader::parse(&h.to_header_value()).unwrap();
            for clock in [now, i64::MIN, i64::MAX, 0] {
                let r = parsed.verify(&key.public(), "GET", "/v1/keys", b"", clock);
                if (i128::from(ts) - i128::from(clock)).abs() <= 300_000 {
                    assert_eq!(r, Ok(()), "{ts} at {clock}");
                } else {
                    assert!(
                        matches!(r, Err(AuthError::Stale(_))),
                        "{ts} at {clock}: {r:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        for v in [
            "",
            "Bearer abc",
            "Tsunagi-Sig ",
            "Tsunagi-Sig key=a, ts=1, nonce=00000000000000000000000000000000",
            "Tsunagi-Sig key=a, ts=x, nonce=00000000000000000000000000000000, sig=AAAA",
            "Tsunagi-Sig key=a, key=b, ts=1, nonce=00000000000000000000000000000000, sig=AAAA",
            "Tsunagi-Sig key=a, ts=1, nonce=zz, sig=AAAA",
            "Tsunagi-Sig key=a, ts=1, nonce=00000000000000000000000000000000, sig=AAAA, extra=1",
        ] {
            assert!(AuthHeader::parse(v).is_err(), "{v:?} accepted");
        }
    }
}
