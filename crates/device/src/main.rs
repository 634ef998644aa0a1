//! `tsunagi-device`: the headless device — the same use cases as the app, through the same
//! front door (`App`), scriptable, with `--json` output (the front door's own response types),
//! a clear message and a non-zero exit on bad input (2) or failure (1).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tsunagi_device::api::{
    AccessLogRequest, ApiError, AssessmentForm, ById, CaseloadRequest, ConsentForm,
    ContactEditForm, ContactForm, DeviceStatus, MeetingForm, PageRef, PersonEditForm, PersonForm,
    SearchRequest, ShareForm, WithdrawForm,
};
use tsunagi_device::{App, Device, DeviceError, KeyError, OsKeystore, Pin, SyncRound};
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
        /// Current trust stage (0–4).
        #[arg(long)]
        stage: Option<u8>,
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
    /// Check in with the server after the offline key lease ran out (PIN on standard input):
    /// one signed request; on success the lease runs anew.
    CheckIn,
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
    /// Show another device's keys and fingerprints as the server lists them.
    Peer {
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
    /// Show a person's page: profile, timeline, assessments, plans, consents (the opening is
    /// recorded in the access log).
    Show {
        /// The person's id.
        id: String,
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

/// The error line of `--json`: `{"error": {code, message, message_ja, field, bad_input}}`.
#[derive(Serialize)]
struct ErrorOut<'a> {
    error: &'a ApiError,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let e = error_view(&err);
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&ErrorOut { error: &e }).unwrap_or_default()
                );
            } else {
                eprintln!("error: {} [{}]", e.message, e.code);
            }
            ExitCode::from(if e.bad_input { 2 } else { 1 })
        }
    }
}

/// Any failure in the front door's error shape; the message is the whole chain.
fn error_view(err: &anyhow::Error) -> ApiError {
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return e.clone();
    }
    let mut e = match err.downcast_ref::<DeviceError>() {
        Some(d) => ApiError::from_ref(d),
        None => ApiError {
            code: "error".into(),
            message: String::new(),
            message_ja: String::new(),
            field: None,
            bad_input: err.downcast_ref::<UsageError>().is_some(),
        },
    };
    e.message = format!("{err:#}");
    e
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

/// Opens the device, reading the PIN from the first line of standard input when it has one.
/// The offline key lease holds here as in the app (`check-in` when it ran out).
fn open(dir: &Path) -> anyhow::Result<Device> {
    let ks = OsKeystore::new();
    let pin = read_pin(dir, &ks)?;
    Ok(Device::open(dir, pin.as_ref(), &ks)?)
}

/// The PIN from the first line of standard input, when the device has one and is not locked.
fn read_pin(dir: &Path, ks: &OsKeystore) -> anyhow::Result<Option<Pin>> {
    let info = Device::vault_info(dir, ks)?;
    Ok(if info.vault.has_pin && !info.vault.locked {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("PIN: ");
        }
        let mut lines = stdin.lock().lines();
        let line = stdin_line(&mut lines)?.ok_or(DeviceError::Key(KeyError::PinRequired))?;
        Some(Pin::parse(&line).map_err(DeviceError::Key)?)
    } else {
        None
    })
}

/// The front door over the opened device, unlocked, without the background sync (`sync`
/// syncs when asked).
fn app(dir: &Path) -> anyhow::Result<App<OsKeystore>> {
    Ok(App::over_device(open(dir)?, OsKeystore::new())?)
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
            let ks = OsKeystore::new();
            drop(Device::recover(&dir, &code, pin.as_ref(), &ks)?);
            let info = Device::vault_info(&dir, &ks)?;
            print(json, &info, |i| {
                format!(
                    "device {} re-enabled; wrong-PIN counter reset ({})",
                    i.device_id,
                    if i.vault.has_pin { "PIN set" } else { "no PIN" }
                )
            })
        }
        Command::CheckIn => {
            let ks = OsKeystore::new();
            let pin = read_pin(&dir, &ks)?;
            let key = Device::unlock_key(&dir, pin.as_ref(), &ks)?;
            drop(block_on(Device::check_in(&dir, &key, &ks))?);
            let info = Device::vault_info(&dir, &ks)?;
            print(json, &info, |i| {
                format!(
                    "device {} checked in; the store opens until {}",
                    i.device_id,
                    i.vault
                        .lease
                        .and_then(|l| chrono::DateTime::from_timestamp_millis(l.until_ms()))
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )
            })
        }
        Command::Status => {
            let ks = OsKeystore::new();
            let info = Device::vault_info(&dir, &ks)?;
            let status = if info.vault.locked {
                // Disabled: nothing is opened, the status says so.
                DeviceStatus {
                    device: App::with_keystore(&dir, ks)?.status()?,
                    sync: None,
                }
            } else {
                let app = App::over_device(open(&dir)?, ks)?;
                DeviceStatus {
                    device: app.status()?,
                    sync: Some(app.sync_status()?),
                }
            };
            print(json, &status, render::status)
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
                return print(json, &report, render::sync_report);
            }
            let mut backoff = tsunagi_device::Backoff::new(
                std::time::Duration::from_secs(interval.max(1)),
                std::time::Duration::from_secs(2),
                std::time::Duration::from_secs(300),
            );
            block_on(device.sync_loop(
                &ks,
                &mut backoff,
                rounds,
                || false,
                |r, wait| {
                    let round = SyncRound::new(r, wait);
                    if json {
                        println!("{}", serde_json::to_string(&round).unwrap_or_default());
                    } else {
                        println!("{}", render::sync_round(&round));
                    }
                },
            ));
            Ok(())
        }
        Command::Consent(ConsentCmd::Add {
            person,
            scope,
            method,
            given_on,
            expires_on,
        }) => {
            let created = app(&dir)?.add_consent(&ConsentForm {
                person,
                scope,
                method,
                given_on,
                expires_on,
            })?;
            print(json, &created, |c| c.id.clone())
        }
        Command::Consent(ConsentCmd::Withdraw { id, on }) => {
            let r = app(&dir)?.withdraw_consent(&WithdrawForm { id: id.clone(), on })?;
            print(json, &r, |r| render::withdrawn(&id, r))
        }
        Command::Meeting(MeetingCmd::Add {
            kind,
            date,
            agencies,
            persons,
            decisions,
        }) => {
            let created = app(&dir)?.add_meeting(&MeetingForm {
                kind,
                date,
                agencies,
                persons,
                decisions,
            })?;
            print(json, &created, |c| c.id.clone())
        }
        Command::Share {
            person,
            team,
            consent,
            meeting,
        } => {
            let r = app(&dir)?.share_case(&ShareForm {
                person,
                team,
                consent,
                meeting,
            })?;
            print(json, &r, |r| {
                format!(
                    "shared with {} (情報提供記録 {}){}",
                    r.team,
                    r.disclosure,
                    if r.sent {
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
            app(&dir)?.edit_person(&PersonEditForm {
                id: id.clone(),
                phone,
                address,
                status,
                memo,
                ..PersonEditForm::default()
            })?;
            print(json, &ById { id }, |r| format!("updated {}", r.id))
        }
        Command::Contact(ContactCmd::Edit { id, outcome, note }) => {
            app(&dir)?.edit_contact(&ContactEditForm {
                id: id.clone(),
                outcome,
                note,
                ..ContactEditForm::default()
            })?;
            print(json, &ById { id }, |r| format!("updated {}", r.id))
        }
        Command::Person(PersonCmd::Add(a)) => {
            let a = *a;
            let created = app(&dir)?.add_person(&PersonForm {
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
            print(json, &created, |c| c.id.clone())
        }
        Command::Person(PersonCmd::Show { id }) => {
            let app = app(&dir)?;
            // Recorded in the access log as opened, then closed once shown.
            let page = app.open_person(&ById { id })?;
            let shown = print(json, &page, render::person_page);
            app.close_person(&PageRef { page: page.page })?;
            shown
        }
        Command::Contact(ContactCmd::Add(c)) => {
            let created = app(&dir)?.add_contact(&ContactForm {
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
            print(json, &created, |c| c.id.clone())
        }
        Command::Assessment(AssessmentCmd::Add {
            person,
            instrument,
            answers,
            at,
        }) => {
            let device = open(&dir)?;
            // The answers as typed (`0,1,-,2`) into the instrument's answer keys.
            let answers = device
                .instruments()
                .get(instrument.trim())
                .map_err(DeviceError::from)?
                .parse_answers(&answers)
                .map_err(DeviceError::from)?
                .as_slice()
                .to_vec();
            let saved =
                App::over_device(device, OsKeystore::new())?.add_assessment(&AssessmentForm {
                    person,
                    instrument,
                    answers,
                    at,
                })?;
            print(json, &saved, render::assessment_saved)
        }
        Command::Caseload {
            program,
            district,
            status,
            stage,
        } => {
            let rows = app(&dir)?.caseload(&CaseloadRequest {
                program,
                district,
                status,
                stage,
            })?;
            print(json, &rows, |rows| render::caseload(rows))
        }
        Command::Search { text, limit } => {
            let found = app(&dir)?.search(&SearchRequest {
                text,
                limit: Some(limit),
            })?;
            print(json, &found, render::search)
        }
        Command::AccessLog { person, limit } => {
            let rows = app(&dir)?.access_log(&AccessLogRequest {
                person,
                limit: Some(limit),
            })?;
            print(json, &rows, |rows| render::access_log(rows))
        }
        Command::Check => {
            let report = open(&dir)?.check()?;
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
                    "enrolled as device {} for {} (team {}, {})\npending until IT approves it; IT types this device code:\n  device code:  {}\nand compares these fingerprints with their screen:\n  signing key: {}\n  key exchange: {}\n  server:      {}\n  admin:       {}\n  org recovery: {}",
                    r.device,
                    r.user_name,
                    r.team,
                    r.role.key(),
                    r.device_code,
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
                    "state {} · team {} · statement {} · current epoch {} · held {:?} · verified members {}{}",
                    r.state.key(),
                    r.team,
                    r.statement_version.map_or("none".into(), |v| v.to_string()),
                    r.current_epoch.map_or("none".into(), |e| e.to_string()),
                    r.epochs_held,
                    r.verified_members,
                    if r.unchanged { " · unchanged" } else { "" }
                );
                for why in &r.refused {
                    s.push_str(&format!("\nrefused: {why}"));
                }
                s
            })
        }
        Command::Identity => {
            let report = open(&dir)?.identity(&OsKeystore::new())?;
            print(json, &report, |r| {
                format!(
                    "device code:  {}\nsigning key:  {}\nkey exchange: {}",
                    r.device_code, r.sig_fingerprint, r.kem_fingerprint
                )
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
    }
}

mod render {
    //! Human-readable output of the CLI over the front door's response types (Japanese
    //! labels, as on the app's screens).

    use serde::Serialize;
    use tsunagi_device::api::{
        AccessView, AlertView, AssessmentSaved, BandView, DeviceStatus, PersonPageView, PersonRow,
        Phase, SearchView, WithdrawResult,
    };
    use tsunagi_device::{SyncReport, SyncRound};

    /// An enum's wire name (`not_enrolled`).
    fn key<T: Serialize>(value: &T) -> String {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// A time as `YYYY-MM-DD HH:MM` (as recorded), or as given when it is not RFC 3339.
    fn when(at: &str) -> String {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|_| at.to_owned())
    }

    /// A score: the total only when every item is answered, bands and alerts.
    fn score(
        total: Option<u32>,
        complete: bool,
        missing: &[u16],
        bands: &[BandView],
        alerts: &[AlertView],
    ) -> String {
        let mut s = match total {
            Some(t) => format!("合計 {t}"),
            None if complete => "合計 -".into(),
            None => format!("未完了（未回答: {missing:?}）"),
        };
        for b in bands {
            s.push_str(&format!(" [{}]", b.label_ja));
        }
        for a in alerts {
            s.push_str(&format!(" ⚠ {}", a.label_ja));
        }
        s
    }

    pub fn assessment_saved(a: &AssessmentSaved) -> String {
        let r = &a.score;
        let mut s = format!(
            "{} {} v{} {}",
            a.id,
            r.instrument,
            r.version,
            score(r.total, r.complete, &r.missing_items, &r.bands, &r.alerts)
        );
        if !r.flagged_items.is_empty() {
            s.push_str(&format!(" 該当項目: {:?}", r.flagged_items));
        }
        s
    }

    pub fn person_page(p: &PersonPageView) -> String {
        let f = &p.person;
        let mut out = f.name.clone();
        if let Some(k) = &f.kana {
            out.push_str(&format!("（{k}）"));
        }
        out.push_str(&format!("  id {}\n", f.id));
        let s = &p.summary;
        out.push_str(&format!(
            "地区: {}  事業: {}  状態: {}  つながりの段階: {}\n",
            s.district_name,
            s.program_labels.join("・"),
            s.status_label,
            s.stage_label.as_deref().unwrap_or("未記録"),
        ));
        if let Some(due) = &s.next_due {
            out.push_str(&format!(
                "次回予定: {due}{}\n",
                if s.overdue { "（期限超過）" } else { "" }
            ));
        }
        if p.read_only {
            out.push_str("他のチームのケース（閲覧のみ）\n");
        }
        if !p.conflicts.is_empty() {
            out.push_str(&format!("⚠ 同時編集の競合: {} 項目\n", p.conflicts.len()));
        }
        let shown = p.timeline.len();
        let total = usize::try_from(p.contact_count).unwrap_or(usize::MAX);
        if shown < total {
            out.push_str(&format!("\n接触記録 ({total}件、新しい{shown}件を表示):\n"));
        } else {
            out.push_str(&format!("\n接触記録 ({total}件):\n"));
        }
        for c in &p.timeline {
            out.push_str(&format!(
                "  {} {} / {}{}\n",
                when(&c.at),
                c.channel_label,
                c.outcome_label,
                c.stage_label
                    .as_ref()
                    .map(|s| format!(" / 段階: {s}"))
                    .unwrap_or_default()
            ));
            if !c.note.is_empty() {
                out.push_str(&format!("    {}\n", c.note));
            }
        }
        out.push_str(&format!("\n評価票 ({}件):\n", p.assessments.len()));
        for a in &p.assessments {
            out.push_str(&format!(
                "  {} {} {} {} v{} {}\n",
                when(&a.at),
                a.instrument_name,
                a.id,
                a.instrument,
                a.version,
                score(a.total, a.complete, &a.missing_items, &a.bands, &a.alerts)
            ));
        }
        out
    }

    pub fn caseload(rows: &[PersonRow]) -> String {
        if rows.is_empty() {
            return "（担当ケースはありません）".into();
        }
        rows.iter()
            .map(|r| {
                let mut line = format!(
                    "{}  {}（{}）  {}  {}  最終接触: {}",
                    r.id,
                    r.name,
                    r.kana,
                    r.district_name,
                    r.stage_label.as_deref().unwrap_or("段階未記録"),
                    r.last_contact_at.as_deref().map_or("なし".into(), when),
                );
                if let Some(due) = &r.next_due {
                    line.push_str(&format!(
                        "  次回予定: {due}{}",
                        if r.overdue { "（期限超過）" } else { "" }
                    ));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn search(s: &SearchView) -> String {
        let mut out = format!("対象者 {}件\n", s.persons.len());
        for p in &s.persons {
            out.push_str(&format!("  {} {}（{}）\n", p.id, p.name, p.kana));
        }
        out.push_str(&format!(
            "接触記録 {}件{}（表示 {}件）\n",
            s.contact_total,
            if s.contact_total_capped { "以上" } else { "" },
            s.contacts.len()
        ));
        for c in &s.contacts {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                when(&c.at),
                c.person_name,
                c.id,
                c.excerpt
            ));
        }
        out
    }

    pub fn access_log(rows: &[AccessView]) -> String {
        if rows.is_empty() {
            return "（閲覧の記録はありません）".into();
        }
        rows.iter()
            .map(|r| {
                format!(
                    "{}  {}  {}  {}",
                    when(&r.at),
                    r.actor,
                    r.person,
                    r.seconds
                        .map_or("（閉じた記録なし）".into(), |s| format!("{s}秒"))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn status(st: &DeviceStatus) -> String {
        let d = &st.device;
        let mut s = format!(
            "device {}\nPIN: {}\nwrong attempts: {} ({} left)\nlocked: {}",
            d.device_id.as_deref().unwrap_or("-"),
            if d.has_pin { "yes" } else { "no" },
            d.failures,
            d.attempts_left,
            if d.phase == Phase::Disabled {
                "YES — IT must re-enable it with the recovery code"
            } else {
                "no"
            }
        );
        if let Some(team) = &d.team {
            s.push_str(&format!(
                "\nuser: {} · team {} · {}",
                d.user_name.as_deref().unwrap_or("-"),
                team,
                if d.approved {
                    "approved"
                } else {
                    "waiting for approval"
                }
            ));
        }
        if let Some(y) = &st.sync {
            s.push_str(&format!(
                "\nsync: {} — {}\npending: {}  held: {}  refused: {}\nlast success: {}",
                key(&y.state),
                y.message_ja,
                y.pending,
                y.held,
                y.refused,
                y.last_success.as_deref().unwrap_or("never")
            ));
            for r in &y.refusals {
                s.push_str(&format!("\n  {r}"));
            }
        }
        s
    }

    pub fn sync_report(r: &SyncReport) -> String {
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
    }

    pub fn sync_round(round: &SyncRound) -> String {
        let what = match (&round.report, &round.error) {
            (Some(r), _) => sync_report(r),
            (None, Some(e)) => format!("sync failed: {} [{}]", e.message_ja, e.code),
            (None, None) => "sync failed".into(),
        };
        format!("{what}; next in {:.0} s", round.next_in_s)
    }

    pub fn withdrawn(id: &str, r: &WithdrawResult) -> String {
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
        if !r.ended.is_empty() && !r.sent {
            out.push_str("; will be sent at the next sync");
        }
        out
    }
}
