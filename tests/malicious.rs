//! The malicious-server suite, keys part (issue 23): a real `tsunagi-server` whose database is
//! tampered with between steps, as whoever runs it could — a device key substituted before IT
//! approves it, a device inserted into a team before a rotation, an old or forged team
//! statement served, the statement withheld. Each is refused or reported, and the test asserts
//! which; no team key is sealed to a key IT never approved. SQLite only: the test edits the
//! server's file (the checks are on the device and in `tsunagi-admin`, not in the backend).

use rusqlite::{Connection, params};
use tsunagi_admin::{Admin, AdminError};
use tsunagi_crypto::identity::{KemKey, SigKey};
use tsunagi_device::{Device, EnrollReport, OsKeystore};
use tsunagi_e2e::{Kind, World, new_device};
use tsunagi_protocol::api::{DeviceState, StatementMember, TeamStatement};

const TEAM: &str = "csw-north";

/// Provisions and enrolls a device for a new user; not approved.
async fn enrolled(world: &World, admin: &Admin, name: &str, role: &str) -> (Device, EnrollReport) {
    let user = admin.create_user(name, TEAM, role).await.unwrap();
    let file = world.dir.path().join(format!("{}.json", user.id));
    admin
        .provision(&user.id.to_string(), None, Some(&file))
        .await
        .unwrap();
    let mut dev = new_device(&world.device_dir(&user.id.to_string()), name);
    let e = dev
        .enroll(&std::fs::read_to_string(&file).unwrap(), &OsKeystore::new())
        .await
        .unwrap();
    (dev, e)
}

fn server_db(world: &World) -> Connection {
    Connection::open(world.dir.path().join("server.db")).unwrap()
}

/// The recipients of every key slot the server holds.
fn slot_recipients(db: &Connection) -> Vec<String> {
    db.prepare("SELECT recipient FROM key_slots ORDER BY recipient")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The server swaps the key-exchange key (the one team keys are sealed to) of a pending
/// device, then the signing key: IT's approval with the code read off the device refuses
/// both, and nothing is sealed. With the real keys back, the same code approves it.
#[tokio::test(flavor = "current_thread")]
async fn a_substituted_device_key_is_refused_at_approval() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    let (mut dev, e) = enrolled(&world, &admin, "山田 花子", "lead").await;
    let id = e.device.to_string();
    let db = server_db(&world);
    let (real_sig, real_kem): (Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT sig_pub, kem_pub FROM devices WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let attacker_kem = KemKey::generate().unwrap().public().as_bytes().to_vec();
    let attacker_sig = SigKey::generate().unwrap().public().as_bytes().to_vec();
    for (sig, kem) in [(&real_sig, &attacker_kem), (&attacker_sig, &real_kem)] {
        db.execute(
            "UPDATE devices SET sig_pub = ?2, kem_pub = ?3 WHERE id = ?1",
            params![id, sig, kem],
        )
        .unwrap();
        match admin.approve(&id, &e.device_code).await {
            Err(AdminError::CodeMismatch { .. }) => {}
            other => panic!("a substituted key was approved: {other:?}"),
        }
        assert!(slot_recipients(&db).is_empty(), "nothing sealed to anyone");
    }
    db.execute(
        "UPDATE devices SET sig_pub = ?2, kem_pub = ?3 WHERE id = ?1",
        params![id, real_sig, real_kem],
    )
    .unwrap();
    admin.approve(&id, &e.device_code).await.unwrap();
    let keys = dev.refresh_keys(&OsKeystore::new()).await.unwrap();
    assert_eq!(keys.epochs_held, vec![1]);
    assert!(keys.refused.is_empty(), "{:?}", keys.refused);
}

/// The server inserts a device of its own into the team as "active" before a rotation: IT seals
/// the new key only to the members in its registry, so the server's check of the recipients
/// refuses the upload and the inserted key gets nothing; with the row gone the rotation goes
/// through, to exactly the approved members and ORK.
#[tokio::test(flavor = "current_thread")]
async fn a_device_the_server_inserts_gets_no_team_key() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    let (_lead, l) = enrolled(&world, &admin, "佐々木 主任", "lead").await;
    admin
        .approve(&l.device.to_string(), &l.device_code)
        .await
        .unwrap();
    let db = server_db(&world);
    let user: String = db
        .query_row(
            "SELECT user_id FROM devices WHERE id = ?1",
            [l.device.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let planted = uuid::Uuid::now_v7().to_string();
    db.execute(
        "INSERT INTO devices (id, user_id, sig_pub, kem_pub, state, enrolled_at, approved_at) \
         VALUES (?1, ?2, ?3, ?4, 'active', 0, 0)",
        params![
            planted,
            user,
            SigKey::generate().unwrap().public().as_bytes().to_vec(),
            KemKey::generate().unwrap().public().as_bytes().to_vec()
        ],
    )
    .unwrap();
    let listed = admin.list_devices(Some(TEAM)).await.unwrap();
    assert!(listed.iter().any(|d| d.device.id.to_string() == planted));
    let refused = admin.rotate(TEAM, None).await;
    assert!(
        refused.is_err(),
        "the upload without the planted device is refused: {refused:?}"
    );
    assert!(!slot_recipients(&db).contains(&planted));
    db.execute("DELETE FROM devices WHERE id = ?1", [&planted])
        .unwrap();
    let rotation = admin.rotate(TEAM, None).await.unwrap();
    assert_eq!(
        rotation.recipients,
        vec![l.device.to_string(), "org".to_owned()]
    );
    assert!(!slot_recipients(&db).contains(&planted));
}

/// After a revocation (statement 2 → 3, key epoch 1 → 2) the server serves statement 2 again
/// (so devices would keep writing under the key the lost tablet holds), then one it forged,
/// then none: the device refuses and reports each, keeps statement 3 and epoch 2.
#[tokio::test(flavor = "current_thread")]
async fn an_old_forged_or_withheld_team_statement_is_refused() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    let ks = OsKeystore::new();
    let (mut lead, l) = enrolled(&world, &admin, "佐々木 主任", "lead").await;
    admin
        .approve(&l.device.to_string(), &l.device_code)
        .await
        .unwrap();
    let (_lost, w) = enrolled(&world, &admin, "山田 花子", "worker").await;
    admin
        .approve(&w.device.to_string(), &w.device_code)
        .await
        .unwrap();
    let keys = lead.refresh_keys(&ks).await.unwrap();
    assert_eq!(
        (keys.statement_version, keys.current_epoch),
        (Some(2), Some(1))
    );
    let db = server_db(&world);
    let old: (i64, String) = db
        .query_row(
            "SELECT version, body FROM team_statements WHERE team = ?1",
            [TEAM],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();

    let revoked = admin.revoke(&w.device.to_string()).await.unwrap();
    assert_eq!(revoked.rotation.unwrap().statement_version, 3);
    let keys = lead.refresh_keys(&ks).await.unwrap();
    assert_eq!(
        (keys.statement_version, keys.current_epoch),
        (Some(3), Some(2))
    );
    assert!(keys.refused.is_empty(), "{:?}", keys.refused);

    let serve = |version: i64, body: &str| {
        db.execute(
            "UPDATE team_statements SET version = ?2, body = ?3 WHERE team = ?1",
            params![TEAM, version, body],
        )
        .unwrap();
    };
    // Rolled back.
    serve(old.0, &old.1);
    let keys = lead.refresh_keys(&ks).await.unwrap();
    assert!(
        keys.refused
            .iter()
            .any(|r| r.starts_with("statement_rollback")),
        "{:?}",
        keys.refused
    );
    assert_eq!(
        (keys.statement_version, keys.current_epoch),
        (Some(3), Some(2))
    );

    // Forged: a newer version naming the lost tablet a member again, signed by another key.
    let mut forged: TeamStatement = serde_json::from_str(&old.1).unwrap();
    forged.version = 9;
    forged.revoked.clear();
    forged.members.push(StatementMember {
        device: w.device,
        user: uuid::Uuid::nil(),
        user_name: "山田 花子".into(),
        role: tsunagi_protocol::api::Role::Worker,
        sig_pub: vec![7; 32],
        kem_pub: vec![8; 32],
    });
    forged.sig = SigKey::generate()
        .unwrap()
        .sign(&forged.signed_message())
        .0
        .to_vec();
    serve(9, &serde_json::to_string(&forged).unwrap());
    let keys = lead.refresh_keys(&ks).await.unwrap();
    assert!(
        keys.refused
            .iter()
            .any(|r| r.contains("not signed by the pinned admin key")),
        "{:?}",
        keys.refused
    );
    assert_eq!(
        (keys.statement_version, keys.current_epoch),
        (Some(3), Some(2))
    );

    // Withheld.
    db.execute("DELETE FROM team_statements WHERE team = ?1", [TEAM])
        .unwrap();
    let keys = lead.refresh_keys(&ks).await.unwrap();
    assert!(
        keys.refused
            .iter()
            .any(|r| r.starts_with("statement_withheld")),
        "{:?}",
        keys.refused
    );
    assert_eq!(
        (keys.statement_version, keys.current_epoch),
        (Some(3), Some(2))
    );
    let shown = admin.show_device(&w.device.to_string()).await.unwrap();
    assert_eq!(shown.device.state, DeviceState::Revoked);
}

/// A key directory that did not change is taken without verifying or writing anything.
#[tokio::test(flavor = "current_thread")]
async fn an_unchanged_key_directory_is_not_verified_again() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    let ks = OsKeystore::new();
    let (mut lead, l) = enrolled(&world, &admin, "佐々木 主任", "lead").await;
    admin
        .approve(&l.device.to_string(), &l.device_code)
        .await
        .unwrap();
    let first = lead.refresh_keys(&ks).await.unwrap();
    assert!(!first.unchanged);
    let second = lead.refresh_keys(&ks).await.unwrap();
    assert!(second.unchanged, "nothing changed: no work");
    assert_eq!(second.epochs_held, first.epochs_held);
    assert_eq!(second.current_epoch, Some(1));
    // A rotation changes the directory: verified and taken again.
    admin.rotate(TEAM, None).await.unwrap();
    let third = lead.refresh_keys(&ks).await.unwrap();
    assert!(!third.unchanged);
    assert_eq!(third.epochs_held, vec![1, 2]);
}
