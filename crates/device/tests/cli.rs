//! End-to-end tests of the `tsunagi-device` binary: real process, real SQLCipher file, real
//! Secret Service (run through `scripts/test`, which starts a private D-Bus session with an
//! unlocked gnome-keyring). Bad input on every command gets a clear message and exit code 2,
//! and nothing stored is lost.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tsunagi-device");
const PIN: &str = "246810";

fn require_keystore() {
    assert!(
        std::env::var_os("TSUNAGI_TEST_KEYSTORE").is_some(),
        "these tests need a real Secret Service: run them through scripts/test \
         (private D-Bus session with an unlocked gnome-keyring)"
    );
}

struct Dev {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    pin: Option<&'static str>,
}

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tsunagi-device");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Dev {
    fn init(pin: Option<&'static str>) -> Dev {
        require_keystore();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("device");
        let o = match pin {
            Some(p) => run(&dir, &["init", "--pin-stdin", "--json"], &format!("{p}\n")),
            None => run(&dir, &["init", "--json"], ""),
        };
        assert!(o.status.success(), "init failed: {}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["recovery_code"].as_str().unwrap().len() > 30);
        Dev {
            _tmp: tmp,
            dir,
            pin,
        }
    }

    fn stdin(&self) -> String {
        self.pin.map(|p| format!("{p}\n")).unwrap_or_default()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let o = run(&self.dir, &all, &self.stdin());
        assert!(o.status.success(), "{args:?} failed: {}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    /// Runs a command expected to fail with `exit` and the JSON error `code`.
    fn fails(&self, args: &[&str], exit: i32, code: &str) -> Value {
        self.fails_with_stdin(args, &self.stdin(), exit, code)
    }

    fn fails_with_stdin(&self, args: &[&str], stdin: &str, exit: i32, code: &str) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let o = run(&self.dir, &all, stdin);
        assert_eq!(o.status.code(), Some(exit), "{args:?}: {}", text(&o));
        let v: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        assert_eq!(v["error"]["code"], code, "{args:?}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        assert!(!v["error"]["message_ja"].as_str().unwrap().is_empty());
        v
    }

    fn person(&self) -> String {
        let v = self.ok(&[
            "person",
            "add",
            "--name",
            "佐藤太郎",
            "--kana",
            "さとうたろう",
            "--district",
            "辻堂",
            "--program",
            "csw",
        ]);
        v["id"].as_str().unwrap().to_owned()
    }

    fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("store.db")).unwrap()
    }
}

#[test]
fn record_and_show_a_person_with_contacts_and_an_assessment() {
    let dev = Dev::init(Some(PIN));
    let p = dev.person();
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "visit",
        "--outcome",
        "not_home",
        "--note",
        "不在。置き手紙を残した。次回は来週火曜。",
        "--stage",
        "1",
        "--at",
        "2026-11-01T10:00:00+09:00",
    ]);
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "訪問",
        "--outcome",
        "会えた",
        "--note",
        "玄関先で短く話せた。認知症の心配を家族が口にした。",
        "--stage",
        "2",
        "--at",
        "2026-11-08T10:00:00+09:00",
        "--next-due",
        "2026-11-15",
    ]);
    let a = dev.ok(&[
        "assessment",
        "add",
        "--person",
        &p,
        "--instrument",
        "epds",
        "--answers",
        "1,1,2,1,1,1,1,1,1,0",
    ]);
    assert_eq!(a["score"]["complete"], true, "{a}");
    // Scored as the definition says (EPDS: reverse-scored items), with its band and alert.
    assert_eq!(a["score"]["total"], 17, "{a}");
    assert_eq!(a["score"]["bands"][0]["key"], "possible_depression", "{a}");
    assert_eq!(a["score"]["alerts"][0]["key"], "self_harm", "{a}");
    assert!(a["id"].as_str().is_some_and(|id| !id.is_empty()), "{a}");

    let page = dev.ok(&["person", "show", &p]);
    assert_eq!(page["person"]["name"], "佐藤太郎");
    let timeline = page["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    // Newest first, and the current trust stage is the latest contact's.
    assert_eq!(timeline[0]["outcome"], "met");
    assert_eq!(timeline[0]["outcome_label"], "会えた");
    assert_eq!(page["summary"]["stage"], 2);
    assert_eq!(page["summary"]["district_name"], "辻堂");
    assert_eq!(page["summary"]["next_due"], "2026-11-15");
    assert_eq!(page["assessments"].as_array().unwrap().len(), 1);
    assert_eq!(page["assessments"][0]["id"], a["id"]);
    assert_eq!(page["contact_count"], 2);

    // Opening the page was logged, and closed with a duration (two entries in the chain,
    // which verifies); the log shows the one visit.
    let log = dev.ok(&["access-log", "--person", &p]);
    let visits = log.as_array().unwrap();
    assert_eq!(visits.len(), 1, "{log}");
    assert_eq!(visits[0]["person"], p.as_str());
    assert_eq!(visits[0]["actor"], "worker");
    assert!(visits[0]["seconds"].is_u64(), "the visit was closed: {log}");
    let check = dev.ok(&["check"]);
    assert_eq!(check["entries"], 2);
    // A second look is a second visit.
    dev.ok(&["person", "show", &p]);
    assert_eq!(
        dev.ok(&["access-log", "--person", &p])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(dev.ok(&["check"])["entries"], 4);

    // A change answers with the record's id, and the page shows it.
    let edited = dev.ok(&["person", "edit", &p, "--phone", "0466-22-1111"]);
    assert_eq!(edited["id"], p.as_str());
    assert_eq!(
        dev.ok(&["person", "show", &p])["person"]["phone"],
        "0466-22-1111"
    );
}

#[test]
fn search_finds_one_two_and_three_character_terms() {
    let dev = Dev::init(None);
    let p = dev.person();
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "phone",
        "--outcome",
        "family",
        "--note",
        "母親から認知症の相談",
    ]);
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "visit",
        "--outcome",
        "met",
        "--note",
        "児童委員と同行した",
    ]);
    let count = |q: &str| dev.ok(&["search", q])["contact_total"].as_u64().unwrap();
    assert_eq!(count("認知"), 1);
    assert_eq!(count("児童"), 1);
    assert_eq!(count("母"), 1);
    assert_eq!(count("同行した"), 1);
    assert_eq!(count("認知 相談"), 1);
    assert_eq!(count("認知 児童"), 0);
    assert_eq!(count("知認"), 0);
    let persons = dev.ok(&["search", "サトウ"])["persons"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(persons, 1, "katakana finds the hiragana reading");
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_stores_nothing() {
    let dev = Dev::init(None);
    let p = dev.person();
    let before = dev.ok(&["person", "show", &p]);
    let bad: &[(&[&str], &str)] = &[
        (
            &[
                "person",
                "add",
                "--name",
                "山田",
                "--district",
                "東京",
                "--program",
                "csw",
            ],
            "unknown_district",
        ),
        (
            &[
                "person",
                "add",
                "--name",
                "山田",
                "--district",
                "辻堂",
                "--program",
                "nursing",
            ],
            "unknown_program",
        ),
        (
            &[
                "person",
                "add",
                "--name",
                "  ",
                "--district",
                "辻堂",
                "--program",
                "csw",
            ],
            "text_empty",
        ),
        (
            &[
                "person",
                "add",
                "--name",
                "山田",
                "--kana",
                "山田",
                "--district",
                "辻堂",
                "--program",
                "csw",
            ],
            "not_kana",
        ),
        (
            &[
                "person",
                "add",
                "--name",
                "山田",
                "--birth",
                "2024-02-30",
                "--district",
                "辻堂",
                "--program",
                "csw",
            ],
            "date_no_such_day",
        ),
        (
            &[
                "person",
                "add",
                "--name",
                "山田",
                "--birth",
                "2999-01-01",
                "--district",
                "辻堂",
                "--program",
                "csw",
            ],
            "birth_in_future",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                &p,
                "--channel",
                "fax",
                "--outcome",
                "met",
            ],
            "invalid_choice",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                &p,
                "--channel",
                "visit",
                "--outcome",
                "met",
                "--stage",
                "9",
            ],
            "unknown_trust_stage",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                &p,
                "--channel",
                "visit",
                "--outcome",
                "met",
                "--at",
                "2026-13-01T10:00",
            ],
            "datetime_malformed",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                &p,
                "--channel",
                "visit",
                "--outcome",
                "met",
                "--at",
                "2026-11-10T10:00:00+09:00",
                "--next-due",
                "2026-11-01",
            ],
            "next_due_before_contact",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                "01a1fcaa-0000-7000-8000-000000000000",
                "--channel",
                "visit",
                "--outcome",
                "met",
            ],
            "unknown_person",
        ),
        (
            &[
                "contact",
                "add",
                "--person",
                "not-an-id",
                "--channel",
                "visit",
                "--outcome",
                "met",
            ],
            "invalid_id",
        ),
        (
            &[
                "assessment",
                "add",
                "--person",
                &p,
                "--instrument",
                "epds",
                "--answers",
                "0,1,2",
            ],
            "wrong_answer_count",
        ),
        (
            &[
                "assessment",
                "add",
                "--person",
                &p,
                "--instrument",
                "epds",
                "--answers",
                "0,1,2,3,4,0,0,0,0,0",
            ],
            "answer_not_allowed",
        ),
        (
            &[
                "assessment",
                "add",
                "--person",
                &p,
                "--instrument",
                "phq9",
                "--answers",
                "0",
            ],
            "unknown_instrument",
        ),
    ];
    for (args, code) in bad {
        dev.fails(args, 2, code);
    }
    // The app's message is the domain's own, whole Japanese, with the field to mark.
    let e = dev.fails(
        &[
            "person",
            "add",
            "--name",
            "山田",
            "--birth",
            "2024-02-30",
            "--district",
            "辻堂",
            "--program",
            "csw",
        ],
        2,
        "date_no_such_day",
    );
    assert_eq!(
        e["error"]["message_ja"],
        "生年月日「2024-02-30」は存在しない日付です（2024年2月は29日までです）。"
    );
    let after = dev.ok(&["person", "show", &p]);
    assert_eq!(before["timeline"], after["timeline"]);
    assert_eq!(before["assessments"], after["assessments"]);
    assert_eq!(dev.ok(&["caseload"]).as_array().unwrap().len(), 1);
}

#[test]
fn missing_answers_give_an_incomplete_result_not_a_smaller_total() {
    let dev = Dev::init(None);
    let p = dev.person();
    let a = dev.ok(&[
        "assessment",
        "add",
        "--person",
        &p,
        "--instrument",
        "epds",
        "--answers",
        "0,1,2,-,1,1,1,1,1,1",
    ]);
    let r = &a["score"];
    assert_eq!(r["complete"], false);
    assert_eq!(r["total"], Value::Null);
    assert_eq!(r["missing_items"], serde_json::json!([4]));
}

#[test]
fn wrong_pins_count_down_then_lock_and_only_the_recovery_code_reopens() {
    require_keystore();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("device");
    let o = run(
        &dir,
        &["init", "--pin-stdin", "--json"],
        &format!("{PIN}\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let code = serde_json::from_slice::<Value>(&o.stdout).unwrap()["recovery_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = Dev {
        _tmp: tmp,
        dir,
        pin: Some(PIN),
    };
    let p = dev.person();
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "visit",
        "--outcome",
        "not_home",
        "--note",
        "未同期の大事な記録",
    ]);

    dev.fails_with_stdin(&["caseload"], "", 2, "pin_required");
    dev.fails_with_stdin(&["caseload"], "12ab\n", 2, "invalid_pin");
    for remaining in (1..5).rev() {
        let v = dev.fails_with_stdin(&["caseload"], "135790\n", 2, "wrong_pin");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{remaining} attempts")),
            "{v}"
        );
    }
    dev.fails_with_stdin(&["caseload"], "135790\n", 1, "locked");
    // Locked: even the right PIN is refused, and the store file is intact.
    dev.fails(&["caseload"], 1, "locked");
    let status = dev.ok(&["status"]);
    assert_eq!(status["device"]["phase"], "disabled", "{status}");
    assert_eq!(status["device"]["attempts_left"], 0, "{status}");
    assert!(
        status["sync"].is_null(),
        "a locked store is not opened for the sync status"
    );

    dev.fails_with_stdin(
        &["recover"],
        "0000-0000-0000-0000-0000-0000-0000-0000\n112233\n",
        2,
        "wrong_recovery_code",
    );
    let o = run(
        &dev.dir,
        &["recover", "--json"],
        &format!("{code}\n112233\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let recovered: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(recovered["locked"], false, "{recovered}");
    assert_eq!(recovered["failures"], 0, "{recovered}");
    assert_eq!(recovered["has_pin"], true, "{recovered}");
    let dev = Dev {
        pin: Some("112233"),
        ..dev
    };
    let page = dev.ok(&["person", "show", &p]);
    assert_eq!(page["timeline"][0]["note"], "未同期の大事な記録");
    let status = dev.ok(&["status"]);
    assert_eq!(status["device"]["failures"], 0);
    assert_eq!(status["device"]["attempts_left"], 5);
    assert_ne!(status["device"]["phase"], "disabled", "{status}");
    assert_eq!(
        status["sync"]["pending"], 2,
        "the unsynced record is still waiting to be sent"
    );
}

#[test]
fn a_damaged_or_truncated_store_gets_a_clear_error_and_is_left_as_it_was() {
    let dev = Dev::init(None);
    let p = dev.person();
    for i in 0..30 {
        dev.ok(&[
            "contact",
            "add",
            "--person",
            &p,
            "--channel",
            "visit",
            "--outcome",
            "met",
            "--note",
            &format!("記録{i} {}", "あ".repeat(500)),
        ]);
    }
    let original = dev.store_bytes();
    let path = dev.dir.join("store.db");

    // Bytes flipped in the first page.
    let mut damaged = original.clone();
    for b in &mut damaged[100..140] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &damaged).unwrap();
    let v = dev.fails(&["caseload"], 1, "store_damaged");
    assert!(v["error"]["message_ja"].as_str().unwrap().contains("破損"));
    assert_eq!(
        dev.store_bytes(),
        damaged,
        "a failed open must not write to the file"
    );

    // Truncated to half.
    let truncated = original[..original.len() / 2].to_vec();
    std::fs::write(&path, &truncated).unwrap();
    dev.fails(&["caseload"], 1, "store_damaged");
    assert_eq!(dev.store_bytes(), truncated);

    // Empty.
    std::fs::write(&path, b"").unwrap();
    dev.fails(&["caseload"], 1, "store_damaged");

    // Restored: everything is there.
    std::fs::write(&path, &original).unwrap();
    assert_eq!(
        dev.ok(&["person", "show", &p])["timeline"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
}

#[test]
fn another_devices_store_file_is_refused_as_wrong_key() {
    let a = Dev::init(None);
    let b = Dev::init(None);
    a.person();
    std::fs::copy(a.dir.join("store.db"), b.dir.join("store.db")).unwrap();
    let copied = b.store_bytes();
    b.fails(&["caseload"], 1, "wrong_key");
    assert_eq!(b.store_bytes(), copied);
}

#[test]
fn the_store_holds_no_plaintext_of_a_note_or_name() {
    let dev = Dev::init(None);
    let v = dev.ok(&[
        "person",
        "add",
        "--name",
        "目印花子",
        "--district",
        "辻堂",
        "--program",
        "infant",
    ]);
    let p = v["id"].as_str().unwrap();
    let marker = "MARKER-7f3a-秘密の目印テキスト";
    dev.ok(&[
        "contact",
        "add",
        "--person",
        p,
        "--channel",
        "visit",
        "--outcome",
        "met",
        "--note",
        marker,
    ]);
    assert_eq!(dev.ok(&["search", "秘密の目印"])["contact_total"], 1);
    for entry in std::fs::read_dir(&dev.dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for needle in ["MARKER-7f3a", "秘密の目印", "目印花子"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} found in plaintext in {}",
                path.display()
            );
        }
    }
}

#[test]
fn usage_errors_are_clear() {
    require_keystore();
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&tmp.path().join("nothing"), &["caseload", "--json"], "");
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "not_initialized");
    let o = Command::new(BIN)
        .args(["caseload"])
        .env_remove("TSUNAGI_DATA")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--data DIR is required"));
    let dev = Dev::init(None);
    dev.fails_with_stdin(&["init"], "", 1, "already_initialized");
}

#[test]
fn sync_status_before_enrollment_says_so_and_sync_is_refused_clearly() {
    let dev = Dev::init(Some(PIN));
    let p = dev.person();
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "visit",
        "--outcome",
        "not_home",
    ]);
    let status = dev.ok(&["status"]);
    assert_eq!(status["sync"]["state"], "not_enrolled", "{status}");
    assert_eq!(status["sync"]["enrolled"], false, "{status}");
    assert_eq!(status["device"]["has_pin"], true, "{status}");
    assert_eq!(status["sync"]["pending"], 2, "{status}");
    assert!(
        status["sync"]["message_ja"]
            .as_str()
            .unwrap()
            .contains("登録されていません"),
        "{status}"
    );
    let e = dev.fails(&["sync"], 2, "not_enrolled");
    // `sync --watch` reports each round on a line of its own, failures in the error shape.
    let o = run(
        &dev.dir,
        &[
            "sync",
            "--watch",
            "--rounds",
            "2",
            "--interval",
            "1",
            "--json",
        ],
        &dev.stdin(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let rounds: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    for r in &rounds {
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"]["code"], "not_enrolled", "{r}");
        assert!(r["report"].is_null(), "{r}");
        assert!(r["next_in_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(
        e["error"]["message_ja"]
            .as_str()
            .unwrap_or_default()
            .contains("登録"),
        "{e}"
    );
    let e = dev.fails(
        &[
            "consent",
            "add",
            "--person",
            &p,
            "--scope",
            "csw-south",
            "--method",
            "fax",
        ],
        2,
        "invalid_choice",
    );
    assert!(e["error"]["message"].as_str().is_some(), "{e}");
    dev.fails(
        &[
            "share",
            "--person",
            &p,
            "--team",
            "csw-south",
            "--consent",
            "not-an-id",
        ],
        2,
        "invalid_id",
    );
    // Meetings: a bad kind is refused; a ケース対応会議 is no basis for sharing without
    // consent, and the refusal comes before any network is needed.
    dev.fails(
        &[
            "meeting",
            "add",
            "--kind",
            "coffee",
            "--agency",
            "csw-south",
            "--person",
            &p,
            "--decisions",
            "見守りを続ける",
        ],
        2,
        "invalid_choice",
    );
    let m = dev.ok(&[
        "meeting",
        "add",
        "--kind",
        "ケース対応会議",
        "--agency",
        "csw-south",
        "--person",
        &p,
        "--decisions",
        "見守りを続ける",
    ]);
    let e = dev.fails(
        &[
            "share",
            "--person",
            &p,
            "--team",
            "csw-south",
            "--meeting",
            m["id"].as_str().unwrap(),
        ],
        2,
        "disclosure_meeting_needs_consent",
    );
    assert!(
        e["error"]["message_ja"]
            .as_str()
            .unwrap_or_default()
            .contains("支援会議"),
        "{e}"
    );
    // A consent shared under nothing is withdrawn offline, before enrollment: recorded, no
    // grant ended, no network needed.
    let c = dev.ok(&[
        "consent",
        "add",
        "--person",
        &p,
        "--scope",
        "csw-south",
        "--method",
        "written",
    ]);
    let c = c["id"].as_str().unwrap();
    let w = dev.ok(&["consent", "withdraw", c]);
    assert_eq!(w["ended"], serde_json::json!([]), "{w}");
    assert_eq!(w["kept"], serde_json::json!([]), "{w}");
    assert_eq!(w["sent"], false, "{w}");
    let consents = dev.ok(&["person", "show", &p])["consents"].clone();
    assert_eq!(consents[0]["id"], c, "{consents}");
    assert_eq!(consents[0]["active"], false, "{consents}");
    assert!(consents[0]["withdrawn_on"].is_string(), "{consents}");
    dev.fails(&["consent", "withdraw", "not-an-id"], 2, "invalid_id");
}

#[test]
fn human_output_speaks_the_screens_japanese() {
    let dev = Dev::init(None);
    let p = dev.person();
    dev.ok(&[
        "contact",
        "add",
        "--person",
        &p,
        "--channel",
        "visit",
        "--outcome",
        "letter_left",
        "--note",
        "ポストに手紙を入れた",
        "--stage",
        "1",
        "--at",
        "2026-11-01T10:00:00+09:00",
    ]);
    let human = |args: &[&str]| {
        let o = run(&dev.dir, args, "");
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let page = human(&["person", "show", &p]);
    for want in [
        "佐藤太郎（さとうたろう）",
        "地区: 辻堂",
        "接触記録 (1件)",
        "2026-11-01 10:00 訪問 / 手紙を置いた / 段階: 存在を知ってもらえた",
        "ポストに手紙を入れた",
    ] {
        assert!(page.contains(want), "{want} not in:\n{page}");
    }
    let caseload = human(&["caseload"]);
    assert!(
        caseload.contains(&p) && caseload.contains("佐藤太郎"),
        "{caseload}"
    );
    let found = human(&["search", "手紙"]);
    assert!(found.contains("接触記録 1件"), "{found}");
    let log = human(&["access-log"]);
    assert!(log.contains(&p) && log.contains("秒"), "{log}");
    let status = human(&["status"]);
    assert!(status.contains("sync: not_enrolled"), "{status}");
    let o = run(&dev.dir, &["person", "show", "not-an-id"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("[invalid_id]"), "{}", text(&o));
}
