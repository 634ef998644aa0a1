//! The HTTP client of devices and `tsunagi-admin`: JSON over HTTP(S), every request signed
//! with the caller's key (docs/identity.md), server errors surfaced with their code.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Once;
use std::time::Duration;
use thiserror::Error;
use tsunagi_crypto::identity::SigKey;

use crate::api::ErrorBody;
use crate::auth::AuthHeader;

/// Why a call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached (offline, refused, timeout).
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server answered with an error.
    #[error("server refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's machine code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The answer was not what the protocol says.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The request could not be signed (no randomness).
    #[error("cannot sign the request: {0}")]
    Sign(String),
    /// A plain `http://` URL to a host other than loopback: refused before any request
    /// (a network on the way could read and change everything, [`check_server_url`]).
    #[error(
        "refusing the server URL {0}: plain http:// is allowed only to this machine (127.0.0.0/8, ::1, localhost); use https://"
    )]
    InsecureUrl(String),
}

impl ClientError {
    /// The server's machine code, or a local one.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Unreachable(_) => "unreachable",
            ClientError::Refused { code, .. } => code,
            ClientError::Protocol(_) => "protocol",
            ClientError::Sign(_) => "sign",
            ClientError::InsecureUrl(_) => "insecure_url",
        }
    }
}

/// Checks a server URL before anything is sent to it: `https://` anywhere, `http://` only to
/// loopback (127.0.0.0/8, `[::1]`, `localhost`: a server on this machine, as in tests and the
/// demo); [`ClientError::InsecureUrl`] for plain HTTP elsewhere, [`ClientError::Protocol`] for
/// anything that is not an http(s) URL with a host. The one place devices and
/// `tsunagi-admin` decide this ([`Client::with_pool`] calls it).
pub fn check_server_url(url: &str) -> Result<(), ClientError> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| ClientError::Protocol(format!("not a server URL ({e}): {url}")))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ClientError::Protocol(format!("the server URL has no host: {url}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            // The URL parser has normalized the host: IPv4 in dotted form, IPv6 in brackets,
            // names in lower case.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare == "localhost"
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(ClientError::InsecureUrl(url.to_owned()))
            }
        }
        _ => Err(ClientError::Protocol(format!(
            "server URL must start with http:// or https://: {url}"
        ))),
    }
}

/// Who signs the requests.
#[derive(Debug)]
pub struct Signer {
    /// `"admin"` or the device id.
    pub key_id: String,
    /// The signing key.
    pub key: SigKey,
}

/// HTTP connections and TLS setup, shared by the clients made from it: building one costs
/// milliseconds (the platform's root certificates), and a client made per sync round would
/// also open (and, over HTTPS, handshake) a new connection every round. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pool(reqwest::Client);

impl Pool {
    /// A new pool (connect timeout 10 s, request timeout 60 s).
    pub fn new() -> Result<Pool, ClientError> {
        TLS_PROVIDER.call_once(|| {
            // One process-wide provider (ring); a second install is a no-op error we ignore.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map(Pool)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

/// A client for one server.
#[derive(Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    signer: Option<Signer>,
}

static TLS_PROVIDER: Once = Once::new();

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Client {
    /// A client for `base_url` (e.g. `https://tsunagi.example.lg.jp`), unsigned (health,
    /// enroll, bootstrap) or signed with `signer`.
    pub fn new(base_url: &str, signer: Option<Signer>) -> Result<Client, ClientError> {
        Client::with_pool(&Pool::new()?, base_url, signer)
    }

    /// A client whose requests go through `pool`'s connections.
    pub fn with_pool(
        pool: &Pool,
        base_url: &str,
        signer: Option<Signer>,
    ) -> Result<Client, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        check_server_url(&base)?;
        Ok(Client {
            base,
            http: pool.0.clone(),
            signer,
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path` (path with query, starting with `/`).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send("GET", path, Vec::new()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send("POST", path, bytes).await
    }

    /// Sends raw bytes and returns the raw answer (for non-JSON endpoints such as metrics and
    /// the binary sync pages). A `429 rate_limited` answer is retried after the server's
    /// `Retry-After` (or a second), a few times, each with a fresh signature and nonce; so is a
    /// `503` that carries a `Retry-After` (the server was at its limit of requests in flight).
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut attempt = 0;
        loop {
            let (status, wait, bytes) = self.send_once(method, path, body.clone()).await?;
            attempt += 1;
            let wait = match (status, wait) {
                (429, w) => w.unwrap_or(Duration::from_secs(1)),
                (503, Some(w)) => w,
                _ => return Ok((status, bytes)),
            };
            if attempt >= 6 {
                return Ok((status, bytes));
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Option<Duration>, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut req = self
            .http
            .request(m, &url)
            .header("content-type", "application/json");
        if let Some(s) = &self.signer {
            let h = AuthHeader::sign(&s.key_id, &s.key, method, path, &body, now_ms())
                .map_err(|e| ClientError::Sign(e.to_string()))?;
            req = req.header("authorization", h.to_header_value());
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.clamp(1, 30)));
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Ok((status, wait, bytes.to_vec()))
    }

    /// Sends raw bytes; the answer's bytes on 2xx, the server's error (code and message) on
    /// anything else. For the binary sync endpoints and, through `send`, every JSON call.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        let (status, bytes) = self.send_raw(method, path, body).await?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => Err(ClientError::Refused {
                status,
                code: e.error.code,
                message: e.error.message,
            }),
            Err(_) => Err(ClientError::Refused {
                status,
                code: "http".into(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            }),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let bytes = self.send_bytes(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://tsunagi.example.lg.jp",
            "https://203.0.113.5:8443/base",
            "http://127.0.0.1:8443",
            "http://127.8.9.10",
            "http://[::1]:8443",
            "http://localhost:8080",
            "http://LOCALHOST",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
            assert!(Client::new(ok, None).is_ok(), "{ok}");
        }
        for insecure in [
            "http://example.org",
            "http://tsunagi.example.lg.jp:8443",
            "http://10.0.0.5",
            "http://[2001:db8::1]",
            "http://[::ffff:127.0.0.1]",
            "http://localhost.example.org",
            "http://127.0.0.1.example.org",
        ] {
            let e = Client::new(insecure, None).unwrap_err();
            assert!(
                matches!(e, ClientError::InsecureUrl(_)),
                "{insecure}: {e:?}"
            );
            assert_eq!(e.code(), "insecure_url");
        }
        for bad in ["ftp://x", "tsunagi.example", "http://"] {
            assert_eq!(
                Client::new(bad, None).unwrap_err().code(),
                "protocol",
                "{bad}"
            );
        }
    }
}
