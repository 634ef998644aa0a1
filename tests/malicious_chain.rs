//! The malicious-server suite, issue 23 §4 "Withholding and forking are seen": a real
//! `tsunagi-server` whose SQLite database is edited between steps, or whose answers are
//! rewritten on the way (a lying layer in front of the real router), withholds one device's
//! change, reorders two, replays an old one, rolls a pull cursor back or serves an old page,
//! and passes on two different changes signed by one device at the same place in its chain.
//! Each is reported or refused, and the test asserts which.

use std::sync::{Arc, Mutex};
use tsunagi_core::ids::{ContactId, EntityId, PersonId};
use tsunagi_device::api::{ContactForm, PersonForm};
use tsunagi_device::{Device, OsKeystore, SyncReport};
use tsunagi_e2e::{Kind, World, new_device};
use tsunagi_protocol::wire::PullPage;

/// Provisions, enrolls and (IT) approves a device for a new user of `csw-north`.
async fn member(world: &World, admin: &tsunagi_admin::Admin, name: &str) -> Device {
    member_of(world, admin, "csw-north", name).await
}

/// Provisions, enrolls and (IT) approves a device for a new user of `team`.
async fn member_of(world: &World, admin: &tsunagi_admin::Admin, team: &str, name: &str) -> Device {
    let ks = OsKeystore::new();
    let user = admin.create_user(name, team, "worker").await.unwrap();
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

async fn sync(dev: &mut Device) -> SyncReport {
    dev.sync(&OsKeystore::new()).await.unwrap()
}

/// A team with two workers; A records a person and a visit, both sync.
async fn two_workers(world: &World) -> (Device, Device, PersonId) {
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut a = member(world, &admin, "山田 花子").await;
    let mut b = member(world, &admin, "鈴木 一郎").await;
    let p = a.add_person(&person("高橋 トメ")).unwrap();
    a.add_contact(&contact(p, "初回訪問")).unwrap();
    sync(&mut a).await;
    let r = sync(&mut b).await;
    assert!(r.applied >= 2, "{r:?}");
    assert_eq!((r.missing, r.forks, r.replayed), (0, 0, 0), "{r:?}");
    (a, b, p)
}

/// The server's database, as whoever runs it can edit it.
fn server_db(world: &World) -> rusqlite::Connection {
    rusqlite::Connection::open(world.dir.path().join("server.db")).unwrap()
}

/// The server sequence number of a change envelope.
fn seq_of(db: &rusqlite::Connection, op: EntityId) -> i64 {
    db.query_row(
        "SELECT seq FROM envelopes WHERE id = ?1",
        [op.as_uuid().as_bytes()],
        |r| r.get(0),
    )
    .unwrap()
}

/// The op id of the only change that made a record (a contact is made by one change set).
fn op_of(dev: &Device, record: EntityId) -> EntityId {
    let h = dev.history(record).unwrap();
    assert_eq!(h.len(), 1);
    EntityId::from_uuid(*h[0].op.as_uuid())
}

/// Copies a row of `envelopes` under a new sequence number (as a push arriving later gets).
const COPY_ROW: &str = "INSERT INTO envelopes (id, kind, case_id, owner, target, epoch, author, body, received_at)
     SELECT ?2, kind, case_id, owner, target, epoch, author, body, received_at FROM envelopes WHERE seq = ?1";

/// (a) The server withholds one of A's changes from B: B applies the rest, and reports that
/// changes of 山田 花子's device are missing (one, in one case) — the change after it names
/// its place. Put back late under a new sequence number, it arrives, and the report heals.
#[tokio::test(flavor = "current_thread")]
async fn a_withheld_change_is_reported_until_it_arrives() {
    let world = World::start(Kind::Sqlite).await;
    let (mut a, mut b, p) = two_workers(&world).await;
    let c: Vec<_> = (0..3)
        .map(|i| a.add_contact(&contact(p, &format!("訪問 {i}"))).unwrap())
        .collect();
    sync(&mut a).await;
    let withheld = op_of(&a, c[1].into());

    let db = server_db(&world);
    let seq = seq_of(&db, withheld);
    // Kept aside (the test puts it back later), then deleted.
    db.execute(
        "CREATE TABLE aside AS SELECT * FROM envelopes WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    db.execute("DELETE FROM envelopes WHERE seq = ?1", [seq])
        .unwrap();

    let r = sync(&mut b).await;
    assert_eq!((r.applied, r.missing, r.forks), (2, 1, 0), "{r:?}");
    assert!(b.record_state(c[1].into()).unwrap().is_none());
    assert!(
        b.record_state(c[2].into()).unwrap().is_some(),
        "nothing held back"
    );
    let st = b.sync_status().unwrap();
    assert_eq!(st.missing_from.len(), 1, "{:?}", st.missing_from);
    let m = &st.missing_from[0];
    assert_eq!(m.device, *a.id().as_uuid());
    assert_eq!(m.user_name.as_deref(), Some("山田 花子"));
    assert_eq!((m.missing, m.cases.len()), (1, 1));
    assert!(
        st.message_ja
            .contains("山田 花子さんの端末からの変更が一部届いていません（1件）"),
        "{}",
        st.message_ja
    );
    // A second round without it: still reported.
    assert_eq!(sync(&mut b).await.missing, 1);

    // Put back under a new sequence number, as a late push would be.
    db.execute(
        "INSERT INTO envelopes (id, kind, case_id, owner, target, epoch, author, body, received_at)
         SELECT id, kind, case_id, owner, target, epoch, author, body, received_at FROM aside",
        [],
    )
    .unwrap();
    assert!(seq_of(&db, withheld) > seq);
    let r = sync(&mut b).await;
    assert_eq!((r.applied, r.missing, r.replayed), (1, 0, 0), "{r:?}");
    assert!(b.record_state(c[1].into()).unwrap().is_some());
    let st = b.sync_status().unwrap();
    assert!(st.missing_from.is_empty());
    assert!(
        !st.message_ja.contains("届いていません"),
        "{}",
        st.message_ja
    );
}

/// (b) Two of A's changes in one case served in the wrong order: both applied, no gap left
/// after the round.
#[tokio::test(flavor = "current_thread")]
async fn reordered_changes_are_applied_and_leave_no_gap() {
    let world = World::start(Kind::Sqlite).await;
    let (mut a, mut b, p) = two_workers(&world).await;
    let first = a.add_contact(&contact(p, "一通目")).unwrap();
    let second = a.add_contact(&contact(p, "二通目")).unwrap();
    sync(&mut a).await;
    let db = server_db(&world);
    let (s1, s2) = (
        seq_of(&db, op_of(&a, first.into())),
        seq_of(&db, op_of(&a, second.into())),
    );
    assert!(s1 < s2);
    db.execute_batch(&format!(
        "UPDATE envelopes SET seq = -1 WHERE seq = {s1};
         UPDATE envelopes SET seq = {s1} WHERE seq = {s2};
         UPDATE envelopes SET seq = {s2} WHERE seq = -1;"
    ))
    .unwrap();
    let r = sync(&mut b).await;
    assert_eq!(
        (r.applied, r.missing, r.forks, r.invalid),
        (2, 0, 0, 0),
        "{r:?}"
    );
    for c in [first, second] {
        assert!(b.record_state(c.into()).unwrap().is_some());
    }
    assert!(b.sync_status().unwrap().missing_from.is_empty());
}

/// (c) An old envelope of A's inserted again under a new sequence number: B counts it as
/// replayed and reports it; its state does not change and nothing is applied twice. A, whose
/// own change it is, sees the replay too.
#[tokio::test(flavor = "current_thread")]
async fn a_replayed_envelope_is_reported_and_changes_nothing() {
    let world = World::start(Kind::Sqlite).await;
    let (mut a, mut b, p) = two_workers(&world).await;
    let visit = a.add_contact(&contact(p, "再送される訪問")).unwrap();
    sync(&mut a).await;
    sync(&mut b).await;
    let before = b.case_records(p.into()).unwrap();
    let db = server_db(&world);
    let seq = seq_of(&db, op_of(&a, visit.into()));
    db.execute(
        COPY_ROW,
        rusqlite::params![seq, uuid::Uuid::now_v7().as_bytes()],
    )
    .unwrap();
    let r = sync(&mut b).await;
    assert_eq!(
        (r.applied, r.replayed, r.forks, r.invalid),
        (0, 1, 0, 0),
        "{r:?}"
    );
    assert_eq!(b.case_records(p.into()).unwrap(), before);
    assert_eq!(b.history(visit.into()).unwrap().len(), 1);
    let st = b.sync_status().unwrap();
    assert_eq!(st.problems.len(), 1, "{:?}", st.problems);
    assert_eq!(st.problems[0].kind, "replayed");
    assert_eq!(st.problems[0].user_name.as_deref(), Some("山田 花子"));
    assert!(st.missing_from.is_empty());
    // The author itself: its own change under another number than the server acknowledged.
    let r = sync(&mut a).await;
    assert_eq!(r.replayed, 1, "{r:?}");
}

/// How the lying layer rewrites `GET /v1/sync/pull` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lie {
    /// Pass everything through.
    Honest,
    /// Answer with `next` set below the `since` asked with.
    NextBelowSince,
    /// Answer with the first page this layer saw (an old page served again).
    OldPage,
    /// Answer with the page's envelopes in reverse order.
    Reversed,
}

/// The lie in force, and the first non-empty pull answer seen (to serve again).
type Liar = Arc<Mutex<(Lie, Option<Vec<u8>>)>>;

/// A layer in front of the real server's router that rewrites pull answers as `liar` says.
fn lying(liar: Liar) -> impl FnOnce(axum::Router) -> axum::Router {
    move |router| {
        router.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let liar = liar.clone();
                async move {
                    let is_pull = req.uri().path() == "/v1/sync/pull";
                    let resp = next.run(req).await;
                    if !is_pull || !resp.status().is_success() {
                        return resp;
                    }
                    let (parts, body) = resp.into_parts();
                    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                    let mut page = PullPage::decode(&bytes).unwrap();
                    let mut l = liar.lock().unwrap();
                    if l.1.is_none() && !page.items.is_empty() {
                        l.1 = Some(bytes.to_vec());
                    }
                    let out = match l.0 {
                        Lie::Honest => bytes.to_vec(),
                        Lie::NextBelowSince => {
                            page.next = 1;
                            page.items.clear();
                            page.more = false;
                            page.encode()
                        }
                        Lie::OldPage => l.1.clone().unwrap(),
                        Lie::Reversed => {
                            page.items.reverse();
                            page.encode()
                        }
                    };
                    let mut parts = parts;
                    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
                    axum::response::Response::from_parts(parts, axum::body::Body::from(out))
                }
            },
        ))
    }
}

/// (d) A server that rolls B's cursor back (a `next` below the `since` asked with), serves an
/// old page again, or serves a page out of order: each page is refused whole and reported
/// (`cursor_rollback`, `out_of_order`), B's cursor does not move back, nothing is applied from
/// it, and B's own changes are still pushed. Honest again, B takes everything.
#[tokio::test(flavor = "current_thread")]
async fn a_rolled_back_cursor_or_an_old_page_is_refused() {
    let liar: Liar = Arc::new(Mutex::new((Lie::Honest, None)));
    let world = World::start_wrapped(Kind::Sqlite, lying(liar.clone())).await;
    let (mut a, mut b, p) = two_workers(&world).await;
    let cursor = b.sync_status().unwrap().cursor;
    assert!(cursor > 0);

    let later = a.add_contact(&contact(p, "後の訪問")).unwrap();
    let also = a.add_contact(&contact(p, "さらに後の訪問")).unwrap();
    sync(&mut a).await;
    let mine = b.add_contact(&contact(p, "Bの訪問")).unwrap();

    for (lie, code) in [
        (Lie::NextBelowSince, "cursor_rollback"),
        (Lie::OldPage, "cursor_rollback"),
        (Lie::Reversed, "out_of_order"),
    ] {
        // Problems persist across rounds: count this kind before the round, so that a round
        // cannot pass on an earlier round's problem. Each refused page is recorded once
        // (`get_checked_page`), and exactly one page is refused per round.
        let seen = |st: &tsunagi_device::SyncStatus| -> u64 {
            st.problems
                .iter()
                .filter(|p| p.kind == code)
                .map(|p| p.count)
                .sum()
        };
        let before = seen(&b.sync_status().unwrap());
        liar.lock().unwrap().0 = lie;
        let r = sync(&mut b).await;
        assert_eq!((r.pages_refused, r.applied), (1, 0), "{lie:?}: {r:?}");
        let st = b.sync_status().unwrap();
        assert_eq!(st.cursor, cursor, "{lie:?}: the cursor did not move");
        assert_eq!(
            seen(&st),
            before + 1,
            "{lie:?}: one more {code} problem: {:?}",
            st.problems
        );
        assert!(
            st.message_ja.contains("情報システム担当"),
            "{}",
            st.message_ja
        );
        assert!(b.record_state(later.into()).unwrap().is_none());
    }
    // B's own change went out all the same.
    assert_eq!(b.sync_status().unwrap().pending, 0);
    let _ = mine;

    liar.lock().unwrap().0 = Lie::Honest;
    let r = sync(&mut b).await;
    assert_eq!((r.pages_refused, r.missing), (0, 0), "{r:?}");
    for c in [later, also] {
        assert!(b.record_state(c.into()).unwrap().is_some());
    }
    assert!(b.sync_status().unwrap().cursor > cursor);
}

/// (e) A's identity signs two different changes at the same place in its chain of a case: a
/// copy of A's store (a cloned or restored tablet) records another visit while the server
/// withholds A's own from it. Both reach the server; B applies the first and refuses the
/// second as `fork`, and reports it.
#[tokio::test(flavor = "current_thread")]
async fn two_changes_at_one_place_in_a_chain_are_a_fork() {
    let world = World::start(Kind::Sqlite).await;
    let (a, mut b, p) = two_workers(&world).await;
    // The copy: A's directory as it is now (the store's keys are in this machine's keystore,
    // so the copy opens as A).
    let dir_a = world.dir.path().join("tablet-a");
    let dir_clone = world.dir.path().join("tablet-a-copy");
    let from = a.dir().to_owned();
    drop(a);
    copy_dir(&from, &dir_a);
    copy_dir(&from, &dir_clone);
    let ks = OsKeystore::new();
    let mut a = Device::open(&dir_a, None, &ks).unwrap();
    let mut clone = Device::open(&dir_clone, None, &ks).unwrap();
    assert_eq!(a.id(), clone.id());

    let x = a.add_contact(&contact(p, "本物の訪問")).unwrap();
    sync(&mut a).await;
    let db = server_db(&world);
    let sx = seq_of(&db, op_of(&a, x.into()));
    db.execute(
        "CREATE TABLE aside AS SELECT * FROM envelopes WHERE seq = ?1",
        [sx],
    )
    .unwrap();
    db.execute("DELETE FROM envelopes WHERE seq = ?1", [sx])
        .unwrap();
    let y = clone.add_contact(&contact(p, "複製の訪問")).unwrap();
    let r = sync(&mut clone).await;
    assert_eq!((r.pushed, r.forks), (1, 0), "{r:?}");
    db.execute(
        "INSERT INTO envelopes (id, kind, case_id, owner, target, epoch, author, body, received_at)
         SELECT id, kind, case_id, owner, target, epoch, author, body, received_at FROM aside",
        [],
    )
    .unwrap();

    let r = b.sync(&OsKeystore::new()).await.unwrap();
    assert_eq!((r.applied, r.forks, r.invalid), (1, 1, 1), "{r:?}");
    // The clone's reached the server first: it is applied, A's is refused.
    assert!(b.record_state(y.into()).unwrap().is_some());
    assert!(b.record_state(x.into()).unwrap().is_none());
    let st = b.sync_status().unwrap();
    assert!(
        st.refusals.iter().any(|r| r.contains(" fork:")),
        "{:?}",
        st.refusals
    );
    let fork = st
        .problems
        .iter()
        .find(|p| p.kind == "fork")
        .expect("reported");
    assert_eq!(fork.user_name.as_deref(), Some("山田 花子"));
    assert!(
        st.message_ja.contains("情報システム担当"),
        "{}",
        st.message_ja
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// IT revokes A's tablet (lost, now in someone else's hands); the hostile server lets it in
/// again for one round, withholding the statement that revokes it so that it writes on under
/// the old key, then hides it all. The tablet's clock reads ten minutes after the revocation
/// (past the skew a server allows). Returns the contact it wrote then.
async fn revoked_tablet_writes_again(
    world: &World,
    admin: &tsunagi_admin::Admin,
    a: &mut Device,
    p: PersonId,
) -> ContactId {
    let a_id = a.enrollment().unwrap().unwrap().device.to_string();
    admin.revoke(&a_id).await.unwrap();
    let db = server_db(world);
    let set_state = |state: &str| {
        db.execute(
            "UPDATE devices SET state = ?2 WHERE id = ?1",
            rusqlite::params![a_id, state],
        )
        .unwrap()
    };
    set_state("active");
    db.execute_batch(
        "CREATE TEMP TABLE hidden AS SELECT * FROM team_statements WHERE team = 'csw-north';
         DELETE FROM team_statements WHERE team = 'csw-north';",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    a.clock_ahead_to(u64::try_from(now.as_millis()).unwrap() + 10 * 60_000);
    let after = a.add_contact(&contact(p, "失効後の書き込み")).unwrap();
    let pushed = sync(a).await;
    assert!(pushed.pushed >= 1, "{pushed:?}");
    set_state("revoked");
    db.execute_batch("INSERT INTO team_statements SELECT * FROM hidden;")
        .unwrap();
    after
}

/// What a receiver shows after refusing the revoked tablet's late change: one refusal, and the
/// device named for IT.
fn assert_revoked_author_reported(receiver: &Device) {
    let st = receiver.sync_status().unwrap();
    assert_eq!(st.refused_incoming, 1);
    let problem = st
        .problems
        .iter()
        .find(|p| p.kind == "revoked_author")
        .unwrap_or_else(|| panic!("{:?}", st.problems));
    assert_eq!(problem.user_name.as_deref(), Some("山田 花子"));
    let said = "利用停止済みの山田 花子さんの端末が停止後に書いた変更を受け付けませんでした（1件）";
    assert!(st.message_ja.contains(said), "{}", st.message_ja);
    assert!(
        st.message_ja.contains("情報システム担当"),
        "{}",
        st.message_ja
    );
}

/// A tablet IT revoked writes on, and the server lets it in again and passes on what it wrote.
/// B, syncing late, takes what A wrote before the revocation (a worker's last notes are not
/// lost) and refuses what A dated after it, naming the device for IT; the refused envelope is
/// kept aside, not applied.
#[tokio::test(flavor = "current_thread")]
async fn what_a_revoked_device_writes_after_its_revocation_is_refused() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let mut a = member(&world, &admin, "山田 花子").await;
    let mut b = member(&world, &admin, "鈴木 一郎").await;
    let p = a.add_person(&person("高橋 トメ")).unwrap();
    let before = a.add_contact(&contact(p, "失効前の最後の訪問")).unwrap();
    sync(&mut a).await;
    let after = revoked_tablet_writes_again(&world, &admin, &mut a, p).await;

    let r = sync(&mut b).await;
    assert_eq!((r.revoked, r.invalid), (1, 1), "{r:?}");
    assert_eq!(b.history(before.into()).unwrap().len(), 1);
    assert!(b.history(after.into()).unwrap().is_empty());
    assert_revoked_author_reported(&b);
}

/// The same, read by another team that the case was shared with (by consent): it takes the
/// owning team's statement to learn of the revocation, and refuses the late change too.
#[tokio::test(flavor = "current_thread")]
async fn a_team_a_case_is_shared_with_also_refuses_the_revoked_devices_late_changes() {
    use tsunagi_device::ShareBasis;
    use tsunagi_device::api::ConsentForm;
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    admin.create_team("csw-south", "csw").await.unwrap();
    let mut a = member(&world, &admin, "山田 花子").await;
    let mut south = member_of(&world, &admin, "csw-south", "南 三郎").await;
    // Its first sync publishes its team's key, which a case is shared to.
    sync(&mut south).await;
    let p = a.add_person(&person("高橋 トメ")).unwrap();
    let before = a.add_contact(&contact(p, "失効前の最後の訪問")).unwrap();
    let consent = a
        .record_consent(&ConsentForm {
            person: p.to_string(),
            scope: vec!["csw-south".into()],
            method: "written".into(),
            ..ConsentForm::default()
        })
        .unwrap();
    let ks = OsKeystore::new();
    a.share_case(
        &p.to_string(),
        "csw-south",
        ShareBasis::Consent(&consent.to_string()),
        &ks,
    )
    .await
    .unwrap();
    sync(&mut a).await;
    let after = revoked_tablet_writes_again(&world, &admin, &mut a, p).await;

    let r = sync(&mut south).await;
    assert_eq!(r.revoked, 1, "{r:?}");
    assert_eq!(south.history(before.into()).unwrap().len(), 1);
    assert!(south.history(after.into()).unwrap().is_empty());
    assert_revoked_author_reported(&south);
}
