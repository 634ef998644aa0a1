//! The server as a public endpoint: a deadline on every request, a cap on the requests handled
//! at once, and limits on attempts at the server's secrets (the bootstrap token, enrollment
//! codes, the metrics token) by client address and in all (docs/server.md, "Errors and limits").

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::error::error_response;
use crate::limits::RateLimiter;
use crate::{AppState, Settings};

/// The routes whose callers present a secret without a signature: a failed attempt costs a
/// token of the caller's address and of the whole server; a success gives it back.
const SECRET_ROUTES: [&str; 3] = ["/v1/bootstrap", "/v1/enroll", "/metrics"];

/// The key of all addresses together in the `total` limiter.
const ALL: &str = "*";

/// The shared state of the guards.
#[derive(Debug)]
pub(crate) struct Guard {
    in_flight: Arc<Semaphore>,
    per_ip: RateLimiter,
    total: RateLimiter,
}

impl Guard {
    pub(crate) fn new(s: &Settings) -> Guard {
        let window = s.secret_attempts_window.as_secs_f64().max(0.001);
        let per_ip = f64::from(s.secret_attempts_per_ip.max(1));
        let total = f64::from(s.secret_attempts_total.max(1));
        Guard {
            in_flight: Arc::new(Semaphore::new(s.max_concurrent.max(1))),
            per_ip: RateLimiter::new(per_ip / window, per_ip),
            total: RateLimiter::new(total / window, total),
        }
    }
}

fn route(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned()
}

/// Middleware: a request not answered within `request_timeout` (a body trickling in, or a
/// handler stuck) is dropped and answered 408 `timeout`.
pub(crate) async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.settings().request_timeout;
    let route = route(&req);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::info!(route, limit_s = limit.as_secs_f64(), "request timed out");
            error_response(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the request took too long; try again",
            )
        }
    }
}

/// Middleware: at most `max_concurrent` requests are handled at once; one more is answered
/// 503 `overloaded` with `Retry-After: 1` at once, never queued.
pub(crate) async fn admission(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(_permit) = Arc::clone(&state.inner.guard.in_flight).try_acquire_owned() else {
        tracing::debug!(route = route(&req), "overloaded: request refused");
        let mut resp = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is busy; try again shortly",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    next.run(req).await
}

/// The client's address: the TCP peer, or, when `trust_forwarded_for` is set and the peer is
/// a loopback proxy, the last address in `X-Forwarded-For` (the one the proxy appended).
pub(crate) fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    let peer = peer?.ip();
    if trust_forwarded_for && peer.is_loopback() {
        let last = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .rfind(|s| !s.trim().is_empty());
        if let Some(ip) = last.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
            return Some(ip);
        }
    }
    Some(peer)
}

/// The limiter key of an address: IPv4 as is, IPv6 by its /64 (one subscriber's prefix).
pub(crate) fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".into(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn too_many(wait: Duration, message: &str) -> Response {
    let mut resp = error_response(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
    let secs = wait.as_secs_f64().ceil().clamp(1.0, 86_400.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Middleware: attempts at a secret (`SECRET_ROUTES`) each take a token from the client
/// address's bucket and from the server-wide one before they are tried, and give both back
/// when they succeed (2xx); with either bucket empty the answer is 429 `rate_limited` with
/// `Retry-After`. Failed attempts are logged (warn) with the address: at most as many lines
/// as the server-wide allowance; the refusals only at debug, so a flood does not fill the log.
pub(crate) async fn secret_attempts(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let route = route(&req);
    if !SECRET_ROUTES.contains(&route.as_str()) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = client_ip(peer, req.headers(), state.settings().trust_forwarded_for);
    let key = address_key(ip);
    let guard = &state.inner.guard;
    if let Err(wait) = guard.per_ip.take(&key) {
        tracing::debug!(client = %key, route, "secret attempts from this address: refused");
        return too_many(
            wait,
            "too many failed attempts from this address; try again later",
        );
    }
    if let Err(wait) = guard.total.take(ALL) {
        guard.per_ip.refund(&key);
        tracing::debug!(client = %key, route, "secret attempts from all addresses: refused");
        return too_many(wait, "too many failed attempts; try again later");
    }
    let resp = next.run(req).await;
    if resp.status().is_success() {
        guard.per_ip.refund(&key);
        guard.total.refund(ALL);
    } else {
        tracing::warn!(
            client = %key,
            route,
            status = resp.status().as_u16(),
            "failed attempt at a secret"
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_trusted_only_from_loopback_and_when_asked() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        h.append("x-forwarded-for", "192.0.2.44".parse().unwrap());
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let far: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(
            client_ip(Some(lo), &h, true),
            Some("192.0.2.44".parse().unwrap()),
            "the address the proxy appended last"
        );
        assert_eq!(client_ip(Some(lo), &h, false), Some(lo.ip()));
        assert_eq!(client_ip(Some(far), &h, true), Some(far.ip()));
        assert_eq!(client_ip(None, &h, true), None);
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", "not-an-address".parse().unwrap());
        assert_eq!(client_ip(Some(lo), &junk, true), Some(lo.ip()));
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a = address_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = address_key(Some("2001:db8:1:2:bbbb::2".parse().unwrap()));
        let c = address_key(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(
            address_key(Some("::ffff:192.0.2.8".parse().unwrap())),
            "192.0.2.8"
        );
        assert_eq!(address_key(None), "unknown");
    }
}
