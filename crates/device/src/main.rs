//! `tsunagi-device`: the headless device — the same use cases as the app, scriptable, with
//! `--json` output, a clear message and a non-zero exit on bad input (2) or failure (1).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use tsunagi_device::api::{
    AssessmentForm, ConsentForm, ContactEditForm, ContactForm, MeetingForm, PersonEditForm,
    PersonForm,
};
use tsunagi_device::{CaseloadFilter, Device, DeviceError, KeyError, OsKeystore, Pin};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(
    name = "tsunagi-device",
    version,
    about = "Tsunagi headless device (つなぎ)"
)]
struct Cli {
    /// The device directory (settings + encrypted store).
    #[arg(long, env = "TSUNAGI_DATA", global = true)]
    data: Option<PathBuf>,
    /// Machine-readable JSON output (errors too).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Initialize a device: key in the OS keystore, encrypted store. Prints the recovery code once.
    Init {
        /// Read a PIN (4–32 digits) from the first line of standard input.
        #[arg(long)]
        pin_stdin: bool,
        /// Who uses this device (for the access log).
        #[arg(long, default_value = "worker")]
        user: String,
    },
    /// Persons (対象者).
    #[command(subcommand)]
    Person(PersonCmd),
    /// Contacts (接触・訪問記録).
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Assessments (評価票).
    #[command(subcommand)]
    Assessment(AssessmentCmd),
    /// The caseload (担当ケース).
    Caseload {
        /// Program key.
        #[arg(long)]
        program: Option<String>,
        /// District code or name.
        #[arg(long)]
        district: Option<String>,
        /// Status key.
        #[arg(long)]
        status: Option<String>,
    },
    /// Full-text search over names, kana and notes (1 character and up).
    Search {
        /// What to look for (space-separated terms must all match).
        text: String,
        /// At most this many contacts.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Device status: PIN, attempts, lock, pending changes.
    Status,
    /// Verify the store (every page) and the access log chain.
    Check,
    /// The access log (who opened which person, when, for how long).
    AccessLog {
        /// Only this person.
        #[arg(long)]
        person: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Redeem an enrollment bundle (file from `tsunagi-admin device provision`): generates this
    /// device's keys, registers them, and shows the fingerprints to compare with IT's screen.
    Enroll {
        /// The bundle file (JSON).
        bundle: PathBuf,
    },
    /// Fetch and verify the team's key directory; keep the team keys sealed to this device.
    Keys,
    /// Show this device's key fingerprints.
    Identity,
    /// Show another device's keys and fingerprints (a lead compares them before approving).
    Peer {
        /// The device id.
        device: String,
    },
    /// Lead: approve a pending worker device of the team (signs its certificate, seals the
    /// team key to it). Compare fingerprints (`peer`) first.
    Approve {
        /// The device id.
        device: String,
    },
    /// IT: re-enable a locked device with its recovery code (first stdin line), setting the PIN
    /// from the second stdin line (or no PIN if empty).
    Recover,
    /// Sync with the server: pull, push, snapshots. `--watch` keeps syncing in the background
    /// (exponential backoff with jitter while the server cannot be reached).
    Sync {
        /// Keep syncing until interrupted (or `--rounds`).
        #[arg(long)]
        watch: bool,
        /// Seconds between rounds after a success (with --watch).
        #[arg(long, default_value_t = 30)]
        interval: u64,
        /// Stop after this many rounds (with --watch).
        #[arg(long)]
        rounds: Option<u64>,
    },
    /// Consents (同意).
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Meetings (会議記録).
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// Share a person's case with another team on the basis of a recorded consent or 支援会議:
    /// writes a 情報提供記録 and sends the case keys to that team.
    #[command(group(clap::ArgGroup::new("basis").required(true).args(["consent", "meeting"])))]
    Share {
        /// The person's id.
        #[arg(long)]
        person: String,
        /// The receiving team's id (in the consent's scope, or among the meeting's agencies).
        #[arg(long)]
        team: String,
        /// The consent's id.
        #[arg(long)]
        consent: Option<String>,
        /// The id of a 支援会議 (art. 106-6) that discussed the person.
        #[arg(long)]
        meeting: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MeetingCmd {
    /// Record a meeting.
    Add {
        /// shien (支援会議), jushoteki (重層的支援会議), team (チーム員会議), case_response
        /// (ケース対応会議) or community_care (地域ケア会議); the Japanese name works too.
        #[arg(long)]
        kind: String,
        /// Day held (YYYY-MM-DD); default today.
        #[arg(long)]
        date: Option<String>,
        /// An attending agency or team id (repeat).
        #[arg(long = "agency", required = true)]
        agencies: Vec<String>,
        /// The id of a person discussed (repeat).
        #[arg(long = "person")]
        persons: Vec<String>,
        /// What was decided.
        #[arg(long)]
        decisions: String,
    },
}

#[derive(Subcommand, Debug)]
enum ConsentCmd {
    /// Record a consent.
    Add {
        /// The person's id.
        #[arg(long)]
        person: String,
        /// A team or agency it covers (repeat).
        #[arg(long = "scope", required = true)]
        scope: Vec<String>,
        /// written or oral (書面 / 口頭).
        #[arg(long)]
        method: String,
        /// Day given (YYYY-MM-DD); default today.
        #[arg(long)]
        given_on: Option<String>,
        /// Last valid day (YYYY-MM-DD).
        #[arg(long)]
        expires_on: Option<String>,
    },
    /// Withdraw a consent: sharing with the teams it covers stops for changes made from now
    /// on, except with a team that has another basis (a 支援会議 disclosure, another consent).
    Withdraw {
        /// The consent's id.
        id: String,
        /// Day withdrawn (YYYY-MM-DD); default today.
        #[arg(long)]
        on: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum PersonCmd {
    /// Register a person.
    Add(Box<PersonAdd>),
    /// Show a person: profile, timeline, assessments.
    Show {
        /// The person's id.
        id: String,
        /// At most this many contacts and assessments.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Change fields of a person's record.
    Edit {
        /// The person's id.
        id: String,
        /// 電話番号 (empty to clear).
        #[arg(long)]
        phone: Option<String>,
        /// 住所 (empty to clear).
        #[arg(long)]
        address: Option<String>,
        /// Status key or label.
        #[arg(long)]
        status: Option<String>,
        /// Memo.
        #[arg(long)]
        memo: Option<String>,
    },
}

#[derive(Args, Debug)]
struct PersonAdd {
    /// 氏名.
    #[arg(long)]
    name: String,
    /// ふりがな.
    #[arg(long)]
    kana: Option<String>,
    /// District code or name (辻堂, tsujido, ...).
    #[arg(long)]
    district: String,
    /// Program key (csw, dementia, infant); repeat for several.
    #[arg(long = "program", required = true)]
    programs: Vec<String>,
    /// Birth date (YYYY-MM-DD) or age band (80代).
    #[arg(long)]
    birth: Option<String>,
    /// Sex (female, male, other, unknown).
    #[arg(long)]
    sex: Option<String>,
    /// Address.
    #[arg(long)]
    address: Option<String>,
    /// Phone.
    #[arg(long)]
    phone: Option<String>,
    /// Status (intake, active, watching, closed, interrupted).
    #[arg(long)]
    status: Option<String>,
    /// Day of referral, 相談受付日 (YYYY-MM-DD): starts program deadlines such as the first visit.
    #[arg(long)]
    referred_on: Option<String>,
    /// Memo.
    #[arg(long)]
    memo: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ContactCmd {
    /// Record a contact.
    Add(ContactAdd),
    /// Correct a contact (a new version; the old one stays in the history).
    Edit {
        /// The contact's id.
        id: String,
        /// New outcome.
        #[arg(long)]
        outcome: Option<String>,
        /// New note.
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Args, Debug)]
struct ContactAdd {
    /// The person's id.
    #[arg(long)]
    person: String,
    /// visit, phone, letter, email, office_visit, accompany, via_agency, via_resident.
    #[arg(long)]
    channel: String,
    /// met, not_home, through_door, refused, family, letter_left, third_party.
    #[arg(long)]
    outcome: String,
    /// Narrative note.
    #[arg(long, default_value = "")]
    note: String,
    /// つながりの段階 after the contact (0–4).
    #[arg(long)]
    stage: Option<u8>,
    /// When (RFC 3339 or YYYY-MM-DDTHH:MM local); default now.
    #[arg(long)]
    at: Option<String>,
    /// What the 置き手紙 said.
    #[arg(long)]
    letter_text: Option<String>,
    /// Next step.
    #[arg(long)]
    next_step: Option<String>,
    /// Due date of the next step (YYYY-MM-DD).
    #[arg(long)]
    next_due: Option<String>,
    /// Staff who went (repeat); default the device's user.
    #[arg(long = "staff")]
    staff: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum AssessmentCmd {
    /// Record and score an assessment.
    Add {
        /// The person's id.
        #[arg(long)]
        person: String,
        /// Instrument key (epds, dasc21, dbd13, jzbi8, mibsj, ikuji_checklist).
        #[arg(long)]
        instrument: String,
        /// Answers, comma-separated, one per item; `-` = not answered.
        #[arg(long)]
        answers: String,
        /// When; default now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    message_ja: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let device_err = err.downcast_ref::<DeviceError>();
            let code = device_err.map_or("error", DeviceError::code);
            if json {
                let out = ErrorOut {
                    error: ErrorBody {
                        code,
                        message: format!("{err:#}"),
                        message_ja: device_err.map(DeviceError::message_ja).unwrap_or_default(),
                    },
                };
                println!("{}", serde_json::to_string(&out).unwrap_or_default());
            } else {
                eprintln!("error: {err:#} [{code}]");
            }
            if device_err.is_some_and(DeviceError::is_bad_input)
                || err.downcast_ref::<UsageError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// Runs one network use case to completion (the CLI does one thing and exits).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start the async runtime: {e}"),
    }
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    cli.data
        .clone()
        .ok_or_else(|| UsageError("--data DIR is required (or TSUNAGI_DATA)".into()).into())
}

/// Reads one line of standard input (without the newline), zeroized on drop.
fn stdin_line(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    match lines.next() {
        None => Ok(None),
        Some(line) => Ok(Some(Zeroizing::new(
            line.context("reading standard input")?,
        ))),
    }
}

fn open(dir: &std::path::Path) -> anyhow::Result<Device> {
    let ks = OsKeystore::new();
    let info = Device::vault_info(dir, &ks)?;
    let pin = if info.vault.has_pin && !info.vault.locked {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("PIN: ");
        }
        let mut lines = stdin.lock().lines();
        let line = stdin_line(&mut lines)?.ok_or(DeviceError::Key(KeyError::PinRequired))?;
        Some(Pin::parse(&line).map_err(DeviceError::Key)?)
    } else {
        None
    };
    Ok(Device::open(dir, pin.as_ref(), &ks)?)
}

fn print<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human(value));
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = data_dir(&cli)?;
    let json = cli.json;
    match cli.command {
        Command::Init { pin_stdin, user } => {
            let pin = if pin_stdin {
                let stdin = std::io::stdin();
                let mut lines = stdin.lock().lines();
                let line =
                    stdin_line(&mut lines)?.ok_or(DeviceError::Key(KeyError::PinRequired))?;
                Some(Pin::parse(&line).map_err(DeviceError::Key)?)
            } else {
                None
            };
            let (_device, report) = Device::init(&dir, pin.as_ref(), &user, &OsKeystore::new())?;
            print(json, &report, |r| {
                format!(
                    "device {} initialized in {} ({})\nrecovery code (IT keeps this; shown only now): {}",
                    r.device_id,
                    dir.display(),
                    if r.has_pin { "PIN set" } else { "no PIN" },
                    r.recovery_code
                )
            })
        }
        Command::Recover => {
            let stdin = std::io::stdin();
            let mut lines = stdin.lock().lines();
            let code = stdin_line(&mut lines)?
                .ok_or_else(|| UsageError("recovery code expected on stdin".into()))?;
            let pin = match stdin_line(&mut lines)? {
                Some(p) if !p.trim().is_empty() => Some(Pin::parse(&p).map_err(DeviceError::Key)?),
                _ => None,
            };
            let device = Device::recover(&dir, &code, pin.as_ref(), &OsKeystore::new())?;
            let out = serde_json::json!({ "device_id": device.id(), "recovered": true, "has_pin": pin.is_some() });
            print(json, &out, |_| {
                "device re-enabled; wrong-PIN counter reset".into()
            })
        }
        Command::Status => {
            let ks = OsKeystore::new();
            let info = Device::vault_info(&dir, &ks)?;
            let sync = if info.vault.locked {
                None
            } else {
                Some(open(&dir)?.sync_status()?)
            };
            let out = serde_json::json!({ "device": info, "sync": sync });
            print(json, &out, |_| {
                let mut s = format!(
                    "device {}\nPIN: {}\nwrong attempts: {}\nlocked: {}",
                    info.device_id,
                    if info.vault.has_pin { "yes" } else { "no" },
                    info.vault.failures,
                    if info.vault.locked {
                        "YES — IT must re-enable it with the recovery code"
                    } else {
                        "no"
                    }
                );
                if let Some(st) = &sync {
                    s.push_str(&format!(
                        "\nsync: {} — {}\npending: {}  held: {}  refused: {} out / {} in\nlast success: {}",
                        st.state,
                        st.message_ja,
                        st.pending,
                        st.held,
                        st.refused_outgoing,
                        st.refused_incoming,
                        st.last_success.as_deref().unwrap_or("never")
                    ));
                }
                s
            })
        }
        Command::Sync {
            watch,
            interval,
            rounds,
        } => {
            let mut device = open(&dir)?;
            let ks = OsKeystore::new();
            if !watch {
                let report = block_on(device.sync(&ks))?;
                return print(json, &report, |r| {
                    let steps: Vec<String> = r
                        .steps
                        .named()
                        .iter()
                        .map(|(k, v)| format!("{k} {v:.0}"))
                        .collect();
                    format!(
                        "synced: pushed {} (duplicates {}, refused {}), pulled {}, applied {}, snapshots {}+{}, held {}, invalid {}, cursor {}; {:.0} ms ({})",
                        r.pushed,
                        r.duplicates,
                        r.refused,
                        r.pulled,
                        r.applied,
                        r.snapshots_applied,
                        r.snapshots_made,
                        r.held,
                        r.invalid,
                        r.cursor,
                        r.steps.total_ms,
                        steps.join(", ")
                    )
                });
            }
            let mut backoff = tsunagi_device::Backoff::new(
                std::time::Duration::from_secs(interval.max(1)),
                std::time::Duration::from_secs(2),
                std::time::Duration::from_secs(300),
            );
            block_on(device.sync_loop(&ks, &mut backoff, rounds, || false, |r, wait| {
                let line = match r {
                    Ok(rep) => serde_json::json!({"ok": true, "report": rep, "next_in_s": wait.as_secs_f64()}),
                    Err(e) => serde_json::json!({"ok": false, "code": e.code(), "message": e.message_ja(), "next_in_s": wait.as_secs_f64()}),
                };
                println!("{line}");
            }));
            Ok(())
        }
        Command::Consent(ConsentCmd::Add {
            person,
            scope,
            method,
            given_on,
            expires_on,
        }) => {
            let mut device = open(&dir)?;
            let id = device.record_consent(&ConsentForm {
                person,
                scope,
                method,
                given_on,
                expires_on,
            })?;
            print(json, &serde_json::json!({ "id": id }), |_| id.to_string())
        }
        Command::Consent(ConsentCmd::Withdraw { id, on }) => {
            let mut device = open(&dir)?;
            let r = block_on(device.withdraw_consent(&id, on.as_deref(), &OsKeystore::new()))?;
            print(
                json,
                &serde_json::json!({
                    "withdrawn": id, "ended": r.ended, "kept": r.kept, "sync": r.sync
                }),
                |_| {
                    let mut out = format!("consent {id} withdrawn");
                    if !r.ended.is_empty() {
                        out.push_str(&format!(
                            "; sharing with {} stops for new records",
                            r.ended.join(", ")
                        ));
                    }
                    if !r.kept.is_empty() {
                        out.push_str(&format!(
                            "; still shared with {} on another basis (a 支援会議, or another consent)",
                            r.kept.join(", ")
                        ));
                    }
                    out
                },
            )
        }
        Command::Meeting(MeetingCmd::Add {
            kind,
            date,
            agencies,
            persons,
            decisions,
        }) => {
            let mut device = open(&dir)?;
            let id = device.record_meeting(&MeetingForm {
                kind,
                date,
                agencies,
                persons,
                decisions,
            })?;
            print(json, &serde_json::json!({ "id": id }), |_| id.to_string())
        }
        Command::Share {
            person,
            team,
            consent,
            meeting,
        } => {
            let mut device = open(&dir)?;
            let basis = match (consent.as_deref(), meeting.as_deref()) {
                (Some(c), None) => tsunagi_device::ShareBasis::Consent(c),
                (None, Some(m)) => tsunagi_device::ShareBasis::Meeting(m),
                _ => {
                    return Err(
                        UsageError("give --consent or --meeting, one of them".into()).into(),
                    );
                }
            };
            let r = block_on(device.share_case(&person, &team, basis, &OsKeystore::new()))?;
            print(json, &r, |r| {
                format!(
                    "shared with {} (情報提供記録 {}){}",
                    r.team,
                    r.disclosure,
                    if r.sync.is_some() {
                        ""
                    } else {
                        "; will be sent at the next sync"
                    }
                )
            })
        }
        Command::Person(PersonCmd::Edit {
            id,
            phone,
            address,
            status,
            memo,
        }) => {
            let mut device = open(&dir)?;
            device.edit_person(&PersonEditForm {
                id: id.clone(),
                phone,
                address,
                status,
                memo,
                ..PersonEditForm::default()
            })?;
            print(json, &serde_json::json!({ "updated": id }), |_| {
                format!("updated {id}")
            })
        }
        Command::Contact(ContactCmd::Edit { id, outcome, note }) => {
            let mut device = open(&dir)?;
            device.edit_contact(&ContactEditForm {
                id: id.clone(),
                outcome,
                note,
                ..ContactEditForm::default()
            })?;
            print(json, &serde_json::json!({ "updated": id }), |_| {
                format!("updated {id}")
            })
        }
        Command::Person(PersonCmd::Add(a)) => {
            let a = *a;
            let mut device = open(&dir)?;
            let id = device.add_person(&PersonForm {
                name: a.name,
                kana: a.kana,
                district: a.district,
                programs: a.programs,
                birth: a.birth,
                sex: a.sex,
                address: a.address,
                phone: a.phone,
                status: a.status,
                referred_on: a.referred_on,
                memo: a.memo,
            })?;
            print(json, &serde_json::json!({ "id": id }), |_| id.to_string())
        }
        Command::Person(PersonCmd::Show { id, limit }) => {
            let mut device = open(&dir)?;
            let page = device.open_person(&id, limit)?;
            let out = print(json, &page, render::person_page);
            device.close_person(page)?;
            out
        }
        Command::Contact(ContactCmd::Add(c)) => {
            let mut device = open(&dir)?;
            let id = device.add_contact(&ContactForm {
                person: c.person,
                at: c.at,
                channel: c.channel,
                outcome: c.outcome,
                note: c.note,
                observations: None,
                stage: c.stage,
                letter_text: c.letter_text,
                next_step: c.next_step,
                next_due: c.next_due,
                staff: c.staff,
            })?;
            print(json, &serde_json::json!({ "id": id }), |_| id.to_string())
        }
        Command::Assessment(AssessmentCmd::Add {
            person,
            instrument,
            answers,
            at,
        }) => {
            let mut device = open(&dir)?;
            let typed = device
                .instruments()
                .get(instrument.trim())
                .map_err(DeviceError::from)?;
            let answers = typed
                .parse_answers(&answers)
                .map_err(DeviceError::from)?
                .as_slice()
                .to_vec();
            let (id, a) = device.add_assessment(&AssessmentForm {
                person,
                instrument,
                answers,
                at,
            })?;
            let out = serde_json::json!({ "id": id, "assessment": a });
            print(json, &out, |_| render::assessment_line(&id.to_string(), &a))
        }
        Command::Caseload {
            program,
            district,
            status,
        } => {
            let device = open(&dir)?;
            let district = match district {
                Some(d) => Some(
                    device
                        .config()
                        .district(&d)
                        .map_err(DeviceError::from)?
                        .code()
                        .to_owned(),
                ),
                None => None,
            };
            let filter = CaseloadFilter {
                program,
                district,
                status,
                stage: None,
            };
            let rows = device.caseload(&filter)?;
            print(json, &rows, |rows| render::caseload(rows))
        }
        Command::Search { text, limit } => {
            let device = open(&dir)?;
            let found = device.search(&text, limit)?;
            print(json, &found, render::search)
        }
        Command::Check => {
            let device = open(&dir)?;
            let report = device.check()?;
            print(json, &report, |r| {
                format!(
                    "store OK; access log OK ({} entries, head {})",
                    r.entries, r.head
                )
            })
        }
        Command::Enroll { bundle } => {
            let text = std::fs::read_to_string(&bundle).map_err(|e| {
                UsageError(format!("cannot read the bundle {}: {e}", bundle.display()))
            })?;
            let mut device = open(&dir)?;
            let report = block_on(device.enroll(&text, &OsKeystore::new()))?;
            print(json, &report, |r| {
                format!(
                    "enrolled as device {} for {} (team {}, {})\npending until IT or a lead approves it; compare these fingerprints with their screen:\n  signing key: {}\n  key exchange: {}\n  server:      {}\n  admin:       {}\n  org recovery: {}",
                    r.device,
                    r.user_name,
                    r.team,
                    r.role.key(),
                    r.sig_fingerprint,
                    r.kem_fingerprint,
                    r.server_fingerprint,
                    r.admin_fingerprint,
                    r.org_recovery_fingerprint
                )
            })
        }
        Command::Keys => {
            let mut device = open(&dir)?;
            let report = block_on(device.refresh_keys(&OsKeystore::new()))?;
            print(json, &report, |r| {
                let mut s = format!(
                    "state {} · team {} · current epoch {} · held {:?} · verified members {}",
                    r.state.key(),
                    r.team,
                    r.current_epoch.map_or("none".into(), |e| e.to_string()),
                    r.epochs_held,
                    r.verified_members
                );
                for why in &r.refused {
                    s.push_str(&format!("\nrefused: {why}"));
                }
                s
            })
        }
        Command::Identity => {
            let device = open(&dir)?;
            let fp = device
                .identity_fingerprints(&OsKeystore::new())?
                .ok_or(DeviceError::NotEnrolled)?;
            let out = serde_json::json!({ "sig_fingerprint": fp.0, "kem_fingerprint": fp.1, "enrollment": device.enrollment()? });
            print(json, &out, |_| {
                format!("signing key:  {}\nkey exchange: {}", fp.0, fp.1)
            })
        }
        Command::Peer { device: peer } => {
            let device = open(&dir)?;
            let report = block_on(device.peer(&peer, &OsKeystore::new()))?;
            print(json, &report, |r| {
                format!(
                    "device {} of {} (team {}, {}, {})\n  signing key:  {}\n  key exchange: {}",
                    r.info.id,
                    r.info.user_name,
                    r.info.team,
                    r.info.role.key(),
                    r.info.state.key(),
                    r.sig_fingerprint,
                    r.kem_fingerprint
                )
            })
        }
        Command::Approve { device: peer } => {
            let mut device = open(&dir)?;
            let report = block_on(device.approve(&peer, &OsKeystore::new()))?;
            print(json, &report, |r| {
                format!(
                    "approved device {} of {}; team key epoch {} sealed to it",
                    r.device, r.user_name, r.epoch
                )
            })
        }
        Command::AccessLog { person, limit } => {
            let device = open(&dir)?;
            let person = person
                .map(|p| tsunagi_core::ids::PersonId::parse(&p).map_err(DeviceError::from))
                .transpose()?;
            let rows = device
                .store()
                .access_log(person, limit)
                .map_err(DeviceError::from)?;
            print(json, &rows, |rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{} {:?} {} {} {}",
                            r.at,
                            r.event,
                            r.person,
                            r.actor,
                            r.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

mod render {
    //! Human-readable output of the CLI (Japanese labels, as on the app's screens).

    use tsunagi_core::assessment::Assessment;
    use tsunagi_device::{CaseloadView, PersonPage, SearchResults};

    pub fn assessment_line(id: &str, a: &Assessment) -> String {
        let r = &a.result;
        let total = match r.total {
            Some(t) => t.to_string(),
            None if r.complete => "-".into(),
            None => format!("未完了（未回答: {:?}）", r.missing_items),
        };
        let mut s = format!("{id} {} v{} 合計 {total}", a.instrument, a.version);
        for b in &r.bands {
            s.push_str(&format!(" [{}]", b.label_ja));
        }
        for al in &r.alerts {
            s.push_str(&format!(" ⚠ {}", al.label_ja));
        }
        s
    }

    pub fn person_page(p: &PersonPage) -> String {
        let f = p.person.fields();
        let mut out = f.name.as_str().to_owned();
        if let Some(k) = &f.kana {
            out.push_str(&format!("（{}）", k.as_str()));
        }
        out.push_str(&format!("  id {}\n", p.id));
        if let Some(s) = &p.summary {
            out.push_str(&format!(
                "地区: {}  事業: {}  状態: {}  つながりの段階: {}\n",
                s.district_name,
                s.program_labels.join("・"),
                f.status.label_ja(),
                s.stage_label.as_deref().unwrap_or("未記録"),
            ));
        }
        if !p.conflicts.is_empty() {
            out.push_str(&format!("⚠ 同時編集の競合: {} 項目\n", p.conflicts.len()));
        }
        out.push_str(&format!("\n接触記録 ({}件):\n", p.timeline.len()));
        for c in &p.timeline {
            let f = c.contact.fields();
            out.push_str(&format!(
                "  {} {} / {}{}\n",
                f.at.format("%Y-%m-%d %H:%M"),
                c.channel_label,
                c.outcome_label,
                c.stage_label
                    .as_ref()
                    .map(|s| format!(" / 段階: {s}"))
                    .unwrap_or_default()
            ));
            if !f.note.as_str().is_empty() {
                out.push_str(&format!("    {}\n", f.note.as_str()));
            }
        }
        out.push_str(&format!("\n評価票 ({}件):\n", p.assessments.len()));
        for a in &p.assessments {
            out.push_str(&format!(
                "  {} {}\n",
                a.instrument_name,
                assessment_line(&a.id.to_string(), &a.assessment)
            ));
        }
        out
    }

    pub fn caseload(rows: &[CaseloadView]) -> String {
        if rows.is_empty() {
            return "（担当ケースはありません）".into();
        }
        rows.iter()
            .map(|r| {
                format!(
                    "{}  {}（{}）  {}  {}  最終接触: {}",
                    r.row.id,
                    r.row.name,
                    r.row.kana,
                    r.district_name,
                    r.stage_label.as_deref().unwrap_or("段階未記録"),
                    r.row.last_contact_at.as_deref().unwrap_or("なし"),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn search(s: &SearchResults) -> String {
        let mut out = format!("対象者 {}件\n", s.persons.len());
        for p in &s.persons {
            out.push_str(&format!("  {} {}（{}）\n", p.id, p.name, p.kana));
        }
        out.push_str(&format!(
            "接触記録 {}件（表示 {}件）\n",
            s.contact_total,
            s.contacts.len()
        ));
        for c in &s.contacts {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                c.at, c.person_name, c.id, c.excerpt
            ));
        }
        out
    }
}
