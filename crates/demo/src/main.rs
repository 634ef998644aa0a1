//! `tsunagi-demo`: fills an enrolled demo device with fictional persons and about three months
//! of outreach records across the three programs (CSW outreach, the dementia team, infant home
//! visits), through the same front door the app uses. Every name, address and story here is
//! invented; dates are relative to today, so the demo always looks current.
//!
//! Usage: `tsunagi-demo --data DIR` with the device's PIN on the first line of standard input.

use anyhow::Context;
use chrono::{Days, Local, Months, NaiveDate};
use clap::Parser;
use std::io::BufRead;
use std::path::PathBuf;
use tsunagi_device::App;
use tsunagi_device::api::*;
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(
    name = "tsunagi-demo",
    about = "Fictional demo records for a Tsunagi device"
)]
struct Cli {
    /// The device directory (set up and enrolled).
    #[arg(long, env = "TSUNAGI_DATA")]
    data: PathBuf,
}

/// A small deterministic generator (the demo is the same every time).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

struct Demo {
    app: App<tsunagi_device::OsKeystore>,
    today: NaiveDate,
    rng: Rng,
    contacts: usize,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]", e.message, e.code)
}

impl Demo {
    fn day(&self, days_ago: u64) -> NaiveDate {
        self.today - Days::new(days_ago)
    }

    fn person(&self, form: PersonForm) -> anyhow::Result<String> {
        Ok(self.app.add_person(&form).map_err(api)?.id)
    }

    #[allow(clippy::too_many_arguments)]
    fn contact(
        &mut self,
        person: &str,
        days_ago: u64,
        channel: &str,
        outcome: &str,
        note: &str,
        stage: Option<u8>,
        next: Option<(&str, i64)>,
    ) -> anyhow::Result<String> {
        let hour = 9 + self.rng.next(8);
        let minute = [0, 10, 20, 30, 40, 50][self.rng.next(6)];
        let day = self.day(days_ago);
        let (next_step, next_due) = match next {
            Some((step, after)) => {
                let due = if after >= 0 {
                    day + Days::new(after.unsigned_abs())
                } else {
                    day
                };
                (Some(step.to_owned()), Some(due.to_string()))
            }
            None => (None, None),
        };
        let letter_text = (outcome == "letter_left").then(|| {
            "こんにちは。藤沢市社会福祉協議会の山田です。お困りのことがあれば、いつでもお電話ください。また伺います。"
                .to_owned()
        });
        let id = self
            .app
            .add_contact(&ContactForm {
                person: person.to_owned(),
                at: Some(format!("{day}T{hour:02}:{minute:02}")),
                channel: channel.to_owned(),
                outcome: outcome.to_owned(),
                note: note.to_owned(),
                stage,
                letter_text,
                next_step,
                next_due,
                ..ContactForm::default()
            })
            .map_err(api)
            .with_context(|| format!("contact of {person} {days_ago} days ago"))?
            .id;
        self.contacts += 1;
        Ok(id)
    }

    fn assessment(
        &self,
        person: &str,
        instrument: &str,
        answers: &[&str],
        days_ago: u64,
    ) -> anyhow::Result<()> {
        self.app
            .add_assessment(&AssessmentForm {
                person: person.to_owned(),
                instrument: instrument.to_owned(),
                answers: answers
                    .iter()
                    .map(|a| (*a != "-").then(|| (*a).to_owned()))
                    .collect(),
                at: Some(format!("{}T11:00", self.day(days_ago))),
            })
            .map_err(api)
            .with_context(|| format!("{instrument} of {person}"))?;
        Ok(())
    }
}

/// Long-running CSW outreach: a relationship built over many contacts, from 置き手紙 to a
/// conversation to being connected to support.
const CSW: &[(&str, &str, &str, &str)] = &[
    ("佐藤 健一", "さとう けんいち", "辻堂", "50代"),
    ("高橋 由美子", "たかはし ゆみこ", "鵠沼", "80代"),
    ("伊藤 大輔", "いとう だいすけ", "湘南台", "40代"),
    ("渡辺 和子", "わたなべ かずこ", "藤沢", "70代"),
    ("小林 翔", "こばやし しょう", "善行", "30代"),
    ("加藤 久美", "かとう くみ", "長後", "60代"),
    ("吉田 誠", "よしだ まこと", "村岡", "50代"),
    ("山口 千代", "やまぐち ちよ", "明治", "90代"),
];

const CSW_STORY: &[(&str, &str, &str, Option<u8>)] = &[
    (
        "visit",
        "not_home",
        "インターホンに応答なし。カーテンは閉まったまま。郵便受けに置き手紙を入れた。",
        Some(0),
    ),
    (
        "visit",
        "letter_left",
        "応答なし。前回の置き手紙は回収されていた。季節の話題と次回の訪問日を書いて残した。",
        Some(0),
    ),
    (
        "via_resident",
        "third_party",
        "民生委員より、夜間に部屋の明かりがついているとの情報。買い物は深夜のコンビニとのこと。",
        Some(1),
    ),
    (
        "visit",
        "through_door",
        "ドア越しに「手紙読みました」と返事があった。長居せず、次回も手紙を置くと伝えた。",
        Some(1),
    ),
    (
        "visit",
        "letter_left",
        "不在。好きだと聞いた釣りの話を少し書いて置き手紙。",
        Some(1),
    ),
    (
        "visit",
        "through_door",
        "ドア越しに5分ほど会話。母親の通院のことを気にしていた。",
        Some(2),
    ),
    (
        "phone",
        "met",
        "本人から初めて電話があった。母親の介護保険のことを聞きたいとのこと。",
        Some(2),
    ),
    (
        "visit",
        "met",
        "玄関先で15分話せた。ごみの片付けを手伝ってほしいと本人から話があった。",
        Some(3),
    ),
    (
        "accompany",
        "met",
        "地域包括支援センターへ同行。母親の要介護認定の申請を一緒に行った。",
        Some(3),
    ),
    (
        "visit",
        "met",
        "部屋の片付けを一緒に始めた。表情が以前より明るい。就労の話題も少し出た。",
        Some(4),
    ),
];

/// The dementia team: referred persons, first visits within days, assessments.
const DEMENTIA: &[(&str, &str, &str, &str, u64)] = &[
    ("中村 トメ", "なかむら とめ", "鵠沼", "80代", 40),
    ("松本 清", "まつもと きよし", "片瀬", "70代", 25),
    ("井上 ハル", "いのうえ はる", "六会", "80代", 12),
    ("木村 正男", "きむら まさお", "遠藤", "70代", 3),
    ("林 幸子", "はやし さちこ", "御所見", "80代", 1),
];

/// Infant home visits: babies of 1 to almost 4 months.
const INFANT: &[(&str, &str, &str, u64)] = &[
    ("清水 陽葵", "しみず ひまり", "湘南大庭", 35),
    ("森 蓮", "もり れん", "辻堂", 60),
    ("池田 結菜", "いけだ ゆいな", "藤沢", 80),
    ("橋本 湊", "はしもと みなと", "善行", 105),
    ("石川 凛", "いしかわ りん", "村岡", 112),
];

fn run(cli: &Cli) -> anyhow::Result<()> {
    let pin = {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the PIN from standard input")?;
        line
    };
    let app = App::new(&cli.data).map_err(api)?;
    app.unlock(&UnlockRequest {
        pin: pin.trim().to_owned(),
    })
    .map_err(api)?;
    let mut d = Demo {
        app,
        today: Local::now().date_naive(),
        rng: Rng(20_261_202),
        contacts: 0,
    };

    // CSW outreach: each person is somewhere along the story, over the last three months.
    let mut csw_ids = Vec::new();
    for (i, (name, kana, district, age)) in CSW.iter().enumerate() {
        let p = d.person(PersonForm {
            name: (*name).into(),
            kana: Some((*kana).into()),
            district: (*district).into(),
            programs: vec!["csw".into()],
            birth: Some((*age).into()),
            status: Some(if i < 6 { "active" } else { "intake" }.into()),
            address: Some(format!(
                "藤沢市{district}{}-{}-{}",
                1 + i % 5,
                2 + i % 7,
                10 + i
            )),
            ..PersonForm::default()
        })?;
        let steps = 3 + (i * 3) % (CSW_STORY.len() - 2);
        let span = 90u64;
        for (k, (channel, outcome, note, stage)) in CSW_STORY.iter().take(steps).enumerate() {
            let days_ago = span - (span * k as u64) / steps as u64;
            let last = k + 1 == steps;
            // The last contact plans the next: some overdue, some today, some ahead.
            let next = last.then(|| ("再訪問（置き手紙の反応を確認）", [-1i64, 0, 3, 7][i % 4]));
            let next = next.map(|(s, offset)| {
                let planned = days_ago as i64 + offset;
                (s, planned.max(0))
            });
            d.contact(&p, days_ago, channel, outcome, note, *stage, next)?;
        }
        csw_ids.push(p);
    }

    // An 8050 household: an elderly mother and her son who has withdrawn for years.
    let mother = d.person(PersonForm {
        name: "佐藤 ミツ".into(),
        kana: Some("さとう みつ".into()),
        district: "辻堂".into(),
        programs: vec!["csw".into()],
        birth: Some("80代".into()),
        status: Some("active".into()),
        ..PersonForm::default()
    })?;
    d.contact(
        &mother,
        20,
        "visit",
        "met",
        "母親と面談。息子が10年以上外出していないことを心配している。",
        Some(3),
        Some(("息子への置き手紙を続ける", 14)),
    )?;
    d.app
        .save_household(&HouseholdForm {
            id: None,
            address: Some("藤沢市辻堂1-2-10".into()),
            members: vec![
                HouseholdMemberForm {
                    person: csw_ids[0].clone(),
                    relation: "principal".into(),
                    note: None,
                },
                HouseholdMemberForm {
                    person: mother.clone(),
                    relation: "parent".into(),
                    note: Some("同居".into()),
                },
            ],
        })
        .map_err(api)?;

    // A plan decided at a 重層的支援会議, and a consent to share with the care centre.
    let plan = d
        .app
        .add_plan(&PlanForm {
            person: csw_ids[0].clone(),
            goals: vec![
                "週1回の訪問で関係を続ける".into(),
                "母親の介護サービス利用につなぐ".into(),
            ],
            roles: vec![
                RoleView {
                    agency: "社会福祉協議会（CSW）".into(),
                    task: "定期訪問と置き手紙".into(),
                },
                RoleView {
                    agency: "地域包括支援センター".into(),
                    task: "母親の要介護認定と介護サービス調整".into(),
                },
            ],
            review_on: Some((d.today + Days::new(5)).to_string()),
        })
        .map_err(api)?
        .id;
    let meeting = d
        .app
        .add_meeting(&MeetingForm {
            kind: "jushoteki".into(),
            date: Some(d.day(10).to_string()),
            agencies: vec!["csw-tsujido".into(), "地域包括支援センター".into()],
            persons: vec![csw_ids[0].clone(), mother.clone()],
            decisions: "支援プランを承認。月1回、状況を共有する。".into(),
        })
        .map_err(api)?
        .id;
    d.app
        .move_plan(&PlanTransitionForm {
            id: plan,
            to: "active".into(),
            on: Some(d.day(10).to_string()),
            meeting: Some(meeting),
        })
        .map_err(api)?;
    d.app
        .add_consent(&ConsentForm {
            person: mother,
            scope: vec!["地域包括支援センター".into()],
            method: "written".into(),
            given_on: Some(d.day(10).to_string()),
            expires_on: Some((d.today + Months::new(12)).to_string()),
        })
        .map_err(api)?;

    // The dementia team: first visit within 4 days of referral; DASC-21 at the first visit.
    for (i, (name, kana, district, age, referred)) in DEMENTIA.iter().enumerate() {
        let p = d.person(PersonForm {
            name: (*name).into(),
            kana: Some((*kana).into()),
            district: (*district).into(),
            programs: vec!["dementia".into()],
            birth: Some((*age).into()),
            status: Some("active".into()),
            referred_on: Some(d.day(*referred).to_string()),
            ..PersonForm::default()
        })?;
        if *referred <= 3 {
            // Referred in the last days, not visited yet: on today's list.
            continue;
        }
        d.contact(
            &p,
            referred - 1,
            "phone",
            "family",
            "長女より相談。物忘れが増え、同じ物を何度も買ってくる。受診は拒否している。",
            Some(1),
            Some(("初回訪問", 2)),
        )?;
        d.contact(
            &p,
            referred - 3,
            "visit",
            "met",
            "初回訪問。看護師と社会福祉士で訪問。本人は穏やかに応対。服薬の管理が難しい様子。",
            Some(2),
            Some(("チーム員会議で方針を検討", 7)),
        )?;
        let answers: Vec<&str> = (0..21).map(|k| ["1", "2", "2", "3"][(k + i) % 4]).collect();
        d.assessment(&p, "dasc21", &answers, referred - 3)?;
        d.assessment(
            &p,
            "dbd13",
            &[
                "1", "0", "2", "1", "0", "1", "0", "2", "1", "0", "1", "0", "1",
            ],
            referred - 3,
        )?;
    }

    // Infant home visits before 4 months: EPDS and the childcare checklist at the visit.
    for (i, (name, kana, district, days_old)) in INFANT.iter().enumerate() {
        let birth = d.day(*days_old);
        let p = d.person(PersonForm {
            name: (*name).into(),
            kana: Some((*kana).into()),
            district: (*district).into(),
            programs: vec!["infant".into()],
            birth: Some(birth.to_string()),
            status: Some("active".into()),
            ..PersonForm::default()
        })?;
        if i == 4 {
            // Nearly 4 months old and not reached yet: the deadline shows on today's list.
            d.contact(
                &p,
                10,
                "visit",
                "not_home",
                "不在。里帰り中の可能性。訪問のお知らせを投函した。",
                Some(0),
                Some(("再訪問", 7)),
            )?;
            continue;
        }
        let visit = days_old - 20;
        d.contact(
            &p,
            visit,
            "visit",
            "met",
            "母子ともに体調良好。授乳は順調。夜間の睡眠不足の訴えあり。",
            Some(2),
            None,
        )?;
        // Keys are option positions; items 3 and 5-10 are reverse scored (key 3 = 0 points).
        // The third mother scores 11 and answers item 10 (self-harm): the alert the app shows.
        let epds: &[&str] = if i == 2 {
            &["1", "1", "2", "1", "2", "1", "2", "2", "2", "2"]
        } else {
            &["0", "0", "3", "0", "3", "2", "3", "3", "3", "3"]
        };
        d.assessment(&p, "epds", epds, visit)?;
        d.assessment(
            &p,
            "ikuji_checklist",
            &["0", "0", "1", "0", "0", "0", "0", "0", "0"],
            visit,
        )?;
    }
    let persons = d
        .app
        .caseload(&CaseloadRequest::default())
        .map_err(api)?
        .len();
    d.app.lock().map_err(api)?;
    println!(
        "demo records: {persons} persons, {} contacts (fictional)",
        d.contacts
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsunagi-demo: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
