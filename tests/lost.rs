//! End to end, issue 23 §5 "the lost tablet": a copied store file without its keystore entry
//! does not open and shows no record's text; a PIN brute force through the app stops at the
//! counter, and restoring an older keystore entry gives no attempts back nor lifts the lock;
//! IT's longer PIN is asked for before the records open; the offline key lease runs out (the
//! recorded check-in moved back through the real keystore, or the clock turned back), the
//! app shows the lease screen, the check-in against a real server opens the store with the
//! offline work still in the outbox, which then pushes; a revoked device's check-in is refused
//! and it stays closed with its outbox intact.

use std::sync::Arc;
use tsunagi_admin::DevicePolicy;
use tsunagi_device::api::{ChangePinRequest, PersonForm, Phase, UnlockRequest};
use tsunagi_device::{App, Device, DeviceError, Keystore, OsKeystore, Pin, Settings};
use tsunagi_e2e::{Kind, World, require_keystore};
use tsunagi_store::keys::Vault;
use tsunagi_store::{Encryption, Store};

const DAY_MS: i64 = 86_400_000;

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

fn person(name: &str, note: &str) -> PersonForm {
    PersonForm {
        name: name.into(),
        district: "辻堂".into(),
        programs: vec!["csw".into()],
        phone: Some("0466-00-0001".into()),
        memo: Some(note.into()),
        ..PersonForm::default()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn entry_name(dir: &std::path::Path) -> String {
    format!("store/{}", Settings::load(dir).unwrap().store_id)
}

/// Every file under `dir`, concatenated.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_file() {
            out.extend(std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Runs a blocking front-door call off the test's runtime (the server runs on it).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[test]
fn a_copied_store_file_without_its_keystore_entry_does_not_open() {
    require_keystore();
    let ks = OsKeystore::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tablet");
    let (mut dev, _) = Device::init(&dir, Some(&pin("24681357")), "山田 花子", &ks).unwrap();
    let secret_name = "紛失端末 試験太郎";
    let secret_note = "生活保護の申請について相談したいと話していた";
    dev.add_person(&person(secret_name, secret_note)).unwrap();
    drop(dev);
    // The thief copies the whole device directory; the OS keystore stays behind (another
    // machine, another user, or a keyring they cannot unlock).
    let copy = tmp.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let entry = ks.get(&entry_name(&dir)).unwrap().unwrap();
    ks.delete(&entry_name(&dir)).unwrap();
    let err = Device::open(&copy, Some(&pin("24681357")), &ks).unwrap_err();
    assert_eq!(err.code(), "key_missing", "{err}");
    let bytes = all_bytes(&copy);
    assert!(bytes.len() > 4096, "the copy holds the store");
    for text in [secret_name, secret_note, "0466-00-0001", "辻堂"] {
        assert!(
            !contains(&bytes, text),
            "{text:?} readable in the copied files"
        );
    }
    // The original, with its entry back, still opens: the test copied the right files.
    ks.set(&entry_name(&dir), &entry).unwrap();
    let dev = Device::open(&dir, Some(&pin("24681357")), &ks).unwrap();
    assert_eq!(dev.pending().unwrap(), 1);
    Vault::new(&ks, &Settings::load(&dir).unwrap().store_id, &dir)
        .destroy()
        .unwrap();
}

#[test]
fn a_pin_brute_force_through_the_app_stops_at_the_counter_and_a_restore_does_not_reopen_it() {
    require_keystore();
    let ks = OsKeystore::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tablet");
    let right = "97531864";
    drop(Device::init(&dir, Some(&pin(right)), "山田 花子", &ks).unwrap());
    let name = entry_name(&dir);
    let backup = ks.get(&name).unwrap().unwrap();
    let app = App::with_keystore(&dir, OsKeystore::new()).unwrap();
    assert_eq!(app.status().unwrap().phase, Phase::Locked);
    let mut tried = 0;
    let mut stopped = None;
    // Every 6-digit PIN in order, until the app stops answering.
    for guess in 0..1_000_000u32 {
        let guess = format!("{guess:06}");
        if Pin::parse(&guess).is_err() {
            continue;
        }
        tried += 1;
        match app.unlock(&UnlockRequest { pin: guess }) {
            Err(e) if e.code == "wrong_pin" => {}
            Err(e) => {
                stopped = Some(e.code);
                break;
            }
            Ok(()) => panic!("a wrong PIN opened the store"),
        }
        // Between guesses, the attacker restores the keystore entry from before the first one.
        ks.set(&name, &backup).unwrap();
    }
    assert_eq!(stopped.as_deref(), Some("locked"));
    assert_eq!(tried, 5, "the fifth wrong PIN locks");
    assert_eq!(app.status().unwrap().phase, Phase::Disabled);
    // Restoring the entry once more does not lift the lock, and the right PIN is refused.
    ks.set(&name, &backup).unwrap();
    assert_eq!(app.status().unwrap().phase, Phase::Disabled);
    let e = app
        .unlock(&UnlockRequest { pin: right.into() })
        .unwrap_err();
    assert_eq!(e.code, "locked");
    let e = Device::open(&dir, Some(&pin(right)), &ks).unwrap_err();
    assert_eq!(e.code(), "locked");
    Vault::new(&ks, &Settings::load(&dir).unwrap().store_id, &dir)
        .destroy()
        .unwrap();
}

/// Moves the recorded last check-in to `last_ms` through the real keystore.
fn set_last_check_in(dir: &std::path::Path, last_ms: i64, days: u32) {
    let ks = OsKeystore::new();
    Vault::new(&ks, &Settings::load(dir).unwrap().store_id, dir)
        .renew_lease(last_ms, days)
        .unwrap();
}

/// The outbox of a closed device, read with its key straight from the store (as IT's tools
/// could), to show that nothing was deleted.
fn outbox_len(dir: &std::path::Path, key: &tsunagi_crypto::StoreKey) -> u64 {
    let store = Store::open(&Settings::store_path(dir), Encryption::Key(key), None).unwrap();
    store.outbox_len().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_lease_expires_offline_then_the_device_checks_in() {
    let world = World::start(Kind::Sqlite).await;
    let ks = OsKeystore::new();
    let admin = world.admin().await;
    admin.create_team("csw-north", "csw").await.unwrap();
    let user = admin
        .create_user("山田 花子", "csw-north", "worker")
        .await
        .unwrap();
    let file = world.dir.path().join("bundle.json");
    let policy = DevicePolicy {
        pin_min_digits: 8,
        lease_days: 3,
    };
    admin
        .provision_with(&user.id.to_string(), None, Some(&file), policy)
        .await
        .unwrap();
    // IT's tools refuse a policy a device would not accept.
    let bad = admin
        .provision_with(
            &user.id.to_string(),
            None,
            Some(&world.dir.path().join("bad.json")),
            DevicePolicy {
                pin_min_digits: 4,
                lease_days: 14,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "bad_policy");

    // Set up with a 6-digit PIN (the CLI's way), then enrolled under IT's 8-digit policy.
    let dir = world.device_dir("tablet");
    let (mut dev, _) = Device::init(&dir, Some(&pin("135792")), "山田 花子", &ks).unwrap();
    let e = dev
        .enroll(&std::fs::read_to_string(&file).unwrap(), &ks)
        .await
        .unwrap();
    assert_eq!(dev.enrollment().unwrap().unwrap().lease_days, 3);
    admin
        .approve(&e.device.to_string(), &e.device_code)
        .await
        .unwrap();
    dev.sync(&ks).await.unwrap();
    let info = Device::vault_info(&dir, &ks).unwrap();
    let lease = info.vault.lease.expect("enrolled: a lease");
    assert_eq!(lease.days, 3);
    assert!(now_ms() - lease.last_ms < 60_000, "the sync renewed it");
    assert_eq!(info.vault.pin_min_digits, Some(8));
    drop(dev);

    // The app asks for IT's longer PIN before anything opens (no attempt is counted).
    let app = Arc::new(App::with_keystore(&dir, OsKeystore::new()).unwrap());
    let a = Arc::clone(&app);
    let e = blocking(move || {
        a.unlock(&UnlockRequest {
            pin: "135792".into(),
        })
    })
    .await
    .unwrap_err();
    assert_eq!(e.code, "pin_change_required");
    assert!(e.message_ja.contains("8桁以上"), "{}", e.message_ja);
    assert_eq!(app.status().unwrap().failures, 0);
    let a = Arc::clone(&app);
    let e = blocking(move || {
        a.change_pin(&ChangePinRequest {
            current: "135792".into(),
            new_pin: "1357924".into(),
            new_pin_repeat: "1357924".into(),
        })
    })
    .await
    .unwrap_err();
    assert_eq!(e.code, "pin_too_short");
    let a = Arc::clone(&app);
    blocking(move || {
        a.change_pin(&ChangePinRequest {
            current: "135792".into(),
            new_pin: "13579246".into(),
            new_pin_repeat: "13579246".into(),
        })
    })
    .await
    .unwrap();
    let new_pin = "13579246";

    // Offline work, then four days without the server.
    let a = Arc::clone(&app);
    blocking(move || {
        a.unlock(&UnlockRequest {
            pin: new_pin.into(),
        })
    })
    .await
    .unwrap();
    app.cancel_sync().unwrap();
    app.lock().unwrap();
    let mut dev = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap();
    let pending_before = dev.pending().unwrap();
    dev.add_person(&person("未送信 記録子", "オフラインで記録した"))
        .unwrap();
    assert_eq!(dev.pending().unwrap(), pending_before + 1);
    drop(dev);
    set_last_check_in(&dir, now_ms() - 4 * DAY_MS, 3);

    // The right PIN no longer opens the records: not through the device, not the app.
    let err = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap_err();
    assert_eq!(err.code(), "lease_expired", "{err}");
    assert!(
        err.message_ja().contains("3日が過ぎた"),
        "{}",
        err.message_ja()
    );
    let a = Arc::clone(&app);
    let e = blocking(move || {
        a.unlock(&UnlockRequest {
            pin: new_pin.into(),
        })
    })
    .await
    .unwrap_err();
    assert_eq!(e.code, "lease_expired");
    let status = app.status().unwrap();
    assert_eq!(status.phase, Phase::LeaseExpired);
    assert_eq!(status.failures, 0, "the PIN was right");
    assert!(app.caseload(&Default::default()).is_err(), "nothing opens");

    // A clock turned back before the last check-in is no way around it.
    set_last_check_in(&dir, now_ms() + DAY_MS, 3);
    let err = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap_err();
    assert_eq!(err.code(), "lease_expired");
    assert!(err.message_ja().contains("時計"), "{}", err.message_ja());

    // Check-in: one signed request the server accepts; the store opens, the offline work is
    // still in the outbox, and it pushes.
    let key = Device::unlock_key(&dir, Some(&pin(new_pin)), &ks).unwrap();
    assert_eq!(outbox_len(&dir, &key), pending_before + 1);
    let a = Arc::clone(&app);
    blocking(move || a.check_in()).await.unwrap();
    assert_eq!(app.status().unwrap().phase, Phase::Unlocked);
    let lease = Device::vault_info(&dir, &ks).unwrap().vault.lease.unwrap();
    assert!(lease.check(now_ms()).is_ok());
    app.cancel_sync().unwrap();
    app.lock().unwrap();
    blocking(move || drop(app)).await;
    let mut dev = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap();
    // (The app's background sync may have pushed it already; either way it is on the server.)
    let report = dev.sync(&ks).await.unwrap();
    assert_eq!(report.refused, 0, "{report:?}");
    assert_eq!(dev.pending().unwrap(), 0);
    let device_id = dev.enrollment().unwrap().unwrap().device;
    drop(dev);

    // Revoked while offline: the check-in is refused, the store stays closed, nothing is lost.
    let mut dev = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap();
    dev.add_person(&person("失効後 記録子", "失効前に記録した"))
        .unwrap();
    drop(dev);
    set_last_check_in(&dir, now_ms() - 4 * DAY_MS, 3);
    admin.revoke(&device_id.to_string()).await.unwrap();
    let key = Device::unlock_key(&dir, Some(&pin(new_pin)), &ks).unwrap();
    let err = Device::check_in(&dir, &key, &ks).await.unwrap_err();
    assert!(
        matches!(&err, DeviceError::Server(tsunagi_protocol::client::ClientError::Refused { code, .. }) if code == "revoked"),
        "{err:?}"
    );
    assert!(err.message_ja().contains("無効化"), "{}", err.message_ja());
    let err = Device::open(&dir, Some(&pin(new_pin)), &ks).unwrap_err();
    assert_eq!(err.code(), "lease_expired");
    assert_eq!(
        outbox_len(&dir, &key),
        1,
        "the unsent record is still there"
    );
    // The CLI's way (`check-in`) and the app's are the same call; the app stays on its screen.
    let app = Arc::new(App::with_keystore(&dir, OsKeystore::new()).unwrap());
    let a = Arc::clone(&app);
    let e = blocking(move || {
        a.unlock(&UnlockRequest {
            pin: new_pin.into(),
        })
    })
    .await
    .unwrap_err();
    assert_eq!(e.code, "lease_expired");
    let a = Arc::clone(&app);
    let e = blocking(move || a.check_in()).await.unwrap_err();
    assert_eq!(e.code, "server_refused");
    assert_eq!(app.status().unwrap().phase, Phase::LeaseExpired);
    blocking(move || drop(app)).await;
    assert_eq!(outbox_len(&dir, &key), 1);
    Vault::new(&ks, &Settings::load(&dir).unwrap().store_id, &dir)
        .destroy()
        .unwrap();
}
