//! JSON DTOs of the server API v1 (docs/identity.md): requests and responses exactly as they
//! travel. Binary values are base64; canonical signed messages are built by the methods here so
//! that signer and verifier cannot disagree.

use serde::{Deserialize, Serialize};
use tsunagi_crypto::identity::{SealedKey, SlotContext, labelled};
use uuid::Uuid;

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"`.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// Every error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine code.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// A user's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Outreach worker.
    Worker,
    /// Team lead: reviews the team's records.
    Lead,
}

impl Role {
    /// The stable key.
    pub fn key(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Lead => "lead",
        }
    }

    /// Parses the key.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "worker" => Some(Role::Worker),
            "lead" => Some(Role::Lead),
            _ => None,
        }
    }
}

/// A device's state on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Enrolled, waiting for approval (fingerprint comparison + team key).
    Pending,
    /// Approved: may sync.
    Active,
    /// Revoked: refused everywhere.
    Revoked,
}

impl DeviceState {
    /// The stable key.
    pub fn key(self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Active => "active",
            DeviceState::Revoked => "revoked",
        }
    }

    /// Parses the key.
    pub fn parse(s: &str) -> Option<DeviceState> {
        match s {
            "pending" => Some(DeviceState::Pending),
            "active" => Some(DeviceState::Active),
            "revoked" => Some(DeviceState::Revoked),
            _ => None,
        }
    }
}

/// `POST /v1/bootstrap`: registers the org's admin key and recovery public key, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapRequest {
    /// The one-time token the server printed at its first start.
    pub token: String,
    /// Admin Ed25519 public key.
    #[serde(with = "crate::b64")]
    pub admin_pub: Vec<u8>,
    /// ORK X25519 public key.
    #[serde(with = "crate::b64")]
    pub org_recovery_pub: Vec<u8>,
}

/// Answer to the bootstrap: the server's identity key, to pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapResponse {
    /// Server identity Ed25519 public key.
    #[serde(with = "crate::b64")]
    pub server_pub: Vec<u8>,
}

/// `POST /v1/enroll`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time enrollment code.
    pub code: String,
    /// The new DevSig public key.
    #[serde(with = "crate::b64")]
    pub sig_pub: Vec<u8>,
    /// The new DevKEM public key.
    #[serde(with = "crate::b64")]
    pub kem_pub: Vec<u8>,
    /// DevSig over [`EnrollRequest::proof_message`]: possession of the key.
    #[serde(with = "crate::b64")]
    pub proof: Vec<u8>,
    /// The id the device made at `init` and authors its change sets with. The server enrolls
    /// the device under it (refused when taken), so one id names the device everywhere; when
    /// absent the server makes one (IT tools, load tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Uuid>,
}

impl EnrollRequest {
    /// `"tsunagi/enroll/v1" ‖ lp(code) ‖ lp(sig_pub) ‖ lp(kem_pub)`.
    pub fn proof_message(code: &str, sig_pub: &[u8], kem_pub: &[u8]) -> Vec<u8> {
        labelled("tsunagi/enroll/v1", &[code.as_bytes(), sig_pub, kem_pub])
    }
}

/// Answer to enrollment, signed by the server identity key pinned in the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The new device's id.
    pub device: Uuid,
    /// Its user.
    pub user: Uuid,
    /// The user's name.
    pub user_name: String,
    /// The user's team.
    pub team: String,
    /// The user's role.
    pub role: Role,
    /// Server identity signature over [`EnrollResponse::signed_message`].
    #[serde(with = "crate::b64")]
    pub server_sig: Vec<u8>,
}

impl EnrollResponse {
    /// `"tsunagi/enrolled/v1" ‖ lp(device) ‖ lp(code) ‖ lp(sig_pub)`.
    pub fn signed_message(device: &Uuid, code: &str, sig_pub: &[u8]) -> Vec<u8> {
        labelled(
            "tsunagi/enrolled/v1",
            &[device.to_string().as_bytes(), code.as_bytes(), sig_pub],
        )
    }
}

/// A team key sealed to one recipient and signed by whoever distributed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySlot {
    /// Team id.
    pub team: String,
    /// Key epoch.
    pub epoch: u32,
    /// `"org"` or a device id.
    pub recipient: String,
    /// HPKE encapsulated key.
    #[serde(with = "crate::b64")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext.
    #[serde(with = "crate::b64")]
    pub ct: Vec<u8>,
    /// `"admin"` or the lead device's id.
    pub signer: String,
    /// Signature over [`KeySlot::signed_message`].
    #[serde(with = "crate::b64")]
    pub sig: Vec<u8>,
}

impl KeySlot {
    /// The HPKE context of this slot.
    pub fn context(&self) -> SlotContext<'_> {
        SlotContext {
            team: &self.team,
            epoch: self.epoch,
            recipient: &self.recipient,
        }
    }

    /// The sealed key.
    pub fn sealed(&self) -> SealedKey {
        SealedKey {
            enc: self.enc.clone(),
            ct: self.ct.clone(),
        }
    }

    /// What the signer signs.
    pub fn signed_message(&self) -> Vec<u8> {
        self.context().signed_message(&self.sealed())
    }
}

/// A device certificate: binds a device's keys to a user, team and role; signed by the admin
/// key or by a lead device of the same team (for workers only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCert {
    /// The device.
    pub device: Uuid,
    /// Its user.
    pub user: Uuid,
    /// The user's name.
    pub user_name: String,
    /// Team id.
    pub team: String,
    /// Role.
    pub role: Role,
    /// DevSig public key.
    #[serde(with = "crate::b64")]
    pub sig_pub: Vec<u8>,
    /// DevKEM public key.
    #[serde(with = "crate::b64")]
    pub kem_pub: Vec<u8>,
    /// When issued (RFC 3339).
    pub issued_at: String,
    /// `"admin"` or the lead device's id.
    pub signer: String,
    /// Signature over [`DeviceCert::signed_message`].
    #[serde(with = "crate::b64")]
    pub sig: Vec<u8>,
}

impl DeviceCert {
    /// `"tsunagi/device-cert/v1" ‖ lp(each field in declaration order, text as UTF-8)`.
    pub fn signed_message(&self) -> Vec<u8> {
        labelled(
            "tsunagi/device-cert/v1",
            &[
                self.device.to_string().as_bytes(),
                self.user.to_string().as_bytes(),
                self.user_name.as_bytes(),
                self.team.as_bytes(),
                self.role.key().as_bytes(),
                &self.sig_pub,
                &self.kem_pub,
                self.issued_at.as_bytes(),
                self.signer.as_bytes(),
            ],
        )
    }
}

/// One approved device of a team, as the admin's registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementMember {
    /// The device.
    pub device: Uuid,
    /// Its user.
    pub user: Uuid,
    /// The user's name.
    pub user_name: String,
    /// Role (`lead` reviews the team's records).
    pub role: Role,
    /// DevSig public key.
    #[serde(with = "crate::b64")]
    pub sig_pub: Vec<u8>,
    /// DevKEM public key.
    #[serde(with = "crate::b64")]
    pub kem_pub: Vec<u8>,
}

/// A team's state as the admin signs it (docs/identity.md, *Team statement*): its key epoch,
/// its approved devices with their keys, and the devices it revoked. `version` only grows; a
/// device accepts key slots, epochs and membership only under a statement no older than the
/// one it holds, so the server's word on any of them counts for nothing alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamStatement {
    /// Team id.
    pub team: String,
    /// Strictly increasing per team, from 1.
    pub version: u64,
    /// The team key epoch devices write under (0: the team has no key yet).
    pub epoch: u32,
    /// When signed (RFC 3339).
    pub issued_at: String,
    /// The team's approved, unrevoked devices.
    pub members: Vec<StatementMember>,
    /// Devices revoked from the team.
    pub revoked: Vec<Uuid>,
    /// Admin signature over [`TeamStatement::signed_message`].
    #[serde(with = "crate::b64")]
    pub sig: Vec<u8>,
}

impl TeamStatement {
    /// `"tsunagi/team-statement/v1" ‖ lp(team) ‖ lp(be64 version) ‖ lp(be32 epoch) ‖
    /// lp(issued_at) ‖ lp(be32 n) ‖ n × (lp(device) ‖ lp(user) ‖ lp(user_name) ‖ lp(role) ‖
    /// lp(sig_pub) ‖ lp(kem_pub)) ‖ lp(be32 m) ‖ m × lp(revoked device)`, ids as UUID text.
    pub fn signed_message(&self) -> Vec<u8> {
        let version = self.version.to_be_bytes();
        let epoch = self.epoch.to_be_bytes();
        let n = (self.members.len() as u32).to_be_bytes();
        let m = (self.revoked.len() as u32).to_be_bytes();
        let ids: Vec<(String, String)> = self
            .members
            .iter()
            .map(|d| (d.device.to_string(), d.user.to_string()))
            .collect();
        let revoked: Vec<String> = self.revoked.iter().map(Uuid::to_string).collect();
        let mut parts: Vec<&[u8]> = vec![
            self.team.as_bytes(),
            &version,
            &epoch,
            self.issued_at.as_bytes(),
            &n,
        ];
        for (d, (device, user)) in self.members.iter().zip(&ids) {
            parts.extend_from_slice(&[
                device.as_bytes(),
                user.as_bytes(),
                d.user_name.as_bytes(),
                d.role.key().as_bytes(),
                &d.sig_pub,
                &d.kem_pub,
            ]);
        }
        parts.push(&m);
        parts.extend(revoked.iter().map(String::as_bytes));
        labelled("tsunagi/team-statement/v1", &parts)
    }

    /// The member entry of `device`, if it is one.
    pub fn member(&self, device: &Uuid) -> Option<&StatementMember> {
        self.members.iter().find(|m| m.device == *device)
    }
}

/// `GET /v1/teams/{team}/statement` for a team whose statement a device has not seen (a team
/// it shares a case with): the latest one the server holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementAnswer {
    /// The statement, `None` while the team has none.
    pub statement: Option<TeamStatement>,
}

/// `GET /v1/keys`: the caller's view of its team's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDirectory {
    /// The calling device.
    pub device: Uuid,
    /// Its state.
    pub state: DeviceState,
    /// Its team.
    pub team: String,
    /// The team's current key epoch, if it has a key yet.
    pub current_epoch: Option<u32>,
    /// Certificates of the team's devices (to verify lead-signed slots and for review).
    pub certs: Vec<DeviceCert>,
    /// Slots sealed to the calling device.
    pub slots: Vec<KeySlot>,
    /// The team's latest admin-signed statement (`None` while IT has signed none).
    #[serde(default)]
    pub statement: Option<TeamStatement>,
}

/// `POST /v1/devices/{id}/approve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproveRequest {
    /// The device's certificate.
    pub cert: DeviceCert,
    /// Slots for the device (at least the current epoch; for a team without a key, epoch 1
    /// for the device and for `"org"`).
    pub slots: Vec<KeySlot>,
}

/// A device as IT and leads see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Device id.
    pub id: Uuid,
    /// User id.
    pub user: Uuid,
    /// User name.
    pub user_name: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
    /// State.
    pub state: DeviceState,
    /// DevSig public key.
    #[serde(with = "crate::b64")]
    pub sig_pub: Vec<u8>,
    /// DevKEM public key.
    #[serde(with = "crate::b64")]
    pub kem_pub: Vec<u8>,
    /// When it enrolled.
    pub enrolled_at: String,
    /// When it was approved.
    pub approved_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Last authenticated request.
    pub last_seen: Option<String>,
}

/// `POST /v1/admin/teams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTeam {
    /// Team id (lower-case ASCII, digits, `-`; e.g. `csw-north`).
    pub id: String,
    /// Program key (`csw`, `dementia`, `infant`).
    pub program: String,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// Team id.
    pub id: String,
    /// Program key.
    pub program: String,
    /// Current key epoch.
    pub current_epoch: Option<u32>,
}

/// `POST /v1/admin/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateUser {
    /// Name (氏名).
    pub name: String,
    /// Team id.
    pub team: String,
    /// Role.
    pub role: Role,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
}

/// `POST /v1/admin/enrollments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateEnrollment {
    /// The user the device will belong to.
    pub user: Uuid,
    /// Validity in hours (default 72, at most 720).
    pub ttl_hours: Option<u32>,
}

/// The enrollment bundle handed to the device (file and QR code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentBundle {
    /// Format version (1).
    pub v: u32,
    /// Where the server is.
    pub server_url: String,
    /// Server identity key (pinned).
    #[serde(with = "crate::b64")]
    pub server_pub: Vec<u8>,
    /// Admin key (pinned).
    #[serde(with = "crate::b64")]
    pub admin_pub: Vec<u8>,
    /// ORK public key (pinned).
    #[serde(with = "crate::b64")]
    pub org_recovery_pub: Vec<u8>,
    /// The one-time code.
    pub code: String,
    /// User id.
    pub user: Uuid,
    /// User name.
    pub user_name: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
    /// When the code expires (RFC 3339).
    pub expires_at: String,
    /// IT's shortest PIN for this device (at least 6; older bundles: 6).
    #[serde(default = "EnrollmentBundle::default_pin_min_digits")]
    pub pin_min_digits: u32,
    /// IT's offline key lease: days the device may go without reaching its server before its
    /// store locks until it checks in (1–90; older bundles: 14).
    #[serde(default = "EnrollmentBundle::default_lease_days")]
    pub lease_days: u32,
}

impl EnrollmentBundle {
    /// The shortest PIN IT may ask for, and the default.
    pub const MIN_PIN_DIGITS: u32 = 6;
    /// The longest PIN IT may ask for.
    pub const MAX_PIN_DIGITS: u32 = 32;
    /// The default offline key lease in days.
    pub const DEFAULT_LEASE_DAYS: u32 = 14;
    /// The longest offline key lease in days.
    pub const MAX_LEASE_DAYS: u32 = 90;

    fn default_pin_min_digits() -> u32 {
        Self::MIN_PIN_DIGITS
    }

    fn default_lease_days() -> u32 {
        Self::DEFAULT_LEASE_DAYS
    }
}

/// `GET /v1/admin/teams/{team}`: what the admin needs to rotate a team key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMembers {
    /// The team.
    pub team: Team,
    /// Its devices (all states).
    pub devices: Vec<DeviceInfo>,
    /// The `"org"` slot of the current epoch (`None` while the team has no key): IT opens it
    /// with ORK to seal the current team key to a device it approves.
    #[serde(default)]
    pub org_slot: Option<KeySlot>,
}

/// `POST /v1/admin/teams/{team}/slots`: a new epoch's slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotsUpload {
    /// The new epoch (current + 1).
    pub epoch: u32,
    /// One slot per active device and one for `"org"`.
    pub slots: Vec<KeySlot>,
}

/// `GET /v1/sync/head`: the highest committed sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Sequence number (0 when the log is empty).
    pub head: u64,
}

/// `GET /v1/sync/mine?as_of=S`: the cases of the device's team in which a device of the same
/// user wrote a change with `seq <= S` — the worker's own caseload, which a fresh device takes
/// first so that it is usable while the rest of the team's records follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCases {
    /// Case ids, 32 lower-case hex digits each.
    pub cases: Vec<String>,
}

/// `POST /v1/teams/{team}/kem`: the public half of TeamKEM[team, epoch] (docs/protocol.md),
/// published by a member device and signed with its DevSig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamKem {
    /// Team id.
    pub team: String,
    /// Team key epoch.
    pub epoch: u32,
    /// X25519 public key.
    #[serde(with = "crate::b64")]
    pub kem_pub: Vec<u8>,
    /// Publishing device (a member of the team).
    pub device: Uuid,
    /// DevSig over [`TeamKem::signed_message`].
    #[serde(with = "crate::b64")]
    pub sig: Vec<u8>,
}

impl TeamKem {
    /// `"tsunagi/team-kem/v1" ‖ lp(team) ‖ lp(epoch) ‖ lp(kem_pub) ‖ lp(device)`.
    pub fn signed_message(&self) -> Vec<u8> {
        labelled(
            "tsunagi/team-kem/v1",
            &[
                self.team.as_bytes(),
                &self.epoch.to_be_bytes(),
                &self.kem_pub,
                self.device.as_bytes(),
            ],
        )
    }
}

/// `GET /v1/teams/{team}/kem`: the latest published team KEM key and its publisher's
/// certificate (the reader verifies the certificate against the pinned admin key, that the
/// publisher belongs to the team, and the signature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamKemAnswer {
    /// The key.
    pub kem: TeamKem,
    /// The publisher's certificate.
    pub cert: DeviceCert,
}
