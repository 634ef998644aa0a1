//! The front door every front end stands on: the app's session (setup, lock and unlock, PIN),
//! every use case as one method taking a request of `crate::api` and answering a response of
//! it or an [`ApiError`], the access log of opened pages, and the background sync. The Tauri
//! commands and the CLI's `--json` only translate to and from these methods.
//!
//! An `App` is shared between threads: each method takes `&self`, holds the unlocked device
//! only for its own work, and blocks (front ends call it off their async workers). The sync
//! runs on its own thread and its own connection to the store (`worker.rs`).

mod views;
mod worker;

use chrono::Utc;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::PersonId;
use tsunagi_crypto::StoreKey;
#[cfg(not(any(target_os = "android", target_os = "ios")))]
use tsunagi_store::keys::OsKeystore;
use tsunagi_store::keys::{Keystore, Pin, Vault};
use tsunagi_store::{AccessTicket, CaseloadFilter};
use zeroize::Zeroizing;

use crate::api::*;
use crate::settings::Settings;
use crate::{Device, DeviceError, SyncStatusState};
use worker::SyncWorker;

/// Shortest PIN the app sets (the CLI and the vault accept 4 digits for IT's own use).
pub const MIN_APP_PIN: usize = 6;
/// Minutes without a touch after which the app locks itself.
pub const IDLE_LOCK_MINUTES: u32 = 5;
/// Wrong PINs before the device locks for good (kept in the vault).
const MAX_ATTEMPTS: u32 = 5;

/// How an [`App`] runs.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The longest one store transaction of the background sync may hold the write lock
    /// (`None`: a pulled page per transaction, as the CLI does).
    pub write_slice: Option<std::time::Duration>,
}

impl Default for AppOptions {
    fn default() -> AppOptions {
        AppOptions {
            write_slice: Some(worker::WRITE_SLICE),
        }
    }
}

/// The unlocked part of the session.
#[derive(Debug)]
struct Unlocked {
    device: Device,
    /// Person pages open now: their access-log tickets, by page token.
    pages: HashMap<String, AccessTicket>,
}

/// The app's front door over one device directory.
#[derive(Debug)]
pub struct App<K: Keystore + Send + Sync + 'static> {
    dir: PathBuf,
    keystore: Arc<K>,
    session: Mutex<Option<Unlocked>>,
    sync: Mutex<Option<SyncWorker>>,
    /// The recovery code made at setup, kept until enrollment succeeds (then shown once).
    recovery: Mutex<Option<Zeroizing<String>>>,
    /// The store key after a right PIN while the offline key lease has run out: kept (until
    /// locked) only so that [`App::check_in`] can open the store without asking again.
    lease_pending: Mutex<Option<StoreKey>>,
    /// Runs the requests to the server of interactive use cases (enrollment, sharing).
    runtime: tokio::runtime::Runtime,
    options: AppOptions,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn bad_pin(code: &str, message: &str, message_ja: &str) -> ApiError {
    let mut e = ApiError::new(code, message, message_ja, true);
    e.field = Some("pin".into());
    e
}

/// A new PIN as the app requires it: digits only, at least `min` digits (IT's setting, never
/// fewer than [`MIN_APP_PIN`]), typed twice alike.
fn new_pin(pin: &str, repeat: &str, min: usize) -> Result<Pin, ApiError> {
    let min = min.max(MIN_APP_PIN);
    let pin = pin.trim();
    if !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_pin(
            "pin_not_digits",
            "a PIN has digits only",
            "PINは数字だけで入力してください。",
        ));
    }
    if pin.chars().count() < min {
        return Err(bad_pin(
            "pin_too_short",
            &format!("the PIN needs at least {min} digits"),
            &format!("PINは{min}桁以上の数字にしてください。"),
        ));
    }
    if pin != repeat.trim() {
        return Err(bad_pin(
            "pin_mismatch",
            "the two PINs differ",
            "確認のために入力したPINが一致しません。",
        ));
    }
    Ok(Pin::parse(pin).map_err(DeviceError::from)?)
}

/// The shortest PIN the vault asks for (IT's setting once enrolled, never under 6).
fn pin_min(vault: &tsunagi_store::keys::VaultStatus) -> usize {
    vault
        .pin_min_digits
        .map_or(MIN_APP_PIN, |n| n as usize)
        .max(MIN_APP_PIN)
}

fn pin_change_required(min: usize) -> ApiError {
    bad_pin(
        "pin_change_required",
        &format!("IT requires a PIN of at least {min} digits on this device: change the PIN first"),
        &format!(
            "情報システム担当の設定により、この端末のPINは{min}桁以上が必要です。今のPINを入力してPINを変更してください。"
        ),
    )
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn person_id(s: &str) -> Result<PersonId, ApiError> {
    Ok(PersonId::parse(s).map_err(DeviceError::from)?)
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
impl App<OsKeystore> {
    /// The app over `dir` with the desktop's keystore.
    pub fn new(dir: &Path) -> Result<App<OsKeystore>, ApiError> {
        App::with_keystore(dir, OsKeystore::new())
    }
}

impl<K: Keystore + Send + Sync + 'static> App<K> {
    /// The app over `dir` with another keystore (tablets plug their platform's store here).
    pub fn with_keystore(dir: &Path, keystore: K) -> Result<App<K>, ApiError> {
        App::with_options(dir, keystore, AppOptions::default())
    }

    /// The app over `dir` with another keystore and options (tools and benchmarks).
    pub fn with_options(dir: &Path, keystore: K, options: AppOptions) -> Result<App<K>, ApiError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tsunagi-requests")
            .enable_all()
            .build()
            .map_err(|e| {
                ApiError::from(DeviceError::Io {
                    path: dir.to_owned(),
                    source: e,
                })
            })?;
        Ok(App {
            dir: dir.to_owned(),
            keystore: Arc::new(keystore),
            session: Mutex::new(None),
            sync: Mutex::new(None),
            recovery: Mutex::new(None),
            lease_pending: Mutex::new(None),
            runtime,
            options,
        })
    }

    /// The app over a device already opened — with its PIN, or without one, as IT's and
    /// automation's devices may be (which [`App::unlock`] does not allow) — as an unlocked
    /// session. No background sync starts (until [`App::sync_now`]): a tool standing on it,
    /// like the headless CLI, syncs when it means to, with [`Device::sync`].
    pub fn over_device(device: Device, keystore: K) -> Result<App<K>, ApiError> {
        let dir = device.dir().to_owned();
        let app = App::with_options(&dir, keystore, AppOptions { write_slice: None })?;
        *lock(&app.session) = Some(Unlocked {
            device,
            pages: HashMap::new(),
        });
        Ok(app)
    }

    /// The device directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` on the unlocked device.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Device) -> Result<T, DeviceError>,
    ) -> Result<T, ApiError> {
        let mut session = lock(&self.session);
        let unlocked = session.as_mut().ok_or_else(ApiError::locked)?;
        // The worker's command first: the background sync waits between its transactions.
        let _first = unlocked.device.foreground();
        Ok(f(&mut unlocked.device)?)
    }

    /// Runs a write on the unlocked device, then tells the sync something changed.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Device) -> Result<T, DeviceError>,
    ) -> Result<T, ApiError> {
        let out = self.with(f)?;
        if let Some(w) = lock(&self.sync).as_ref() {
            w.saved();
        }
        Ok(out)
    }

    fn initialized(&self) -> bool {
        Settings::path(&self.dir).exists()
    }

    // ---- session ------------------------------------------------------------------------

    /// Where the app stands, also while locked (nothing personal).
    pub fn status(&self) -> Result<AppStatus, ApiError> {
        if !self.initialized() {
            return Ok(AppStatus {
                phase: Phase::Setup,
                device_id: None,
                user_name: None,
                team: None,
                role: None,
                has_pin: false,
                failures: 0,
                attempts_left: MAX_ATTEMPTS,
                approved: false,
                idle_lock_minutes: IDLE_LOCK_MINUTES,
                pin_min_digits: MIN_APP_PIN as u32,
                lease_days: None,
                last_check_in: None,
                lease_until: None,
            });
        }
        let settings = Settings::load(&self.dir).map_err(ApiError::from)?;
        let info = Device::vault_info(&self.dir, &*self.keystore)?;
        let session = lock(&self.session);
        let (enrollment, approved) = match session.as_ref() {
            Some(u) => {
                let e = u.device.enrollment()?;
                let approved = match &e {
                    Some(e) => !u.device.team_key_epochs(&e.team)?.is_empty(),
                    None => false,
                };
                (e, approved)
            }
            None => (None, false),
        };
        let phase = if info.vault.locked {
            Phase::Disabled
        } else if session.is_none() && lock(&self.lease_pending).is_some() {
            Phase::LeaseExpired
        } else if session.is_some() {
            if enrollment.is_some() {
                Phase::Unlocked
            } else {
                // Set up here, but the enrollment with the server has not gone through yet.
                Phase::Setup
            }
        } else {
            Phase::Locked
        };
        Ok(AppStatus {
            phase,
            device_id: Some(settings.device_id.to_string()),
            user_name: Some(settings.actor.clone()),
            team: enrollment.as_ref().map(|e| e.team.clone()),
            role: enrollment.as_ref().map(|e| e.role.key().to_owned()),
            has_pin: info.vault.has_pin,
            failures: info.vault.failures,
            attempts_left: MAX_ATTEMPTS.saturating_sub(info.vault.failures),
            approved,
            idle_lock_minutes: IDLE_LOCK_MINUTES,
            pin_min_digits: pin_min(&info.vault) as u32,
            lease_days: info.vault.lease.map(|l| l.days),
            last_check_in: info.vault.lease.map(|l| rfc3339_ms(l.last_ms)),
            lease_until: info.vault.lease.map(|l| rfc3339_ms(l.until_ms())),
        })
    }

    /// What an enrollment bundle says, before anything is created.
    pub fn inspect_bundle(&self, req: &BundleText) -> Result<BundleInfo, ApiError> {
        Ok(crate::enroll::inspect_bundle(&req.bundle)?)
    }

    /// First-run setup: checks the bundle, sets the PIN (creating the encrypted store and its
    /// key), and enrolls with the server with keys made here. A failed request (no network)
    /// leaves the device set up: the same call again retries the enrollment.
    pub fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResult, ApiError> {
        let info = crate::enroll::inspect_bundle(&req.bundle)?;
        // A new device's PIN is chosen with the bundle in hand: IT's length applies at once.
        // A device set up before (a retried enrollment) keeps its PIN until the next unlock,
        // which asks for a longer one if IT's setting needs it.
        let min = if self.initialized() {
            MIN_APP_PIN
        } else {
            info.pin_min_digits as usize
        };
        let pin = new_pin(&req.pin, &req.pin_repeat, min)?;
        if !self.initialized() {
            let (device, report) =
                Device::init(&self.dir, Some(&pin), &info.user_name, &*self.keystore)?;
            *lock(&self.recovery) = Some(Zeroizing::new(report.recovery_code.clone()));
            *lock(&self.session) = Some(Unlocked {
                device,
                pages: HashMap::new(),
            });
        } else if lock(&self.session).is_none() {
            self.unlock(&UnlockRequest {
                pin: req.pin.clone(),
            })?;
        }
        let report = {
            let mut session = lock(&self.session);
            let unlocked = session.as_mut().ok_or_else(ApiError::locked)?;
            if unlocked.device.enrollment()?.is_some() {
                return Err(DeviceError::AlreadyEnrolled.into());
            }
            self.runtime
                .block_on(unlocked.device.enroll(&req.bundle, &*self.keystore))?
        };
        let approval = self.check_approval().ok();
        let recovery_code = lock(&self.recovery)
            .take()
            .map(|c| c.to_string())
            .unwrap_or_default();
        self.start_sync()?;
        Ok(EnrollResult {
            device_id: report.device.to_string(),
            user_name: report.user_name,
            team: report.team,
            device_code: report.device_code,
            sig_fingerprint: report.sig_fingerprint,
            kem_fingerprint: report.kem_fingerprint,
            server_fingerprint: report.server_fingerprint,
            admin_fingerprint: report.admin_fingerprint,
            recovery_code,
            approved: approval.is_some_and(|a| a.approved),
        })
    }

    /// Asks the server whether IT approved this device, and takes the team key
    /// if so.
    pub fn check_approval(&self) -> Result<ApprovalStatus, ApiError> {
        let report = {
            let mut session = lock(&self.session);
            let unlocked = session.as_mut().ok_or_else(ApiError::locked)?;
            self.runtime
                .block_on(unlocked.device.refresh_keys(&*self.keystore))?
        };
        Ok(ApprovalStatus {
            approved: !report.epochs_held.is_empty(),
            state: report.state.key().to_owned(),
        })
    }

    /// Unlocks with the PIN. A wrong PIN counts; the fifth locks the device until IT
    /// re-enables it with the recovery code (nothing stored is lost).
    pub fn unlock(&self, req: &UnlockRequest) -> Result<(), ApiError> {
        if !self.initialized() {
            return Err(ApiError::not_set_up());
        }
        if lock(&self.session).is_some() {
            return Ok(());
        }
        let pin = Pin::parse(&req.pin).map_err(|e| {
            let mut e = ApiError::from(DeviceError::from(e));
            e.field = Some("pin".into());
            e
        })?;
        // IT's length is public: a PIN shorter than it is refused before it is tried (and not
        // counted); the user changes it with the current one (`change_pin`) first.
        let info = Device::vault_info(&self.dir, &*self.keystore)?;
        if let Some(min) = info.vault.pin_min_digits
            && req.pin.trim().chars().count() < min as usize
            && !info.vault.locked
        {
            return Err(pin_change_required(min as usize));
        }
        let key = Device::unlock_key(&self.dir, Some(&pin), &*self.keystore)?;
        let device = match Device::open_with_key(&self.dir, &key, &*self.keystore) {
            Ok(d) => d,
            Err(e) if crate::lease::is_lease_expired(&e) => {
                *lock(&self.lease_pending) = Some(key);
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        *lock(&self.session) = Some(Unlocked {
            device,
            pages: HashMap::new(),
        });
        self.start_sync()?;
        Ok(())
    }

    /// Checks in with the server after the offline key lease ran out (the PIN was given to
    /// [`App::unlock`]): one signed request; when the server accepts it, the lease runs anew
    /// and the app is unlocked. A revoked device is refused and stays closed, with everything
    /// it holds (unsent records included) left as it is.
    pub fn check_in(&self) -> Result<(), ApiError> {
        if lock(&self.session).is_some() {
            return Ok(());
        }
        let key = lock(&self.lease_pending)
            .clone()
            .ok_or_else(ApiError::locked)?;
        let device = self
            .runtime
            .block_on(Device::check_in(&self.dir, &key, &*self.keystore));
        // Refused (a revoked device too), the app stays on the lease screen with the reason:
        // back on the PIN pad, the PIN would only lead to this screen again. The key stays
        // in memory as it was before the attempt; whoever typed the PIN could derive it.
        let device = device?;
        drop(lock(&self.lease_pending).take());
        *lock(&self.session) = Some(Unlocked {
            device,
            pages: HashMap::new(),
        });
        self.start_sync()?;
        Ok(())
    }

    fn start_sync(&self) -> Result<(), ApiError> {
        let sibling = {
            let session = lock(&self.session);
            let Some(u) = session.as_ref() else {
                return Ok(());
            };
            if u.device.enrollment()?.is_none() {
                return Ok(());
            }
            u.device.sibling()?
        };
        let mut sync = lock(&self.sync);
        if sync.is_none() {
            *sync = Some(SyncWorker::start(
                sibling,
                Arc::clone(&self.keystore),
                self.options.write_slice,
            )?);
        }
        Ok(())
    }

    /// Locks the app: open pages are closed in the access log, the sync stops, and the store
    /// key leaves memory. Unsaved drafts are already in the store.
    pub fn lock(&self) -> Result<(), ApiError> {
        // Stop the sync first: it holds the other connection and a copy of the key.
        drop(lock(&self.sync).take());
        drop(lock(&self.lease_pending).take());
        let mut session = lock(&self.session);
        if let Some(mut u) = session.take() {
            let actor = u.device.settings.actor.clone();
            for (_, ticket) in u.pages.drain() {
                u.device
                    .store
                    .access_close(ticket, &actor, Utc::now().timestamp_millis())
                    .map_err(DeviceError::from)?;
            }
        }
        Ok(())
    }

    /// Changes the PIN: the current one is checked (and counted when wrong) first.
    pub fn change_pin(&self, req: &ChangePinRequest) -> Result<(), ApiError> {
        let info = Device::vault_info(&self.dir, &*self.keystore)?;
        let new = new_pin(&req.new_pin, &req.new_pin_repeat, pin_min(&info.vault))?;
        let current = Pin::parse(&req.current).map_err(|e| {
            let mut e = ApiError::from(DeviceError::from(e));
            e.field = Some("current".into());
            e
        })?;
        let settings = Settings::load(&self.dir).map_err(ApiError::from)?;
        let vault = Vault::new(&*self.keystore, &settings.store_id, &self.dir);
        let key = vault.unlock(Some(&current)).map_err(|e| {
            let mut e = ApiError::from(DeviceError::from(e));
            e.field = Some("current".into());
            e
        })?;
        vault
            .set_pin(&key, Some(&new))
            .map_err(|e| ApiError::from(DeviceError::from(e)))?;
        Ok(())
    }

    // ---- reference ----------------------------------------------------------------------

    /// Lists for forms and filters.
    pub fn reference(&self) -> Result<Reference, ApiError> {
        self.with(|d| Ok(views::reference(d)))
    }

    /// An instrument as a form to fill in.
    pub fn instrument_form(&self, req: &ById) -> Result<InstrumentForm, ApiError> {
        self.with(|d| Ok(views::instrument_form(d.instruments().get(req.id.trim())?)))
    }

    /// Scores answers as they are entered (exact; incomplete while items are unanswered).
    pub fn score(&self, req: &ScoreRequest) -> Result<ScoreView, ApiError> {
        self.with(|d| {
            let instrument = d.instruments().get(req.instrument.trim())?;
            let answers = tsunagi_core::instrument::Answers::new(req.answers.clone());
            let result = instrument.score(&answers)?;
            Ok(views::score_view(&result, instrument))
        })
    }

    // ---- caseload, search, person page -------------------------------------------------

    /// The caseload (担当ケース), filtered.
    pub fn caseload(&self, req: &CaseloadRequest) -> Result<Vec<PersonRow>, ApiError> {
        self.with(|d| {
            let config = d.config().clone();
            let filter = d.caseload_filter(req)?;
            Ok(d.store
                .caseload(&filter)?
                .into_iter()
                .map(|r| views::person_row(r, &config))
                .collect())
        })
    }

    /// Full-text search over names, kana and notes.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchView, ApiError> {
        self.with(|d| {
            let found = d.search(&req.text, req.limit.unwrap_or(50).min(500))?;
            let config = d.config().clone();
            Ok(SearchView {
                persons: found
                    .persons
                    .into_iter()
                    .map(|r| views::person_row(r, &config))
                    .collect(),
                contacts: found
                    .contacts
                    .into_iter()
                    .map(|c| ContactHitView {
                        id: c.id.to_string(),
                        person: c.person.to_string(),
                        person_name: c.person_name,
                        at: c.at,
                        excerpt: c.excerpt,
                    })
                    .collect(),
                contact_total: u32::try_from(found.contact_total).unwrap_or(u32::MAX),
                contact_total_capped: found.contact_total_capped,
            })
        })
    }

    /// Opens a person's page; the opening is recorded in the access log until
    /// [`App::close_person`] (or locking) closes it.
    pub fn open_person(&self, req: &ById) -> Result<PersonPageView, ApiError> {
        let mut session = lock(&self.session);
        let u = session.as_mut().ok_or_else(ApiError::locked)?;
        let id = u.device.parse_person_id(&req.id)?;
        let actor = u.device.settings.actor.clone();
        let ticket = u
            .device
            .store
            .access_open(id, &actor, Utc::now().timestamp_millis())
            .map_err(DeviceError::from)?;
        let token = uuid::Uuid::now_v7().to_string();
        match views::person_page(&u.device, id, token.clone()) {
            Ok(page) => {
                u.pages.insert(token, ticket);
                Ok(page)
            }
            Err(e) => {
                // The page never showed: close the opening at once.
                let _ = u
                    .device
                    .store
                    .access_close(ticket, &actor, Utc::now().timestamp_millis());
                Err(e.into())
            }
        }
    }

    /// Reads an open person's page again (after a save, or when a sync brought changes),
    /// without a new entry in the access log: the visit goes on.
    pub fn refresh_person(&self, req: &PageRef) -> Result<PersonPageView, ApiError> {
        let session = lock(&self.session);
        let u = session.as_ref().ok_or_else(ApiError::locked)?;
        let ticket = u.pages.get(&req.page).ok_or_else(|| {
            ApiError::new(
                "page_closed",
                "that page is not open (closed, or the app was locked)",
                "この画面はすでに閉じられています。対象者をもう一度開いてください。",
                false,
            )
        })?;
        Ok(views::person_page(
            &u.device,
            ticket.person(),
            req.page.clone(),
        )?)
    }

    /// Closes a person's page (recorded with how long it was open). Closing one already
    /// closed does nothing.
    pub fn close_person(&self, req: &PageRef) -> Result<(), ApiError> {
        let mut session = lock(&self.session);
        let u = session.as_mut().ok_or_else(ApiError::locked)?;
        if let Some(ticket) = u.pages.remove(&req.page) {
            let actor = u.device.settings.actor.clone();
            u.device
                .store
                .access_close(ticket, &actor, Utc::now().timestamp_millis())
                .map_err(DeviceError::from)?;
        }
        Ok(())
    }

    /// Who opened which records, newest first.
    pub fn access_log(&self, req: &AccessLogRequest) -> Result<Vec<AccessView>, ApiError> {
        let person = match req.person.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(p) => Some(person_id(p)?),
            None => None,
        };
        self.with(|d| {
            let entries = d
                .store
                .access_log(person, req.limit.unwrap_or(100).min(1000) * 2)?;
            Ok(views::access_views(&entries))
        })
    }

    /// Every record with conflicting values, for review.
    pub fn conflicts(&self) -> Result<Vec<ConflictView>, ApiError> {
        self.with(|d| {
            let mut out = Vec::new();
            for state in d.store.conflicted(None, 500)? {
                let person = match state.kind() {
                    EntityKind::Person => Some(PersonId::from_uuid(*state.id().as_uuid())),
                    _ => state
                        .value("person")
                        .and_then(|v| v.as_str())
                        .and_then(|s| PersonId::parse(s).ok()),
                };
                let person = match person {
                    Some(p) => Some((p.to_string(), d.person_name(p)?)),
                    None => None,
                };
                out.extend(views::conflict_views(&state, person, d.id()));
            }
            Ok(out)
        })
    }

    /// 今日の予定.
    pub fn today(&self, req: &TodayRequest) -> Result<TodayView, ApiError> {
        self.with(|d| d.today(req.date.as_deref()))
    }

    // ---- writes -------------------------------------------------------------------------

    /// Records a new person.
    pub fn add_person(&self, form: &PersonForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.add_person(form)?.to_string(),
            })
        })
    }

    /// Changes a person's record.
    pub fn edit_person(&self, form: &PersonEditForm) -> Result<(), ApiError> {
        self.write(|d| d.edit_person(form))
    }

    /// Records a contact (the quick 不在・置き手紙 included).
    pub fn add_contact(&self, form: &ContactForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.add_contact(form)?.to_string(),
            })
        })
    }

    /// Corrects a contact.
    pub fn edit_contact(&self, form: &ContactEditForm) -> Result<(), ApiError> {
        self.write(|d| d.edit_contact(form))
    }

    /// Records an assessment, scored with the current definition.
    pub fn add_assessment(&self, form: &AssessmentForm) -> Result<AssessmentSaved, ApiError> {
        self.write(|d| {
            let (id, a) = d.add_assessment(form)?;
            let instrument = d.instruments().get(&a.instrument)?;
            Ok(AssessmentSaved {
                id: id.to_string(),
                score: views::score_view(&a.result, instrument),
            })
        })
    }

    /// Starts a plan in draft.
    pub fn add_plan(&self, form: &PlanForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.add_plan(form)?.to_string(),
            })
        })
    }

    /// Changes a plan's goals, roles or review date.
    pub fn edit_plan(&self, form: &PlanEditForm) -> Result<(), ApiError> {
        self.write(|d| d.edit_plan(form))
    }

    /// Moves a plan through its lifecycle.
    pub fn move_plan(&self, form: &PlanTransitionForm) -> Result<(), ApiError> {
        self.write(|d| d.move_plan(form))
    }

    /// Records the meeting a plan's step was waiting for.
    pub fn plan_meeting(&self, form: &PlanMeetingForm) -> Result<(), ApiError> {
        self.write(|d| d.plan_meeting(form))
    }

    /// Records or changes a household.
    pub fn save_household(&self, form: &HouseholdForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.save_household(form)?.to_string(),
            })
        })
    }

    /// Records a meeting.
    pub fn add_meeting(&self, form: &MeetingForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.record_meeting(form)?.to_string(),
            })
        })
    }

    /// Records a consent.
    pub fn add_consent(&self, form: &ConsentForm) -> Result<Created, ApiError> {
        self.write(|d| {
            Ok(Created {
                id: d.record_consent(form)?.to_string(),
            })
        })
    }

    /// Withdraws a consent: sharing that rested on it ends (sent now when the server can be
    /// reached, otherwise with the next sync).
    pub fn withdraw_consent(&self, form: &WithdrawForm) -> Result<WithdrawResult, ApiError> {
        let report = {
            let mut session = lock(&self.session);
            let u = session.as_mut().ok_or_else(ApiError::locked)?;
            self.runtime.block_on(u.device.withdraw_consent(
                &form.id,
                form.on.as_deref(),
                &*self.keystore,
            ))?
        };
        Ok(WithdrawResult {
            ended: report.ended,
            kept: report.kept,
            sent: report.sync.is_some(),
        })
    }

    /// Shares a person's case with another team on a consent or a 支援会議.
    pub fn share_case(&self, form: &ShareForm) -> Result<ShareResult, ApiError> {
        let basis = match (
            form.consent.as_deref().filter(|s| !s.trim().is_empty()),
            form.meeting.as_deref().filter(|s| !s.trim().is_empty()),
        ) {
            (Some(c), None) => crate::ShareBasis::Consent(c),
            (None, Some(m)) => crate::ShareBasis::Meeting(m),
            _ => {
                let mut e = ApiError::new(
                    "share_basis_required",
                    "give exactly one basis: a consent or a 支援会議",
                    "共有の根拠として、同意か支援会議のどちらか一つを選んでください。",
                    true,
                );
                e.field = Some("basis".into());
                return Err(e);
            }
        };
        let report = {
            let mut session = lock(&self.session);
            let u = session.as_mut().ok_or_else(ApiError::locked)?;
            self.runtime.block_on(u.device.share_case(
                &form.person,
                &form.team,
                basis,
                &*self.keystore,
            ))?
        };
        Ok(ShareResult {
            disclosure: report.disclosure.to_string(),
            team: report.team,
            sent: report.sync.is_some(),
        })
    }

    /// Resolves a conflict by keeping one value (a recorded change).
    pub fn resolve_conflict(&self, form: &ResolveConflictForm) -> Result<(), ApiError> {
        self.write(|d| d.resolve_conflict(form))
    }

    // ---- drafts -------------------------------------------------------------------------

    /// Keeps what was typed into a form.
    pub fn save_draft(&self, draft: &DraftSave) -> Result<(), ApiError> {
        self.with(|d| d.save_draft(draft))
    }

    /// The kept draft of a form, if any.
    pub fn draft(&self, req: &DraftKey) -> Result<Option<Draft>, ApiError> {
        self.with(|d| Ok(d.draft(&req.key)?.map(draft_view)))
    }

    /// Every kept draft, newest first.
    pub fn drafts(&self) -> Result<Vec<Draft>, ApiError> {
        self.with(|d| Ok(d.drafts()?.into_iter().map(draft_view).collect()))
    }

    /// Throws a draft away.
    pub fn discard_draft(&self, req: &DraftKey) -> Result<(), ApiError> {
        self.with(|d| d.discard_draft(&req.key))
    }

    // ---- sync ---------------------------------------------------------------------------

    /// The sync indicator: state, pending records, last success, error, progress.
    pub fn sync_status(&self) -> Result<SyncView, ApiError> {
        let status = self.with(|d| d.sync_status())?;
        let (running, progress) = lock(&self.sync)
            .as_ref()
            .map(SyncWorker::state)
            .unwrap_or((false, None));
        let offline = status
            .last_error
            .as_ref()
            .is_some_and(|e| e.code == "unreachable");
        let state = if offline {
            SyncState::Offline
        } else {
            match status.state {
                SyncStatusState::Synced => SyncState::Synced,
                SyncStatusState::Pending => SyncState::Pending,
                SyncStatusState::Error => SyncState::Error,
                SyncStatusState::Never => SyncState::Never,
                SyncStatusState::NotEnrolled => SyncState::NotEnrolled,
            }
        };
        let message_ja = if offline {
            format!(
                "オフラインです。未送信 {} 件は端末に保存されています。電波の届く場所で自動的に送信します。",
                status.pending
            )
        } else {
            status.message_ja.clone()
        };
        Ok(SyncView {
            enrolled: status.enrolled,
            state,
            message_ja,
            pending: u32::try_from(status.pending).unwrap_or(u32::MAX),
            last_success: status.last_success.clone(),
            error_code: status.last_error.as_ref().map(|e| e.code.clone()),
            error_ja: status.last_error.as_ref().map(|e| e.message_ja.clone()),
            refused: u32::try_from(status.refused_outgoing + status.refused_incoming)
                .unwrap_or(u32::MAX),
            refusals: status.refusals.clone(),
            held: u32::try_from(status.held).unwrap_or(u32::MAX),
            missing: status
                .missing_from
                .iter()
                .map(|m| MissingChanges {
                    device: m.device.to_string(),
                    user_name: m.user_name.clone(),
                    count: u32::try_from(m.missing).unwrap_or(u32::MAX),
                    cases: u32::try_from(m.cases.len()).unwrap_or(u32::MAX),
                })
                .collect(),
            warnings: status
                .problems
                .iter()
                .map(|p| IntegrityWarning {
                    kind: p.kind.clone(),
                    user_name: p.user_name.clone(),
                    count: u32::try_from(p.count).unwrap_or(u32::MAX),
                    last_at: p.last_at.clone(),
                })
                .collect(),
            running,
            progress,
        })
    }

    /// Starts a sync round now.
    pub fn sync_now(&self) -> Result<(), ApiError> {
        if lock(&self.session).is_none() {
            return Err(ApiError::locked());
        }
        self.start_sync()?;
        match lock(&self.sync).as_ref() {
            Some(w) => {
                w.sync_now();
                Ok(())
            }
            None => Err(DeviceError::NotEnrolled.into()),
        }
    }

    /// Stops the running sync round (what it committed stays; the next round resumes).
    pub fn cancel_sync(&self) -> Result<(), ApiError> {
        if let Some(w) = lock(&self.sync).as_ref() {
            w.cancel();
        }
        Ok(())
    }
}

impl<K: Keystore + Send + Sync + 'static> Drop for App<K> {
    fn drop(&mut self) {
        let _ = self.lock();
    }
}

fn draft_view(d: tsunagi_store::DraftRow) -> Draft {
    Draft {
        key: d.key,
        label: d.label,
        body: d.body,
        saved_at: d.saved_at,
    }
}

impl Device {
    /// The caseload filter from a request (district names and codes both accepted).
    pub(crate) fn caseload_filter(
        &self,
        req: &CaseloadRequest,
    ) -> Result<CaseloadFilter, DeviceError> {
        let nonempty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(CaseloadFilter {
            program: match nonempty(&req.program) {
                Some(p) => Some(self.config().program(&p)?.code().to_owned()),
                None => None,
            },
            district: match nonempty(&req.district) {
                Some(d) => Some(self.config().district(&d)?.code().to_owned()),
                None => None,
            },
            status: match nonempty(&req.status) {
                Some(s) => Some(
                    tsunagi_core::person::PersonStatus::parse(&s)?
                        .key()
                        .to_owned(),
                ),
                None => None,
            },
            stage: req.stage.map(i64::from),
        })
    }
}
