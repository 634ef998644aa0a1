//! The real `tsunagi-admin` binary up to the network: exit codes, `--json` errors, files.
//! Server-side behaviour is covered by the end-to-end scenarios run with the real server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use tsunagi_admin::AdminState;
use tsunagi_admin::Passphrase;
use tsunagi_admin::state::{ADMIN_KEY_FILE, ORK_FILE, STATE_FILE, create_or_resume_keys};
use tsunagi_crypto::identity::SigKey;

const PASS: &str = "correct horse battery";

fn admin(dir: &Path, pass: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsunagi-admin"));
    cmd.arg("--dir").arg(dir).arg("--json").args(args);
    cmd.env_remove("TSUNAGI_ADMIN_PASSPHRASE")
        .env_remove("TSUNAGI_ADMIN_DIR");
    if let Some(p) = pass {
        cmd.env("TSUNAGI_ADMIN_PASSPHRASE", p);
    }
    cmd.output().unwrap()
}

/// Exit code and `error.code` of a failed run.
fn failure(out: &Output) -> (i32, String) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code().unwrap(),
        v["error"]["code"].as_str().unwrap().to_owned(),
    )
}

/// A loopback port nobody listens on.
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn init_refuses_bad_input_with_exit_2_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let url = closed_port_url();
    let init = ["init", "--server", url.as_str(), "--bootstrap-token", "t"];
    assert_eq!(
        failure(&admin(&dir, Some("short"), &init)),
        (2, "passphrase_too_short".into())
    );
    assert_eq!(
        failure(&admin(&dir, None, &init)),
        (2, "passphrase_required".into())
    );
    assert_eq!(
        failure(&admin(
            &dir,
            Some(PASS),
            &[
                "init",
                "--server",
                "tsunagi.example",
                "--bootstrap-token",
                "t"
            ]
        )),
        (2, "bad_server_url".into())
    );
    assert!(!dir.exists());
}

#[test]
fn init_against_an_unreachable_server_keeps_the_sealed_keys_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let url = closed_port_url();
    let init = ["init", "--server", url.as_str(), "--bootstrap-token", "t"];
    let out = admin(&dir, Some(PASS), &init);
    assert_eq!(failure(&out), (1, "unreachable".into()));
    for f in [ADMIN_KEY_FILE, ORK_FILE] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!dir.join(STATE_FILE).exists());
    let admin_key = std::fs::read(dir.join(ADMIN_KEY_FILE)).unwrap();

    // A second init reuses the keys: with another passphrase it is refused, keys untouched.
    let out = admin(&dir, Some("another long passphrase"), &init);
    assert_eq!(failure(&out), (2, "wrong_passphrase".into()));
    let out = admin(&dir, Some(PASS), &init);
    assert_eq!(failure(&out), (1, "unreachable".into()));
    assert_eq!(std::fs::read(dir.join(ADMIN_KEY_FILE)).unwrap(), admin_key);
}

#[test]
fn commands_refuse_bad_input_with_exit_2_and_report_an_unreachable_server_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(
        failure(&admin(dir, Some(PASS), &["device", "list"])),
        (2, "not_initialized".into())
    );

    let pass = Passphrase::new(PASS);
    let keys = create_or_resume_keys(dir, &pass).unwrap();
    AdminState::new(
        &closed_port_url(),
        &SigKey::generate().unwrap().public(),
        &keys.admin.public(),
        &keys.ork.public(),
    )
    .save(dir)
    .unwrap();

    let init = [
        "init",
        "--server",
        "http://127.0.0.1:1",
        "--bootstrap-token",
        "t",
    ];
    assert_eq!(
        failure(&admin(dir, Some(PASS), &init)),
        (2, "already_initialized".into())
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "user",
                "create",
                "--name",
                "山田花子",
                "--team",
                "csw-north",
                "--role",
                "boss",
            ],
            "bad_role",
        ),
        (
            &[
                "user",
                "create",
                "--name",
                "山田花子",
                "--team",
                "CSW North",
            ],
            "bad_team_id",
        ),
        (
            &["team", "create", "csw_north", "--program", "csw"],
            "bad_team_id",
        ),
        (&["device", "provision", "--user", "hanako"], "bad_id"),
        (
            &[
                "device",
                "provision",
                "--user",
                "0190b7e4-0000-7000-8000-000000000000",
                "--ttl-hours",
                "0",
            ],
            "bad_ttl",
        ),
        (
            &[
                "device",
                "approve",
                "not-a-uuid",
                "--code",
                "0000 0000 0000 0000",
            ],
            "bad_id",
        ),
        (&["device", "revoke", "x"], "bad_id"),
    ];
    for (args, code) in cases {
        assert_eq!(
            failure(&admin(dir, Some(PASS), args)),
            (2, (*code).to_owned()),
            "{args:?}"
        );
    }
    assert_eq!(
        failure(&admin(dir, Some("wrong passphrase!"), &["device", "list"])),
        (2, "wrong_passphrase".into())
    );
    let out = admin(
        dir,
        Some(PASS),
        &["team", "create", "csw-north", "--program", "csw"],
    );
    assert_eq!(failure(&out), (1, "unreachable".into()));

    // The passphrase can come from standard input too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsunagi-admin"))
        .arg("--dir")
        .arg(dir)
        .args(["--json", "--passphrase-stdin", "device", "list"])
        .env_remove("TSUNAGI_ADMIN_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASS}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(failure(&out), (1, "unreachable".into()));
    // Nothing secret in any output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASS));
}
