//! The front door as the app uses it: a real SQLCipher store, the real OS keystore (run through
//! `scripts/test`, which starts a private Secret Service), requests and answers of
//! `tsunagi_device::api`. Each test is written as a hurried user or an attacker would use it:
//! bad input is refused with a code, a field and whole Japanese, and nothing stored is lost.

use chrono::{Days, Local, Months};
use std::path::{Path, PathBuf};
use tsunagi_device::api::*;
use tsunagi_device::{App, Device, OsKeystore, Pin};

const PIN: &str = "246810";

fn require_keystore() {
    assert!(
        std::env::var_os("TSUNAGI_TEST_KEYSTORE").is_some(),
        "these tests need a real Secret Service: run them through scripts/test \
         (private D-Bus session with an unlocked gnome-keyring)"
    );
}

/// A device set up with a PIN (as enrollment leaves it, minus the server), and its app.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    app: App<OsKeystore>,
}

impl Fixture {
    fn new() -> Fixture {
        require_keystore();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("device");
        let pin = Pin::parse(PIN).unwrap();
        Device::init(&dir, Some(&pin), "山田花子", &OsKeystore::new()).unwrap();
        let app = App::new(&dir).unwrap();
        app.unlock(&UnlockRequest { pin: PIN.into() }).unwrap();
        Fixture {
            _tmp: tmp,
            dir,
            app,
        }
    }

    /// The same device opened again, as after the app was closed.
    fn reopen(&mut self) {
        self.app.lock().unwrap();
        self.app = App::new(&self.dir).unwrap();
        self.app.unlock(&UnlockRequest { pin: PIN.into() }).unwrap();
    }

    fn person(&self, name: &str, program: &str) -> String {
        self.app
            .add_person(&PersonForm {
                name: name.into(),
                kana: Some("やまだ".into()),
                district: "辻堂".into(),
                programs: vec![program.into()],
                ..PersonForm::default()
            })
            .unwrap()
            .id
    }
}

/// Whole Japanese: no Latin letters outside 「」-quoted user input (PIN, the word Japanese
/// screens use, aside).
fn assert_japanese(e: &ApiError) {
    let mut outside = String::new();
    let mut depth = 0;
    for c in e.message_ja.replace("PIN", "").chars() {
        match c {
            '「' => depth += 1,
            '」' => depth -= 1,
            c if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    assert!(
        !outside.chars().any(|c| c.is_ascii_alphabetic()),
        "{}: message_ja has English: {}",
        e.code,
        e.message_ja
    );
}

#[test]
fn status_says_where_the_app_stands_without_unlocking() {
    require_keystore();
    let tmp = tempfile::tempdir().unwrap();
    let app = App::new(&tmp.path().join("nothing-here")).unwrap();
    let s = app.status().unwrap();
    assert_eq!(s.phase, Phase::Setup);
    assert!(s.device_id.is_none());
    let e = app.unlock(&UnlockRequest { pin: PIN.into() }).unwrap_err();
    assert_eq!(e.code, "not_initialized");
    assert_eq!(
        app.caseload(&CaseloadRequest::default()).unwrap_err().code,
        "app_locked"
    );

    let f = Fixture::new();
    f.app.lock().unwrap();
    let s = f.app.status().unwrap();
    assert_eq!(s.phase, Phase::Locked);
    assert_eq!(s.user_name.as_deref(), Some("山田花子"));
    assert!(s.has_pin);
    assert_eq!(s.attempts_left, 5);
    let e = f.app.caseload(&CaseloadRequest::default()).unwrap_err();
    assert_eq!(e.code, "app_locked");
    assert_japanese(&e);
}

#[test]
fn five_wrong_pins_disable_the_device_and_lose_nothing() {
    let f = Fixture::new();
    let p = f.person("佐藤一郎", "csw");
    f.app.lock().unwrap();
    let before = std::fs::metadata(f.dir.join("store.db")).unwrap().len();
    for left in (1..=4).rev() {
        let e = f
            .app
            .unlock(&UnlockRequest {
                pin: "135790".into(),
            })
            .unwrap_err();
        assert_eq!(e.code, "wrong_pin");
        assert_eq!(e.field.as_deref(), Some("pin"));
        assert!(e.message_ja.contains(&left.to_string()), "{}", e.message_ja);
        assert_japanese(&e);
        assert_eq!(f.app.status().unwrap().attempts_left, left);
    }
    let e = f
        .app
        .unlock(&UnlockRequest {
            pin: "135790".into(),
        })
        .unwrap_err();
    assert_eq!(e.code, "locked", "{e:?}");
    assert_eq!(f.app.status().unwrap().phase, Phase::Disabled);
    // Even the right PIN is refused now; IT re-enables the device with the recovery code.
    let e = f
        .app
        .unlock(&UnlockRequest { pin: PIN.into() })
        .unwrap_err();
    assert_eq!(e.code, "locked");
    assert_japanese(&e);
    assert!(std::fs::metadata(f.dir.join("store.db")).unwrap().len() >= before);
    // A PIN that is not a PIN is refused before it counts.
    let e = f
        .app
        .unlock(&UnlockRequest { pin: "abc".into() })
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("pin"));
    drop(p);
}

#[test]
fn changing_the_pin_checks_the_old_one_and_the_new_one() {
    let f = Fixture::new();
    let change = |current: &str, new: &str, repeat: &str| {
        f.app.change_pin(&ChangePinRequest {
            current: current.into(),
            new_pin: new.into(),
            new_pin_repeat: repeat.into(),
        })
    };
    let e = change(PIN, "1357", "1357").unwrap_err();
    assert_eq!(e.code, "pin_too_short");
    assert_japanese(&e);
    assert_eq!(
        change(PIN, "135790", "135791").unwrap_err().code,
        "pin_mismatch"
    );
    assert_eq!(
        change(PIN, "13579a", "13579a").unwrap_err().code,
        "pin_not_digits"
    );
    let e = change("987654", "135790", "135790").unwrap_err();
    assert_eq!(e.code, "wrong_pin");
    assert_eq!(e.field.as_deref(), Some("current"));
    change(PIN, "135790", "135790").unwrap();
    f.app.lock().unwrap();
    assert_eq!(
        f.app
            .unlock(&UnlockRequest { pin: PIN.into() })
            .unwrap_err()
            .code,
        "wrong_pin"
    );
    f.app
        .unlock(&UnlockRequest {
            pin: "135790".into(),
        })
        .unwrap();
}

#[test]
fn bad_input_names_the_field_in_japanese_and_stores_nothing() {
    let f = Fixture::new();
    let e = f
        .app
        .add_person(&PersonForm {
            name: "".into(),
            district: "辻堂".into(),
            programs: vec!["csw".into()],
            ..PersonForm::default()
        })
        .unwrap_err();
    assert!(e.bad_input);
    assert_japanese(&e);
    let e = f
        .app
        .add_person(&PersonForm {
            name: "田中".into(),
            district: "火星".into(),
            programs: vec!["csw".into()],
            ..PersonForm::default()
        })
        .unwrap_err();
    assert_eq!(e.code, "unknown_district");
    assert_japanese(&e);
    assert!(
        f.app
            .caseload(&CaseloadRequest::default())
            .unwrap()
            .is_empty()
    );

    let p = f.person("田中花", "csw");
    let e = f
        .app
        .add_contact(&ContactForm {
            person: p.clone(),
            channel: "visit".into(),
            outcome: "met".into(),
            at: Some("2026-02-30T10:00".into()),
            ..ContactForm::default()
        })
        .unwrap_err();
    assert!(e.bad_input);
    assert_japanese(&e);
    let e = f
        .app
        .add_contact(&ContactForm {
            person: "not-an-id".into(),
            channel: "visit".into(),
            outcome: "met".into(),
            ..ContactForm::default()
        })
        .unwrap_err();
    assert!(e.bad_input, "{e:?}");
    let page = f.app.open_person(&ById { id: p }).unwrap();
    assert!(page.timeline.is_empty());
}

#[test]
fn a_person_page_is_logged_while_open_and_closed_on_lock() {
    let mut f = Fixture::new();
    let p = f.person("鈴木次郎", "csw");
    let quick = f
        .app
        .add_contact(&ContactForm {
            person: p.clone(),
            channel: "visit".into(),
            outcome: "letter_left".into(),
            letter_text: Some("またお伺いします。".into()),
            ..ContactForm::default()
        })
        .unwrap();
    let page = f.app.open_person(&ById { id: p.clone() }).unwrap();
    assert_eq!(page.person.name, "鈴木次郎");
    assert_eq!(page.timeline.len(), 1);
    assert_eq!(page.timeline[0].id, quick.id);
    assert_eq!(page.timeline[0].outcome_label, "手紙を置いた");
    assert_eq!(page.contact_count, 1);
    assert!(!page.read_only);
    // The opening shows on the page itself, not closed yet.
    assert_eq!(page.access.len(), 1);
    assert_eq!(page.access[0].actor, "山田花子");
    assert!(page.access[0].seconds.is_none());
    f.app
        .close_person(&PageRef {
            page: page.page.clone(),
        })
        .unwrap();
    // Closing twice is harmless.
    f.app.close_person(&PageRef { page: page.page }).unwrap();
    let log = f
        .app
        .access_log(&AccessLogRequest {
            person: Some(p.clone()),
            limit: None,
        })
        .unwrap();
    assert_eq!(log.len(), 1);
    assert!(log[0].seconds.is_some());

    // A page left open is closed when the app locks.
    f.app.open_person(&ById { id: p.clone() }).unwrap();
    f.reopen();
    let log = f
        .app
        .access_log(&AccessLogRequest {
            person: Some(p),
            limit: None,
        })
        .unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|a| a.seconds.is_some()), "{log:?}");
}

#[test]
fn an_epds_with_item_10_raises_the_alert_while_incomplete_and_when_saved() {
    let f = Fixture::new();
    let p = f.person("高橋さくら", "infant");
    let form = f.app.instrument_form(&ById { id: "epds".into() }).unwrap();
    assert_eq!(form.items.len(), 10);
    let mut answers: Vec<Option<String>> = vec![None; 10];
    answers[9] = Some("2".into());
    let live = f
        .app
        .score(&ScoreRequest {
            instrument: "epds".into(),
            answers: answers.clone(),
        })
        .unwrap();
    assert!(!live.complete);
    assert_eq!(live.total, None, "an incomplete form has no total");
    assert_eq!(live.missing_items.len(), 9);
    assert_eq!(live.alerts.len(), 1);
    assert_eq!(live.alerts[0].key, "self_harm");
    for a in answers.iter_mut().take(9) {
        *a = Some("0".into());
    }
    let saved = f
        .app
        .add_assessment(&AssessmentForm {
            person: p.clone(),
            instrument: "epds".into(),
            answers,
            at: None,
        })
        .unwrap();
    assert!(saved.score.complete);
    assert!(saved.score.total.unwrap() >= 9, "{:?}", saved.score.total);
    assert!(
        saved
            .score
            .bands
            .iter()
            .any(|b| b.key == "possible_depression")
    );
    assert_eq!(saved.score.alerts[0].key, "self_harm");
    let page = f.app.open_person(&ById { id: p }).unwrap();
    assert_eq!(page.assessments.len(), 1);
    assert_eq!(page.assessments[0].alerts[0].item, 10);

    let e = f
        .app
        .score(&ScoreRequest {
            instrument: "epds".into(),
            answers: vec![Some("7".into()); 10],
        })
        .unwrap_err();
    assert_eq!(e.code, "answer_not_allowed");
    assert_japanese(&e);
}

#[test]
fn a_plan_moves_through_its_lifecycle_with_its_meetings() {
    let f = Fixture::new();
    let p = f.person("伊藤三郎", "csw");
    let plan = f
        .app
        .add_plan(&PlanForm {
            person: p.clone(),
            ..PlanForm::default()
        })
        .unwrap()
        .id;
    // A plan leaves draft only with a goal.
    let e = f
        .app
        .move_plan(&PlanTransitionForm {
            id: plan.clone(),
            to: "active".into(),
            ..PlanTransitionForm::default()
        })
        .unwrap_err();
    assert!(e.bad_input);
    assert_japanese(&e);
    f.app
        .edit_plan(&PlanEditForm {
            id: plan.clone(),
            goals: Some(vec!["週1回の見守り訪問を続ける".into()]),
            roles: Some(vec![RoleView {
                agency: "地域包括支援センター".into(),
                task: "介護保険の申請支援".into(),
            }]),
            review_on: Some((Local::now().date_naive() + Days::new(2)).to_string()),
        })
        .unwrap();
    f.app
        .move_plan(&PlanTransitionForm {
            id: plan.clone(),
            to: "active".into(),
            ..PlanTransitionForm::default()
        })
        .unwrap();
    // Its review is on 今日の予定, with the goals it reviews.
    let day = f.app.today(&TodayRequest::default()).unwrap();
    let review = day
        .upcoming
        .iter()
        .find(|i| i.person == p && i.kind == AgendaKind::PlanReview)
        .expect("the plan review listed");
    assert_eq!(review.days_left, 2);
    assert_eq!(review.detail.as_deref(), Some("週1回の見守り訪問を続ける"));
    let page = f.app.open_person(&ById { id: p.clone() }).unwrap();
    let view = &page.plans[0];
    assert_eq!(view.state, "active");
    assert!(
        view.meeting_pending,
        "activation calls for a 重層的支援会議"
    );
    let closing = view
        .next_states
        .iter()
        .find(|s| s.to == "closed")
        .expect("an active plan can close");
    assert_eq!(closing.needs_meeting.as_deref(), Some("jushoteki"));
    assert!(!view.next_states.iter().any(|s| s.to == "draft"));
    let meeting = f
        .app
        .add_meeting(&MeetingForm {
            kind: "jushoteki".into(),
            agencies: vec!["csw-north".into()],
            persons: vec![p.clone()],
            decisions: "プランを承認".into(),
            ..MeetingForm::default()
        })
        .unwrap()
        .id;
    f.app
        .plan_meeting(&PlanMeetingForm {
            id: plan.clone(),
            meeting: meeting.clone(),
        })
        .unwrap();
    let e = f
        .app
        .plan_meeting(&PlanMeetingForm {
            id: plan.clone(),
            meeting,
        })
        .unwrap_err();
    assert_eq!(e.code, "nothing_pending");
    let page = f.app.open_person(&ById { id: p }).unwrap();
    assert!(!page.plans[0].meeting_pending);
    assert_eq!(page.meetings.len(), 1);
    let e = f
        .app
        .move_plan(&PlanTransitionForm {
            id: plan,
            to: "draft".into(),
            ..PlanTransitionForm::default()
        })
        .unwrap_err();
    assert_eq!(e.code, "invalid_transition");
}

#[test]
fn a_household_links_its_members() {
    let f = Fixture::new();
    let parent = f.person("中村ハル", "csw");
    let son = f.person("中村健", "csw");
    let hh = f
        .app
        .save_household(&HouseholdForm {
            id: None,
            address: Some("藤沢市辻堂1-2-3".into()),
            members: vec![
                HouseholdMemberForm {
                    person: parent.clone(),
                    relation: "principal".into(),
                    note: None,
                },
                HouseholdMemberForm {
                    person: son.clone(),
                    relation: "child".into(),
                    note: Some("同居".into()),
                },
            ],
        })
        .unwrap()
        .id;
    for p in [&parent, &son] {
        let page = f.app.open_person(&ById { id: p.clone() }).unwrap();
        let h = page.household.expect("household shown");
        assert_eq!(h.id, hh);
        assert_eq!(h.members.len(), 2);
        assert_eq!(h.members[1].name.as_deref(), Some("中村健"));
        assert_eq!(h.members[1].relation_label, "子");
    }
    let e = f
        .app
        .save_household(&HouseholdForm {
            id: None,
            address: None,
            members: vec![
                HouseholdMemberForm {
                    person: parent.clone(),
                    relation: "principal".into(),
                    note: None,
                },
                HouseholdMemberForm {
                    person: son,
                    relation: "principal".into(),
                    note: None,
                },
            ],
        })
        .unwrap_err();
    assert!(e.bad_input);
    assert_japanese(&e);
}

#[test]
fn a_draft_survives_the_app_being_closed() {
    let mut f = Fixture::new();
    let p = f.person("小林みどり", "csw");
    let key = format!("contact:{p}");
    let body = r#"{"note":"玄関先で5分ほど話せた。次回は","stage":2}"#;
    f.app
        .save_draft(&DraftSave {
            key: key.clone(),
            label: "小林みどりさんの訪問記録".into(),
            body: body.into(),
        })
        .unwrap();
    f.reopen();
    let d = f
        .app
        .draft(&DraftKey { key: key.clone() })
        .unwrap()
        .expect("draft kept");
    assert_eq!(d.body, body);
    assert_eq!(f.app.drafts().unwrap().len(), 1);
    let e = f
        .app
        .save_draft(&DraftSave {
            key: key.clone(),
            label: "x".into(),
            body: "{not json".into(),
        })
        .unwrap_err();
    assert_eq!(e.code, "bad_draft");
    // The bad save did not replace the good draft.
    assert_eq!(
        f.app
            .draft(&DraftKey { key: key.clone() })
            .unwrap()
            .unwrap()
            .body,
        body
    );
    let huge = format!("\"{}\"", "あ".repeat(100_000));
    assert_eq!(
        f.app
            .save_draft(&DraftSave {
                key: key.clone(),
                label: "x".into(),
                body: huge,
            })
            .unwrap_err()
            .code,
        "too_large"
    );
    f.app.discard_draft(&DraftKey { key: key.clone() }).unwrap();
    assert!(f.app.draft(&DraftKey { key }).unwrap().is_none());
    // The draft lives inside the encrypted file, not beside it.
    let bytes = std::fs::read(f.dir.join("store.db")).unwrap();
    assert!(!contains(&bytes, "小林みどり".as_bytes()));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn today_lists_overdue_follow_ups_and_program_deadlines() {
    let f = Fixture::new();
    let today = Local::now().date_naive();
    // A planned follow-up that was due yesterday, and no contact since.
    let csw = f.person("加藤正", "csw");
    f.app
        .add_contact(&ContactForm {
            person: csw.clone(),
            channel: "visit".into(),
            outcome: "not_home".into(),
            at: Some(format!("{}T10:00", today - Days::new(8))),
            next_step: Some("再訪問".into()),
            next_due: Some((today - Days::new(1)).to_string()),
            ..ContactForm::default()
        })
        .unwrap();
    // Referred three days ago, not visited: the first visit is due tomorrow.
    let dementia = f
        .app
        .add_person(&PersonForm {
            name: "吉田トメ".into(),
            district: "鵠沼".into(),
            programs: vec!["dementia".into()],
            referred_on: Some((today - Days::new(3)).to_string()),
            ..PersonForm::default()
        })
        .unwrap()
        .id;
    // An infant nearing 4 months, not visited yet.
    let infant = f
        .app
        .add_person(&PersonForm {
            name: "山本ひなた".into(),
            district: "藤沢".into(),
            programs: vec!["infant".into()],
            birth: Some((today - Months::new(4) + Days::new(10)).to_string()),
            ..PersonForm::default()
        })
        .unwrap()
        .id;
    let day = f.app.today(&TodayRequest::default()).unwrap();
    let find = |id: &str| {
        day.overdue
            .iter()
            .chain(&day.due_today)
            .chain(&day.upcoming)
            .find(|i| i.person == id)
            .cloned()
    };
    let follow = find(&csw).expect("follow-up listed");
    assert_eq!(follow.kind, AgendaKind::FollowUp);
    assert_eq!(follow.days_left, -1);
    assert_eq!(
        follow.detail.as_deref(),
        Some("再訪問"),
        "the planned step shows"
    );
    assert_eq!(follow.label_en, "Planned follow-up");
    assert!(day.overdue.iter().any(|i| i.person == csw));
    let first = find(&dementia).expect("first visit listed");
    assert_eq!(first.kind, AgendaKind::Deadline);
    assert_eq!(first.days_left, 1);
    assert!(first.label_ja.contains("初回訪問"), "{}", first.label_ja);
    assert!(
        first.label_en.starts_with("First visit"),
        "{}",
        first.label_en
    );
    let baby = find(&infant).expect("infant visit listed");
    assert_eq!(baby.kind, AgendaKind::Deadline);
    assert_eq!(baby.days_left, 10);

    // Meeting the person meets the deadline; a visit on the due day ends the follow-up.
    f.app
        .add_contact(&ContactForm {
            person: dementia.clone(),
            channel: "visit".into(),
            outcome: "met".into(),
            ..ContactForm::default()
        })
        .unwrap();
    f.app
        .add_contact(&ContactForm {
            person: csw.clone(),
            channel: "visit".into(),
            outcome: "met".into(),
            ..ContactForm::default()
        })
        .unwrap();
    let day = f.app.today(&TodayRequest::default()).unwrap();
    let all: Vec<_> = day
        .overdue
        .iter()
        .chain(&day.due_today)
        .chain(&day.upcoming)
        .collect();
    assert!(
        !all.iter()
            .any(|i| i.person == dementia && i.kind == AgendaKind::Deadline)
    );
    assert!(
        !all.iter()
            .any(|i| i.person == csw && i.kind == AgendaKind::FollowUp)
    );
    let e = f
        .app
        .today(&TodayRequest {
            date: Some("2026-13-01".into()),
        })
        .unwrap_err();
    assert_eq!(e.code, "date_no_such_month");
    assert_eq!(e.field.as_deref(), Some("date"));
    assert_japanese(&e);
}

#[test]
fn the_caseload_filters_and_search_finds_names_and_notes() {
    let f = Fixture::new();
    let a = f.person("渡辺一", "csw");
    f.person("渡辺二", "dementia");
    f.app
        .add_contact(&ContactForm {
            person: a.clone(),
            channel: "phone".into(),
            outcome: "met".into(),
            note: "ごみの片付けについて相談したいと話された".into(),
            stage: Some(3),
            ..ContactForm::default()
        })
        .unwrap();
    let all = f.app.caseload(&CaseloadRequest::default()).unwrap();
    assert_eq!(all.len(), 2);
    let csw = f
        .app
        .caseload(&CaseloadRequest {
            program: Some("csw".into()),
            ..CaseloadRequest::default()
        })
        .unwrap();
    assert_eq!(csw.len(), 1);
    assert_eq!(csw[0].stage_label.as_deref(), Some("相談できる関係"));
    let staged = f
        .app
        .caseload(&CaseloadRequest {
            stage: Some(3),
            ..CaseloadRequest::default()
        })
        .unwrap();
    assert_eq!(staged.len(), 1);
    let e = f
        .app
        .caseload(&CaseloadRequest {
            district: Some("どこか".into()),
            ..CaseloadRequest::default()
        })
        .unwrap_err();
    assert_eq!(e.code, "unknown_district");
    let found = f
        .app
        .search(&SearchRequest {
            text: "片付け".into(),
            limit: None,
        })
        .unwrap();
    assert_eq!(found.contacts.len(), 1);
    assert_eq!(found.contacts[0].person, a);
    let found = f
        .app
        .search(&SearchRequest {
            text: "渡辺".into(),
            limit: None,
        })
        .unwrap();
    assert_eq!(found.persons.len(), 2);
    let page = f.app.open_person(&ById { id: a }).unwrap();
    assert_eq!(page.stages.len(), 1);
    assert_eq!(page.stages[0].stage, 3);
}

#[test]
fn the_reference_lists_every_choice_in_both_languages() {
    let f = Fixture::new();
    let r = f.app.reference().unwrap();
    assert_eq!(r.districts.len(), 13);
    assert_eq!(r.stages.len(), 5);
    assert!(r.stages.iter().all(|s| !s.label_en.is_empty()));
    for list in [
        &r.statuses,
        &r.channels,
        &r.outcomes,
        &r.relations,
        &r.meeting_kinds,
    ] {
        for c in list {
            assert!(!c.label_ja.is_empty());
            assert_ne!(c.label_en, c.key, "{} has no English label", c.key);
        }
    }
    assert!(r.instruments.iter().any(|i| i.key == "dasc21"));
    let dasc = f
        .app
        .instrument_form(&ById {
            id: "dasc21".into(),
        })
        .unwrap();
    assert!(dasc.cutoffs.iter().any(|c| c.min == 31));
    assert_eq!(
        f.app
            .instrument_form(&ById { id: "nope".into() })
            .unwrap_err()
            .code,
        "unknown_instrument"
    );
}

#[test]
fn the_sync_indicator_is_honest_before_enrollment() {
    let f = Fixture::new();
    f.person("森田", "csw");
    let s = f.app.sync_status().unwrap();
    assert!(!s.enrolled);
    assert_eq!(s.state, SyncState::NotEnrolled);
    assert_eq!(s.pending, 1);
    assert!(!s.running);
    assert_eq!(f.app.sync_now().unwrap_err().code, "not_enrolled");
    assert!(Path::new(&f.dir).join("store.db").exists());
}

#[test]
fn a_correction_sets_or_clears_the_trust_stage_and_keeps_the_rest() {
    let f = Fixture::new();
    let p = f.person("森田栄", "csw");
    let c = f
        .app
        .add_contact(&ContactForm {
            person: p.clone(),
            channel: "visit".into(),
            outcome: "met".into(),
            note: "縁側で話せた".into(),
            stage: Some(2),
            ..ContactForm::default()
        })
        .unwrap()
        .id;
    let stage_now = || {
        let page = f.app.open_person(&ById { id: p.clone() }).unwrap();
        f.app.close_person(&PageRef { page: page.page }).unwrap();
        (page.timeline[0].stage, page.timeline[0].note.clone())
    };
    // Asking for both at once is refused, and nothing changes.
    let e = f
        .app
        .edit_contact(&ContactEditForm {
            id: c.clone(),
            stage: Some(3),
            clear_stage: true,
            ..ContactEditForm::default()
        })
        .unwrap_err();
    assert_eq!(e.code, "bad_value");
    assert_japanese(&e);
    assert_eq!(stage_now(), (Some(2), "縁側で話せた".to_owned()));
    f.app
        .edit_contact(&ContactEditForm {
            id: c.clone(),
            stage: Some(3),
            ..ContactEditForm::default()
        })
        .unwrap();
    assert_eq!(stage_now().0, Some(3));
    f.app
        .edit_contact(&ContactEditForm {
            id: c,
            clear_stage: true,
            ..ContactEditForm::default()
        })
        .unwrap();
    assert_eq!(stage_now(), (None, "縁側で話せた".to_owned()));
}

#[test]
fn a_device_opened_without_a_pin_stands_behind_the_same_door() {
    require_keystore();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("device");
    let ks = OsKeystore::new();
    let (device, _) = Device::init(&dir, None, "情報システム担当", &ks).unwrap();
    // The app's own unlock needs a PIN; IT's tools open the device themselves.
    let app = App::over_device(device, OsKeystore::new()).unwrap();
    let status = app.status().unwrap();
    assert!(!status.has_pin);
    assert_ne!(status.phase, Phase::Locked, "the session is open");
    let p = app
        .add_person(&PersonForm {
            name: "検証 太郎".into(),
            district: "辻堂".into(),
            programs: vec!["csw".into()],
            ..PersonForm::default()
        })
        .unwrap()
        .id;
    let page = app.open_person(&ById { id: p.clone() }).unwrap();
    app.close_person(&PageRef { page: page.page }).unwrap();
    let log = app
        .access_log(&AccessLogRequest {
            person: Some(p.clone()),
            limit: None,
        })
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, "情報システム担当");
    assert!(log[0].seconds.is_some(), "the visit was closed");
    assert_eq!(app.sync_status().unwrap().pending, 1);
    drop(app);
    // What it wrote is in the device's store, as any other session sees it.
    let again = App::over_device(Device::open(&dir, None, &ks).unwrap(), ks).unwrap();
    assert_eq!(
        again.caseload(&CaseloadRequest::default()).unwrap()[0].id,
        p
    );
}

/// An enrollment bundle for `server_url` with well-formed keys and a code valid for a day.
fn bundle_for(server_url: &str) -> String {
    use tsunagi_crypto::identity::{KemKey, SigKey};
    let sig = || SigKey::generate().unwrap().public().as_bytes().to_vec();
    serde_json::to_string(&tsunagi_protocol::api::EnrollmentBundle {
        v: 1,
        server_url: server_url.into(),
        server_pub: sig(),
        admin_pub: sig(),
        org_recovery_pub: KemKey::generate().unwrap().public().as_bytes().to_vec(),
        code: "AAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        user: uuid::Uuid::nil(),
        user_name: "山田花子".into(),
        team: "csw-north".into(),
        role: tsunagi_protocol::api::Role::Worker,
        expires_at: (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        pin_min_digits: 6,
        lease_days: 14,
    })
    .unwrap()
}

#[test]
fn a_bundle_pointing_at_plain_http_elsewhere_is_refused_before_anything() {
    require_keystore();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("device");
    let app = App::new(&dir).unwrap();
    for url in ["http://example.org", "http://tsunagi.example.lg.jp:8443/"] {
        let bundle = bundle_for(url);
        let e = app
            .inspect_bundle(&BundleText {
                bundle: bundle.clone(),
            })
            .unwrap_err();
        assert_eq!(e.code, "insecure_url", "{url}");
        assert!(e.bad_input);
        assert_japanese(&e);
        // Enrolling refuses it before the device is set up or any request is sent (a request
        // to example.org would end `unreachable`, or in some answer of that host).
        let e = app
            .enroll(&EnrollRequest {
                bundle,
                pin: PIN.into(),
                pin_repeat: PIN.into(),
            })
            .unwrap_err();
        assert_eq!(e.code, "insecure_url", "{url}");
        assert!(!dir.join("store.db").exists(), "nothing was set up");
    }
    for url in [
        "http://127.0.0.1:8443",
        "http://[::1]:8443",
        "http://localhost:8443",
        "https://tsunagi.example.lg.jp",
    ] {
        let info = app
            .inspect_bundle(&BundleText {
                bundle: bundle_for(url),
            })
            .unwrap();
        assert_eq!(info.server_url, url);
    }
}
