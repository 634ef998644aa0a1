//! Prometheus text metrics: requests by route, method and status; latency sum and count by
//! route; devices by state (read from storage at scrape time).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use crate::AppState;

/// Counters in memory (per instance).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, (f64, u64)>>,
}

impl Metrics {
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
