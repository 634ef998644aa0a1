//! The seed corpora of the fuzz targets (fuzz/seeds/<target>/): real envelopes, batches,
//! pages, DTOs, payloads and definitions, made with the product's own code and signed with the
//! fuzz targets' fixed key (seed 7…, `fuzz/src/lib.rs`). The test fails when a committed seed
//! is not what the code makes now (a format changed: the fuzzers would start from stale
//! inputs) or does not parse; `TSUNAGI_WRITE_FUZZ_SEEDS=1 cargo test -p tsunagi-device --test
//! fuzz_seeds` writes them again. Files named `regress_*` are crash inputs kept as they were.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use tsunagi_core::change::{ChangeBody, ChangeSet, EntityKind, FieldWrite};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::{DeviceId, EntityId, OpId};
use tsunagi_core::instrument::InstrumentCatalog;
use tsunagi_core::merge::EntityState;
use tsunagi_crypto::identity::{KemKey, SigKey};
use tsunagi_device::{payload, snapshot_payload};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, CreateEnrollment, CreateTeam, CreateUser, DeviceCert,
    DeviceInfo, DeviceState, EnrollRequest, EnrollResponse, EnrollmentBundle, ErrorBody,
    ErrorDetail, Head, KeyDirectory, KeySlot, MyCases, Role, SlotsUpload, Team, TeamKem,
    TeamKemAnswer, TeamMembers,
};
use tsunagi_protocol::auth::{AuthHeader, SCHEME, request_message};
use tsunagi_protocol::wire::{
    Aux, Envelope, Kind, PullPage, Pulled, PushResponse, PushResult, decode_batch, encode_batch,
};
use tsunagi_store::codec;
use uuid::Uuid;

const AUTHOR: [u8; 16] = [5; 16];

#[derive(Default)]
struct Seeds(BTreeMap<(String, String), Vec<u8>>);

impl Seeds {
    fn add(&mut self, target: &str, name: &str, bytes: Vec<u8>) {
        self.0.insert((target.to_owned(), name.to_owned()), bytes);
    }

    /// A JSON seed behind its target's selector byte.
    fn json<T: serde::Serialize>(&mut self, target: &str, name: &str, which: u8, value: &T) {
        let mut out = vec![which];
        out.extend(serde_json::to_vec_pretty(value).unwrap());
        self.add(target, name, out);
    }
}

fn envelopes(key: &SigKey) -> Vec<Envelope> {
    let base = |kind, aux, nonce, ct| Envelope {
        kind,
        id: [1; 16],
        case: [2; 16],
        epoch: 3,
        key_id: [4; 16],
        author: AUTHOR,
        aux,
        nonce,
        ct,
        sig: [0; 64],
    };
    let mut all = vec![
        base(Kind::Change, Aux::None, [6; 12], vec![7; 40]),
        base(
            Kind::Snapshot,
            Aux::Snapshot { covers: 99 },
            [6; 12],
            vec![7; 64],
        ),
        base(
            Kind::CaseKey,
            Aux::CaseKey {
                team: "csw-north".into(),
                team_epoch: 2,
                created: 1,
                enc: vec![8; 32],
            },
            [0; 12],
            vec![9; 48],
        ),
        base(
            Kind::Grant,
            Aux::Grant {
                team: "dementia".into(),
                from_epoch: 1,
                until_epoch: 0,
                basis: "consent".into(),
                basis_id: [9; 16],
            },
            [0; 12],
            Vec::new(),
        ),
    ];
    for e in &mut all {
        e.sign(key);
    }
    all
}

fn change_set() -> ChangeSet {
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("note", serde_json::json!("不在のため置き手紙を残した。")),
        ("person", serde_json::json!(Uuid::from_u128(7))),
    ] {
        fields.insert(
            k.to_owned(),
            FieldWrite {
                value: v,
                supersedes: Vec::new(),
            },
        );
    }
    ChangeSet {
        op: OpId::from_uuid(Uuid::from_u128(1)),
        kind: EntityKind::Contact,
        entity: EntityId::from_uuid(Uuid::from_u128(2)),
        hlc: Hlc {
            wall_ms: 1_763_700_000_000,
            counter: 7,
        },
        device: DeviceId::from_uuid(Uuid::from_u128(3)),
        body: ChangeBody::Set(fields),
    }
}

/// Tag 1 of the store's format (raw deflate), as devices wrote before zstd.
fn deflated(json: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(vec![1u8], flate2::Compression::new(2));
    enc.write_all(json).unwrap();
    enc.finish().unwrap()
}

fn wire(s: &mut Seeds, key: &SigKey) {
    let envs = envelopes(key);
    let bytes: Vec<Vec<u8>> = envs.iter().map(Envelope::encode).collect();
    for (e, b) in envs.iter().zip(&bytes) {
        s.add("envelope", e.kind.key(), b.clone());
    }
    s.add("push_batch", "four_kinds", encode_batch(&bytes));
    s.add("push_batch", "empty", encode_batch(&[]));
    let page = PullPage {
        next: 9,
        more: false,
        items: bytes
            .iter()
            .enumerate()
            .map(|(i, b)| Pulled {
                seq: 2 * i as u64 + 1,
                body: b.clone(),
            })
            .collect(),
    };
    s.add("pull_page", "four_kinds", page.encode());
    let empty = PullPage {
        next: 5,
        more: false,
        items: Vec::new(),
    };
    s.add("pull_page", "empty", empty.encode());
    let results = PushResponse {
        results: vec![
            PushResult::Accepted { seq: 1 },
            PushResult::Duplicate { seq: 2 },
            PushResult::Rejected {
                code: "bad_signature".into(),
                message: "the envelope's signature does not verify".into(),
            },
        ],
    };
    s.json("push_results", "results", 0, &results);
    let error = ErrorBody {
        error: ErrorDetail {
            code: "pending".into(),
            message: "this device is not approved yet".into(),
        },
    };
    s.json("push_results", "error", 1, &error);
    s.json("push_results", "head", 2, &Head { head: 42 });
    let cases = MyCases {
        cases: vec![format!("{:032x}", 2u128)],
    };
    s.json("push_results", "mine", 3, &cases);
}

fn api(s: &mut Seeds, key: &SigKey) {
    let kem = KemKey::from_secret(&[9; 32]).unwrap();
    let sig_pub = key.public().as_bytes().to_vec();
    let kem_pub = kem.public().as_bytes().to_vec();
    let device = Uuid::from_bytes(AUTHOR);
    let user = Uuid::from_u128(11);
    let name = "山田 花子".to_owned();
    let team = "csw-north".to_owned();

    // Keys: a lead's certificate and a slot signed by the fixed key as the admin, a worker's
    // certificate signed by the lead.
    let mut cert = DeviceCert {
        device,
        user,
        user_name: name.clone(),
        team: team.clone(),
        role: Role::Lead,
        sig_pub: sig_pub.clone(),
        kem_pub: kem_pub.clone(),
        issued_at: "2026-12-01T09:00:00Z".into(),
        signer: "admin".into(),
        sig: Vec::new(),
    };
    cert.sig = key.sign(&cert.signed_message()).0.to_vec();
    let mut worker = cert.clone();
    worker.device = Uuid::from_u128(12);
    worker.role = Role::Worker;
    worker.signer = device.to_string();
    worker.sig = key.sign(&worker.signed_message()).0.to_vec();
    let mut slot = KeySlot {
        team: team.clone(),
        epoch: 1,
        recipient: device.to_string(),
        enc: vec![8; 32],
        ct: vec![9; 48],
        signer: "admin".into(),
        sig: Vec::new(),
    };
    slot.sig = key.sign(&slot.signed_message()).0.to_vec();
    let mut statement = tsunagi_protocol::api::TeamStatement {
        team: team.clone(),
        version: 3,
        epoch: 1,
        issued_at: "2026-12-01T09:00:00Z".into(),
        members: vec![tsunagi_protocol::api::StatementMember {
            device,
            user,
            user_name: name.clone(),
            role: Role::Lead,
            sig_pub: sig_pub.clone(),
            kem_pub: kem_pub.clone(),
        }],
        revoked: vec![Uuid::from_u128(12)],
        sig: Vec::new(),
    };
    statement.sig = key.sign(&statement.signed_message()).0.to_vec();
    s.json("team_statement", "statement", 0, &statement);
    let directory = KeyDirectory {
        device,
        state: DeviceState::Active,
        team: team.clone(),
        current_epoch: Some(1),
        certs: vec![cert.clone(), worker.clone()],
        slots: vec![slot.clone()],
        statement: Some(statement),
    };
    s.json("key_directory", "directory", 0, &directory);
    s.json("key_directory", "slot", 1, &slot);
    s.json("key_directory", "cert", 2, &cert);
    let mut team_kem = TeamKem {
        team: team.clone(),
        epoch: 1,
        kem_pub: kem_pub.clone(),
        device,
        sig: Vec::new(),
    };
    team_kem.sig = key.sign(&team_kem.signed_message()).0.to_vec();
    let answer = TeamKemAnswer {
        kem: team_kem.clone(),
        cert: cert.clone(),
    };
    s.json("key_directory", "team_kem", 3, &answer);
    let info = DeviceInfo {
        id: device,
        user,
        user_name: name.clone(),
        team: team.clone(),
        role: Role::Lead,
        state: DeviceState::Active,
        sig_pub: sig_pub.clone(),
        kem_pub: kem_pub.clone(),
        enrolled_at: "2026-12-01T08:00:00Z".into(),
        approved_at: Some("2026-12-01T09:00:00Z".into()),
        revoked_at: None,
        last_seen: None,
    };
    let members = TeamMembers {
        team: Team {
            id: team.clone(),
            program: "csw".into(),
            current_epoch: Some(1),
        },
        devices: vec![info.clone()],
        org_slot: Some(slot.clone()),
    };
    s.json("key_directory", "members", 4, &members);
    s.json("key_directory", "device_info", 5, &info);

    // Enrollment.
    let bundle = EnrollmentBundle {
        v: 1,
        server_url: "https://tsunagi.example.lg.jp".into(),
        server_pub: sig_pub.clone(),
        admin_pub: sig_pub.clone(),
        org_recovery_pub: kem_pub.clone(),
        code: "ABCD-EFGH-JKLM".into(),
        user,
        user_name: name.clone(),
        team: team.clone(),
        role: Role::Worker,
        expires_at: "2099-01-01T00:00:00Z".into(),
        pin_min_digits: 6,
        lease_days: 14,
    };
    s.json("enrollment_bundle", "bundle_inspected", 0, &bundle);
    s.json("enrollment_bundle", "bundle", 1, &bundle);
    let enrolled = EnrollResponse {
        device,
        user,
        user_name: name.clone(),
        team: team.clone(),
        role: Role::Worker,
        server_sig: key
            .sign(&EnrollResponse::signed_message(
                &device,
                &bundle.code,
                &sig_pub,
            ))
            .0
            .to_vec(),
    };
    s.json("enrollment_bundle", "enrolled", 2, &enrolled);

    // The server's request bodies and queries.
    let bootstrap = BootstrapRequest {
        token: "0123456789abcdef".into(),
        admin_pub: sig_pub.clone(),
        org_recovery_pub: kem_pub.clone(),
    };
    s.json("server_request", "bootstrap", 0, &bootstrap);
    let enroll = EnrollRequest {
        code: bundle.code.clone(),
        sig_pub: sig_pub.clone(),
        kem_pub: kem_pub.clone(),
        proof: key
            .sign(&EnrollRequest::proof_message(
                &bundle.code,
                &sig_pub,
                &kem_pub,
            ))
            .0
            .to_vec(),
        device: Some(device),
    };
    s.json("server_request", "enroll", 1, &enroll);
    let approve = ApproveRequest {
        cert: worker,
        slots: vec![slot.clone()],
    };
    s.json("server_request", "approve", 2, &approve);
    let new_team = CreateTeam {
        id: team.clone(),
        program: "csw".into(),
    };
    s.json("server_request", "team", 3, &new_team);
    let new_user = CreateUser {
        name,
        team,
        role: Role::Worker,
    };
    s.json("server_request", "user", 4, &new_user);
    let enrollment = CreateEnrollment {
        user,
        ttl_hours: Some(72),
    };
    s.json("server_request", "enrollment", 5, &enrollment);
    let upload = SlotsUpload {
        epoch: 2,
        slots: vec![slot],
    };
    s.json("server_request", "slots", 6, &upload);
    s.json("server_request", "team_kem", 7, &team_kem);
    s.add("server_request", "team_id", b"\x08csw-north".to_vec());
    s.add(
        "server_request",
        "query",
        b"\x09since=5&limit=1000&as_of=7".to_vec(),
    );

    // The request header (a fixed nonce: `AuthHeader::sign` draws a fresh one).
    let (ts, nonce) = (1_764_000_000_000, "0123456789abcdef0123456789abcdef");
    let header = AuthHeader {
        key: device.to_string(),
        ts,
        nonce: nonce.into(),
        sig: key.sign(&request_message("POST", "/v1/sync/push", ts, nonce, b"")),
    };
    let value = header.to_header_value();
    assert!(value.starts_with(SCHEME));
    s.add("auth_header", "device", value.into_bytes());
}

fn payloads(s: &mut Seeds) {
    let cs = change_set();
    s.add("change_payload", "format2", payload::encode(&cs).unwrap());
    s.add(
        "change_payload",
        "format1",
        deflated(&serde_json::to_vec(&cs).unwrap()),
    );
    let mut states = Vec::new();
    for n in 1..=2u128 {
        let mut c = cs.clone();
        c.entity = EntityId::from_uuid(Uuid::from_u128(n));
        let mut state = EntityState::new(EntityKind::Contact, c.entity);
        state.apply(&c).unwrap();
        states.push(state);
    }
    s.add(
        "snapshot_payload",
        "two_states",
        codec::encode(&states, "snapshot").unwrap(),
    );
    s.add(
        "snapshot_payload",
        "two_states_deflate",
        deflated(&serde_json::to_vec(&states).unwrap()),
    );
    s.add(
        "store_codec",
        "state_zstd",
        codec::encode(&states[0], "state").unwrap(),
    );
    s.add(
        "store_codec",
        "state_deflate",
        deflated(&serde_json::to_vec(&states[0]).unwrap()),
    );
}

/// Each shipped definition, then a NUL and answers (the first choice of every item).
fn instruments(s: &mut Seeds) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/instruments");
    let catalog = InstrumentCatalog::builtin();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let key = tsunagi_core::instrument::Instrument::from_toml(&source)
            .unwrap()
            .key()
            .to_owned();
        let instrument = catalog.get(&key).unwrap();
        let answers: Vec<String> = instrument
            .items()
            .iter()
            .map(|item| item.choices[0].key.clone())
            .collect();
        s.add(
            "instrument",
            &key,
            format!("{source}\0{}", answers.join(",")).into_bytes(),
        );
    }
}

fn all() -> Seeds {
    let key = SigKey::from_seed(&[7; 32]).unwrap();
    let mut s = Seeds::default();
    wire(&mut s, &key);
    api(&mut s, &key);
    payloads(&mut s);
    instruments(&mut s);
    s
}

/// Every seed is read by the parser its target fuzzes (the selector byte aside).
fn check_parses(target: &str, bytes: &[u8]) {
    let rest = || &bytes[1..];
    let ok = match target {
        "envelope" => Envelope::decode(bytes).is_ok(),
        "push_batch" => {
            decode_batch(bytes, 1000).is_ok_and(|b| b.iter().all(|e| Envelope::decode(e).is_ok()))
        }
        "pull_page" => PullPage::decode(bytes).is_ok(),
        "auth_header" => AuthHeader::parse(std::str::from_utf8(bytes).unwrap()).is_ok(),
        "change_payload" => payload::decode(bytes).is_ok(),
        "snapshot_payload" => snapshot_payload::decode(bytes).is_ok(),
        "store_codec" => codec::decode::<serde_json::Value>(bytes, "seed").is_ok(),
        "instrument" => {
            let text = std::str::from_utf8(bytes).unwrap();
            let (definition, answers) = text.split_once('\0').unwrap();
            tsunagi_core::instrument::Instrument::from_toml(definition)
                .is_ok_and(|i| i.parse_answers(answers).is_ok())
        }
        "enrollment_bundle" if bytes[0] == 0 => {
            serde_json::from_slice::<EnrollmentBundle>(rest()).is_ok()
        }
        _ if bytes[0] < 8 || target != "server_request" => {
            serde_json::from_slice::<serde_json::Value>(rest()).is_ok()
        }
        _ => std::str::from_utf8(rest()).is_ok(),
    };
    assert!(ok, "seed of {target} does not parse");
}

#[test]
fn fuzz_seeds_are_current_and_parse() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let write = std::env::var_os("TSUNAGI_WRITE_FUZZ_SEEDS").is_some();
    let seeds = all();
    for ((target, name), bytes) in &seeds.0 {
        check_parses(target, bytes);
        let path = root.join(target).join(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        } else {
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                &committed == bytes,
                "{} is not what the code makes now: run TSUNAGI_WRITE_FUZZ_SEEDS=1 cargo test -p tsunagi-device --test fuzz_seeds",
                path.display()
            );
        }
    }
    // Nothing else in the seed folders but crash inputs kept for regression.
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap();
        let target = dir.file_name().into_string().unwrap();
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            assert!(
                name.starts_with("regress_")
                    || seeds.0.contains_key(&(target.clone(), name.clone())),
                "fuzz/seeds/{target}/{name} is neither made by this test nor a regress_ input"
            );
        }
    }
}
