//! End to end, issue 3: IT bootstraps the org, creates a team and users, provisions devices;
//! each device redeems its bundle with keys generated in its own OS keystore, fingerprints
//! match on both screens; IT approves the lead (creating the team key) only with the device
//! code read off the device, then a worker; a reused code is refused; revoking a device rotates the team key to an epoch that device cannot read — on
//! both server backends.

use tsunagi_admin::AdminError;
use tsunagi_device::{DeviceError, OsKeystore};
use tsunagi_e2e::{Kind, World, new_device};
use tsunagi_protocol::api::{DeviceState, Role};
use tsunagi_protocol::client::ClientError;

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

on_both_backends!(provision_enroll_approve_revoke);

async fn provision_enroll_approve_revoke(kind: Kind) {
    let world = World::start(kind).await;
    let ks = OsKeystore::new();
    let admin = world.admin().await;

    admin.create_team("csw-north", "csw").await.unwrap();
    admin.create_team("csw-south", "csw").await.unwrap();
    let lead = admin
        .create_user("佐々木 主任", "csw-north", "lead")
        .await
        .unwrap();
    let worker = admin
        .create_user("山田 花子", "csw-north", "worker")
        .await
        .unwrap();
    let other = admin
        .create_user("南 太郎", "csw-south", "worker")
        .await
        .unwrap();

    // The lead's device: provision, enroll, compare fingerprints, IT approves.
    let bundle = world.dir.path().join("lead.tsunagi-enroll.json");
    let p = admin
        .provision(&lead.id.to_string(), None, Some(&bundle))
        .await
        .unwrap();
    assert!(p.qr_png.exists());
    let mut lead_dev = new_device(&world.device_dir("lead"), "佐々木 主任");
    let text = std::fs::read_to_string(&bundle).unwrap();
    let enrolled = lead_dev.enroll(&text, &ks).await.unwrap();
    assert_eq!(enrolled.team, "csw-north");
    assert_eq!(enrolled.role, Role::Lead);
    let shown = admin
        .show_device(&enrolled.device.to_string())
        .await
        .unwrap();
    assert_eq!(shown.device.state, DeviceState::Pending);
    assert_eq!(
        shown.sig_fingerprint, enrolled.sig_fingerprint,
        "IT and device show the same key"
    );
    assert_eq!(shown.kem_fingerprint, enrolled.kem_fingerprint);
    assert_eq!(enrolled.admin_fingerprint, admin.state().fingerprints.admin);

    // Pending: the directory answers, but no key yet.
    let keys = lead_dev.refresh_keys(&ks).await.unwrap();
    assert_eq!(keys.state, DeviceState::Pending);
    assert!(keys.epochs_held.is_empty());

    // The code is single use.
    let mut again = new_device(&world.device_dir("again"), "誰か");
    match again.enroll(&text, &ks).await {
        Err(DeviceError::Server(ClientError::Refused { status: 409, .. })) => {}
        other => panic!("reused code accepted: {other:?}"),
    }

    // IT types the code read off the device: a wrong or short one is refused, nothing changes.
    let wrong_code = "0000 0000 0000 0000";
    match admin
        .approve(&enrolled.device.to_string(), wrong_code)
        .await
    {
        Err(AdminError::CodeMismatch { .. }) => {}
        other => panic!("a wrong device code was accepted: {other:?}"),
    }
    match admin.approve(&enrolled.device.to_string(), "abcd").await {
        Err(AdminError::BadCode(_)) => {}
        other => panic!("a short device code was accepted: {other:?}"),
    }
    assert_eq!(
        admin
            .show_device(&enrolled.device.to_string())
            .await
            .unwrap()
            .device
            .state,
        DeviceState::Pending
    );
    let short: String = enrolled
        .device_code
        .split(' ')
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    let approved = admin
        .approve(&enrolled.device.to_string(), &short)
        .await
        .unwrap();
    assert_eq!((approved.epoch, approved.new_team_key), (1, true));
    let keys = lead_dev.refresh_keys(&ks).await.unwrap();
    assert_eq!(keys.state, DeviceState::Active);
    assert_eq!(keys.epochs_held, vec![1]);
    assert!(keys.refused.is_empty(), "{:?}", keys.refused);

    // A worker's device, approved by IT with the device code.
    let wb = world.dir.path().join("worker.json");
    admin
        .provision(&worker.id.to_string(), None, Some(&wb))
        .await
        .unwrap();
    let mut worker_dev = new_device(&world.device_dir("worker"), "山田 花子");
    let w = worker_dev
        .enroll(&std::fs::read_to_string(&wb).unwrap(), &ks)
        .await
        .unwrap();
    let peer = lead_dev.peer(&w.device.to_string(), &ks).await.unwrap();
    assert_eq!(peer.sig_fingerprint, w.sig_fingerprint);
    let by_it = admin
        .approve(&w.device.to_string(), &w.device_code)
        .await
        .unwrap();
    assert_eq!(by_it.epoch, 1);
    let keys = worker_dev.refresh_keys(&ks).await.unwrap();
    assert_eq!(keys.epochs_held, vec![1]);
    assert!(keys.refused.is_empty(), "{:?}", keys.refused);
    let tk_lead = lead_dev
        .team_key_fingerprint("csw-north", 1)
        .unwrap()
        .unwrap();
    let tk_worker = worker_dev
        .team_key_fingerprint("csw-north", 1)
        .unwrap()
        .unwrap();
    assert!(tk_lead == tk_worker, "both hold the same team key");

    // A device of csw-south, enrolled but not approved: it stays pending.
    let ob = world.dir.path().join("other.json");
    admin
        .provision(&other.id.to_string(), None, Some(&ob))
        .await
        .unwrap();
    let mut other_dev = new_device(&world.device_dir("other"), "南 太郎");
    other_dev
        .enroll(&std::fs::read_to_string(&ob).unwrap(), &ks)
        .await
        .unwrap();
    let listed = admin.list_devices(Some("csw-south")).await.unwrap();
    assert_eq!(listed[0].device.state, DeviceState::Pending);

    // Revoke the worker: refused at once, and the new epoch is not readable with its keys.
    let revoked = admin.revoke(&w.device.to_string()).await.unwrap();
    let rotation = revoked.rotation.expect("team key rotated");
    assert_eq!(rotation.epoch, 2);
    assert!(!rotation.recipients.contains(&w.device.to_string()));
    match worker_dev.refresh_keys(&ks).await {
        Err(DeviceError::Server(ClientError::Refused { status: 401, .. })) => {}
        other => panic!("revoked device still served: {other:?}"),
    }
    assert!(
        worker_dev
            .team_key_fingerprint("csw-north", 2)
            .unwrap()
            .is_none()
    );
    let keys = lead_dev.refresh_keys(&ks).await.unwrap();
    assert_eq!(keys.epochs_held, vec![1, 2]);
    assert_eq!(keys.current_epoch, Some(2));
    let tk2 = lead_dev
        .team_key_fingerprint("csw-north", 2)
        .unwrap()
        .unwrap();
    assert!(tk2 != tk_lead, "a new epoch has a new key");

    let all = admin.list_devices(Some("csw-north")).await.unwrap();
    let state_of = |id: &str| {
        all.iter()
            .find(|d| d.device.id.to_string() == id)
            .unwrap()
            .device
            .state
    };
    assert_eq!(state_of(&w.device.to_string()), DeviceState::Revoked);
    assert_eq!(state_of(&enrolled.device.to_string()), DeviceState::Active);
}
