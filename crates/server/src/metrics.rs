//! Prometheus text metrics: requests by route, method and status; latency sum and count by
//! route; pushed envelopes by result (and rejections by code); sync pages and the envelopes
//! they carried; devices by state (read from storage at scrape time).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;
use subtle::ConstantTimeEq;

use tsunagi_protocol::wire::PushResult;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Counters in memory (per instance).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, (f64, u64)>>,
    /// Pushed envelopes: accepted, duplicate, rejected.
    pushed: Mutex<[u64; 3]>,
    /// Rejections by reason code (a fixed set of server codes).
    rejected: Mutex<BTreeMap<String, u64>>,
    /// Pages served and envelopes in them, by endpoint (`pull`, `snapshots`, `case`).
    pages: Mutex<BTreeMap<&'static str, (u64, u64)>>,
}

impl Metrics {
    /// Counts the results of one push.
    pub(crate) fn count_push(&self, results: &[PushResult]) {
        let mut pushed = self
            .pushed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rejected = self
            .rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in results {
            match r {
                PushResult::Accepted { .. } => pushed[0] += 1,
                PushResult::Duplicate { .. } => pushed[1] += 1,
                PushResult::Rejected { code, .. } => {
                    pushed[2] += 1;
                    *rejected.entry(code.clone()).or_default() += 1;
                }
            }
        }
    }

    /// Counts one page served.
    pub(crate) fn count_page(&self, endpoint: &'static str, envelopes: usize) {
        let mut pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = pages.entry(endpoint).or_default();
        e.0 += 1;
        e.1 += envelopes as u64;
    }

    fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let unpoison = std::sync::PoisonError::into_inner;
        *self
            .requests
            .lock()
            .unwrap_or_else(unpoison)
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let mut lat = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = lat.entry(route.to_owned()).or_default();
        e.0 += seconds;
        e.1 += 1;
    }

    /// The text exposition, with device counts appended.
    pub fn render(&self, devices: &[(String, i64)]) -> String {
        let unpoison = std::sync::PoisonError::into_inner;
        let mut out = String::new();
        out.push_str(
            "# HELP tsunagi_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE tsunagi_http_requests_total counter\n");
        for ((route, method, status), n) in self.requests.lock().unwrap_or_else(unpoison).iter() {
            let _ = writeln!(
                out,
                "tsunagi_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP tsunagi_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE tsunagi_http_request_duration_seconds summary\n");
        for (route, (sum, count)) in self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "tsunagi_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum:.6}"
            );
            let _ = writeln!(
                out,
                "tsunagi_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        out.push_str("# HELP tsunagi_envelopes_pushed_total Pushed envelopes by result.\n");
        out.push_str("# TYPE tsunagi_envelopes_pushed_total counter\n");
        let pushed = *self
            .pushed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (result, n) in ["accepted", "duplicate", "rejected"].iter().zip(pushed) {
            let _ = writeln!(
                out,
                "tsunagi_envelopes_pushed_total{{result=\"{result}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP tsunagi_envelopes_rejected_total Rejected envelopes by reason code.\n",
        );
        out.push_str("# TYPE tsunagi_envelopes_rejected_total counter\n");
        for (code, n) in self
            .rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "tsunagi_envelopes_rejected_total{{code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP tsunagi_sync_pages_total Sync pages served by endpoint.\n");
        out.push_str("# TYPE tsunagi_sync_pages_total counter\n");
        let pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (endpoint, (n, _)) in &pages {
            let _ = writeln!(
                out,
                "tsunagi_sync_pages_total{{endpoint=\"{endpoint}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP tsunagi_envelopes_served_total Envelopes served in sync pages by endpoint.\n",
        );
        out.push_str("# TYPE tsunagi_envelopes_served_total counter\n");
        for (endpoint, (_, n)) in &pages {
            let _ = writeln!(
                out,
                "tsunagi_envelopes_served_total{{endpoint=\"{endpoint}\"}} {n}"
            );
        }
        out.push_str("# HELP tsunagi_devices Devices by state.\n");
        out.push_str("# TYPE tsunagi_devices gauge\n");
        for (state, n) in devices {
            let _ = writeln!(out, "tsunagi_devices{{state=\"{state}\"}} {n}");
        }
        out
    }
}

/// Middleware: times every request and counts it by its route template (never the raw path,
/// so ids do not explode the label set).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    state.inner.metrics.record(
        &route,
        &method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// The metrics text for `state`.
pub async fn render(state: &AppState) -> Result<String, crate::storage::StorageError> {
    let mut counts: Vec<(String, i64)> = ["pending", "active", "revoked"]
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for (s, n) in state.storage().device_counts().await? {
        if let Some(c) = counts.iter_mut().find(|(k, _)| k == s.key()) {
            c.1 = n;
        }
    }
    Ok(state.inner.metrics.render(&counts))
}

/// Whether `headers` carry `Authorization: Bearer <token>`. Both sides are hashed first and the
/// hashes compared in constant time: the time taken tells neither the token nor its length.
pub(crate) fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (
        tsunagi_crypto::identity::sha256(given.trim().as_bytes()),
        tsunagi_crypto::identity::sha256(token.as_bytes()),
    );
    bool::from(a[..].ct_eq(&b[..]))
}

/// `GET /metrics`: with a `metrics_token` configured, for a request bearing it; without one,
/// 404 like any unknown path.
pub(crate) async fn endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(token) = state.settings().metrics_token.as_deref() else {
        return Err(ApiError::not_found("no such endpoint"));
    };
    if !bearer_matches(&headers, token) {
        let mut resp = ApiError::unauthorized(
            "unauthenticated",
            "the metrics need the bearer token configured on the server",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(resp);
    }
    let text = render(&state).await?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
