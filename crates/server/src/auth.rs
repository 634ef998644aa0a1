//! Request extractors: `JsonBody<T>` (size-limited body, JSON parsed with a reason on error)
//! and `Signed` (the `Tsunagi-Sig` scheme of docs/identity.md: key lookup, time, signature,
//! rate limit, single-use nonce, device state).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use tsunagi_crypto::identity::SigPublic;
use tsunagi_protocol::api::DeviceState;
use tsunagi_protocol::auth::{AuthError, AuthHeader, NONCE_TTL_MS};
use uuid::Uuid;

use crate::error::ApiError;
use crate::storage::DeviceRow;
use crate::{AppState, now_ms};

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The org's admin key.
    Admin,
    /// A device (its row as it was when the request was checked).
    Device(Box<DeviceRow>),
}

/// A too-large body up to this size (or twice the route's limit, when larger) is read and
/// discarded before the 413 goes out, so that ordinary clients see the answer instead of a
/// connection reset mid-upload; beyond it the connection is simply closed after the 413.
const DRAIN_LIMIT: usize = 4 << 20;

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(
    mut body: Body,
    headers: &axum::http::HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body larger than {limit} bytes"),
        )
    };
    // A push route's larger limit drains up to twice its limit.
    let drain = DRAIN_LIMIT.max(limit.saturating_mul(2));
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request("bad_body", format!("cannot read the request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > drain {
                return Err(too_large());
            }
            if total <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// Parses JSON, answering 400 with serde's reason.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("malformed", format!("malformed JSON body: {e}")))
}

/// A size-limited JSON body for the unauthenticated endpoints (bootstrap, enroll).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, &parts.headers, state.settings().max_body).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A request authenticated by `Tsunagi-Sig`. `PENDING_OK` admits devices not yet approved
/// (only `GET /v1/keys`); `PUSH_BODY` allows a body up to `Settings::max_push_body` instead of
/// `max_body` (only `POST /v1/sync/push`).
#[derive(Debug)]
pub struct Signed<const PENDING_OK: bool = false, const PUSH_BODY: bool = false> {
    /// Who signed.
    pub caller: Caller,
    /// The body, exactly as signed.
    pub body: Bytes,
}

impl<const P: bool, const B: bool> Signed<P, B> {
    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }

    /// Refuses anyone but the admin (403).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.caller {
            Caller::Admin => Ok(()),
            Caller::Device(_) => Err(ApiError::forbidden("admin only")),
        }
    }
}

fn auth_err(e: &AuthError) -> ApiError {
    match e {
        AuthError::Malformed(_) => ApiError::unauthorized("bad_auth_header", e.to_string()),
        AuthError::Stale(_) => ApiError::unauthorized("stale", e.to_string()),
        AuthError::BadSignature => ApiError::unauthorized("bad_signature", e.to_string()),
        _ => ApiError::unauthorized("unauthenticated", e.to_string()),
    }
}

impl<const P: bool, const B: bool> FromRequest<AppState> for Signed<P, B> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("unauthenticated", "a signed request is required")
            })?
            .to_str()
            .map_err(|_| ApiError::unauthorized("bad_auth_header", "Authorization is not text"))?;
        let auth = AuthHeader::parse(header).map_err(|e| auth_err(&e))?;
        let limit = if B {
            state.settings().max_push_body
        } else {
            state.settings().max_body
        };
        let body = read_body(body, &parts.headers, limit).await?;

        let storage = state.storage();
        let unknown = || ApiError::unauthorized("unknown_key", "unknown key");
        let (caller, public) = if auth.key == "admin" {
            let admin_pub = storage
                .org()
                .await?
                .and_then(|o| o.admin_pub)
                .ok_or_else(unknown)?;
            let public = SigPublic::from_bytes(&admin_pub)
                .map_err(|e| ApiError::internal(&format!("stored admin key: {e}")))?;
            (Caller::Admin, public)
        } else {
            let id = Uuid::parse_str(&auth.key).map_err(|_| unknown())?;
            let device = storage.device(id).await?.ok_or_else(unknown)?;
            let public = SigPublic::from_bytes(&device.sig_pub)
                .map_err(|e| ApiError::internal(&format!("stored device key: {e}")))?;
            (Caller::Device(Box::new(device)), public)
        };

        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |p| p.as_str());
        let now = now_ms();
        auth.verify(&public, parts.method.as_str(), path, &body, now)
            .map_err(|e| auth_err(&e))?;

        if let Caller::Device(d) = &caller {
            match d.state {
                DeviceState::Revoked => {
                    return Err(ApiError::unauthorized("revoked", "this device is revoked"));
                }
                DeviceState::Pending if !P => {
                    return Err(ApiError::unauthorized(
                        "pending",
                        "this device is not approved yet",
                    ));
                }
                _ => {}
            }
        }
        if !state.inner.limiter.allow(&auth.key) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this key; slow down",
            ));
        }
        let device = match &caller {
            Caller::Device(d) => Some(d.id),
            Caller::Admin => None,
        };
        let fresh = storage
            .record_request(&auth.key, &auth.nonce, now + NONCE_TTL_MS, device, now)
            .await?;
        if !fresh {
            return Err(ApiError::unauthorized(
                "replay",
                "this request was already seen",
            ));
        }
        Ok(Signed { caller, body })
    }
}
