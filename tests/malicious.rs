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

/// [`enrolled`], then approved by IT with the code the device shows.
async fn approved(world: &World, admin: &Admin, name: &str, role: &str) -> (Device, EnrollReport) {
    let (dev, e) = enrolled(world, admin, name, role).await;
    admin
        .approve(&e.device.to_string(), &e.device_code)
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
    let (_lead, l) = approved(&world, &admin, "佐々木 主任", "lead").await;
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
    // IT seals slots only to the devices it approved; the server wants one per active device
    // (the planted one included) and refuses the upload (`slot_recipients`, 400).
    assert!(
        matches!(
            &refused,
            Err(AdminError::Server(tsunagi_protocol::client::ClientError::Refused {
                status: 400,
                code,
                message,
            })) if code == "slot_recipients" && message.contains(&planted)
        ),
        "the upload without the planted device is refused: {refused:?}"
    );
    assert_eq!(refused.unwrap_err().code(), "slot_recipients");
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
    let (mut lead, _) = approved(&world, &admin, "佐々木 主任", "lead").await;
    let (_lost, w) = approved(&world, &admin, "山田 花子", "worker").await;
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
    let (mut lead, _) = approved(&world, &admin, "佐々木 主任", "lead").await;
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

/// A member device whose keys the attacker holds (enrolled and approved like any other, its
/// keys made by the test): what it signs is as valid as any member's, so it shows what a
/// receiving device itself refuses when a server passes on whatever such a device sends.
struct Rogue {
    id: uuid::Uuid,
    sig: SigKey,
    kem: KemKey,
    team: String,
    client: tsunagi_protocol::client::Client,
}

impl Rogue {
    async fn approved(world: &World, admin: &Admin, team: &str, name: &str) -> Rogue {
        use tsunagi_protocol::api::{EnrollRequest, EnrollResponse, EnrollmentBundle};
        use tsunagi_protocol::client::{Client, Signer};
        let user = admin.create_user(name, team, "worker").await.unwrap();
        let file = world.dir.path().join(format!("{}.json", user.id));
        admin
            .provision(&user.id.to_string(), None, Some(&file))
            .await
            .unwrap();
        let bundle: EnrollmentBundle =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
        let (sp, kp) = (
            sig.public().as_bytes().to_vec(),
            kem.public().as_bytes().to_vec(),
        );
        let proof = sig.sign(&EnrollRequest::proof_message(&bundle.code, &sp, &kp));
        let r: EnrollResponse = Client::new(&world.url, None)
            .unwrap()
            .post(
                "/v1/enroll",
                &EnrollRequest {
                    code: bundle.code.clone(),
                    sig_pub: sp.clone(),
                    kem_pub: kp.clone(),
                    proof: proof.0.to_vec(),
                    device: None,
                },
            )
            .await
            .unwrap();
        let code = tsunagi_crypto::identity::device_code(&sp, &kp);
        admin.approve(&r.device.to_string(), &code).await.unwrap();
        let client = Client::new(
            &world.url,
            Some(Signer {
                key_id: r.device.to_string(),
                key: SigKey::from_seed(sig.seed().as_ref()).unwrap(),
            }),
        )
        .unwrap();
        Rogue {
            id: r.device,
            sig,
            kem,
            team: team.to_owned(),
            client,
        }
    }

    /// The case key of `case` (its latest epoch), opened from the pulled slot with the team
    /// key this device holds: (epoch, key id, key).
    async fn case_key(&self, case: [u8; 16]) -> (u32, [u8; 16], tsunagi_crypto::case::CaseKey) {
        use tsunagi_crypto::case::{CaseKeyContext, open_case_key, team_kem};
        use tsunagi_crypto::identity::{SealedKey, open_team_key};
        use tsunagi_protocol::api::KeyDirectory;
        use tsunagi_protocol::wire::{Aux, Envelope, PullPage};
        let dir: KeyDirectory = self.client.get("/v1/keys").await.unwrap();
        let bytes = self
            .client
            .send_bytes("GET", "/v1/sync/pull?since=0&limit=5000", Vec::new())
            .await
            .unwrap();
        let page = PullPage::decode(&bytes).unwrap();
        let mut found = None;
        for item in &page.items {
            let env = Envelope::decode(&item.body).unwrap();
            if let Aux::CaseKey {
                team,
                team_epoch,
                enc,
                ..
            } = &env.aux
                && env.case == case
                && *team == self.team
            {
                let slot = dir
                    .slots
                    .iter()
                    .find(|s| s.epoch == *team_epoch)
                    .expect("team key slot");
                let tk = open_team_key(&self.kem, &slot.sealed(), &slot.context()).unwrap();
                let ck = open_case_key(
                    &team_kem(&tk, team, *team_epoch).unwrap(),
                    &SealedKey {
                        enc: enc.clone(),
                        ct: env.ct.clone(),
                    },
                    &CaseKeyContext {
                        case: &env.case,
                        epoch: env.epoch,
                        key_id: &env.key_id,
                        team,
                        team_epoch: *team_epoch,
                    },
                )
                .unwrap();
                found = Some((env.epoch, env.key_id, ck));
            }
        }
        found.expect("a case-key slot of the case for this team")
    }

    /// Seals, signs and pushes a change set of a contact in envelope case `case` whose
    /// `person` field names `person`. Returns the server's answer for it.
    async fn push_contact(&self, case: [u8; 16], person: [u8; 16], note: &str) -> String {
        use std::collections::BTreeMap;
        use tsunagi_core::change::{ChangeBody, FieldWrite};
        use tsunagi_protocol::wire::{Aux, Envelope, Kind, encode_batch};
        let (epoch, key_id, ck) = self.case_key(case).await;
        let op = *uuid::Uuid::now_v7().as_bytes();
        let entity = *uuid::Uuid::now_v7().as_bytes();
        let mut fields = BTreeMap::new();
        for (k, v) in [
            (
                "person",
                serde_json::json!(uuid::Uuid::from_bytes(person).to_string()),
            ),
            ("note", serde_json::json!(note)),
        ] {
            fields.insert(
                k.to_owned(),
                FieldWrite {
                    value: v,
                    supersedes: Vec::new(),
                },
            );
        }
        let body = tsunagi_store::codec::encode(&ChangeBody::Set(fields), "body").unwrap();
        let hlc = tsunagi_core::hlc::Hlc::ZERO
            .tick(4_000_000_000_000)
            .to_sortable();
        // Change payload format 2 (docs/protocol.md).
        let mut plain = vec![2u8];
        plain.extend_from_slice(&op);
        plain.extend_from_slice(&entity);
        plain.extend_from_slice(self.id.as_bytes());
        plain.push(7);
        plain.extend_from_slice(b"contact");
        plain.push(u8::try_from(hlc.len()).unwrap());
        plain.extend_from_slice(hlc.as_bytes());
        plain.extend_from_slice(&body);
        let mut env = Envelope {
            kind: Kind::Change,
            id: op,
            case,
            epoch,
            key_id,
            author: *self.id.as_bytes(),
            aux: Aux::None,
            nonce: [0; 12],
            ct: Vec::new(),
            sig: [0; 64],
        };
        let (nonce, ct) = tsunagi_crypto::case::seal_payload(&ck, &op, &env.aad(), &plain).unwrap();
        env.nonce = nonce;
        env.ct = ct;
        env.sign(&self.sig);
        let answer = self
            .client
            .send_bytes("POST", "/v1/sync/push", encode_batch(&[env.encode()]))
            .await
            .unwrap();
        String::from_utf8(answer).unwrap()
    }
}

/// A member writes, in case X's envelope, a record of person Y (the server cannot see the
/// difference and accepts it): the receiving device refuses it as `wrong_case` and changes
/// nothing; the same member's record of person X in case X is applied (the control).
#[tokio::test(flavor = "current_thread")]
async fn a_change_for_another_case_is_refused() {
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    let ks = OsKeystore::new();
    let (mut w1, _) = approved(&world, &admin, "佐々木 主任", "lead").await;
    let form = |name: &str| tsunagi_device::api::PersonForm {
        name: name.into(),
        district: "辻堂".into(),
        programs: vec!["csw".into()],
        ..Default::default()
    };
    let x = w1.add_person(&form("高橋 トメ")).unwrap();
    let y = w1.add_person(&form("井上 ハル")).unwrap();
    w1.sync(&ks).await.unwrap();
    let rogue = Rogue::approved(&world, &admin, TEAM, "不正 端末").await;
    let (xb, yb) = (*x.as_uuid().as_bytes(), *y.as_uuid().as_bytes());

    let control = rogue.push_contact(xb, xb, "正しい事例の記録").await;
    assert!(control.contains("accepted"), "{control}");
    let report = w1.sync(&ks).await.unwrap();
    assert_eq!(
        (report.applied, report.invalid),
        (1, 0),
        "the control is applied"
    );
    let refused_before = w1.sync_status().unwrap().refused_incoming;

    let answer = rogue.push_contact(xb, yb, "別の人の記録").await;
    assert!(
        answer.contains("accepted"),
        "the server cannot tell: {answer}"
    );
    let report = w1.sync(&ks).await.unwrap();
    assert_eq!(report.invalid, 1, "{report:?}");
    let st = w1.sync_status().unwrap();
    assert_eq!(st.refused_incoming, refused_before + 1);
    // Refusals of pulled envelopes read `受信拒否 #<seq> <code>: <detail>`.
    let wrong_case: Vec<&String> = st
        .refusals
        .iter()
        .filter(|r| r.starts_with("受信拒否 #") && r.contains(" wrong_case: "))
        .collect();
    assert_eq!(wrong_case.len(), 1, "{:?}", st.refusals);
    assert_eq!(report.applied, 0);
}

/// A device of another team grants itself team A's case; an honest server refuses it
/// (`not_writable`), so the test plays the hostile one and puts the envelope into the log
/// itself. Team A's device refuses it too: only the owning team shares its cases.
#[tokio::test(flavor = "current_thread")]
async fn a_grant_from_outside_the_owning_team_is_refused() {
    use tsunagi_protocol::wire::{Aux, Envelope, Kind as EnvKind, encode_batch};
    let world = World::start(Kind::Sqlite).await;
    let admin = world.admin().await;
    admin.create_team(TEAM, "csw").await.unwrap();
    admin
        .create_team("dementia-east", "dementia")
        .await
        .unwrap();
    let ks = OsKeystore::new();
    let (mut w1, _) = approved(&world, &admin, "佐々木 主任", "lead").await;
    let x = w1
        .add_person(&tsunagi_device::api::PersonForm {
            name: "高橋 トメ".into(),
            district: "辻堂".into(),
            programs: vec!["csw".into()],
            ..Default::default()
        })
        .unwrap();
    w1.sync(&ks).await.unwrap();
    let outsider = Rogue::approved(&world, &admin, "dementia-east", "他チーム 端末").await;
    let mut grant = Envelope {
        kind: EnvKind::Grant,
        id: *uuid::Uuid::now_v7().as_bytes(),
        case: *x.as_uuid().as_bytes(),
        epoch: 1,
        key_id: [0; 16],
        author: *outsider.id.as_bytes(),
        aux: Aux::Grant {
            team: "dementia-east".into(),
            from_epoch: 1,
            until_epoch: 0,
            basis: "consent".into(),
            basis_id: *uuid::Uuid::now_v7().as_bytes(),
        },
        nonce: [0; 12],
        ct: Vec::new(),
        sig: [0; 64],
    };
    grant.sign(&outsider.sig);
    let honest = outsider
        .client
        .send_bytes("POST", "/v1/sync/push", encode_batch(&[grant.encode()]))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&honest).contains("not_writable"));
    let db = server_db(&world);
    db.execute(
        "INSERT INTO envelopes (id, kind, case_id, owner, target, epoch, author, body, received_at) \
         VALUES (?1, 'grant', ?2, ?3, 'dementia-east', 1, ?4, ?5, 0)",
        params![
            grant.id.to_vec(),
            grant.case.to_vec(),
            TEAM,
            outsider.id.to_string(),
            grant.encode()
        ],
    )
    .unwrap();
    let report = w1.sync(&ks).await.unwrap();
    assert_eq!(report.invalid, 1, "{report:?}");
    let st = w1.sync_status().unwrap();
    assert_eq!(st.refused_incoming, 1);
    // Refusals of pulled envelopes read `受信拒否 #<seq> <code>: <detail>`.
    let not_writable: Vec<&String> = st
        .refusals
        .iter()
        .filter(|r| r.starts_with("受信拒否 #") && r.contains(" not_writable: "))
        .collect();
    assert_eq!(not_writable.len(), 1, "{:?}", st.refusals);
}
