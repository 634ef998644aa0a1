//! The server as a public endpoint (issue 23 §6): slow clients are cut off, requests beyond
//! the cap are refused at once, attempts at the secrets are limited by address and in all,
//! and the metrics need their token. Real server on 127.0.0.1; the clients are raw TCP or
//! reqwest bound to other loopback addresses (127.0.0.2, ...: other clients).

use crate::harness::*;
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tsunagi_crypto::identity::{KemKey, SigKey};
use tsunagi_protocol::api::{BootstrapRequest, Role};
use tsunagi_server::Settings;

/// Longest a test waits for something that should come within a second or two; reached only
/// when the behaviour under test is missing (the test then fails instead of hanging).
const BOUND: Duration = Duration::from_secs(30);

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Reads what the server sends until it closes the connection (or `BOUND`).
async fn read_to_close(mut r: tokio::net::tcp::OwnedReadHalf) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read).await.ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A reqwest client whose connections come from `local` (another loopback address: another
/// client, as the server sees it).
fn client_from(local: &str) -> reqwest::Client {
    let _ = tsunagi_protocol::client::Pool::new(); // installs the TLS provider reqwest wants
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    body: &impl serde::Serialize,
) -> (u16, Option<String>, serde_json::Value) {
    let resp = http
        .post(format!("{url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry, json)
}

fn code(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A body sent a byte at a time, slower than the request timeout, is cut off with 408
/// `timeout`; a request head sent slower than the header timeout gets its connection closed
/// with no answer. The server keeps serving others meanwhile.
pub async fn slow_clients_are_cut_off(kind: Kind) {
    let s = start_with(
        kind,
        Settings {
            request_timeout: Duration::from_secs(1),
            header_timeout: Duration::from_secs(1),
            ..settings()
        },
    )
    .await;

    // Body: 64 bytes declared, one every 250 ms (16 s in all, the timeout is 1 s).
    let (r, mut w) = TcpStream::connect(addr(&s.url)).await.unwrap().into_split();
    w.write_all(
        b"POST /v1/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n",
    )
    .await
    .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..64 {
            if w.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let answer = read_to_close(r)
        .await
        .expect("the server cut the request off");
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");

    // Head: never finished, one byte of a header value every 250 ms for longer than BOUND.
    let (r, mut w) = TcpStream::connect(addr(&s.url)).await.unwrap().into_split();
    let trickle = tokio::spawn(async move {
        let head = b"GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Slow: ";
        if w.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..(BOUND.as_millis() / 250 + 40) {
            if w.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let answer = read_to_close(r)
        .await
        .expect("the server closed the slow connection");
    trickle.abort();
    // hyper's header read timeout ends the connection with an error and writes nothing (no
    // automatic answer as for a malformed head): the connection closes with no answer at all.
    assert_eq!(answer, "", "the slow head got no answer");

    let (status, _) = raw(&s.url, "GET", "/v1/health", None, Vec::new()).await;
    assert_eq!(status, 200);
}

/// Opens a request that holds its handler (a body that never comes).
async fn hold_a_request(url: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr(url)).await.unwrap();
    c.write_all(
        b"POST /v1/enroll HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{",
    )
    .await
    .unwrap();
    c
}

/// Polls `GET /v1/health` until it answers `want` (or `BOUND`); the last answer.
async fn health_until(url: &str, want: u16) -> reqwest::Response {
    let http = http();
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let resp = http.get(format!("{url}/v1/health")).send().await.unwrap();
        if resp.status().as_u16() == want || tokio::time::Instant::now() > deadline {
            return resp;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With two requests in flight and a cap of two, a third is refused at once with 503
/// `overloaded` and `Retry-After`; once they end, requests pass again.
pub async fn requests_beyond_the_cap_are_refused(kind: Kind) {
    let s = start_with(
        kind,
        Settings {
            max_concurrent: 2,
            ..settings()
        },
    )
    .await;
    let held = [hold_a_request(&s.url).await, hold_a_request(&s.url).await];
    let resp = health_until(&s.url, 503).await;
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "overloaded");
    // The refusal is counted too.
    drop(held);
    assert_eq!(health_until(&s.url, 200).await.status().as_u16(), 200);
    let (_, text) = metrics(&s.url).await;
    assert!(
        text.contains(
            r#"tsunagi_http_requests_total{route="/v1/health",method="GET",status="503"}"#
        ),
        "{text}"
    );
}

/// Wrong enrollment codes and bootstrap tokens: the attempt after the per-address allowance is
/// refused with 429 (even with the right code), the right code from another address still
/// works, and the server-wide allowance stops every address; after the window an address may
/// try again.
pub async fn secret_attempts_are_limited(kind: Kind) {
    let s = start_with(
        kind,
        Settings {
            secret_attempts_per_ip: 3,
            secret_attempts_total: 5,
            ..settings()
        },
    )
    .await;
    let (a, b, c) = (
        client_from("127.0.0.1"),
        client_from("127.0.0.2"),
        client_from("127.0.0.3"),
    );

    // Bootstrap: three wrong tokens from a, then the right one from a is refused, from b it
    // works (a success costs nothing).
    let admin = SigKey::generate().unwrap();
    let ork = KemKey::generate().unwrap();
    let boot = |token: &str| BootstrapRequest {
        token: token.into(),
        admin_pub: admin.public().as_bytes().to_vec(),
        org_recovery_pub: ork.public().as_bytes().to_vec(),
    };
    let token = s.state.bootstrap_token().unwrap().to_owned();
    for _ in 0..3 {
        let (st, _, body) = post_json(
            &a,
            &s.url,
            "/v1/bootstrap",
            &boot("AAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
        assert_eq!((st, code(&body)), (401, "bad_token"));
    }
    let (st, retry, body) = post_json(&a, &s.url, "/v1/bootstrap", &boot(&token)).await;
    assert_eq!((st, code(&body)), (429, "rate_limited"));
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let (st, _, _) = post_json(&b, &s.url, "/v1/bootstrap", &boot(&token)).await;
    assert_eq!(st, 200, "the right token from another address");

    // Enrollment: a is still refused; two wrong codes from c bring the server-wide count to
    // five, and then c, with one try of its own left, is refused too.
    let org = Org {
        server: s,
        admin,
        ork,
    };
    org.team("t").await;
    let user = org.user("u", "t", Role::Worker).await;
    let bundle = org.provision(&user).await;
    let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let right = enroll_request(&bundle.code, &sig, &kem);
    let wrong = enroll_request("BBBBBBBBBBBBBBBBBBBBBBBBBB", &sig, &kem);
    let (st, _, _) = post_json(&a, org.url(), "/v1/enroll", &right).await;
    assert_eq!(st, 429, "address a used its allowance");
    for _ in 0..2 {
        let (st, _, body) = post_json(&c, org.url(), "/v1/enroll", &wrong).await;
        assert_eq!((st, code(&body)), (401, "unknown_code"));
    }
    let (st, _, body) = post_json(&c, org.url(), "/v1/enroll", &right).await;
    assert_eq!(
        (st, code(&body)),
        (429, "rate_limited"),
        "the server-wide allowance is used up"
    );
    assert_eq!(
        org.server
            .state
            .storage()
            .devices(None)
            .await
            .unwrap()
            .len(),
        0,
        "no refused attempt enrolled anything"
    );

    // The window: one try per address per 3 s here. d's wrong code, then its right code at
    // once is refused; after Retry-After the right code enrolls.
    let s = start_with(
        kind,
        Settings {
            secret_attempts_per_ip: 1,
            secret_attempts_window: Duration::from_secs(3),
            ..settings()
        },
    )
    .await;
    let org = Org::bootstrap(s).await;
    org.team("t").await;
    let user = org.user("u", "t", Role::Worker).await;
    let bundle = org.provision(&user).await;
    let right = enroll_request(&bundle.code, &sig, &kem);
    let d = client_from("127.0.0.4");
    let (st, _, _) = post_json(&d, org.url(), "/v1/enroll", &wrong).await;
    assert_eq!(st, 401);
    let (st, retry, _) = post_json(&d, org.url(), "/v1/enroll", &right).await;
    assert_eq!(st, 429);
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let (st, _, body) = post_json(&d, org.url(), "/v1/enroll", &right).await;
    assert_eq!(st, 200, "{body}");
}

/// `/metrics`: 404 without a configured token (as any unknown path, so probes of it use up no
/// allowance of failed attempts at the server's secrets), 401 without the token or with a
/// wrong one, the text with it.
pub async fn metrics_need_the_token(kind: Kind) {
    let open = start_with(
        kind,
        Settings {
            secret_attempts_per_ip: 1,
            secret_attempts_total: 1,
            ..Settings::default()
        },
    )
    .await;
    for _ in 0..3 {
        let (status, body) = raw(&open.url, "GET", "/metrics", None, Vec::new()).await;
        assert_eq!((status, code(&body)), (404, "not_found"));
    }
    let (status, _) = metrics(&open.url).await;
    assert_eq!(status, 404, "no token configured: no metrics at all");
    let (admin, ork) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let wrong = BootstrapRequest {
        token: "AAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        admin_pub: admin.public().as_bytes().to_vec(),
        org_recovery_pub: ork.public().as_bytes().to_vec(),
    };
    let (st, _, body) = post_json(&http(), &open.url, "/v1/bootstrap", &wrong).await;
    assert_eq!(
        (st, code(&body)),
        (401, "bad_token"),
        "the one allowed attempt is still there"
    );

    let s = start(kind).await;
    let http = http();
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Basic eDp5"),
    ] {
        let mut req = http.get(format!("{}/metrics", s.url));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            resp.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "unauthenticated");
    }
    let (status, text) = metrics(&s.url).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("tsunagi_devices{state=\"active\"} 0"),
        "{text}"
    );
}
