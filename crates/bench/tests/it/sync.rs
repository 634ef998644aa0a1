//! The sync benchmark's Tsunagi side end to end on a small N against an in-process server: every
//! phase reported with sane figures, and the untimed checks (counts, records read back on
//! device 2) passing.

use tsunagi_bench::syncbench::server::ServerInfo;
use tsunagi_bench::syncbench::{Phase, PhaseResult, report, tsunagi};
use tsunagi_server::{AppState, Backend, Settings, app};

async fn in_process_server(dir: &std::path::Path) -> ServerInfo {
    let data = dir.join("server");
    std::fs::create_dir_all(&data).unwrap();
    let identity =
        tsunagi_server::load_or_create_identity(&data.join("server-identity.key")).unwrap();
    let state = AppState::open(
        &Backend::Sqlite(data.join("server.db")),
        identity,
        // The harness syncs as fast as it can: no per-key limit, as in the benchmark.
        Settings {
            rate_per_sec: 1e6,
            rate_burst: 1e6,
            ..Settings::default()
        },
    )
    .await
    .unwrap();
    let token = state.bootstrap_token().expect("fresh server").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    ServerInfo {
        url,
        bootstrap_token: token,
        data_dir: data,
        pid: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsunagi_side_runs_every_phase_and_its_checks_pass() {
    assert!(
        std::env::var_os("TSUNAGI_TEST_KEYSTORE").is_some(),
        "this test needs a real Secret Service: run it through scripts/test"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = in_process_server(dir.path()).await;
    let n = 300;
    let opts = tsunagi::Options {
        d_rounds: 2,
        ..tsunagi::Options::new(n, &dir.path().join("devices"))
    };
    let mut reported: Vec<PhaseResult> = Vec::new();
    let outcome = tsunagi::run(&opts, &server, &mut |r| reported.push(r.clone()))
        .await
        .unwrap();
    assert_eq!(outcome.results, reported);
    let phases: Vec<Phase> = outcome.results.iter().map(|r| r.phase).collect();
    assert_eq!(phases, Phase::ALL);
    for r in &outcome.results {
        assert_eq!((r.system.as_str(), r.n), ("tsunagi", n));
        assert!(r.seconds > 0.0 && r.seconds.is_finite(), "{r:?}");
        assert!(r.client_disk_bytes.unwrap() > 0, "{r:?}");
        assert!(r.client_peak_rss_mb.unwrap() > 1.0, "{r:?}");
        assert_eq!(
            r.server_peak_rss_mb, None,
            "in process: no server RSS of its own"
        );
    }
    let [a, b, c, d] = &outcome.results[..] else {
        unreachable!()
    };
    // 300 notes of 2.1 KB at least: on the device, then (sealed) on the server.
    assert!(a.client_disk_bytes.unwrap() > 300 * 2_100);
    assert!(b.server_disk_bytes.unwrap() > 300 * 1_000, "{b:?}");
    assert!(
        b.get("pushed").unwrap() >= 800.0,
        "300 contacts + 500 persons"
    );
    let (sync_s, indexed_s) = (c.get("sync_s").unwrap(), c.get("indexed_s").unwrap());
    assert!((c.seconds - (sync_s + indexed_s)).abs() < 1e-9);
    assert_eq!(d.records, 200);
    let (w, p, pull) = (
        d.get("write_s").unwrap(),
        d.get("push_s").unwrap(),
        d.get("device2_pull_s").unwrap(),
    );
    assert!((d.seconds - (w + p)).abs() < 1e-9);
    let rt = d.get("round_trip_s").unwrap();
    assert!((rt - (p + pull)).abs() < 1e-9);
    // Two rounds: the median (of two, the slower) is the slowest; the first is no slower.
    assert_eq!(d.get("d_rounds"), Some(2.0));
    assert_eq!(d.get("round_trip_max_s"), Some(rt));
    assert!(d.get("round_trip_first_s").unwrap() <= rt);
    // Counts after the pull and after D, 50 samples, then the new and edited records of both
    // D rounds (2 × 100 new, 2 × 100 corrected).
    assert_eq!(outcome.checks.len(), 5, "{:?}", outcome.checks);
    assert!(
        outcome.checks[2].contains("50 records"),
        "{:?}",
        outcome.checks
    );
    assert!(
        outcome.checks[4].contains("400 records"),
        "{:?}",
        outcome.checks
    );
    let table = report::table(n, &outcome.results, &[]);
    println!("{table}");
    assert!(table.contains("C pull"), "{table}");
}
