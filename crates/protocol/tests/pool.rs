//! Clients made from one `Pool` share its connections (a device's sync rounds reuse one
//! keep-alive connection instead of opening, and over HTTPS handshaking, one per round);
//! clients from different pools do not. Checked against a loopback HTTP server that counts the
//! connections it accepts.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tsunagi_protocol::client::{Client, Pool};

/// A keep-alive HTTP/1.1 server on 127.0.0.1 answering `{}` to every request; returns its URL
/// and the count of accepted connections. Its threads end with the test process (each
/// connection also stops after 10 s without a request).
fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(stream));
        }
    });
    (url, accepted)
}

fn serve(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Requests without a body (GET): headers up to the blank line, then the answer.
    for _ in 0..100 {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

async fn get(client: &Client) {
    let v: serde_json::Value = client.get("/v1/health").await.expect("answer");
    assert_eq!(v, serde_json::json!({}));
}

#[tokio::test]
async fn clients_of_one_pool_share_a_connection_and_separate_pools_do_not() {
    let (url, accepted) = counting_server();
    let pool = Pool::new().unwrap();
    for _ in 0..3 {
        // A new client per round, as a device makes one per sync round.
        let client = Client::with_pool(&pool, &url, None).unwrap();
        get(&client).await;
        get(&client).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one pool, one connection"
    );

    let other = Client::with_pool(&Pool::new().unwrap(), &url, None).unwrap();
    get(&other).await;
    let fresh = Client::new(&url, None).unwrap();
    get(&fresh).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "each new pool connects anew"
    );
}

#[test]
fn a_client_of_a_pool_still_refuses_a_bad_url() {
    let pool = Pool::new().unwrap();
    let err = Client::with_pool(&pool, "ftp://example", None).unwrap_err();
    assert_eq!(err.code(), "protocol");
}
