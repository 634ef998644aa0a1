//! The API's behaviour and its refusals (issue 3, "Bad input and attacks"), one async test
//! per case, each run against both backends by `both!`.

use crate::harness::*;
use tsunagi_crypto::identity::{
    KemKey, SigKey, SigPublic, Signature, SlotContext, TeamKey, open_team_key,
};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, CreateTeam, DeviceInfo, EnrollRequest, EnrollResponse,
    Health, KeyDirectory, Role, SlotsUpload, StatementAnswer, StatementMember, Team, TeamMembers,
    TeamStatement,
};
use tsunagi_protocol::auth::AuthHeader;
use tsunagi_server::secret_hash;

pub async fn health_and_metrics(kind: Kind) {
    let s = start(kind).await;
    let h: Health = anon(&s.url).get("/v1/health").await.unwrap();
    assert_eq!(h.status, "ok");
    let (status, text) = metrics(&s.url).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"tsunagi_http_requests_total{route="/v1/health",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"tsunagi_http_request_duration_seconds_count{route="/v1/health"} 1"#));
    assert!(text.contains(r#"tsunagi_devices{state="active"} 0"#));
    // Unknown routes answer JSON too.
    let (status, body) = raw(&s.url, "GET", "/nope", None, Vec::new()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

pub async fn bootstrap_once(kind: Kind) {
    let s = start(kind).await;
    let admin = SigKey::generate().unwrap();
    let ork = KemKey::generate().unwrap();
    let req = |token: &str| BootstrapRequest {
        token: token.into(),
        admin_pub: admin.public().as_bytes().to_vec(),
        org_recovery_pub: ork.public().as_bytes().to_vec(),
    };
    let c = anon(&s.url);
    let wrong = c
        .post::<_, serde_json::Value>("/v1/bootstrap", &req("AAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    assert_eq!(refusal(wrong), (401, "bad_token".into()));
    let token = s.state.bootstrap_token().unwrap().to_owned();
    let mut bad_key = req(&token);
    bad_key.admin_pub = vec![1, 2, 3];
    assert_eq!(
        refusal(
            c.post::<_, serde_json::Value>("/v1/bootstrap", &bad_key)
                .await
        ),
        (400, "bad_key".into())
    );
    let ok: serde_json::Value = c.post("/v1/bootstrap", &req(&token)).await.unwrap();
    assert!(ok["server_pub"].is_string());
    let again = c
        .post::<_, serde_json::Value>("/v1/bootstrap", &req(&token))
        .await;
    assert_eq!(refusal(again), (409, "already_bootstrapped".into()));
    // Restarting a bootstrapped server makes no new token.
    let state2 = tsunagi_server::AppState::with_storage(
        s.state.storage_handle(),
        SigKey::generate().unwrap(),
        tsunagi_server::Settings::default(),
    )
    .await
    .unwrap();
    assert!(state2.bootstrap_token().is_none());
}

pub async fn enrollment_codes_expired_reused_forged(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("csw-north").await;
    let user = org.user("山田花子", "csw-north", Role::Worker).await;
    let c = anon(org.url());
    let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());

    // Forged: a code the server never issued.
    let forged = c
        .post::<_, EnrollResponse>(
            "/v1/enroll",
            &enroll_request("MZXW6YTBOIMZXW6YTBOIMZXW6Y", &sig, &kem),
        )
        .await;
    assert_eq!(refusal(forged), (401, "unknown_code".into()));

    // Expired.
    let now = now_ms();
    org.server
        .state
        .storage()
        .create_enrollment(
            secret_hash("EXPIREDCODE"),
            user.id,
            now - 1,
            now - 3_600_000,
        )
        .await
        .unwrap();
    let expired = c
        .post::<_, EnrollResponse>("/v1/enroll", &enroll_request("EXPIREDCODE", &sig, &kem))
        .await;
    assert_eq!(refusal(expired), (410, "code_expired".into()));

    // Reused.
    let bundle = org.provision(&user).await;
    assert_eq!(bundle.user_name, "山田花子");
    assert_eq!(bundle.admin_pub, org.admin.public().as_bytes().to_vec());
    assert_eq!(
        bundle.org_recovery_pub,
        org.ork.public().as_bytes().to_vec()
    );
    let first: EnrollResponse = c
        .post("/v1/enroll", &enroll_request(&bundle.code, &sig, &kem))
        .await
        .unwrap();
    assert_eq!(first.team, "csw-north");
    let (sig2, kem2) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let reused = c
        .post::<_, EnrollResponse>("/v1/enroll", &enroll_request(&bundle.code, &sig2, &kem2))
        .await;
    assert_eq!(refusal(reused), (409, "code_used".into()));
    let devices: Vec<DeviceInfo> = org.admin().get("/v1/admin/devices").await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].state.key(), "pending");
}

pub async fn enroll_with_bad_proof(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("csw-north").await;
    let user = org.user("佐藤", "csw-north", Role::Worker).await;
    let bundle = org.provision(&user).await;
    let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let mut req = enroll_request(&bundle.code, &sig, &kem);
    // Signed by another key than the one submitted.
    let other = SigKey::generate().unwrap();
    req.proof = other
        .sign(&tsunagi_protocol::api::EnrollRequest::proof_message(
            &req.code,
            &req.sig_pub,
            &req.kem_pub,
        ))
        .0
        .to_vec();
    let c = anon(org.url());
    assert_eq!(
        refusal(c.post::<_, EnrollResponse>("/v1/enroll", &req).await),
        (401, "bad_proof".into())
    );
    // The code is still good after a failed proof.
    c.post::<_, EnrollResponse>("/v1/enroll", &enroll_request(&bundle.code, &sig, &kem))
        .await
        .unwrap();
}

pub async fn request_authentication_failures(kind: Kind) {
    let org = Org::new(kind).await;
    let url = org.url();
    // Unsigned.
    let (st, b) = raw(url, "GET", "/v1/admin/devices", None, Vec::new()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    // Malformed header.
    let (st, b) = raw(
        url,
        "GET",
        "/v1/admin/devices",
        Some("Tsunagi-Sig key=admin"),
        Vec::new(),
    )
    .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (401, Some("bad_auth_header"))
    );
    // Unknown key: a device id that does not exist, and a stranger's "admin" key.
    let stranger = SigKey::generate().unwrap();
    let unknown = signed(url, &uuid::Uuid::now_v7().to_string(), &stranger);
    assert_eq!(
        refusal(unknown.get::<Vec<DeviceInfo>>("/v1/keys").await),
        (401, "unknown_key".into())
    );
    // Bad signature: the admin's id with another key.
    let forged = signed(url, "admin", &stranger);
    assert_eq!(
        refusal(forged.get::<Vec<DeviceInfo>>("/v1/admin/devices").await),
        (401, "bad_signature".into())
    );
    // Replay: the same header twice.
    let h = AuthHeader::sign(
        "admin",
        &org.admin,
        "GET",
        "/v1/admin/devices",
        b"",
        now_ms(),
    )
    .unwrap()
    .to_header_value();
    let (st, _) = raw(url, "GET", "/v1/admin/devices", Some(&h), Vec::new()).await;
    assert_eq!(st, 200);
    let (st, b) = raw(url, "GET", "/v1/admin/devices", Some(&h), Vec::new()).await;
    assert_eq!((st, b["error"]["code"].as_str()), (401, Some("replay")));
    // The signature covers the path: the same header on another path fails.
    let h = AuthHeader::sign(
        "admin",
        &org.admin,
        "GET",
        "/v1/admin/devices",
        b"",
        now_ms(),
    )
    .unwrap()
    .to_header_value();
    let (st, b) = raw(url, "GET", "/v1/admin/devices?team=x", Some(&h), Vec::new()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (401, Some("bad_signature"))
    );
    // Stale: 6 minutes old, and 6 minutes ahead.
    for skew in [-360_000, 360_000] {
        let h = AuthHeader::sign(
            "admin",
            &org.admin,
            "GET",
            "/v1/admin/devices",
            b"",
            now_ms() + skew,
        )
        .unwrap()
        .to_header_value();
        let (st, b) = raw(url, "GET", "/v1/admin/devices", Some(&h), Vec::new()).await;
        assert_eq!((st, b["error"]["code"].as_str()), (401, Some("stale")));
    }
    // A pending device may read its keys but nothing else.
    org.team("t").await;
    let user = org.user("u", "t", Role::Worker).await;
    let dev = org.enroll(&user).await;
    let dir: KeyDirectory = org.as_device(&dev).get("/v1/keys").await.unwrap();
    assert_eq!((dir.state.key(), dir.current_epoch), ("pending", None));
    assert_eq!(
        refusal(
            org.as_device(&dev)
                .get::<DeviceInfo>(&format!("/v1/devices/{}", dev.id))
                .await
        ),
        (401, "pending".into())
    );
}

pub async fn admin_api_needs_admin(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("t").await;
    let user = org.user("u", "t", Role::Lead).await;
    let dev = org.enroll(&user).await;
    org.approve_by_admin(&dev, &TeamKey::generate().unwrap(), 1, true)
        .await
        .unwrap();
    let as_dev = org.as_device(&dev);
    let body = CreateTeam {
        id: "x".into(),
        program: "csw".into(),
    };
    assert_eq!(
        refusal(as_dev.post::<_, Team>("/v1/admin/teams", &body).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        refusal(as_dev.get::<Vec<DeviceInfo>>("/v1/admin/devices").await),
        (403, "forbidden".into())
    );
    assert_eq!(
        refusal(
            as_dev
                .post::<_, DeviceInfo>(&format!("/v1/admin/devices/{}/revoke", dev.id), &())
                .await
        ),
        (403, "forbidden".into())
    );
    assert_eq!(
        refusal(
            anon(org.url())
                .post::<_, Team>("/v1/admin/teams", &body)
                .await
        ),
        (401, "unauthenticated".into())
    );
    assert!(
        org.server
            .state
            .storage()
            .team("x")
            .await
            .unwrap()
            .is_none()
    );
    // The admin is not a device: no key directory.
    assert_eq!(
        refusal(org.admin().get::<KeyDirectory>("/v1/keys").await),
        (403, "forbidden".into())
    );
}

pub async fn oversized_and_malformed_bodies_store_nothing(kind: Kind) {
    let org = Org::new(kind).await;
    let admin = org.admin();
    let big = format!(r#"{{"id":"big","program":"{}"}}"#, "a".repeat(2 << 20));
    let (st, body) = admin
        .send_raw("POST", "/v1/admin/teams", big.into_bytes())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, v["error"]["code"].as_str()), (413, Some("too_large")));
    for bad in [
        &b"{\"id\": \"bad\", "[..],
        b"[]",
        b"{\"id\":\"bad\"}",
        b"\xff\xfe",
    ] {
        let (st, body) = admin
            .send_raw("POST", "/v1/admin/teams", bad.to_vec())
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (400, Some("malformed")),
            "{v}"
        );
        assert!(v["error"]["message"].as_str().unwrap().contains("JSON"));
    }
    let (st, v) = raw(org.url(), "POST", "/v1/enroll", None, b"not json".to_vec()).await;
    assert_eq!((st, v["error"]["code"].as_str()), (400, Some("malformed")));
    let (st, v) = raw(org.url(), "POST", "/v1/enroll", None, vec![b' '; 2 << 20]).await;
    assert_eq!((st, v["error"]["code"].as_str()), (413, Some("too_large")));
    let storage = org.server.state.storage();
    assert!(storage.team("big").await.unwrap().is_none());
    assert!(storage.team("bad").await.unwrap().is_none());
    assert!(storage.devices(None).await.unwrap().is_empty());
    // Invalid values are refused with a reason too.
    let bad_id = CreateTeam {
        id: "Bad Team".into(),
        program: "csw".into(),
    };
    assert_eq!(
        refusal(admin.post::<_, Team>("/v1/admin/teams", &bad_id).await),
        (400, "bad_team".into())
    );
}

pub async fn approve_by_admin_only(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("csw-north").await;
    let lead_user = org.user("リーダー", "csw-north", Role::Lead).await;
    let worker_user = org.user("ワーカー", "csw-north", Role::Worker).await;
    let lead = org.enroll(&lead_user).await;
    let tk = TeamKey::generate().unwrap();

    // Epoch 1 needs an org slot.
    let no_org = org.approve_by_admin(&lead, &tk, 1, false).await;
    assert_eq!(refusal(no_org), (400, "bad_slot".into()));
    let info = org.approve_by_admin(&lead, &tk, 1, true).await.unwrap();
    assert_eq!(info.state.key(), "active");
    let again = org.approve_by_admin(&lead, &tk, 1, true).await;
    assert_eq!(refusal(again), (409, "not_pending".into()));

    // The lead approves a worker of its team with the team key it opened from its slot.
    let dir: KeyDirectory = org.as_device(&lead).get("/v1/keys").await.unwrap();
    assert_eq!(dir.current_epoch, Some(1));
    let mine = &dir.slots[0];
    let opened = open_team_key(&lead.kem, &mine.sealed(), &mine.context()).unwrap();
    assert_eq!(opened.as_bytes(), tk.as_bytes());
    let worker = org.enroll(&worker_user).await;

    // A slot sealed for another device is refused.
    let other = org.enroll(&worker_user).await;
    let wrong = ApproveRequest {
        cert: cert(&worker, "admin", &org.admin),
        slots: vec![slot(
            "csw-north",
            1,
            &other.id.to_string(),
            &other.kem.public(),
            &tk,
            "admin",
            &org.admin,
        )],
    };
    let r = org
        .admin()
        .post::<_, DeviceInfo>(&format!("/v1/devices/{}/approve", worker.id), &wrong)
        .await;
    assert_eq!(refusal(r), (400, "bad_slot".into()));
    // A certificate signed by another key than the admin's is refused.
    let forged = ApproveRequest {
        cert: cert(&worker, "admin", &SigKey::generate().unwrap()),
        slots: vec![slot(
            "csw-north",
            1,
            &worker.id.to_string(),
            &worker.kem.public(),
            &tk,
            "admin",
            &org.admin,
        )],
    };
    let r = org
        .admin()
        .post::<_, DeviceInfo>(&format!("/v1/devices/{}/approve", worker.id), &forged)
        .await;
    assert_eq!(refusal(r), (400, "bad_signature".into()));

    // Only IT approves (it compares the device code and keeps the registry statements are
    // signed from): a lead's approval is refused and changes nothing.
    assert_eq!(
        refusal(org.approve_by_lead(&lead, &worker, &tk, 1).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        org.server
            .state
            .storage()
            .device(worker.id)
            .await
            .unwrap()
            .unwrap()
            .state
            .key(),
        "pending"
    );
    let info = org.approve_by_admin(&worker, &tk, 1, false).await.unwrap();
    assert_eq!(info.state.key(), "active");
    let dir: KeyDirectory = org.as_device(&worker).get("/v1/keys").await.unwrap();
    assert_eq!(dir.certs.len(), 2);
    assert_eq!(dir.slots.len(), 1);
    assert_eq!(dir.slots[0].signer, "admin");
    let opened =
        open_team_key(&worker.kem, &dir.slots[0].sealed(), &dir.slots[0].context()).unwrap();
    assert_eq!(opened.as_bytes(), tk.as_bytes());
    // A lead may see the devices of its team.
    let seen: DeviceInfo = org
        .as_device(&lead)
        .get(&format!("/v1/devices/{}", worker.id))
        .await
        .unwrap();
    assert!(seen.last_seen.is_some());
    // A worker may not.
    assert_eq!(
        refusal(
            org.as_device(&worker)
                .get::<DeviceInfo>(&format!("/v1/devices/{}", lead.id))
                .await
        ),
        (403, "forbidden".into())
    );
}

/// The admin's signed team statements: kept only when signed by the admin key and newer than
/// the stored one; served in the key directory and to any device.
pub async fn team_statements_are_signed_and_only_grow(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("t").await;
    let lead = org.enroll(&org.user("lead", "t", Role::Lead).await).await;
    let tk = TeamKey::generate().unwrap();
    org.approve_by_admin(&lead, &tk, 1, true).await.unwrap();
    let statement = |version: u64, key: &SigKey| {
        let mut st = TeamStatement {
            team: "t".into(),
            version,
            epoch: 1,
            issued_at: "2026-12-03T09:00:00Z".into(),
            members: vec![StatementMember {
                device: lead.id,
                user: lead.user.id,
                user_name: lead.user.name.clone(),
                role: Role::Lead,
                sig_pub: lead.sig.public().as_bytes().to_vec(),
                kem_pub: lead.kem.public().as_bytes().to_vec(),
            }],
            revoked: vec![],
            sig: Vec::new(),
        };
        st.sig = key.sign(&st.signed_message()).0.to_vec();
        st
    };
    let put = |st: TeamStatement| {
        let c = org.admin();
        async move {
            c.post::<_, TeamStatement>("/v1/admin/teams/t/statement", &st)
                .await
        }
    };
    let dir: KeyDirectory = org.as_device(&lead).get("/v1/keys").await.unwrap();
    assert_eq!(dir.statement, None);
    put(statement(2, &org.admin)).await.unwrap();
    // Older or equal: refused; forged: refused; for another team: refused.
    assert_eq!(
        refusal(put(statement(1, &org.admin)).await),
        (409, "stale_statement".into())
    );
    assert_eq!(
        refusal(put(statement(2, &org.admin)).await),
        (409, "stale_statement".into())
    );
    assert_eq!(
        refusal(put(statement(3, &SigKey::generate().unwrap())).await),
        (400, "bad_signature".into())
    );
    let mut other_team = statement(3, &org.admin);
    other_team.team = "u".into();
    assert_eq!(
        refusal(put(other_team).await),
        (400, "bad_statement".into())
    );
    // Only the admin writes statements.
    assert_eq!(
        refusal(
            org.as_device(&lead)
                .post::<_, TeamStatement>("/v1/admin/teams/t/statement", &statement(5, &org.admin))
                .await
        ),
        (403, "forbidden".into())
    );
    let dir: KeyDirectory = org.as_device(&lead).get("/v1/keys").await.unwrap();
    assert_eq!(dir.statement.map(|s| s.version), Some(2));
    let ans: StatementAnswer = org
        .as_device(&lead)
        .get("/v1/teams/t/statement")
        .await
        .unwrap();
    assert_eq!(ans.statement, Some(statement(2, &org.admin)));
    let none: StatementAnswer = org
        .as_device(&lead)
        .get("/v1/teams/nobody/statement")
        .await
        .unwrap();
    assert_eq!(none.statement, None);
}

pub async fn lead_of_other_team_is_refused(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("team-a").await;
    org.team("team-b").await;
    let lead = org
        .enroll(&org.user("A lead", "team-a", Role::Lead).await)
        .await;
    let tka = TeamKey::generate().unwrap();
    org.approve_by_admin(&lead, &tka, 1, true).await.unwrap();
    let b_user = org.user("B worker", "team-b", Role::Worker).await;
    let b_dev = org.enroll(&b_user).await;
    // With slots for team B signed by the lead: refused, nothing changes.
    let signer = lead.id.to_string();
    let req = ApproveRequest {
        cert: cert(&b_dev, &signer, &lead.sig),
        slots: vec![
            slot(
                "team-b",
                1,
                &b_dev.id.to_string(),
                &b_dev.kem.public(),
                &tka,
                &signer,
                &lead.sig,
            ),
            slot(
                "team-b",
                1,
                "org",
                &org.ork.public(),
                &tka,
                &signer,
                &lead.sig,
            ),
        ],
    };
    let r = org
        .as_device(&lead)
        .post::<_, DeviceInfo>(&format!("/v1/devices/{}/approve", b_dev.id), &req)
        .await;
    assert_eq!(refusal(r), (403, "forbidden".into()));
    let storage = org.server.state.storage();
    assert_eq!(
        storage.device(b_dev.id).await.unwrap().unwrap().state.key(),
        "pending"
    );
    assert_eq!(
        storage.team("team-b").await.unwrap().unwrap().current_epoch,
        None
    );
    assert!(
        storage
            .slots_for(&b_dev.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        refusal(
            org.as_device(&lead)
                .get::<DeviceInfo>(&format!("/v1/devices/{}", b_dev.id))
                .await
        ),
        (403, "forbidden".into())
    );
}

pub async fn revoked_device_is_refused_everywhere(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("t").await;
    let lead = org.enroll(&org.user("lead", "t", Role::Lead).await).await;
    let tk = TeamKey::generate().unwrap();
    org.approve_by_admin(&lead, &tk, 1, true).await.unwrap();
    let worker = org.enroll(&org.user("w", "t", Role::Worker).await).await;
    let c = org.as_device(&lead);
    c.get::<KeyDirectory>("/v1/keys").await.unwrap();

    let r: DeviceInfo = org
        .admin()
        .post(&format!("/v1/admin/devices/{}/revoke", lead.id), &())
        .await
        .unwrap();
    assert_eq!(r.state.key(), "revoked");
    assert!(r.revoked_at.is_some());

    let expect = (401, "revoked".to_string());
    assert_eq!(refusal(c.get::<KeyDirectory>("/v1/keys").await), expect);
    assert_eq!(
        refusal(
            c.get::<DeviceInfo>(&format!("/v1/devices/{}", worker.id))
                .await
        ),
        expect
    );
    assert_eq!(
        refusal(org.approve_by_lead(&lead, &worker, &tk, 1).await),
        expect
    );
    assert_eq!(
        refusal(c.get::<Vec<DeviceInfo>>("/v1/admin/devices").await),
        expect
    );
    assert_eq!(
        refusal(c.get::<TeamMembers>("/v1/admin/teams/t").await),
        expect
    );
    assert_eq!(
        refusal(
            c.post::<_, Team>(
                "/v1/admin/teams",
                &CreateTeam {
                    id: "z".into(),
                    program: "csw".into()
                }
            )
            .await
        ),
        expect
    );
    assert_eq!(
        refusal(
            c.post::<_, Team>(
                "/v1/admin/teams/t/slots",
                &SlotsUpload {
                    epoch: 2,
                    slots: vec![]
                }
            )
            .await
        ),
        expect
    );
    assert_eq!(
        refusal(
            c.post::<_, DeviceInfo>(&format!("/v1/admin/devices/{}/revoke", worker.id), &())
                .await
        ),
        expect
    );
    let storage = org.server.state.storage();
    assert_eq!(
        storage
            .device(worker.id)
            .await
            .unwrap()
            .unwrap()
            .state
            .key(),
        "pending"
    );
    // A pending device can be revoked too, and then cannot even read its keys.
    org.admin()
        .post::<_, DeviceInfo>(&format!("/v1/admin/devices/{}/revoke", worker.id), &())
        .await
        .unwrap();
    assert_eq!(
        refusal(org.as_device(&worker).get::<KeyDirectory>("/v1/keys").await),
        expect
    );
    assert_eq!(
        refusal(org.approve_by_admin(&worker, &tk, 1, false).await),
        (409, "not_pending".into())
    );
}

pub async fn rotation_after_revoke_excludes_revoked_device(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("t").await;
    let lead = org.enroll(&org.user("lead", "t", Role::Lead).await).await;
    let tk1 = TeamKey::generate().unwrap();
    org.approve_by_admin(&lead, &tk1, 1, true).await.unwrap();
    let w1 = org.enroll(&org.user("w1", "t", Role::Worker).await).await;
    let w2 = org.enroll(&org.user("w2", "t", Role::Worker).await).await;
    org.approve_by_admin(&w1, &tk1, 1, false).await.unwrap();
    org.approve_by_admin(&w2, &tk1, 1, false).await.unwrap();

    org.admin()
        .post::<_, DeviceInfo>(&format!("/v1/admin/devices/{}/revoke", w2.id), &())
        .await
        .unwrap();
    let members: TeamMembers = org.admin().get("/v1/admin/teams/t").await.unwrap();
    assert_eq!(members.team.current_epoch, Some(1));
    let active: Vec<&DeviceInfo> = members
        .devices
        .iter()
        .filter(|d| d.state.key() == "active")
        .collect();
    assert_eq!(active.len(), 2);

    let tk2 = TeamKey::generate().unwrap();
    let kem_of =
        |d: &DeviceInfo| tsunagi_crypto::identity::KemPublic::from_bytes(&d.kem_pub).unwrap();
    let mut slots: Vec<_> = active
        .iter()
        .map(|d| {
            slot(
                "t",
                2,
                &d.id.to_string(),
                &kem_of(d),
                &tk2,
                "admin",
                &org.admin,
            )
        })
        .collect();
    slots.push(slot(
        "t",
        2,
        "org",
        &org.ork.public(),
        &tk2,
        "admin",
        &org.admin,
    ));

    // Including the revoked device is refused; so is leaving out org, or a wrong epoch.
    let mut with_revoked = slots.clone();
    with_revoked.push(slot(
        "t",
        2,
        &w2.id.to_string(),
        &w2.kem.public(),
        &tk2,
        "admin",
        &org.admin,
    ));
    let admin = org.admin();
    assert_eq!(
        refusal(
            admin
                .post::<_, Team>(
                    "/v1/admin/teams/t/slots",
                    &SlotsUpload {
                        epoch: 2,
                        slots: with_revoked
                    }
                )
                .await
        ),
        (400, "slot_recipients".into())
    );
    assert_eq!(
        refusal(
            admin
                .post::<_, Team>(
                    "/v1/admin/teams/t/slots",
                    &SlotsUpload {
                        epoch: 2,
                        slots: slots[..2].to_vec()
                    }
                )
                .await
        ),
        (400, "slot_recipients".into())
    );
    assert_eq!(
        refusal(
            admin
                .post::<_, Team>(
                    "/v1/admin/teams/t/slots",
                    &SlotsUpload {
                        epoch: 3,
                        slots: slots.clone()
                    }
                )
                .await
        ),
        (409, "epoch_changed".into())
    );
    let t: Team = admin
        .post("/v1/admin/teams/t/slots", &SlotsUpload { epoch: 2, slots })
        .await
        .unwrap();
    assert_eq!(t.current_epoch, Some(2));

    // Remaining devices open epoch 2; ORK too.
    for d in [&lead, &w1] {
        let dir: KeyDirectory = org.as_device(d).get("/v1/keys").await.unwrap();
        assert_eq!(dir.current_epoch, Some(2));
        let s = dir.slots.iter().find(|s| s.epoch == 2).unwrap();
        assert_eq!(
            open_team_key(&d.kem, &s.sealed(), &s.context())
                .unwrap()
                .as_bytes(),
            tk2.as_bytes()
        );
    }
    let storage = org.server.state.storage();
    let epoch2 = storage.slots_of("t", 2).await.unwrap();
    assert_eq!(epoch2.len(), 3);
    let org_slot = epoch2.iter().find(|s| s.recipient == "org").unwrap();
    assert_eq!(
        open_team_key(&org.ork, &org_slot.sealed(), &org_slot.context())
            .unwrap()
            .as_bytes(),
        tk2.as_bytes()
    );
    // The revoked device has no slot of epoch 2, cannot open any of them, and cannot ask.
    assert!(epoch2.iter().all(|s| s.recipient != w2.id.to_string()));
    for s in &epoch2 {
        assert!(open_team_key(&w2.kem, &s.sealed(), &s.context()).is_err());
        let as_w2 = SlotContext {
            team: "t",
            epoch: 2,
            recipient: &w2.id.to_string(),
        };
        assert!(open_team_key(&w2.kem, &s.sealed(), &as_w2).is_err());
    }
    assert_eq!(
        refusal(org.as_device(&w2).get::<KeyDirectory>("/v1/keys").await),
        (401, "revoked".into())
    );
    // A new device now gets epoch 2.
    let w3 = org.enroll(&org.user("w3", "t", Role::Worker).await).await;
    assert_eq!(
        refusal(org.approve_by_admin(&w3, &tk1, 1, false).await),
        (400, "bad_slot".into())
    );
    org.approve_by_admin(&w3, &tk2, 2, false).await.unwrap();
}

pub async fn concurrent_redeem_of_one_code(kind: Kind) {
    // 15 of the 16 fail: more than one address may try by default (guard.rs).
    let org = Org::bootstrap(
        start_with(
            kind,
            tsunagi_server::Settings {
                secret_attempts_per_ip: 100,
                ..settings()
            },
        )
        .await,
    )
    .await;
    org.team("t").await;
    let user = org.user("u", "t", Role::Worker).await;
    let bundle = org.provision(&user).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (url, code) = (org.url().to_owned(), bundle.code.clone());
        tasks.push(tokio::spawn(async move {
            let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
            anon(&url)
                .post::<_, EnrollResponse>("/v1/enroll", &enroll_request(&code, &sig, &kem))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(refusal::<()>(Err(e)), (409, "code_used".into())),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        org.server
            .state
            .storage()
            .devices(None)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn enroll_under_own_id(kind: Kind) {
    let org = Org::new(kind).await;
    org.team("t").await;
    let user = org.user("u", "t", Role::Worker).await;
    let c = anon(org.url());
    let own = uuid::Uuid::now_v7();
    let (sig, kem) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let bundle = org.provision(&user).await;
    let mut req = enroll_request(&bundle.code, &sig, &kem);
    req.device = Some(own);
    let r: EnrollResponse = c.post("/v1/enroll", &req).await.unwrap();
    assert_eq!(r.device, own);
    SigPublic::from_bytes(&bundle.server_pub)
        .unwrap()
        .verify(
            &EnrollResponse::signed_message(&own, &bundle.code, sig.public().as_bytes()),
            &Signature::from_bytes(&r.server_sig).unwrap(),
        )
        .unwrap();

    // Another device (another code, other keys) under the same id: 409, and its code stays
    // usable.
    let bundle2 = org.provision(&user).await;
    let (sig2, kem2) = (SigKey::generate().unwrap(), KemKey::generate().unwrap());
    let mut req2 = enroll_request(&bundle2.code, &sig2, &kem2);
    req2.device = Some(own);
    let (st, body) = raw(
        org.url(),
        "POST",
        "/v1/enroll",
        None,
        serde_json::to_vec(&req2).unwrap(),
    )
    .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (409, Some("device_id_in_use")),
        "{body}"
    );
    let mut nil = enroll_request(&bundle2.code, &sig2, &kem2);
    nil.device = Some(uuid::Uuid::nil());
    assert_eq!(
        refusal(c.post::<_, EnrollResponse>("/v1/enroll", &nil).await),
        (400, "bad_device_id".into())
    );
    let other = uuid::Uuid::now_v7();
    req2.device = Some(other);
    let r2: EnrollResponse = c.post("/v1/enroll", &req2).await.unwrap();
    assert_eq!(r2.device, other);
    // Without an id the server makes one.
    let bundle3 = org.provision(&user).await;
    let req3: EnrollRequest = enroll_request(
        &bundle3.code,
        &SigKey::generate().unwrap(),
        &KemKey::generate().unwrap(),
    );
    let r3: EnrollResponse = c.post("/v1/enroll", &req3).await.unwrap();
    assert!(r3.device != own && r3.device != other);
    let devices: Vec<DeviceInfo> = org.admin().get("/v1/admin/devices").await.unwrap();
    assert_eq!(devices.len(), 3);
}
