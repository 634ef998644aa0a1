//! End to end, issue 4: two workers and a lead record offline (with conflicting edits of one
//! person), sync in every order and converge with the conflict visible; a snapshot makes a
//! late device's first sync short, and the full history stays fetchable; another team sees
//! nothing until a consent is recorded and the case shared, then sees it; sharing without a
//! basis is refused, and a 支援会議 the team attended is a basis without consent; a revoked device can neither push nor pull nor read the new epoch, while
//! a device approved after the rotation reads the whole history; the server's database holds
//! no plaintext; envelopes tampered on the server are refused and change nothing — on both
//! server backends.

use std::collections::BTreeMap;
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::{EntityId, PersonId};
use tsunagi_core::merge::EntityState;
use tsunagi_device::api::{ConsentForm, ContactForm, MeetingForm, PersonEditForm, PersonForm};
use tsunagi_device::{Device, DeviceError, OsKeystore, ShareBasis, SyncStatusState};
use tsunagi_e2e::{Kind, World, new_device};
use tsunagi_protocol::client::ClientError;

use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "current_thread")]
            async fn $name() { super::$name(super::Kind::Sqlite).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "current_thread")]
            async fn $name() { super::$name(super::Kind::Postgres).await }
            )*
        }
    };
}

on_both_backends!(
    offline_work_converges_and_stays_private,
    a_case_key_that_lost_the_race_is_replaced,
);

/// Provisions, enrolls and (IT) approves a device for a new user.
async fn member(
    world: &World,
    admin: &tsunagi_admin::Admin,
    name: &str,
    team: &str,
    role: &str,
) -> Device {
    let ks = OsKeystore::new();
    let user = admin.create_user(name, team, role).await.unwrap();
    let file = world.dir.path().join(format!("{}.json", user.id));
    admin
        .provision(&user.id.to_string(), None, Some(&file))
        .await
        .unwrap();
    let mut dev = new_device(&world.device_dir(&user.id.to_string()), name);
    let e = dev
        .enroll(&std::fs::read_to_string(&file).unwrap(), &ks)
        .await
        .unwrap();
    assert_eq!(e.device, *dev.id().as_uuid(), "enrolled under its own id");
    admin
        .approve(&e.device.to_string(), &e.device_code)
        .await
        .unwrap();
    dev
}

fn person(name: &str) -> PersonForm {
    PersonForm {
        name: name.into(),
        district: "辻堂".into(),
        programs: vec!["csw".into()],
        phone: Some("0466-00-0001".into()),
        ..PersonForm::default()
    }
}

fn contact(person: PersonId, note: &str) -> ContactForm {
    ContactForm {
        person: person.to_string(),
        channel: "visit".into(),
        outcome: "met".into(),
        note: note.into(),
        ..ContactForm::default()
    }
}

/// Every entity state of a case, by id (what "the same state" means).
fn case_states(dev: &Device, case: PersonId) -> BTreeMap<EntityId, EntityState> {
    dev.case_records(case.into())
        .unwrap()
        .into_iter()
        .map(|s| (s.id(), s))
        .collect()
}

async fn sync(dev: &mut Device) -> tsunagi_device::SyncReport {
    let r = dev.sync(&OsKeystore::new()).await.unwrap();
    assert_eq!(r.invalid, 0, "{r:?}");
    // An honest server: no author's changes missing after a round (snapshots start the
    // chains they cover), no fork, no replay, no page refused.
    assert_eq!(
        (r.missing, r.forks, r.replayed, r.pages_refused),
        (0, 0, 0, 0),
        "{r:?}"
    );
    assert_eq!(
        r.resealed, 0,
        "one device syncing alone never loses a key race: {r:?}"
    );
    r
}

/// Every file under `dir`, concatenated (the server's database as an attacker would read it).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.extend(b);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn offline_work_converges_and_stays_private(kind: Kind) {
    let world = World::start(kind).await;
    let ks = OsKeystore::new();
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    admin.create_team("csw-south", "csw").await.unwrap();
    let mut lead = member(&world, &admin, "佐々木 主任", "csw-north", "lead").await;
    let mut w1 = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let mut w2 = member(&world, &admin, "鈴木 一郎", "csw-north", "worker").await;
    let mut south = member(&world, &admin, "南 太郎", "csw-south", "worker").await;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let marker = |m: &str| format!("MARKER-{m}-{tag}");

    // Worker 1 records offline, then syncs; everyone else picks it up.
    let p = w1.add_person(&person("高橋 トメ")).unwrap();
    let c1 = w1
        .add_contact(&contact(
            p,
            &format!("{} 不在のため置き手紙", marker("ALPHA")),
        ))
        .unwrap();
    assert_eq!(w1.sync_status().unwrap().state, SyncStatusState::Never);
    let r = sync(&mut w1).await;
    assert_eq!(r.pushed, 2);
    assert_eq!(w1.sync_status().unwrap().state, SyncStatusState::Synced);
    sync(&mut w2).await;
    sync(&mut lead).await;
    sync(&mut south).await;
    assert!(w2.record_state(c1.into()).unwrap().is_some());
    assert!(
        south.record_state(p.into()).unwrap().is_none(),
        "another team sees nothing without a basis"
    );

    // Both workers edit the same field offline, and add contacts.
    let edit = |phone: &str| PersonEditForm {
        id: p.to_string(),
        phone: Some(phone.into()),
        ..PersonEditForm::default()
    };
    w1.edit_person(&edit("0466-11-1111")).unwrap();
    w2.edit_person(&edit("0466-22-2222")).unwrap();
    w2.add_contact(&contact(p, &format!("{} 玄関先で話せた", marker("BRAVO"))))
        .unwrap();
    w1.add_contact(&contact(p, "電話で近況を聞いた")).unwrap();
    assert_eq!(w2.sync_status().unwrap().pending, 2);
    // Sync in every order.
    sync(&mut w2).await;
    sync(&mut lead).await;
    sync(&mut w1).await;
    sync(&mut w2).await;
    sync(&mut lead).await;
    let reference = case_states(&lead, p);
    assert_eq!(reference.len(), 4, "person + 3 contacts");
    assert_eq!(case_states(&w1, p), reference);
    assert_eq!(case_states(&w2, p), reference);
    let page = lead.open_person(&p.to_string(), 50).unwrap();
    let phone = page
        .conflicts
        .iter()
        .find(|c| c.field == "phone")
        .expect("the concurrent edits stay visible as a conflict");
    let values: Vec<String> = phone
        .candidates
        .iter()
        .map(|(_, v)| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        values.contains(&"0466-11-1111".to_owned()) && values.contains(&"0466-22-2222".to_owned())
    );
    lead.close_person(page).unwrap();

    // A long history: enough change sets for a snapshot.
    for i in 0..tsunagi_device::SNAPSHOT_MIN_OPS {
        w1.add_contact(&contact(p, &format!("定期訪問 {i}")))
            .unwrap();
    }
    let r = sync(&mut w1).await;
    assert!(r.snapshots_made >= 1, "{r:?}");

    // Sharing without a basis that covers the team is refused.
    let wrong = w1
        .record_consent(&ConsentForm {
            person: p.to_string(),
            scope: vec!["地域包括支援センター".into()],
            method: "written".into(),
            ..ConsentForm::default()
        })
        .unwrap();
    match w1
        .share_case(
            &p.to_string(),
            "csw-south",
            ShareBasis::Consent(&wrong.to_string()),
            &ks,
        )
        .await
    {
        Err(DeviceError::Domain(e)) => assert_eq!(e.code(), "disclosure_consent_not_covering"),
        other => panic!("shared without a basis: {other:?}"),
    }
    sync(&mut south).await;
    assert!(south.record_state(p.into()).unwrap().is_none());

    // With the person's consent, the case is shared and the other team sees it.
    let consent = w1
        .record_consent(&ConsentForm {
            person: p.to_string(),
            scope: vec!["csw-south".into()],
            method: "written".into(),
            ..ConsentForm::default()
        })
        .unwrap();
    let shared = w1
        .share_case(
            &p.to_string(),
            "csw-south",
            ShareBasis::Consent(&consent.to_string()),
            &ks,
        )
        .await
        .unwrap();
    assert!(shared.sync.is_some());
    sync(&mut south).await;
    sync(&mut lead).await;
    let seen = case_states(&south, p);
    assert_eq!(seen, case_states(&lead, p), "the other team sees the case");
    assert!(
        seen.values().any(|s| s.kind() == EntityKind::Disclosure),
        "the 情報提供記録 is in the history it sees"
    );
    // It reads the case but cannot write to it: refused at once, not at the next push.
    let pending = south.sync_status().unwrap().pending;
    match south.add_contact(&contact(p, "南チームの訪問")) {
        Err(e @ DeviceError::ReadOnlyCase { .. }) => {
            assert_eq!(e.code(), "read_only_case");
            assert!(e.is_bad_input());
            assert!(e.message_ja().contains("csw-north"), "{}", e.message_ja());
        }
        other => panic!("wrote to a read-only shared case: {other:?}"),
    }
    assert!(matches!(
        south.edit_person(&edit("0466-33-3333")),
        Err(DeviceError::ReadOnlyCase { .. })
    ));
    assert_eq!(south.sync_status().unwrap().pending, pending);
    assert_eq!(case_states(&south, p), seen, "nothing changed there");

    // A 支援会議 (art. 106-6) is a basis without consent, for the teams that attended it and
    // the persons it discussed; another kind of meeting is not.
    let q = w1.add_person(&person("伊藤 ハル")).unwrap();
    let qc = w1.add_contact(&contact(q, "民生委員から相談")).unwrap();
    sync(&mut w1).await;
    let meeting = |kind: &str, agencies: &[&str]| MeetingForm {
        kind: kind.into(),
        agencies: agencies.iter().map(|a| a.to_string()).collect(),
        persons: vec![q.to_string()],
        decisions: "早期に情報を共有し、訪問を分担する".into(),
        ..MeetingForm::default()
    };
    for (kind, agencies, refusal) in [
        (
            "community_care",
            &["csw-south"][..],
            "disclosure_meeting_needs_consent",
        ),
        ("shien", &["地域包括"], "disclosure_recipient_not_member"),
    ] {
        let m = w1.record_meeting(&meeting(kind, agencies)).unwrap();
        match w1
            .share_case(
                &q.to_string(),
                "csw-south",
                ShareBasis::Meeting(&m.to_string()),
                &ks,
            )
            .await
        {
            Err(DeviceError::Domain(e)) => assert_eq!(e.code(), refusal),
            other => panic!("shared on {kind} {agencies:?}: {other:?}"),
        }
    }
    let m = w1
        .record_meeting(&meeting("支援会議", &["csw-north", "csw-south"]))
        .unwrap();
    w1.share_case(
        &q.to_string(),
        "csw-south",
        ShareBasis::Meeting(&m.to_string()),
        &ks,
    )
    .await
    .unwrap();
    sync(&mut south).await;
    assert!(south.record_state(qc.into()).unwrap().is_some());
    let disclosed = case_states(&south, q)
        .into_values()
        .find(|s| s.kind() == EntityKind::Disclosure)
        .expect("the 情報提供記録 is in the history the other team sees");
    assert_eq!(
        disclosed.value("basis"),
        Some(&serde_json::json!({"kind": "support_meeting", "id": m.to_string()})),
        "it names the meeting as its basis"
    );
    assert!(
        south.record_state(m.into()).unwrap().is_none(),
        "the meeting record itself stays with its team (会議記録は非公開)"
    );

    // Withdrawal: later changes are sealed under an epoch the other team cannot read.
    let r = w1
        .withdraw_consent(&consent.to_string(), None, &ks)
        .await
        .unwrap();
    assert_eq!(r.ended, ["csw-south"]);
    assert!(r.kept.is_empty() && r.sync.is_some(), "{r:?}");
    let after = w1.add_contact(&contact(p, "同意撤回後の記録")).unwrap();
    sync(&mut w1).await;
    sync(&mut south).await;
    assert!(south.record_state(after.into()).unwrap().is_none());
    sync(&mut lead).await;
    assert!(lead.record_state(after.into()).unwrap().is_some());
    // A consent withdrawn leaves sharing on another basis: q's case goes on reaching the team
    // that attended the 支援会議, though q also consented to it and withdrew.
    let q_consent = w1
        .record_consent(&ConsentForm {
            person: q.to_string(),
            scope: vec!["csw-south".into()],
            method: "oral".into(),
            ..ConsentForm::default()
        })
        .unwrap();
    let r = w1
        .withdraw_consent(&q_consent.to_string(), None, &ks)
        .await
        .unwrap();
    assert_eq!((r.ended, r.kept), (vec![], vec!["csw-south".to_owned()]));
    let q_later = w1
        .add_contact(&contact(q, "会議に基づく共有は続く"))
        .unwrap();
    sync(&mut w1).await;
    sync(&mut south).await;
    assert!(
        south.record_state(q_later.into()).unwrap().is_some(),
        "the withdrawal ended sharing decided by the 支援会議"
    );
    // Two consents cover the team: withdrawing one leaves the other's sharing; withdrawing
    // the other ends it.
    let r = w1.add_person(&person("小林 トシ")).unwrap();
    sync(&mut w1).await;
    let consent_of_r = |w1: &mut Device, method: &str| {
        w1.record_consent(&ConsentForm {
            person: r.to_string(),
            scope: vec!["csw-south".into()],
            method: method.into(),
            ..ConsentForm::default()
        })
        .unwrap()
    };
    let (first, second) = (
        consent_of_r(&mut w1, "written"),
        consent_of_r(&mut w1, "oral"),
    );
    w1.share_case(
        &r.to_string(),
        "csw-south",
        ShareBasis::Consent(&first.to_string()),
        &ks,
    )
    .await
    .unwrap();
    let mut seen_by_south = Vec::new();
    for (c, ends) in [(first, false), (second, true)] {
        let report = w1
            .withdraw_consent(&c.to_string(), None, &ks)
            .await
            .unwrap();
        let team = vec!["csw-south".to_owned()];
        let expected = if ends { (team, vec![]) } else { (vec![], team) };
        assert_eq!((report.ended, report.kept), expected);
        let note = w1
            .add_contact(&contact(r, "同意の一つを撤回した後"))
            .unwrap();
        sync(&mut w1).await;
        sync(&mut south).await;
        seen_by_south.push(south.record_state(note.into()).unwrap().is_some());
    }
    assert_eq!(
        seen_by_south,
        [true, false],
        "shared while one consent stood, not after both were withdrawn"
    );

    // Revocation: worker 2 is cut off; the team key rotates.
    let w2_id = w2.id().as_uuid().to_string();
    admin.revoke(&w2_id).await.unwrap();
    w2.add_contact(&contact(p, "失効後の記録")).unwrap();
    match w2.sync(&ks).await {
        Err(DeviceError::Server(ClientError::Refused { status: 401, .. })) => {}
        other => panic!("revoked device still syncs: {other:?}"),
    }
    let st = w2.sync_status().unwrap();
    assert_eq!(st.state, SyncStatusState::Error);
    assert!(st.message_ja.contains("無効化"), "{}", st.message_ja);
    assert_eq!(st.pending, 1, "its unsent record stays on the device");
    sync(&mut lead).await; // learns epoch 2, re-seals the case keys
    let c4 = w1
        .add_contact(&contact(p, &format!("{} 新しい鍵で", marker("CHARLIE"))))
        .unwrap();
    sync(&mut w1).await;
    let newest = w1.case_keys(p.into()).unwrap();
    let newest = newest.last().unwrap();
    assert_eq!(
        newest.team_epoch, 2,
        "new changes use a key made after the rotation"
    );
    assert!(w2.team_key_fingerprint("csw-north", 2).unwrap().is_none());
    assert!(
        !w2.case_keys(p.into())
            .unwrap()
            .iter()
            .any(|k| k.epoch == newest.epoch)
    );
    assert!(w2.record_state(c4.into()).unwrap().is_none());

    // A device approved after the rotation catches up, from snapshots, and reads everything.
    sync(&mut lead).await;
    let mut late = member(&world, &admin, "田中 新人", "csw-north", "worker").await;
    let r = sync(&mut late).await;
    assert!(r.snapshots_applied >= 1, "{r:?}");
    assert!(
        r.applied < tsunagi_device::SNAPSHOT_MIN_OPS,
        "the fresh device did not replay every change: {r:?}"
    );
    assert_eq!(r.held, 0, "{r:?}");
    assert_eq!(case_states(&late, p), case_states(&lead, p));
    assert!(late.record_state(c4.into()).unwrap().is_some());
    // The full history is still there for the audit.
    late.fetch_history(&p.to_string(), &ks).await.unwrap();
    assert_eq!(
        late.history(p.into()).unwrap().len(),
        lead.history(p.into()).unwrap().len()
    );
    assert_eq!(case_states(&late, p), case_states(&lead, p));

    // No plaintext of any note on the server.
    let server_bytes = match kind {
        Kind::Sqlite => ["server.db", "server.db-wal", "server.db-shm"]
            .iter()
            .flat_map(|f| std::fs::read(world.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<u8>>(),
        // The whole cluster directory, write-ahead log included: every byte PostgreSQL wrote.
        Kind::Postgres => all_bytes(tsunagi_server::pgtest::shared().unwrap().dir()),
    };
    assert!(!server_bytes.is_empty());
    for m in ["ALPHA", "BRAVO", "CHARLIE"] {
        assert!(
            !contains(&server_bytes, &marker(m)),
            "plaintext {m} found on the server"
        );
    }
    assert!(!contains(&server_bytes, "高橋"));
}

/// A server whose stored envelopes were altered (a flipped ciphertext byte, a flipped
/// signature byte, one envelope's header glued to another's payload) and a replayed copy:
/// the device refuses the altered ones with a reason, applies the replay as nothing new, and
/// what it already held does not change. SQLite only: the test edits the server's file.
#[tokio::test(flavor = "current_thread")]
async fn tampered_envelopes_are_refused() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut w1 = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let mut w2 = member(&world, &admin, "鈴木 一郎", "csw-north", "worker").await;
    let p = w1.add_person(&person("高橋 トメ")).unwrap();
    w1.add_contact(&contact(p, "初回訪問")).unwrap();
    sync(&mut w1).await;
    sync(&mut w2).await;
    let before = case_states(&w2, p);
    let cursor = w2.sync_status().unwrap().cursor;

    let bad: Vec<_> = (0..3)
        .map(|i| {
            w1.add_contact(&contact(p, &format!("改ざん対象 {i}")))
                .unwrap()
        })
        .collect();
    let good = w1.add_contact(&contact(p, "正しい記録")).unwrap();
    // Enough more for one page to be checked on two threads (Device::verify_page): the
    // tampered envelopes fall in its first half, the last of these in its second.
    let more: Vec<_> = (0..40)
        .map(|i| w1.add_contact(&contact(p, &format!("追記 {i}"))).unwrap())
        .collect();
    sync(&mut w1).await;

    let db = rusqlite::Connection::open(world.dir.path().join("server.db")).unwrap();
    let rows: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT seq, body FROM envelopes WHERE seq > ?1 AND kind = 'change' ORDER BY seq")
        .unwrap()
        .query_map([cursor as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 44);
    let set = |seq: i64, body: &[u8]| {
        db.execute(
            "UPDATE envelopes SET body = ?2 WHERE seq = ?1",
            rusqlite::params![seq, body],
        )
        .unwrap();
    };
    // Each of 1, 2, 3 and 5 breaks the author's signature (it covers header and ciphertext).
    // 1: a ciphertext byte flipped.
    let mut b0 = rows[0].1.clone();
    let n = b0.len();
    b0[n - 64 - 10] ^= 0x40;
    set(rows[0].0, &b0);
    // 2: a signature byte flipped.
    let mut b1 = rows[1].1.clone();
    let n = b1.len();
    b1[n - 1] ^= 0x01;
    set(rows[1].0, &b1);
    // 3: envelope 3's header glued to envelope 4's payload and signature.
    let e2 = tsunagi_protocol::wire::Envelope::decode(&rows[2].1).unwrap();
    let mut swapped = tsunagi_protocol::wire::Envelope::decode(&rows[3].1).unwrap();
    swapped.id = e2.id;
    set(rows[2].0, &swapped.encode());
    // 5: a signature byte flipped in the page's second half.
    let mut b43 = rows[43].1.clone();
    let n = b43.len();
    b43[n - 1] ^= 0x01;
    set(rows[43].0, &b43);
    // 4: a replayed copy of the good envelope under a new sequence number.
    db.execute(
        "INSERT INTO envelopes (id, kind, case_id, owner, target, epoch, author, body, received_at)
         SELECT randomblob(16), kind, case_id, owner, target, epoch, author, body, received_at
         FROM envelopes WHERE seq = ?1",
        [rows[3].0],
    )
    .unwrap();
    drop(db);

    let r = w2.sync(&OsKeystore::new()).await.unwrap();
    assert_eq!(r.invalid, 4, "{r:?}");
    let st = w2.sync_status().unwrap();
    assert_eq!(st.refused_incoming, 4);
    assert_eq!(
        st.refusals
            .iter()
            .filter(|s| s.contains("bad_signature"))
            .count(),
        4,
        "{:?}",
        st.refusals
    );
    for c in bad.iter().chain(&more[39..]) {
        assert!(w2.record_state((*c).into()).unwrap().is_none());
    }
    for c in std::iter::once(&good).chain(&more[..39]) {
        assert!(w2.record_state((*c).into()).unwrap().is_some());
    }
    let mut after = case_states(&w2, p);
    for c in std::iter::once(&good).chain(&more[..39]) {
        after.remove(&(*c).into());
    }
    assert_eq!(after, before, "nothing already stored changed");
    assert_eq!(
        w2.history(good.into()).unwrap().len(),
        1,
        "the replay applied nothing twice"
    );
}

/// A sync stopped at any point (the future dropped between two steps, as when the app is
/// killed) loses and duplicates nothing: rounds cut short after 1, 2, 3, ... milliseconds
/// until one completes leave the server with each record exactly once and both devices equal.
#[tokio::test(flavor = "current_thread")]
async fn interrupted_syncs_lose_and_duplicate_nothing() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut w1 = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let mut w2 = member(&world, &admin, "鈴木 一郎", "csw-north", "worker").await;
    let p = w1.add_person(&person("高橋 トメ")).unwrap();
    for i in 0..300 {
        w1.add_contact(&contact(p, &format!("記録 {i}"))).unwrap();
    }
    let ks = OsKeystore::new();
    for dev in [&mut w1, &mut w2] {
        let mut cut = 1u64;
        let mut interrupted = 0;
        loop {
            let budget = std::time::Duration::from_millis(cut);
            match tokio::time::timeout(budget, dev.sync(&ks)).await {
                Ok(r) => {
                    r.unwrap();
                    break;
                }
                Err(_) => interrupted += 1,
            }
            cut = cut * 3 / 2 + 1;
            assert!(cut < 600_000, "never completed");
        }
        assert!(interrupted >= 3, "the test did interrupt ({interrupted})");
    }
    sync(&mut w1).await;
    sync(&mut w2).await;
    assert_eq!(w1.sync_status().unwrap().pending, 0);
    assert_eq!(case_states(&w1, p), case_states(&w2, p));
    assert_eq!(case_states(&w2, p).len(), 301);
    let db = rusqlite::Connection::open(world.dir.path().join("server.db")).unwrap();
    let (changes, distinct): (i64, i64) = db
        .query_row(
            "SELECT count(*), count(DISTINCT id) FROM envelopes WHERE kind = 'change'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((changes, distinct), (301, 301), "each record exactly once");
}

/// A gate on `POST /v1/sync/push`: once armed, the next push request waits at the door (the
/// server has not seen it) until the test releases it.
type Gate = Arc<Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>>;

fn gated(gate: Gate) -> impl FnOnce(axum::Router) -> axum::Router {
    move |router| {
        router.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let armed = if req.uri().path() == "/v1/sync/push" {
                    gate.lock().unwrap().take()
                } else {
                    None
                };
                async move {
                    if let Some((reached, release)) = armed {
                        reached.send(()).unwrap();
                        release.await.unwrap();
                    }
                    next.run(req).await
                }
            },
        ))
    }
}

/// Two workers each make a new case key for the same case and epoch (both after a team-key
/// rotation, neither having seen the other's): the second to reach the server has its key
/// slot refused (`epoch_taken`) and its changes refused as sealed under a stale key. It
/// pulls the winner's key, seals the same changes again, and everything arrives once; all
/// devices converge. The race is made deterministic by holding the second worker's first
/// push at the server's door while the first worker syncs.
async fn a_case_key_that_lost_the_race_is_replaced(kind: Kind) {
    let gate: Gate = Arc::default();
    let world = World::start_wrapped(kind, gated(gate.clone())).await;
    let ks = OsKeystore::new();
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut lead = member(&world, &admin, "佐々木 主任", "csw-north", "lead").await;
    let mut w1 = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let mut w2 = member(&world, &admin, "鈴木 一郎", "csw-north", "worker").await;
    let gone = member(&world, &admin, "退職 予定", "csw-north", "worker").await;
    let p = w1.add_person(&person("高橋 トメ")).unwrap();
    w1.add_contact(&contact(p, "初回訪問")).unwrap();
    sync(&mut w1).await;
    sync(&mut w2).await;
    sync(&mut lead).await;
    assert_eq!(w2.case_keys(p.into()).unwrap().len(), 1);

    // The team key rotates: the next change to the case needs a new case key (epoch 2).
    admin
        .revoke(&gone.id().as_uuid().to_string())
        .await
        .unwrap();
    let c1 = w1.add_contact(&contact(p, "一人目の記録")).unwrap();
    let c2: Vec<_> = (0..3)
        .map(|i| {
            w2.add_contact(&contact(p, &format!("二人目の記録 {i}")))
                .unwrap()
        })
        .collect();

    // Worker 2 makes its key and starts pushing; its first push waits at the door while
    // worker 1 makes its own key for epoch 2 and pushes it first.
    let (reached_tx, reached) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    *gate.lock().unwrap() = Some((reached_tx, release_rx));
    let (r2, r1) = tokio::join!(w2.sync(&ks), async {
        reached.await.unwrap();
        let r = w1.sync(&ks).await;
        release.send(()).unwrap();
        r
    });
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert!(gate.lock().unwrap().is_none(), "the gate was passed");
    assert_eq!((r1.pushed, r1.keys_made, r1.resealed), (1, 1, 0), "{r1:?}");
    assert_eq!(r2.keys_made, 1, "{r2:?}");
    assert_eq!(
        r2.resealed, 3,
        "sealed under the losing key, then again: {r2:?}"
    );
    assert_eq!(r2.pushed, 3, "each change arrived once: {r2:?}");
    assert_eq!((r2.refused, r2.invalid), (0, 0), "{r2:?}");
    assert_eq!(w2.sync_status().unwrap().pending, 0);
    assert!(w2.sync_status().unwrap().last_error.is_none());

    // One key per epoch everywhere: worker 2 kept the winner's.
    let keys = |d: &Device| -> Vec<(u32, [u8; 16])> {
        d.case_keys(p.into())
            .unwrap()
            .iter()
            .map(|k| (k.epoch, k.key_id))
            .collect()
    };
    assert_eq!(keys(&w2), keys(&w1));
    assert_eq!(keys(&w1).len(), 2);
    sync(&mut w1).await;
    sync(&mut lead).await;
    for dev in [&w1, &lead] {
        assert_eq!(case_states(dev, p), case_states(&w2, p));
        for c in &c2 {
            assert!(dev.record_state((*c).into()).unwrap().is_some());
        }
    }
    assert!(w2.record_state(c1.into()).unwrap().is_some());
    assert_eq!(case_states(&w2, p).len(), 6, "person + 5 contacts");
}

/// A worker's new tablet takes their own caseload first — the cases their devices wrote in —
/// and then the rest of the team's records: both end as on the old device.
#[tokio::test(flavor = "current_thread")]
async fn a_new_device_takes_its_users_own_cases_first() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut old = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let mut mate = member(&world, &admin, "鈴木 一郎", "csw-north", "worker").await;
    let mine: Vec<PersonId> = (0..2)
        .map(|i| old.add_person(&person(&format!("自分の担当 {i}"))).unwrap())
        .collect();
    for p in &mine {
        for k in 0..3 {
            old.add_contact(&contact(*p, &format!("訪問 {k}"))).unwrap();
        }
    }
    let theirs = mate.add_person(&person("同僚の担当")).unwrap();
    mate.add_contact(&contact(theirs, "同僚の訪問")).unwrap();
    sync(&mut old).await;
    sync(&mut mate).await;
    sync(&mut old).await;

    // The same worker's new tablet.
    let user = old.enrollment().unwrap().unwrap().user;
    let file = world.dir.path().join("second-tablet.json");
    admin
        .provision(&user.to_string(), None, Some(&file))
        .await
        .unwrap();
    let mut new = new_device(&world.device_dir("second-tablet"), "山田 花子");
    let e = new
        .enroll(&std::fs::read_to_string(&file).unwrap(), &OsKeystore::new())
        .await
        .unwrap();
    admin
        .approve(&e.device.to_string(), &e.device_code)
        .await
        .unwrap();
    let report = sync(&mut new).await;
    assert_eq!(report.own_cases, 2, "the worker's two cases came first");
    for p in mine.iter().chain([&theirs]) {
        assert_eq!(case_states(&new, *p), case_states(&old, *p));
    }
    // A second round is an ordinary one.
    assert_eq!(sync(&mut new).await.own_cases, 0);
}

/// Issue 23 §6: the ids the server sees for a case do not tell when it was opened. A person
/// added on a device gets a random (UUIDv4) id, and every envelope pushed for the person
/// carries that id as its case; the change envelopes' own ids (op ids) stay UUIDv7.
#[tokio::test(flavor = "current_thread")]
async fn a_case_id_tells_the_server_nothing_of_when_it_was_opened() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut w1 = member(&world, &admin, "山田 花子", "csw-north", "worker").await;
    let p = w1.add_person(&person("高橋 トメ")).unwrap();
    let q = w1.add_person(&person("佐藤 ウメ")).unwrap();
    assert_eq!(p.as_uuid().get_version_num(), 4, "{p}");
    assert_eq!(q.as_uuid().get_version_num(), 4, "{q}");
    w1.add_contact(&contact(p, "初回訪問")).unwrap();
    sync(&mut w1).await;

    let db = rusqlite::Connection::open(world.dir.path().join("server.db")).unwrap();
    let rows: Vec<(Vec<u8>, String, Vec<u8>)> = db
        .prepare("SELECT id, kind, case_id FROM envelopes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let of = |case: PersonId| -> Vec<&(Vec<u8>, String, Vec<u8>)> {
        rows.iter()
            .filter(|r| r.2 == case.as_uuid().as_bytes())
            .collect()
    };
    let (of_p, of_q) = (of(p), of(q));
    // p: its case key, the person, the contact; q: its case key and the person.
    assert_eq!(
        of_p.iter().filter(|r| r.1 == "change").count(),
        2,
        "{of_p:?}"
    );
    assert!(of_p.iter().any(|r| r.1 == "case_key"));
    assert_eq!(of_q.iter().filter(|r| r.1 == "change").count(), 1);
    assert_eq!(
        of_p.len() + of_q.len(),
        rows.len(),
        "no envelope under another case id"
    );
    for (id, kind, case) in &rows {
        let case = uuid::Uuid::from_slice(case).unwrap();
        assert_eq!(
            case.get_version_num(),
            4,
            "case {case} of a {kind} envelope"
        );
        if kind == "change" {
            assert_eq!(uuid::Uuid::from_slice(id).unwrap().get_version_num(), 7);
        }
    }
}
