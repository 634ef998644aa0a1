//! The sync protocol v1 on the server (docs/protocol.md): push checks, readability, snapshots,
//! team KEM keys, revocation, no plaintext at rest, and the ordering invariant under concurrent
//! pushers and pullers. Envelopes are real: sealed with case keys, signed with device keys.

use crate::harness::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tsunagi_crypto::case::{
    CaseKey, CaseKeyContext, open_case_key, open_payload, seal_case_key, seal_payload, team_kem,
};
use tsunagi_crypto::identity::{KemPublic, SigKey, SigPublic, Signature, TeamKey};
use tsunagi_protocol::api::{DeviceCert, DeviceInfo, Head, Role, TeamKem, TeamKemAnswer};
use tsunagi_protocol::wire::{
    Aux, Envelope, Kind as EnvKind, PullPage, Pulled, PushResponse, PushResult, encode_batch,
};
use tsunagi_server::Settings;

fn rand16() -> [u8; 16] {
    tsunagi_crypto::random_array::<16>().unwrap()
}

/// No per-key rate limit: tests poll and push as fast as they can.
fn unlimited() -> Settings {
    Settings {
        rate_per_sec: 1e6,
        rate_burst: 1e6,
        ..settings()
    }
}

/// A team with its key of epoch 1 and the derived TeamKEM.
struct TeamCtx {
    id: String,
    tk: TeamKey,
}

impl TeamCtx {
    fn kem_pub(&self) -> KemPublic {
        team_kem(&self.tk, &self.id, 1).unwrap().public()
    }
}

/// A case as its owning devices know it: id, current case-key epoch, key id and key.
#[derive(Clone)]
struct Case {
    id: [u8; 16],
    epoch: u32,
    key_id: [u8; 16],
    ck: CaseKey,
}

impl Case {
    fn new() -> Case {
        Case {
            id: rand16(),
            epoch: 1,
            key_id: rand16(),
            ck: CaseKey::generate().unwrap(),
        }
    }

    /// The next epoch with a fresh key.
    fn next(&self) -> Case {
        Case {
            id: self.id,
            epoch: self.epoch + 1,
            key_id: rand16(),
            ck: CaseKey::generate().unwrap(),
        }
    }

    fn hex(&self) -> String {
        uuid::Uuid::from_bytes(self.id).simple().to_string()
    }
}

fn blank(kind: EnvKind, dev: &Dev, case: &Case, aux: Aux) -> Envelope {
    Envelope {
        kind,
        id: rand16(),
        case: case.id,
        epoch: case.epoch,
        key_id: case.key_id,
        author: *dev.id.as_bytes(),
        aux,
        nonce: [0; 12],
        ct: Vec::new(),
        sig: [0; 64],
    }
}

/// A case-key slot: the case's key sealed to `team`'s TeamKEM of epoch 1.
fn slot_env(dev: &Dev, case: &Case, team: &str, team_pub: &KemPublic) -> Envelope {
    let sealed = seal_case_key(
        team_pub,
        &case.ck,
        &CaseKeyContext {
            case: &case.id,
            epoch: case.epoch,
            key_id: &case.key_id,
            team,
            team_epoch: 1,
        },
    )
    .unwrap();
    let mut e = blank(
        EnvKind::CaseKey,
        dev,
        case,
        Aux::CaseKey {
            team: team.into(),
            team_epoch: 1,
            created: 1,
            enc: sealed.enc,
        },
    );
    e.ct = sealed.ct;
    e.sign(&dev.sig);
    e
}

fn sealed_env(kind: EnvKind, dev: &Dev, case: &Case, aux: Aux, plaintext: &[u8]) -> Envelope {
    let mut e = blank(kind, dev, case, aux);
    let (nonce, ct) = seal_payload(&case.ck, &e.id, &e.aad(), plaintext).unwrap();
    e.nonce = nonce;
    e.ct = ct;
    e.sign(&dev.sig);
    e
}

fn change_env(dev: &Dev, case: &Case, plaintext: &[u8]) -> Envelope {
    sealed_env(EnvKind::Change, dev, case, Aux::None, plaintext)
}

fn snapshot_env(dev: &Dev, case: &Case, covers: u64) -> Envelope {
    sealed_env(
        EnvKind::Snapshot,
        dev,
        case,
        Aux::Snapshot { covers },
        b"{\"entities\":[]}",
    )
}

fn grant_env(dev: &Dev, case: &Case, team: &str, from: u32, until: u32) -> Envelope {
    let mut e = blank(
        EnvKind::Grant,
        dev,
        case,
        Aux::Grant {
            team: team.into(),
            from_epoch: from,
            until_epoch: until,
            basis: "consent".into(),
            basis_id: rand16(),
        },
    );
    e.sign(&dev.sig);
    e
}

async fn push_bytes(org: &Org, dev: &Dev, body: Vec<u8>) -> (u16, Vec<u8>) {
    org.as_device(dev)
        .send_raw("POST", "/v1/sync/push", body)
        .await
        .unwrap()
}

async fn push(org: &Org, dev: &Dev, envs: &[Envelope]) -> Vec<PushResult> {
    let batch = encode_batch(&envs.iter().map(Envelope::encode).collect::<Vec<_>>());
    let (st, body) = push_bytes(org, dev, batch).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let r: PushResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(r.results.len(), envs.len());
    r.results
}

fn seq_of(r: &PushResult) -> u64 {
    match r {
        PushResult::Accepted { seq } => *seq,
        other => panic!("expected accepted, got {other:?}"),
    }
}

fn code_of(r: &PushResult) -> &str {
    match r {
        PushResult::Rejected { code, .. } => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn get_page(org: &Org, dev: &Dev, path: &str) -> PullPage {
    let (st, body) = org
        .as_device(dev)
        .send_raw("GET", path, Vec::new())
        .await
        .unwrap();
    assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
    PullPage::decode(&body).unwrap()
}

async fn get_status(org: &Org, dev: &Dev, path: &str) -> (u16, String) {
    let (st, body) = org
        .as_device(dev)
        .send_raw("GET", path, Vec::new())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (st, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

/// Every page of `base` (a path with `?`, without `since`) from `since`, following `next`.
async fn all_pages(org: &Org, dev: &Dev, base: &str, since: u64) -> Vec<Pulled> {
    let mut out = Vec::new();
    let mut cursor = since;
    for _ in 0..10_000 {
        let page = get_page(org, dev, &format!("{base}&since={cursor}")).await;
        for p in &page.items {
            assert!(p.seq > cursor, "page went backwards");
            cursor = p.seq;
        }
        out.extend(page.items);
        if !page.more {
            // The last page resumes at the head it saw (at least its last envelope).
            assert!(page.next >= cursor, "next went backwards");
            return out;
        }
        assert_eq!(
            page.next, cursor,
            "a page with more after it ends at its last envelope"
        );
    }
    panic!("more than 10000 pages");
}

async fn pull_all(org: &Org, dev: &Dev) -> Vec<Pulled> {
    all_pages(org, dev, "/v1/sync/pull?limit=1000", 0).await
}

fn ids(pulled: &[Pulled]) -> BTreeSet<[u8; 16]> {
    pulled
        .iter()
        .map(|p| Envelope::decode(&p.body).unwrap().id)
        .collect()
}

fn set(envs: &[&Envelope]) -> BTreeSet<[u8; 16]> {
    envs.iter().map(|e| e.id).collect()
}

async fn head(org: &Org, dev: &Dev) -> u64 {
    let h: Head = org.as_device(dev).get("/v1/sync/head").await.unwrap();
    h.head
}

/// Two teams: team-a (lead a1, worker a2) and team-b (lead b1), all approved at epoch 1.
struct World {
    org: Org,
    a: TeamCtx,
    b: TeamCtx,
    a1: Dev,
    a2: Dev,
    b1: Dev,
}

async fn world(kind: Kind) -> World {
    let org = Org::bootstrap(start_with(kind, unlimited()).await).await;
    let a = TeamCtx {
        id: "team-a".into(),
        tk: TeamKey::generate().unwrap(),
    };
    let b = TeamCtx {
        id: "team-b".into(),
        tk: TeamKey::generate().unwrap(),
    };
    org.team(&a.id).await;
    org.team(&b.id).await;
    let a1 = org.enroll(&org.user("A1", &a.id, Role::Lead).await).await;
    org.approve_by_admin(&a1, &a.tk, 1, true).await.unwrap();
    let a2 = org.enroll(&org.user("A2", &a.id, Role::Worker).await).await;
    org.approve_by_admin(&a2, &a.tk, 1, false).await.unwrap();
    let b1 = org.enroll(&org.user("B1", &b.id, Role::Lead).await).await;
    org.approve_by_admin(&b1, &b.tk, 1, true).await.unwrap();
    World {
        org,
        a,
        b,
        a1,
        a2,
        b1,
    }
}

async fn metrics_text(org: &Org) -> String {
    metrics(org.url()).await.1
}

pub async fn sync_push_accepts_in_order_and_dedups(kind: Kind) {
    let w = world(kind).await;
    let (org, a1) = (&w.org, &w.a1);
    assert_eq!(head(org, a1).await, 0);
    let case = Case::new();
    let batch = vec![
        slot_env(a1, &case, &w.a.id, &w.a.kem_pub()),
        change_env(a1, &case, b"one"),
        change_env(a1, &case, b"two"),
        change_env(a1, &case, b"three"),
    ];
    let r = push(org, a1, &batch).await;
    let seqs: Vec<u64> = r.iter().map(seq_of).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4],
        "one seq per envelope, in batch order"
    );
    assert_eq!(head(org, a1).await, 4);

    // A retried push: every envelope is a duplicate with its seq, nothing changes.
    let again = push(org, a1, &batch).await;
    assert_eq!(
        again,
        seqs.iter()
            .map(|&seq| PushResult::Duplicate { seq })
            .collect::<Vec<_>>()
    );
    assert_eq!(head(org, a1).await, 4);
    // The same id twice in one batch: the second is a duplicate of the first.
    let c = change_env(a1, &case, b"four");
    let r = push(org, a1, &[c.clone(), c.clone()]).await;
    assert_eq!(
        r,
        vec![
            PushResult::Accepted { seq: 5 },
            PushResult::Duplicate { seq: 5 }
        ]
    );

    // Pulled back byte for byte, in order, by another device of the team.
    let pulled = pull_all(org, &w.a2).await;
    let want: Vec<Vec<u8>> = batch.iter().chain([&c]).map(Envelope::encode).collect();
    assert_eq!(
        pulled.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        pulled.iter().map(|p| p.body.clone()).collect::<Vec<_>>(),
        want
    );
    // A page of two, then the rest.
    let p = get_page(org, &w.a2, "/v1/sync/pull?since=0&limit=2").await;
    assert_eq!((p.items.len(), p.next, p.more), (2, 2, true));
    let p = get_page(org, &w.a2, "/v1/sync/pull?since=2&limit=5").await;
    assert_eq!((p.items.len(), p.next, p.more), (3, 5, false));
    let p = get_page(org, &w.a2, "/v1/sync/pull?since=5").await;
    assert_eq!((p.items.len(), p.next, p.more), (0, 5, false));

    let text = metrics_text(org).await;
    for line in [
        r#"tsunagi_envelopes_pushed_total{result="accepted"} 5"#,
        r#"tsunagi_envelopes_pushed_total{result="duplicate"} 5"#,
        r#"tsunagi_envelopes_pushed_total{result="rejected"} 0"#,
        r#"tsunagi_sync_pages_total{endpoint="pull"} 4"#,
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
}

pub async fn sync_push_refusals(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2, b1) = (&w.org, &w.a1, &w.a2, &w.b1);
    let case = Case::new();
    let created = push(
        org,
        a1,
        &[
            slot_env(a1, &case, &w.a.id, &w.a.kem_pub()),
            change_env(a1, &case, b"x"),
        ],
    )
    .await;
    assert_eq!(created.iter().map(seq_of).collect::<Vec<_>>(), vec![1, 2]);

    let mut tampered = change_env(a1, &case, b"tampered");
    tampered.ct[0] ^= 1;
    let by_a2 = change_env(a2, &case, b"a2's, pushed by a1");
    let mut forged = change_env(a1, &case, b"signed by a stranger");
    forged.sign(&SigKey::generate().unwrap());
    let unknown_case = change_env(a1, &Case::new(), b"no such case");
    let wrong_key = Case {
        key_id: rand16(),
        ..case.clone()
    };
    let stale = change_env(a1, &wrong_key, b"stale key id");
    let unregistered = change_env(a1, &case.next(), b"epoch 2 has no key");
    let taken = slot_env(a1, &wrong_key, &w.a.id, &w.a.kem_pub());
    let foreign_first_slot = slot_env(a1, &Case::new(), &w.b.id, &w.b.kem_pub());
    let to_nowhere = {
        let mut e = slot_env(a1, &case, &w.a.id, &w.a.kem_pub());
        if let Aux::CaseKey { team, .. } = &mut e.aux {
            *team = "team-x".into();
        }
        e.sign(&a1.sig);
        e
    };
    let beyond = snapshot_env(a1, &case, 1_000);
    let grant_from_0 = grant_env(a1, &case, &w.b.id, 0, 0);
    let grant_until_eq = grant_env(a1, &case, &w.b.id, 2, 2);
    let grant_self = grant_env(a1, &case, &w.a.id, 1, 0);
    let grant_nowhere = grant_env(a1, &case, "team-x", 1, 0);
    let grant_unknown_case = grant_env(a1, &Case::new(), &w.b.id, 1, 0);
    let good = change_env(a1, &case, b"good");

    let batch = vec![
        tampered.encode(),
        by_a2.encode(),
        forged.encode(),
        unknown_case.encode(),
        stale.encode(),
        unregistered.encode(),
        taken.encode(),
        foreign_first_slot.encode(),
        to_nowhere.encode(),
        beyond.encode(),
        grant_from_0.encode(),
        grant_until_eq.encode(),
        grant_self.encode(),
        grant_nowhere.encode(),
        grant_unknown_case.encode(),
        b"\x01\x01garbage".to_vec(),
        good.encode(),
    ];
    let (st, body) = push_bytes(org, a1, encode_batch(&batch)).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let r: PushResponse = serde_json::from_slice(&body).unwrap();
    let codes: Vec<&str> = r.results[..16].iter().map(code_of).collect();
    assert_eq!(
        codes,
        vec![
            "bad_signature",
            "not_author",
            "bad_signature",
            "unknown_case",
            "stale_key",
            "stale_key",
            "epoch_taken",
            "not_writable",
            "unknown_team",
            "bad_snapshot",
            "bad_grant",
            "bad_grant",
            "bad_grant",
            "unknown_team",
            "unknown_case",
            "malformed",
        ]
    );
    for res in &r.results[..16] {
        let PushResult::Rejected { message, .. } = res else {
            unreachable!()
        };
        assert!(!message.is_empty());
    }
    // The good envelope after all the refusals gets the next seq: nothing refused was stored.
    assert_eq!(r.results[16], PushResult::Accepted { seq: 3 });

    // The other team may not write the case: neither a change nor a key slot.
    let r = push(
        org,
        b1,
        &[
            change_env(b1, &case, b"from team b"),
            slot_env(b1, &case, &w.b.id, &w.b.kem_pub()),
        ],
    )
    .await;
    assert_eq!(
        r.iter().map(code_of).collect::<Vec<_>>(),
        vec!["not_writable", "not_writable"]
    );
    // A valid snapshot, and a second slot of the same key for another team, are fine.
    let r = push(
        org,
        a1,
        &[
            snapshot_env(a1, &case, 3),
            slot_env(a1, &case, &w.b.id, &w.b.kem_pub()),
        ],
    )
    .await;
    assert_eq!(r.iter().map(seq_of).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(head(org, a1).await, 5);
    assert_eq!(
        pull_all(org, a2).await.len(),
        4,
        "a2 sees all but team b's slot"
    );
    let text = metrics_text(org).await;
    assert!(text.contains(r#"tsunagi_envelopes_rejected_total{code="bad_grant"} 3"#));
    assert!(text.contains(r#"tsunagi_envelopes_pushed_total{result="rejected"} 18"#));
}

/// A batch large enough to be verified on several threads answers every envelope in its own
/// place: refusals spread over the whole batch, everything else accepted in order.
pub async fn sync_large_batch_answers_in_order(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2) = (&w.org, &w.a1, &w.a2);
    let case = Case::new();
    let mut batch = vec![slot_env(a1, &case, &w.a.id, &w.a.kem_pub())];
    for i in 0..299u32 {
        batch.push(change_env(a1, &case, format!("change {i}").as_bytes()));
    }
    // First, middle and last part of the batch (whatever the number of threads).
    batch[5].ct[0] ^= 1;
    batch[150] = change_env(a2, &case, b"a2's, pushed by a1");
    batch[299].sign(&SigKey::generate().unwrap());
    let mut encoded: Vec<Vec<u8>> = batch.iter().map(Envelope::encode).collect();
    encoded[200] = b"\x01\x01garbage".to_vec();
    let (st, body) = push_bytes(org, a1, encode_batch(&encoded)).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let r: PushResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(r.results.len(), 300);
    let refused = [
        (5, "bad_signature"),
        (150, "not_author"),
        (200, "malformed"),
        (299, "bad_signature"),
    ];
    let mut next_seq = 1;
    for (i, res) in r.results.iter().enumerate() {
        match refused.iter().find(|(at, _)| *at == i) {
            Some((_, code)) => assert_eq!(code_of(res), *code, "envelope {i}"),
            None => {
                assert_eq!(*res, PushResult::Accepted { seq: next_seq }, "envelope {i}");
                next_seq += 1;
            }
        }
    }
    assert_eq!(head(org, a1).await, 296);
}

pub async fn sync_malformed_and_oversized_batches(kind: Kind) {
    let w = world(kind).await;
    let (org, a1) = (&w.org, &w.a1);
    let case = Case::new();
    let slot = slot_env(a1, &case, &w.a.id, &w.a.kem_pub());
    let ok = encode_batch(&[slot.encode()]);
    let mut wrong_version = ok.clone();
    wrong_version[0] = 2;
    let mut trailing = ok.clone();
    trailing.push(0);
    let mut too_many = vec![1u8];
    too_many.extend_from_slice(&1001u32.to_be_bytes());
    for (bad, says) in [
        (Vec::new(), "truncated"),
        (wrong_version, "version"),
        (ok[..ok.len() - 1].to_vec(), "truncated"),
        (trailing, "trailing"),
        (too_many, "1001 envelopes exceed 1000"),
        (b"{\"json\": true}".to_vec(), "version"),
    ] {
        let (st, body) = push_bytes(org, a1, bad).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (400, Some("malformed")),
            "{v}"
        );
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
    }
    assert_eq!(head(org, a1).await, 0);

    // Bodies above 1 MiB are fine on this route (about 2.4 MiB here); above 4 MiB are not.
    push(org, a1, &[slot]).await;
    let big: Vec<Envelope> = (0..120)
        .map(|_| change_env(a1, &case, &vec![b'x'; 20_000]))
        .collect();
    let r = push(org, a1, &big).await;
    assert_eq!(r.last().map(seq_of), Some(121));
    let huge: Vec<Vec<u8>> = (0..5)
        .map(|_| change_env(a1, &case, &vec![b'y'; 900_000]).encode())
        .collect();
    let (st, body) = push_bytes(org, a1, encode_batch(&huge)).await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, v["error"]["code"].as_str()), (413, Some("too_large")));
    assert_eq!(head(org, a1).await, 121);
    // Other routes keep their 1 MiB limit.
    let (st, _) = org
        .as_device(a1)
        .send_raw("POST", "/v1/teams/team-a/kem", vec![b' '; 2 << 20])
        .await
        .unwrap();
    assert_eq!(st, 413);

    // Pages stop near 4 MiB of bodies: 121 envelopes of ~20 KB (2.4 MB) fit in one page;
    // a page never holds more than `limit`.
    let p = get_page(org, &w.a2, "/v1/sync/pull?since=0&limit=5000").await;
    assert_eq!((p.items.len(), p.more), (121, false));
    let more: Vec<Envelope> = (0..120)
        .map(|_| change_env(a1, &case, &vec![b'z'; 20_000]))
        .collect();
    push(org, a1, &more).await;
    let p = get_page(org, &w.a2, "/v1/sync/pull?since=0&limit=5000").await;
    let bytes: usize = p.items.iter().map(|i| i.body.len()).sum();
    assert!(p.more && bytes <= 4 << 20 && p.items.len() > 150, "{bytes}");
    assert_eq!(pull_all(org, &w.a2).await.len(), 241);

    // Query parameters are checked.
    for (path, code) in [
        ("/v1/sync/pull?since=-1", "bad_query"),
        ("/v1/sync/pull?since=abc", "bad_query"),
        ("/v1/sync/pull?limit=0", "bad_query"),
        ("/v1/sync/pull?limit=5001", "bad_query"),
        ("/v1/sync/pull?since=1&since=2", "bad_query"),
        ("/v1/sync/pull?cursor=1", "bad_query"),
        ("/v1/sync/pull?covered_as_of=99999", "bad_query"),
        ("/v1/sync/snapshots?since=0", "bad_query"),
        ("/v1/sync/snapshots?as_of=99999", "bad_query"),
        ("/v1/sync/cases/nothex?since=0", "bad_case"),
        (
            "/v1/sync/cases/0123456789abcdef0123456789abcdeg",
            "bad_case",
        ),
        (
            "/v1/sync/cases/urn:uuid:00000000-0000-0000-0000-000000000000",
            "bad_case",
        ),
        (
            "/v1/sync/cases/00000000000000000000000000000000?as_of=1",
            "bad_query",
        ),
        (
            "/v1/sync/cases/00000000000000000000000000000000?covered_as_of=99999",
            "bad_query",
        ),
        (
            "/v1/sync/cases/00000000000000000000000000000000?covered_as_of=x",
            "bad_query",
        ),
    ] {
        assert_eq!(
            get_status(org, a1, path).await,
            (400, code.into()),
            "{path}"
        );
    }
}

pub async fn sync_readability_follows_grants(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2, b1) = (&w.org, &w.a1, &w.a2, &w.b1);
    let case = Case::new();
    let a_slot = slot_env(a1, &case, &w.a.id, &w.a.kem_pub());
    let c1 = change_env(a1, &case, b"epoch 1, first");
    let c2 = change_env(a1, &case, b"epoch 1, second");
    push(org, a1, &[a_slot.clone(), c1.clone(), c2.clone()]).await;
    // Another team's case of team b, to see that team a does not read it either.
    let b_case = Case::new();
    let b_slot = slot_env(b1, &b_case, &w.b.id, &w.b.kem_pub());
    let b_change = change_env(b1, &b_case, b"team b's own");
    push(org, b1, &[b_slot.clone(), b_change.clone()]).await;

    // Before a grant, team b sees nothing of the case.
    assert_eq!(ids(&pull_all(org, b1).await), set(&[&b_slot, &b_change]));
    let case_path = format!("/v1/sync/cases/{}?limit=100", case.hex());
    assert!(all_pages(org, b1, &case_path, 0).await.is_empty());
    assert_eq!(
        ids(&pull_all(org, a2).await),
        set(&[&a_slot, &c1, &c2]),
        "team a does not read team b's case"
    );

    // Team b publishes its KEM key; a1 fetches it, checks it, and shares the case.
    let mut kem = TeamKem {
        team: w.b.id.clone(),
        epoch: 1,
        kem_pub: w.b.kem_pub().as_bytes().to_vec(),
        device: b1.id,
        sig: Vec::new(),
    };
    kem.sig = b1.sig.sign(&kem.signed_message()).0.to_vec();
    let _: TeamKem = org
        .as_device(b1)
        .post("/v1/teams/team-b/kem", &kem)
        .await
        .unwrap();
    let answer: TeamKemAnswer = org.as_device(a1).get("/v1/teams/team-b/kem").await.unwrap();
    assert_eq!(answer.kem, kem);
    let b_pub = KemPublic::from_bytes(&answer.kem.kem_pub).unwrap();
    let b_share = slot_env(a1, &case, &w.b.id, &b_pub);
    let grant = grant_env(a1, &case, &w.b.id, 1, 0);
    push(org, a1, &[b_share.clone(), grant.clone()]).await;

    // Now team b reads the case's changes, its own slot and the grant, not team a's slot.
    let b_view = pull_all(org, b1).await;
    assert_eq!(
        ids(&b_view),
        set(&[&b_slot, &b_change, &c1, &c2, &b_share, &grant])
    );
    // And opens them: the slot with the TeamKEM it derives from its team key.
    let pulled_slot = b_view
        .iter()
        .map(|p| Envelope::decode(&p.body).unwrap())
        .find(|e| e.kind == EnvKind::CaseKey && e.case == case.id)
        .unwrap();
    let Aux::CaseKey { enc, .. } = &pulled_slot.aux else {
        unreachable!()
    };
    let ck = open_case_key(
        &team_kem(&w.b.tk, &w.b.id, 1).unwrap(),
        &tsunagi_crypto::identity::SealedKey {
            enc: enc.clone(),
            ct: pulled_slot.ct.clone(),
        },
        &CaseKeyContext {
            case: &case.id,
            epoch: 1,
            key_id: &case.key_id,
            team: &w.b.id,
            team_epoch: 1,
        },
    )
    .unwrap();
    assert_eq!(
        open_payload(&ck, &c1.id, &c1.aad(), &c1.nonce, &c1.ct)
            .unwrap()
            .as_slice(),
        b"epoch 1, first"
    );
    // Backfill through the case's history gives the same envelopes of that case.
    let history = all_pages(org, b1, &case_path, 0).await;
    assert_eq!(ids(&history), set(&[&c1, &c2, &b_share, &grant]));
    // The slot sealed to team b is for team b only.
    assert_eq!(
        ids(&pull_all(org, a2).await),
        set(&[&a_slot, &c1, &c2, &grant])
    );

    // The grant is withdrawn from epoch 2 on: a new key, and changes team b must not read.
    let case2 = case.next();
    let a_slot2 = slot_env(a1, &case2, &w.a.id, &w.a.kem_pub());
    let withdraw = grant_env(a1, &case2, &w.b.id, 1, 2);
    let c3 = change_env(a1, &case2, b"epoch 2, not for team b");
    let snap = snapshot_env(a1, &case2, head(org, a1).await);
    // Still epoch 1 (an old device catching up): team b may read it.
    let c4 = change_env(a1, &case, b"epoch 1, late");
    push(
        org,
        a1,
        &[
            a_slot2.clone(),
            withdraw.clone(),
            c3.clone(),
            snap.clone(),
            c4.clone(),
        ],
    )
    .await;
    let b_view = pull_all(org, b1).await;
    assert_eq!(
        ids(&b_view),
        set(&[
            &b_slot, &b_change, &c1, &c2, &b_share, &grant, &withdraw, &c4
        ])
    );
    assert_eq!(
        ids(&all_pages(org, b1, &case_path, 0).await),
        set(&[&c1, &c2, &b_share, &grant, &withdraw, &c4])
    );
    assert_eq!(
        ids(&pull_all(org, a2).await),
        set(&[
            &a_slot, &c1, &c2, &grant, &a_slot2, &withdraw, &c3, &snap, &c4
        ])
    );
    // Team b gets no snapshot of epoch 2.
    let h = head(org, b1).await;
    let snaps = all_pages(org, b1, &format!("/v1/sync/snapshots?as_of={h}"), 0).await;
    assert!(snaps.is_empty());
    // The hyphenated form of the case id names the same history.
    let hyph = uuid::Uuid::from_bytes(case.id).hyphenated().to_string();
    assert_eq!(
        ids(&all_pages(org, a2, &format!("/v1/sync/cases/{hyph}?limit=2"), 0).await),
        set(&[
            &a_slot, &c1, &c2, &grant, &a_slot2, &withdraw, &c3, &snap, &c4
        ])
    );
}

pub async fn sync_snapshots_and_covered_pull(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2) = (&w.org, &w.a1, &w.a2);
    let k1 = Case::new();
    let k2 = Case::new();
    let pk = w.a.kem_pub();
    let slot1 = slot_env(a1, &k1, &w.a.id, &pk);
    let (c1, c2, c3) = (
        change_env(a1, &k1, b"c1"),
        change_env(a1, &k1, b"c2"),
        change_env(a1, &k1, b"c3"),
    );
    push(
        org,
        a1,
        &[slot1.clone(), c1.clone(), c2.clone(), c3.clone()],
    )
    .await; // 1..=4
    let s1 = snapshot_env(a1, &k1, 4);
    let c4 = change_env(a1, &k1, b"c4");
    push(org, a1, &[s1.clone(), c4.clone()]).await; // 5, 6
    let slot2 = slot_env(a1, &k2, &w.a.id, &pk);
    let d1 = change_env(a1, &k2, b"d1");
    push(org, a1, &[slot2.clone(), d1.clone()]).await; // 7, 8
    let s2 = snapshot_env(a1, &k1, 6);
    let c5 = change_env(a1, &k1, b"c5");
    let r = push(org, a1, &[s2.clone(), c5.clone()]).await; // 9, 10
    assert_eq!(r.iter().map(seq_of).collect::<Vec<_>>(), vec![9, 10]);
    let h = head(org, a2).await;
    assert_eq!(h, 10);

    // Snapshots as of the head: the latest per case only (k2 has none).
    let snaps = all_pages(org, a2, &format!("/v1/sync/snapshots?as_of={h}&limit=1"), 0).await;
    assert_eq!(snaps.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![9]);
    assert_eq!(snaps[0].body, s2.encode());
    // As of 8, the snapshot of seq 5 is the latest; since=5 leaves it out.
    let snaps = all_pages(org, a2, "/v1/sync/snapshots?as_of=8", 0).await;
    assert_eq!(snaps.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![5]);
    assert!(
        all_pages(org, a2, "/v1/sync/snapshots?as_of=8", 5)
            .await
            .is_empty()
    );

    // A fresh device that took the snapshots as of 10 pulls only what they do not hold.
    let fresh = all_pages(org, a2, "/v1/sync/pull?covered_as_of=10&limit=2", 0).await;
    assert_eq!(
        fresh.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 7, 8, 10]
    );
    assert_eq!(ids(&fresh), set(&[&slot1, &slot2, &d1, &c5]));
    // As of 8: snapshot 5 covers 1..=4; snapshot 9 is newer than 8 and comes along.
    let fresh = all_pages(org, a2, "/v1/sync/pull?covered_as_of=8", 0).await;
    assert_eq!(
        fresh.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 6, 7, 8, 9, 10]
    );
    // Without covered_as_of: everything.
    assert_eq!(pull_all(org, a2).await.len(), 10);
    // One case from its latest snapshot as of S (the worker's own cases on a fresh device):
    // its slot, that snapshot, what the snapshot does not cover, and anything after S.
    let from =
        |case: &Case, s: u64| format!("/v1/sync/cases/{}?covered_as_of={s}&limit=2", case.hex());
    let seqs = |p: Vec<Pulled>| p.iter().map(|p| p.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(all_pages(org, a2, &from(&k1, 10), 0).await),
        vec![1, 9, 10]
    );
    assert_eq!(
        seqs(all_pages(org, a2, &from(&k1, 8), 0).await),
        vec![1, 5, 6, 9, 10]
    );
    assert_eq!(
        seqs(all_pages(org, a2, &from(&k1, 4), 0).await),
        vec![1, 2, 3, 4, 5, 6, 9, 10],
        "before the first snapshot: the whole history"
    );
    assert_eq!(
        seqs(all_pages(org, a2, &from(&k2, 10), 0).await),
        vec![7, 8]
    );
    assert!(
        all_pages(org, &w.b1, &from(&k1, 10), 0).await.is_empty(),
        "another team reads none of it"
    );
    // Team b reads none of it.
    assert!(
        all_pages(org, &w.b1, "/v1/sync/snapshots?as_of=10", 0)
            .await
            .is_empty()
    );
    assert!(pull_all(org, &w.b1).await.is_empty());

    // A last page resumes at the head read before it, even when it left its last envelopes out
    // (covered by a snapshot, or another team's): the next pull does not scan them again.
    let s3 = snapshot_env(a1, &k1, 10);
    push(org, a1, &[s3]).await; // 11
    let page = get_page(org, a2, "/v1/sync/pull?covered_as_of=11&since=0").await;
    assert_eq!(
        page.items.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 7, 8]
    );
    assert_eq!((page.more, page.next), (false, 11));
    let page = get_page(org, &w.b1, "/v1/sync/pull?since=0").await;
    assert_eq!((page.items.len(), page.more, page.next), (0, false, 11));
    // With more waiting, a page ends at its last envelope.
    let page = get_page(org, a2, "/v1/sync/pull?since=0&limit=2").await;
    assert_eq!((page.items.len(), page.more, page.next), (2, true, 2));
    let text = metrics_text(org).await;
    assert!(text.contains(r#"tsunagi_sync_pages_total{endpoint="snapshots"}"#));
}

pub async fn sync_revoked_and_pending_devices_are_refused(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2) = (&w.org, &w.a1, &w.a2);
    let case = Case::new();
    push(org, a2, &[slot_env(a2, &case, &w.a.id, &w.a.kem_pub())]).await;
    let _: DeviceInfo = org
        .admin()
        .post(&format!("/v1/admin/devices/{}/revoke", a2.id), &())
        .await
        .unwrap();
    let change = change_env(a2, &case, b"after revocation");
    let (st, body) = push_bytes(org, a2, encode_batch(&[change.encode()])).await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, v["error"]["code"].as_str()), (401, Some("revoked")));
    for path in [
        "/v1/sync/pull?since=0",
        "/v1/sync/head",
        "/v1/sync/snapshots?as_of=0",
        &format!("/v1/sync/cases/{}", case.hex()),
        "/v1/teams/team-a/kem",
        &format!("/v1/devices/{}/cert", a1.id),
    ] {
        assert_eq!(
            get_status(org, a2, path).await,
            (401, "revoked".into()),
            "{path}"
        );
    }
    assert_eq!(head(org, a1).await, 1);
    // The revoked device's earlier envelope stays readable to the team, and its certificate
    // too (to verify it).
    assert_eq!(pull_all(org, a1).await.len(), 1);
    let cert: DeviceCert = org
        .as_device(a1)
        .get(&format!("/v1/devices/{}/cert", a2.id))
        .await
        .unwrap();
    assert_eq!(cert.device, a2.id);

    // A pending device may neither push nor pull.
    let pending = org
        .enroll(&org.user("P", &w.a.id, Role::Worker).await)
        .await;
    let (st, body) = push_bytes(
        org,
        &pending,
        encode_batch(&[change_env(&pending, &case, b"pending").encode()]),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, v["error"]["code"].as_str()), (401, Some("pending")));
    assert_eq!(
        get_status(org, &pending, "/v1/sync/pull?since=0").await,
        (401, "pending".into())
    );
    // The admin is not a device: no sync.
    let (st, _) = org
        .admin()
        .send_raw("GET", "/v1/sync/pull?since=0", Vec::new())
        .await
        .unwrap();
    assert_eq!(st, 403);
    assert_eq!(head(org, a1).await, 1);
}

pub async fn sync_team_kem_and_device_certs(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, b1) = (&w.org, &w.a1, &w.b1);
    let cb = org.as_device(b1);
    assert_eq!(
        refusal(cb.get::<TeamKemAnswer>("/v1/teams/team-b/kem").await),
        (404, "not_found".into())
    );
    let sign = |k: &mut TeamKem, key: &SigKey| k.sig = key.sign(&k.signed_message()).0.to_vec();
    let mut kem = TeamKem {
        team: w.b.id.clone(),
        epoch: 1,
        kem_pub: w.b.kem_pub().as_bytes().to_vec(),
        device: b1.id,
        sig: Vec::new(),
    };
    sign(&mut kem, &b1.sig);

    // Refusals before anything is stored.
    let mut forged = kem.clone();
    sign(&mut forged, &SigKey::generate().unwrap());
    let mut epoch2 = kem.clone();
    epoch2.epoch = 2;
    sign(&mut epoch2, &b1.sig);
    let mut not_me = kem.clone();
    not_me.device = a1.id;
    sign(&mut not_me, &b1.sig);
    let mut bad_key = kem.clone();
    bad_key.kem_pub = vec![1; 5];
    sign(&mut bad_key, &b1.sig);
    for (body, want) in [
        (&forged, (400, "bad_signature")),
        (&epoch2, (400, "bad_epoch")),
        (&not_me, (400, "bad_kem")),
        (&bad_key, (400, "bad_key")),
    ] {
        assert_eq!(
            refusal(cb.post::<_, TeamKem>("/v1/teams/team-b/kem", body).await),
            (want.0, want.1.into())
        );
    }
    assert_eq!(
        refusal(cb.post::<_, TeamKem>("/v1/teams/team-a/kem", &kem).await),
        (400, "bad_team".into())
    );
    // A device of another team may not publish team b's key.
    let mut by_a = kem.clone();
    by_a.device = a1.id;
    sign(&mut by_a, &a1.sig);
    assert_eq!(
        refusal(
            org.as_device(a1)
                .post::<_, TeamKem>("/v1/teams/team-b/kem", &by_a)
                .await
        ),
        (403, "forbidden".into())
    );
    assert_eq!(
        refusal(cb.get::<TeamKemAnswer>("/v1/teams/team-b/kem").await),
        (404, "not_found".into())
    );

    // First one kept; the same again is fine; another key is refused.
    let (st, _) = cb
        .send_raw(
            "POST",
            "/v1/teams/team-b/kem",
            serde_json::to_vec(&kem).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(st, 201);
    let (st, _) = cb
        .send_raw(
            "POST",
            "/v1/teams/team-b/kem",
            serde_json::to_vec(&kem).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(st, 200);
    let mut other = kem.clone();
    other.kem_pub = team_kem(&TeamKey::generate().unwrap(), "team-b", 1)
        .unwrap()
        .public()
        .as_bytes()
        .to_vec();
    sign(&mut other, &b1.sig);
    assert_eq!(
        refusal(cb.post::<_, TeamKem>("/v1/teams/team-b/kem", &other).await),
        (409, "kem_exists".into())
    );

    // Anyone reads it with the publisher's certificate, and can check both.
    let ans: TeamKemAnswer = org.as_device(a1).get("/v1/teams/team-b/kem").await.unwrap();
    assert_eq!(ans.kem, kem);
    assert_eq!((ans.cert.device, ans.cert.team.as_str()), (b1.id, "team-b"));
    let admin_pub = org.admin.public();
    admin_pub
        .verify(
            &ans.cert.signed_message(),
            &Signature::from_bytes(&ans.cert.sig).unwrap(),
        )
        .unwrap();
    SigPublic::from_bytes(&ans.cert.sig_pub)
        .unwrap()
        .verify(
            &ans.kem.signed_message(),
            &Signature::from_bytes(&ans.kem.sig).unwrap(),
        )
        .unwrap();
    assert_eq!(
        refusal(
            org.as_device(a1)
                .get::<TeamKemAnswer>("/v1/teams/team-x/kem")
                .await
        ),
        (404, "not_found".into())
    );
    assert_eq!(
        refusal(
            org.as_device(a1)
                .get::<TeamKemAnswer>("/v1/teams/Team%20X/kem")
                .await
        ),
        (400, "bad_team".into())
    );

    // Device certificates: any approved device; not a pending or unknown one.
    let cert: DeviceCert = org
        .as_device(b1)
        .get(&format!("/v1/devices/{}/cert", w.a2.id))
        .await
        .unwrap();
    assert_eq!((cert.device, cert.signer.as_str()), (w.a2.id, "admin"));
    admin_pub
        .verify(
            &cert.signed_message(),
            &Signature::from_bytes(&cert.sig).unwrap(),
        )
        .unwrap();
    let pending = org
        .enroll(&org.user("P", "team-a", Role::Worker).await)
        .await;
    for id in [
        pending.id.to_string(),
        uuid::Uuid::now_v7().to_string(),
        "x".into(),
    ] {
        assert_eq!(
            refusal(
                org.as_device(a1)
                    .get::<DeviceCert>(&format!("/v1/devices/{id}/cert"))
                    .await
            ),
            (404, "not_found".into())
        );
    }
}

/// The bytes of every column of every table, as PostgreSQL renders them in text (bytea in
/// hex), concatenated.
async fn postgres_dump(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tables = client
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let name: String = t.get(0);
        for r in client
            .query(&format!("SELECT t::TEXT FROM \"{name}\" t"), &[])
            .await
            .unwrap()
        {
            out.push_str(r.get::<_, &str>(0));
            out.push('\n');
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn sync_server_stores_no_plaintext(kind: Kind) {
    let w = world(kind).await;
    let (org, a1) = (&w.org, &w.a1);
    let marker = b"TSUNAGI-PLAINTEXT-MARKER-7f3a9c";
    let note = [
        &b"{\"note\":\"\xe8\xa8\xaa\xe5\x95\x8f "[..],
        marker,
        b"\"}",
    ]
    .concat();
    let case = Case::new();
    let change = change_env(a1, &case, &note);
    let snap_plain = [&b"snapshot "[..], marker].concat();
    let snap = sealed_env(
        EnvKind::Snapshot,
        a1,
        &case,
        Aux::Snapshot { covers: 0 },
        &snap_plain,
    );
    push(
        org,
        a1,
        &[
            slot_env(a1, &case, &w.a.id, &w.a.kem_pub()),
            change.clone(),
            snap.clone(),
        ],
    )
    .await;
    // What a sealed envelope must not reveal: the marker, as bytes or hex.
    match &org.server.db {
        Db::Sqlite(path) => {
            let mut bytes = std::fs::read(path).unwrap();
            let wal = path.with_extension("db-wal");
            if let Ok(more) = std::fs::read(&wal) {
                bytes.extend(more);
            }
            let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            // The check can see what is stored: the envelope's public id and its ciphertext.
            assert!(
                contains(&change.id),
                "the scan does not see stored envelopes"
            );
            assert!(contains(&change.ct[..32]));
            assert!(!contains(marker), "plaintext marker in the SQLite files");
            assert!(!contains(hex(marker).as_bytes()));
        }
        Db::Postgres(url) => {
            let dump = postgres_dump(url).await;
            assert!(
                dump.contains(&hex(&change.id)),
                "the dump does not see envelopes"
            );
            assert!(dump.contains(&hex(&change.ct[..32])));
            assert!(!dump.contains(std::str::from_utf8(marker).unwrap()));
            assert!(!dump.contains(&hex(marker)));
        }
    }
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

pub async fn sync_concurrent_pushers_never_skip(kind: Kind) {
    const PUSHERS: usize = 8;
    const BATCHES: usize = 30;
    // Every push waits 2 ms between its last insert and its commit: a pull running meanwhile
    // would see a later seq before this one if the envelope log were not commit-ordered.
    let server = start_with_commit_delay(kind, unlimited(), Duration::from_millis(2)).await;
    let org = Arc::new(Org::bootstrap(server).await);
    let team = TeamCtx {
        id: "team-a".into(),
        tk: TeamKey::generate().unwrap(),
    };
    org.team(&team.id).await;
    let mut devs = Vec::new();
    for i in 0..PUSHERS {
        let role = if i == 0 { Role::Lead } else { Role::Worker };
        let d = org
            .enroll(&org.user(&format!("d{i}"), &team.id, role).await)
            .await;
        org.approve_by_admin(&d, &team.tk, 1, i == 0).await.unwrap();
        devs.push(Arc::new(d));
    }
    let team_pub = team.kem_pub();

    let done = Arc::new(AtomicBool::new(false));
    let mut pullers = Vec::new();
    for (i, limit) in [1u32, 7, 50].into_iter().enumerate() {
        let (org, dev, done) = (Arc::clone(&org), Arc::clone(&devs[i]), Arc::clone(&done));
        pullers.push(tokio::spawn(async move {
            let mut seen: Vec<(u64, [u8; 16])> = Vec::new();
            let mut cursor = 0u64;
            for _ in 0..200_000 {
                let finished = done.load(Ordering::SeqCst);
                let page = get_page(
                    &org,
                    &dev,
                    &format!("/v1/sync/pull?since={cursor}&limit={limit}"),
                )
                .await;
                for p in &page.items {
                    assert!(p.seq > cursor, "seq {} after {cursor}", p.seq);
                    cursor = p.seq;
                    seen.push((p.seq, Envelope::decode(&p.body).unwrap().id));
                }
                if page.items.is_empty() && !page.more {
                    if finished {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            panic!("puller {i} did not reach the end in 200000 pages");
        }));
    }

    let mut pushers = Vec::new();
    for (i, dev) in devs.iter().enumerate() {
        let (org, dev, team_pub) = (Arc::clone(&org), Arc::clone(dev), team_pub);
        pushers.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
            let case = Case::new();
            let mut accepted: Vec<(u64, [u8; 16])> = Vec::new();
            for b in 0..BATCHES {
                let n = 1 + rng.below(20) as usize;
                let mut envs = Vec::with_capacity(n);
                if b == 0 {
                    envs.push(slot_env(&dev, &case, "team-a", &team_pub));
                }
                while envs.len() < n {
                    envs.push(change_env(&dev, &case, format!("{i}/{b}").as_bytes()));
                }
                let results = push(&org, &dev, &envs).await;
                let mut last = 0;
                for (e, r) in envs.iter().zip(&results) {
                    let seq = seq_of(r);
                    assert!(seq > last, "seqs of one batch increase");
                    last = seq;
                    accepted.push((seq, e.id));
                }
            }
            accepted
        }));
    }
    let mut all: BTreeMap<u64, [u8; 16]> = BTreeMap::new();
    for p in pushers {
        for (seq, id) in p.await.unwrap() {
            assert!(all.insert(seq, id).is_none(), "seq {seq} given twice");
        }
    }
    done.store(true, Ordering::SeqCst);
    let expected: Vec<(u64, [u8; 16])> = all.into_iter().collect();
    assert!(expected.len() >= PUSHERS * BATCHES);
    assert_eq!(expected.last().unwrap().0, expected.len() as u64, "no gaps");
    for (i, p) in pullers.into_iter().enumerate() {
        let seen = p.await.unwrap();
        assert_eq!(
            seen.len(),
            expected.len(),
            "puller {i} saw a different count"
        );
        assert_eq!(
            seen, expected,
            "puller {i} missed, repeated or reordered envelopes"
        );
    }
    let h: Head = org.as_device(&devs[0]).get("/v1/sync/head").await.unwrap();
    assert_eq!(h.head, expected.len() as u64);
}

/// `GET /v1/sync/mine`: the cases a user's devices wrote in, for that user's fresh device to
/// take first. Another device of the same user sees them; a teammate sees only their own; a
/// change after `as_of` does not count; slots, grants and snapshots are not writing.
pub async fn sync_mine_lists_the_users_own_cases(kind: Kind) {
    let w = world(kind).await;
    let (org, a1, a2) = (&w.org, &w.a1, &w.a2);
    let (own, other, later) = (Case::new(), Case::new(), Case::new());
    push(
        org,
        a1,
        &[
            slot_env(a1, &own, &w.a.id, &w.a.kem_pub()),
            change_env(a1, &own, b"a1 writes"),
            slot_env(a1, &other, &w.a.id, &w.a.kem_pub()),
        ],
    )
    .await;
    // a2 writes in `other` (a1 only made its key).
    push(org, a2, &[change_env(a2, &other, b"a2 writes")]).await;
    let as_of = head(org, a1).await;
    push(
        org,
        a1,
        &[
            slot_env(a1, &later, &w.a.id, &w.a.kem_pub()),
            change_env(a1, &later, b"after the head"),
        ],
    )
    .await;
    let mine = |dev: &Dev, as_of: u64| {
        let path = format!("/v1/sync/mine?as_of={as_of}");
        let client = org.as_device(dev);
        async move {
            let m: tsunagi_protocol::api::MyCases = client.get(&path).await.unwrap();
            m.cases
        }
    };
    assert_eq!(mine(a1, as_of).await, vec![own.hex()]);
    assert_eq!(mine(a2, as_of).await, vec![other.hex()]);
    // A second device of a1's user (a new tablet): the same list.
    let a1b = org.enroll(&a1.user).await;
    org.approve_by_admin(&a1b, &w.a.tk, 1, false).await.unwrap();
    assert_eq!(mine(&a1b, as_of).await, vec![own.hex()]);
    let mut all = mine(&a1b, head(org, a1).await).await;
    all.sort();
    let mut want = vec![own.hex(), later.hex()];
    want.sort();
    assert_eq!(all, want);
    // Another team's lead sees none of them.
    assert!(mine(&w.b1, as_of).await.is_empty());
    // as_of is required and may not be beyond the head.
    assert_eq!(get_status(org, a1, "/v1/sync/mine").await.0, 400);
    let beyond = format!("/v1/sync/mine?as_of={}", head(org, a1).await + 10);
    assert_eq!(get_status(org, a1, &beyond).await.0, 400);
}
