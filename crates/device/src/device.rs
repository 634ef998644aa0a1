//! The device: its directory (settings + encrypted store), its clock, and the use cases.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tsunagi_core::DomainError;
use tsunagi_core::assessment::Assessment;
use tsunagi_core::change::{ChangeBody, ChangeSet, EntityKind};
use tsunagi_core::config::Config;
use tsunagi_core::contact::{Contact, ContactChannel, ContactFields, ContactOutcome};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::{AssessmentId, ContactId, DeviceId, EntityId, OpId, PersonId};
use tsunagi_core::instrument::InstrumentCatalog;
use tsunagi_core::merge::EntityState;
use tsunagi_core::person::{
    BirthInfo, Kana, Person, PersonFields, PersonName, PersonStatus, Phone, Sex,
};
use tsunagi_core::text::{Note, ShortText};
use tsunagi_crypto::StoreKey;
use tsunagi_store::keys::{Keystore, Pin, Vault, VaultStatus};
use tsunagi_store::{CaseloadFilter, Encryption, Origin, SearchResults, Store, StoreError};
use uuid::Uuid;

use crate::DeviceError;
use crate::api::{AssessmentForm, ContactForm, PersonForm};
use crate::settings::{SETTINGS_FORMAT, Settings, hex, read_file_salt};
use crate::view::{CaseloadView, PersonPage};

/// An unlocked device.
#[derive(Debug)]
pub struct Device {
    dir: PathBuf,
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    config: Config,
    catalog: InstrumentCatalog,
    /// The device clock, shared with the device's other connections ([`Device::sibling`]), so
    /// a save made while a sync merges received changes still comes after them.
    pub(crate) clock: std::sync::Arc<std::sync::Mutex<Hlc>>,
    /// The unlocked store key: derives the key that seals this device's identity keys.
    pub(crate) key: StoreKey,
    /// HTTP connections to the server, made on first use (see `signed_client`).
    pub(crate) http: std::sync::OnceLock<tsunagi_protocol::client::Pool>,
    /// The team this device is enrolled in, once read (a device never changes team).
    team: std::sync::OnceLock<String>,
    /// Where a sync on this connection reports its progress (the app's background sync).
    pub(crate) progress: Option<std::sync::Arc<crate::sync::ProgressBoard>>,
    /// The longest a sync's store transaction may hold the write lock (the app's background
    /// sync: the worker's saves on the other connection wait no longer); `None`: a page each.
    pub(crate) write_slice: Option<std::time::Duration>,
}

/// What `init` produced: the device id and the recovery code IT must keep (shown once).
#[derive(Debug, Serialize)]
pub struct InitReport {
    /// The new device's id.
    pub device_id: DeviceId,
    /// The store's id (its key's name in the OS keystore).
    pub store_id: String,
    /// Whether a PIN protects the store key.
    pub has_pin: bool,
    /// The one-time recovery code that re-enables a locked store. Shown once, never stored.
    pub recovery_code: String,
}

/// What the vault says about a device without unlocking it.
#[derive(Debug, Serialize)]
pub struct VaultInfo {
    /// The device's id.
    pub device_id: DeviceId,
    /// PIN, attempts, lock.
    #[serde(flatten)]
    pub vault: VaultStatus,
}

pub(crate) fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

fn local_now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// Parses a time as typed: RFC 3339, or `YYYY-MM-DD[T ]HH:MM[:SS]` in the device's local time.
fn parse_time(field: &'static str, s: &str) -> Result<DateTime<FixedOffset>, DomainError> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.fixed_offset())
                .ok_or_else(|| DomainError::LocalTimeMissing {
                    field,
                    value: s.to_owned(),
                });
        }
    }
    Err(DomainError::DateTimeMalformed {
        field,
        value: s.to_owned(),
    })
}

fn opt<T>(
    v: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, DomainError>,
) -> Result<Option<T>, DomainError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse(s).map(Some),
    }
}

/// A new id for a record whose id is its case id (a person, a household, a meeting): random
/// (UUIDv4). The server sees case ids; a time-ordered UUIDv7 would tell it when the case was
/// opened. Other records keep UUIDv7 ids: they never leave the device unsealed.
pub(crate) fn new_case_uuid() -> Result<Uuid, DeviceError> {
    Ok(uuid::Builder::from_random_bytes(tsunagi_crypto::random_array::<16>()?).into_uuid())
}

pub(crate) fn to_fields<T: Serialize>(value: &T) -> BTreeMap<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        // Domain records are structs: they always serialize to an object.
        _ => BTreeMap::new(),
    }
}

impl Device {
    /// Initializes a device in `dir` (created if missing, must not hold a device): generates
    /// the store key in the OS keystore (wrapped under `pin` if given) and creates the
    /// encrypted store.
    pub fn init<K: Keystore>(
        dir: &Path,
        pin: Option<&Pin>,
        actor: &str,
        keystore: &K,
    ) -> Result<(Device, InitReport), DeviceError> {
        if Settings::path(dir).exists() || Settings::store_path(dir).exists() {
            return Err(DeviceError::AlreadyInitialized(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| DeviceError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
        let actor = ShortText::parse("actor", actor)?;
        let store_id = Uuid::now_v7().to_string();
        let device_id = DeviceId::from_uuid(Uuid::now_v7());
        let vault = Vault::new(keystore, &store_id, dir);
        let (key, code) = vault.create(pin)?;
        let store = match Store::create(&Settings::store_path(dir), Encryption::Key(&key)) {
            Ok(s) => s,
            Err(e) => {
                // Nothing was stored yet: do not leave an orphan key behind.
                let _ = vault.destroy();
                return Err(e.into());
            }
        };
        let settings = Settings {
            format: SETTINGS_FORMAT,
            device_id,
            store_id: store_id.clone(),
            key_check: hex(&key.check_value()),
            file_salt: read_file_salt(&Settings::store_path(dir))?,
            actor: actor.as_str().to_owned(),
            created_at: Utc::now().to_rfc3339(),
        };
        settings.save(dir)?;
        let report = InitReport {
            device_id,
            store_id,
            has_pin: pin.is_some(),
            recovery_code: code.display().to_string(),
        };
        let device = Device::from_parts(dir, settings, store, key)?;
        Ok((device, report))
    }

    /// Whether unlocking needs a PIN, and the attempt counter, without unlocking.
    pub fn vault_info<K: Keystore>(dir: &Path, keystore: &K) -> Result<VaultInfo, DeviceError> {
        let settings = Settings::load(dir)?;
        let vault = Vault::new(keystore, &settings.store_id, dir).status()?;
        Ok(VaultInfo {
            device_id: settings.device_id,
            vault,
        })
    }

    /// Unlocks the device in `dir`: the PIN (counted), then the offline key lease (refused
    /// with `lease_expired` when it ran out: [`Device::check_in`] first).
    pub fn open<K: Keystore>(
        dir: &Path,
        pin: Option<&Pin>,
        keystore: &K,
    ) -> Result<Device, DeviceError> {
        let key = Device::unlock_key(dir, pin, keystore)?;
        Device::open_with_key(dir, &key, keystore)
    }

    /// IT's re-enable of a locked device with its recovery code; sets `new_pin` (or none).
    pub fn recover<K: Keystore>(
        dir: &Path,
        code: &str,
        new_pin: Option<&Pin>,
        keystore: &K,
    ) -> Result<Device, DeviceError> {
        let settings = Settings::load(dir)?;
        let code = tsunagi_crypto::RecoveryCode::parse(code)
            .map_err(|_| tsunagi_store::keys::KeyError::WrongRecoveryCode)?;
        let key = Vault::new(keystore, &settings.store_id, dir).recover(&code, new_pin)?;
        Device::open_store(dir, settings, &key)
    }

    pub(crate) fn open_store(
        dir: &Path,
        settings: Settings,
        key: &StoreKey,
    ) -> Result<Device, DeviceError> {
        let path = Settings::store_path(dir);
        // A file with another salt is another store's file, not a damaged copy of ours (its
        // size and content are otherwise intact, so "damaged" would send IT the wrong way).
        if let (Some(expected), Some(found)) = (&settings.file_salt, read_file_salt(&path)?)
            && *expected != found
        {
            return Err(StoreError::WrongKey.into());
        }
        let check = settings.key_check_bytes();
        let store = Store::open(&path, Encryption::Key(key), check.as_ref())?;
        Device::from_parts(dir, settings, store, key.clone())
    }

    /// A device over a store that the caller created and keyed itself (or left plain, see
    /// [`Encryption::Plain`]): no OS keystore, nothing written to `dir`. For tools and
    /// benchmarks that manage the key themselves; the app and the CLI use [`Device::init`] and
    /// [`Device::open`].
    pub fn with_store(
        dir: &Path,
        store: Store,
        device_id: DeviceId,
        actor: &str,
    ) -> Result<Device, DeviceError> {
        let actor = ShortText::parse("actor", actor)?;
        let settings = Settings {
            format: SETTINGS_FORMAT,
            device_id,
            // No vault entry and no key check: the caller holds the key.
            store_id: String::new(),
            key_check: String::new(),
            actor: actor.as_str().to_owned(),
            file_salt: None,
            created_at: Utc::now().to_rfc3339(),
        };
        // The caller holds the store's key; this one only seals identity keys, which such a
        // device never has (it cannot enroll).
        Device::from_parts(dir, settings, store, StoreKey::generate()?)
    }

    fn from_parts(
        dir: &Path,
        settings: Settings,
        store: Store,
        key: StoreKey,
    ) -> Result<Device, DeviceError> {
        let clock = store.last_hlc()?;
        Ok(Device {
            dir: dir.to_owned(),
            settings,
            store,
            config: Config::fujisawa(),
            catalog: InstrumentCatalog::builtin(),
            clock: std::sync::Arc::new(std::sync::Mutex::new(clock)),
            key,
            http: std::sync::OnceLock::new(),
            team: std::sync::OnceLock::new(),
            progress: None,
            write_slice: None,
        })
    }

    /// The same device on a second connection to its store, for a sync that runs beside the
    /// worker's reads and saves (the clock is shared; SQLite serializes the writes).
    pub fn sibling(&self) -> Result<Device, DeviceError> {
        let store = self.store.sibling(Encryption::Key(&self.key))?;
        Ok(Device {
            dir: self.dir.clone(),
            settings: self.settings.clone(),
            store,
            config: self.config.clone(),
            catalog: self.catalog.clone(),
            clock: std::sync::Arc::clone(&self.clock),
            key: self.key.clone(),
            http: std::sync::OnceLock::new(),
            team: std::sync::OnceLock::new(),
            progress: None,
            write_slice: None,
        })
    }

    /// Runs this device's syncs as the app's background sync: progress on `board`, and store
    /// transactions that hold the write lock at most about `slice` each (`None`: a page each).
    pub(crate) fn run_in_background(
        &mut self,
        board: std::sync::Arc<crate::sync::ProgressBoard>,
        slice: Option<std::time::Duration>,
    ) {
        self.progress = Some(board);
        self.write_slice = slice;
    }

    /// A step of a running sync begins (shown by the app's progress bar).
    pub(crate) fn step(&self, phase: crate::api::SyncPhase, total: u64) {
        if let Some(p) = &self.progress {
            p.begin(phase, total);
        }
    }

    /// Records done in the running sync's step.
    pub(crate) fn step_done(&self, done: u64) {
        if let Some(p) = &self.progress {
            p.advance(done);
        }
    }

    /// Advances the clock for a local write.
    fn tick(&self) -> Hlc {
        let mut clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *clock = clock.tick(now_ms());
        *clock
    }

    /// Moves this device's clock to at least `wall_ms` (ms since the epoch), as on a tablet
    /// whose clock runs ahead; for the malicious-server suite (a stolen tablet writing after
    /// its revocation), not for the app.
    #[doc(hidden)]
    pub fn clock_ahead_to(&self, wall_ms: u64) {
        let mut clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *clock = clock.observe(
            Hlc {
                wall_ms,
                counter: 0,
            },
            now_ms(),
        );
    }

    /// Moves the clock past the greatest time recorded in the store (after receiving changes).
    pub(crate) fn observe_clock(&self) -> Result<(), DeviceError> {
        let last = self.store.last_hlc()?;
        let mut clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *clock = clock.observe(last, now_ms());
        Ok(())
    }

    /// This device's id.
    pub fn id(&self) -> DeviceId {
        self.settings.device_id
    }

    /// The device directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks a command of the app as running until the guard is dropped: a background sync on
    /// a sibling connection begins no new write transaction meanwhile.
    pub(crate) fn foreground(&self) -> tsunagi_store::Foreground {
        self.store.foreground()
    }

    /// The configuration (districts, programs, stages).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The instrument catalog.
    pub fn instruments(&self) -> &InstrumentCatalog {
        &self.catalog
    }

    /// Local change sets waiting to be pushed.
    pub fn pending(&self) -> Result<u64, DeviceError> {
        Ok(self.store.outbox_len()?)
    }

    /// Writes `values` to an entity as one change set (one transaction: outbox + tables).
    pub(crate) fn write_entity(
        &mut self,
        kind: EntityKind,
        id: EntityId,
        values: BTreeMap<String, Value>,
    ) -> Result<(), DeviceError> {
        let state = self
            .store
            .entity(id)?
            .unwrap_or_else(|| EntityState::new(kind, id));
        // The case of the entity as written (the person it names now, or already named).
        let person = values.get("person").or_else(|| state.value("person"));
        self.ensure_writable(tsunagi_core::merge::case_of(kind, id, person))?;
        let writes = state.writes_for(values);
        if writes.is_empty() {
            return Ok(());
        }
        let hlc = self.tick();
        let cs = ChangeSet {
            op: OpId::from_uuid(Uuid::now_v7()),
            kind,
            entity: id,
            hlc,
            device: self.settings.device_id,
            body: ChangeBody::Set(writes),
        };
        self.store.apply(&cs, Origin::Local)?;
        Ok(())
    }

    /// Refuses a write to a case another team owns (shared with this team to read only), so
    /// that the note is not saved here only to be refused by the server at the next sync.
    pub(crate) fn ensure_writable(&self, case: EntityId) -> Result<(), DeviceError> {
        let Some(owner) = self.store.case_owner(case)? else {
            return Ok(());
        };
        let team = match self.team.get() {
            Some(t) => t,
            None => match self.enrollment()? {
                Some(e) => self.team.get_or_init(|| e.team),
                None => return Ok(()),
            },
        };
        if *team == owner {
            Ok(())
        } else {
            Err(DeviceError::ReadOnlyCase { owner })
        }
    }

    fn person_exists(&self, id: PersonId) -> Result<bool, DeviceError> {
        Ok(self
            .store
            .entity(id.into())?
            .is_some_and(|s| s.kind() == EntityKind::Person && !s.is_deleted()))
    }

    pub(crate) fn parse_person_id(&self, s: &str) -> Result<PersonId, DeviceError> {
        let id = PersonId::parse(s)?;
        if !self.person_exists(id)? {
            return Err(DeviceError::UnknownPerson(s.trim().to_owned()));
        }
        Ok(id)
    }

    /// Records a new person (対象者の登録).
    pub fn add_person(&mut self, input: &PersonForm) -> Result<PersonId, DeviceError> {
        let today = Local::now().date_naive();
        let mut programs = input.programs.iter().filter(|p| !p.trim().is_empty());
        let first = programs.next().ok_or(DomainError::PersonWithoutProgram)?;
        let mut fields = PersonFields::new(
            PersonName::parse(&input.name)?,
            self.config.district(&input.district)?,
            self.config.program(first)?,
        );
        for p in programs {
            fields.programs.push(self.config.program(p)?);
        }
        fields.kana = opt(&input.kana, Kana::parse)?;
        fields.birth = opt(&input.birth, |s| BirthInfo::parse(s, today))?;
        fields.sex = opt(&input.sex, Sex::parse)?;
        fields.address = opt(&input.address, |s| ShortText::parse("address", s))?;
        fields.phone = opt(&input.phone, Phone::parse)?;
        if let Some(status) = opt(&input.status, PersonStatus::parse)? {
            fields.status = status;
        }
        if let Some(memo) = opt(&input.memo, |s| Note::parse("memo", s))? {
            fields.memo = memo;
        }
        fields.referred_on = opt(&input.referred_on, |s| {
            tsunagi_core::person::parse_date("referred_on", s)
        })?;
        let person = Person::new(fields)?;
        person.check_config(&self.config)?;
        let id = PersonId::from_uuid(new_case_uuid()?);
        self.write_entity(EntityKind::Person, id.into(), to_fields(&person))?;
        Ok(id)
    }

    /// Records a contact (接触・訪問記録).
    pub fn add_contact(&mut self, input: &ContactForm) -> Result<ContactId, DeviceError> {
        let person = self.parse_person_id(&input.person)?;
        let at = match input.at.as_deref().map(str::trim) {
            None | Some("") => local_now(),
            Some(s) => parse_time("at", s)?,
        };
        let staff = if input.staff.is_empty() {
            vec![ShortText::parse("staff", &self.settings.actor)?]
        } else {
            input
                .staff
                .iter()
                .map(|s| ShortText::parse("staff", s))
                .collect::<Result<_, _>>()?
        };
        let mut fields = ContactFields::new(
            person,
            at,
            staff,
            ContactChannel::parse(&input.channel)?,
            ContactOutcome::parse(&input.outcome)?,
        );
        fields.note = Note::parse("note", &input.note)?;
        if let Some(o) = opt(&input.observations, |s| Note::parse("observations", s))? {
            fields.observations = o;
        }
        fields.stage = input
            .stage
            .map(|level| self.config.trust_stage(level))
            .transpose()?;
        fields.letter_text = opt(&input.letter_text, |s| Note::parse("letter_text", s))?;
        fields.next_step = opt(&input.next_step, |s| ShortText::parse("next_step", s))?;
        fields.next_due = opt(&input.next_due, |s| {
            tsunagi_core::person::parse_date("next_due", s)
        })?;
        let contact = Contact::new(fields)?;
        contact.check_config(&self.config)?;
        let id = ContactId::from_uuid(Uuid::now_v7());
        self.write_entity(EntityKind::Contact, id.into(), to_fields(&contact))?;
        Ok(id)
    }

    /// Records an assessment, scored now with the current instrument definition.
    pub fn add_assessment(
        &mut self,
        input: &AssessmentForm,
    ) -> Result<(AssessmentId, Assessment), DeviceError> {
        let person = self.parse_person_id(&input.person)?;
        let instrument = self.catalog.get(input.instrument.trim())?;
        let answers = tsunagi_core::instrument::Answers::new(input.answers.clone());
        let at = match input.at.as_deref().map(str::trim) {
            None | Some("") => local_now(),
            Some(s) => parse_time("at", s)?,
        };
        let mut assessment = Assessment::take(person, at, instrument, answers)?;
        assessment.staff = vec![ShortText::parse("staff", &self.settings.actor)?];
        let id = AssessmentId::from_uuid(Uuid::now_v7());
        self.write_entity(EntityKind::Assessment, id.into(), to_fields(&assessment))?;
        Ok((id, assessment))
    }

    /// Opens a person's page: profile, timeline, assessments. The opening is recorded in the
    /// access log; call [`Device::close_person`] with the returned page when it is closed.
    pub fn open_person(
        &mut self,
        id: &str,
        timeline_limit: u32,
    ) -> Result<PersonPage, DeviceError> {
        let person = self.parse_person_id(id)?;
        let ticket =
            self.store
                .access_open(person, &self.settings.actor, Utc::now().timestamp_millis())?;
        let page = PersonPage::build(self, person, timeline_limit, ticket)?;
        Ok(page)
    }

    /// Records that a person's page was closed (with how long it was open).
    pub fn close_person(&mut self, page: PersonPage) -> Result<(), DeviceError> {
        if let Some(ticket) = page.into_ticket() {
            self.store
                .access_close(ticket, &self.settings.actor, Utc::now().timestamp_millis())?;
        }
        Ok(())
    }

    /// The caseload (担当ケース) with labels.
    pub fn caseload(&self, filter: &CaseloadFilter) -> Result<Vec<CaseloadView>, DeviceError> {
        let rows = self.store.caseload(filter)?;
        Ok(rows
            .into_iter()
            .map(|r| CaseloadView::new(r, &self.config))
            .collect())
    }

    /// Full-text search over names, kana and notes.
    pub fn search(&self, text: &str, limit: u32) -> Result<SearchResults, DeviceError> {
        Ok(self.store.search(text, limit)?)
    }

    /// Verifies the whole store: every page (SQLCipher HMACs) and the access log chain.
    pub fn check(&self) -> Result<tsunagi_store::AccessLogReport, DeviceError> {
        self.store.integrity_check()?;
        Ok(self.store.verify_access_log()?)
    }
}
