//! The harness end to end on a small store: every figure present and sane, search totals equal
//! to a naive count over the generated notes.

mod sync;

use std::collections::BTreeMap;
use tsunagi_bench::workload::Workload;
use tsunagi_bench::{Metric, Options, SEARCH_TERMS, Variant, run};

fn value(metrics: &[Metric], name: &str) -> f64 {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .value
}

#[test]
fn small_run_produces_every_metric() {
    let n = 300;
    let opts = Options {
        timeline_samples: 20,
        caseload_runs: 3,
        search_runs: 2,
        ..Options::new(n)
    };
    let mut printed = 0;
    let results = run(&opts, &[Variant::Sqlcipher, Variant::Plain], &mut |_, _| {
        printed += 1
    })
    .unwrap();
    assert_eq!(results.len(), 2);

    let w = Workload::new();
    let notes: Vec<String> = (0..n).map(|i| w.record(i).note).collect();
    let mut names = BTreeMap::new();
    for (variant, metrics) in &results {
        names.insert(
            *variant,
            metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        );
        for m in metrics {
            assert!(m.value.is_finite() && m.value >= 0.0, "{variant:?} {m:?}");
        }
        for timed in ["write_p50_ms", "write_p99_ms", "write_max_ms", "capture_s"] {
            assert!(value(metrics, timed) > 0.0, "{timed}");
        }
        assert!(value(metrics, "write_p50_ms") <= value(metrics, "write_max_ms"));
        assert!(value(metrics, "capture_records_per_s") > 0.0);
        assert!(value(metrics, "timeline_p50_ms") > 0.0);
        assert!(value(metrics, "person_page_p99_ms") > 0.0);
        assert!(value(metrics, "caseload_p99_ms") > 0.0);
        assert_eq!(value(metrics, "caseload_rows"), 500.0);
        // 300 contacts over 500 persons: a sampled person has 0 to a few.
        let avg = value(metrics, "timeline_contacts_avg");
        assert!((0.0..=50.0).contains(&avg));
        // Every note is at least 700 characters of 3-byte UTF-8 and is indexed twice.
        assert!(value(metrics, "store_bytes_per_contact") > 2_100.0);
        for (name, term) in SEARCH_TERMS {
            let naive = notes.iter().filter(|note| note.contains(term)).count() as f64;
            assert_eq!(
                value(metrics, &format!("{name}_naive_hits")),
                naive,
                "{term}"
            );
            assert_eq!(value(metrics, &format!("{name}_hits")), naive, "{term}");
            assert!(value(metrics, &format!("{name}_p99_ms")) > 0.0);
        }
        assert!(value(metrics, "peak_rss_write_mb") > 1.0);
    }
    assert_eq!(names[&Variant::Sqlcipher], names[&Variant::Plain]);
    assert_eq!(printed, 2 * names[&Variant::Plain].len());

    let table = tsunagi_bench::report::summary(&results);
    assert!(table.contains("write_p99_ms"), "{table}");
}
