//! The state directory: sealed key files, 0600, never overwritten, the passphrase checked.

use std::os::unix::fs::PermissionsExt;
use tsunagi_admin::state::{
    ADMIN_KEY_FILE, ORK_FILE, STATE_FILE, create_or_resume_keys, open_admin_key, open_ork,
};
use tsunagi_admin::{Admin, AdminError, AdminState, Passphrase};
use tsunagi_crypto::identity::SigKey;

fn pass() -> Passphrase {
    Passphrase::new_for_init("correct horse battery").unwrap()
}

#[test]
fn init_seals_both_keys_into_new_0600_files_and_resumes_with_the_same_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("admin");
    let keys = create_or_resume_keys(&dir, &pass()).unwrap();
    assert!(keys.created);
    for (name, secret) in [
        (ADMIN_KEY_FILE, keys.admin.seed().to_vec()),
        (ORK_FILE, keys.ork.secret().to_vec()),
    ] {
        let path = dir.join(name);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"TSPW", "{name} is a passphrase-sealed file");
        assert!(
            !bytes.windows(32).any(|w| w == secret.as_slice()),
            "{name} holds the key in clear"
        );
    }
    assert_eq!(
        open_admin_key(&dir, &pass()).unwrap().public(),
        keys.admin.public()
    );
    assert_eq!(open_ork(&dir, &pass()).unwrap().public(), keys.ork.public());

    // An interrupted init (no admin.json) resumes with the same keys, not new ones.
    let again = create_or_resume_keys(&dir, &pass()).unwrap();
    assert!(!again.created);
    assert_eq!(again.admin.public(), keys.admin.public());
    assert_eq!(again.ork.public(), keys.ork.public());
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = create_or_resume_keys(tmp.path(), &pass()).unwrap();
    let wrong = Passphrase::new("correct horse battery staple");
    assert!(matches!(
        open_admin_key(tmp.path(), &wrong),
        Err(AdminError::WrongPassphrase(_))
    ));
    let err = create_or_resume_keys(tmp.path(), &wrong).unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    assert!(err.is_bad_input());

    // The same through Admin::open, with a complete state.
    let server = SigKey::generate().unwrap();
    AdminState::new(
        "http://127.0.0.1:1",
        &server.public(),
        &keys.admin.public(),
        &keys.ork.public(),
    )
    .save(tmp.path())
    .unwrap();
    let err = Admin::open(tmp.path(), Passphrase::new("not the passphrase")).unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    let admin = Admin::open(tmp.path(), pass()).unwrap();
    assert_eq!(admin.state().admin_pub, keys.admin.public().as_bytes());
}

#[test]
fn init_refuses_an_initialized_or_half_present_state_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(STATE_FILE), b"{}").unwrap();
    assert!(matches!(
        create_or_resume_keys(tmp.path(), &pass()),
        Err(AdminError::AlreadyInitialized(_))
    ));
    assert!(!tmp.path().join(ADMIN_KEY_FILE).exists());

    let half = tempfile::tempdir().unwrap();
    std::fs::write(half.path().join(ORK_FILE), b"keep me").unwrap();
    assert!(matches!(
        create_or_resume_keys(half.path(), &pass()),
        Err(AdminError::IncompleteState(_))
    ));
    assert_eq!(
        std::fs::read(half.path().join(ORK_FILE)).unwrap(),
        b"keep me"
    );
}

#[test]
fn admin_json_holds_public_keys_and_fingerprints_only_and_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = create_or_resume_keys(tmp.path(), &pass()).unwrap();
    let server = SigKey::generate().unwrap();
    let state = AdminState::new(
        "https://tsunagi.example.lg.jp",
        &server.public(),
        &keys.admin.public(),
        &keys.ork.public(),
    );
    state.save(tmp.path()).unwrap();
    assert_eq!(AdminState::load(tmp.path()).unwrap(), state);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join(STATE_FILE)).unwrap()).unwrap();
    let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "admin_pub",
            "fingerprints",
            "org_recovery_pub",
            "server_pub",
            "server_url",
            "v"
        ]
    );
    assert_eq!(
        v["fingerprints"]["admin"],
        tsunagi_crypto::identity::fingerprint(keys.admin.public().as_bytes())
    );
    let text = v.to_string();
    let b64 = |b: &[u8]| tsunagi_protocol::b64::encode(b);
    assert!(!text.contains(&b64(keys.admin.seed().as_ref())));
    assert!(!text.contains(&b64(keys.ork.secret().as_ref())));
    assert!(matches!(
        state.save(tmp.path()),
        Err(AdminError::FileExists(_))
    ));
}
