//! The admin's operations against the server (docs/identity.md, *Flows* 1, 2, 4 and 6), over
//! the signed `tsunagi_protocol::client::Client`. Every request but the bootstrap is signed with
//! the admin key; ORK is opened only to approve a device into a team that already has a key.

use serde::Serialize;
use serde::de::IgnoredAny;
use std::path::{Path, PathBuf};
use tsunagi_crypto::identity::{
    KemPublic, SigKey, SigPublic, device_code, device_code_matches, fingerprint,
};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, BootstrapResponse, CreateEnrollment, CreateTeam, CreateUser,
    DeviceInfo, DeviceState, EnrollmentBundle, Role, SlotsUpload, StatementMember, Team,
    TeamMembers, TeamStatement, User,
};
use tsunagi_protocol::client::{Client, ClientError, Signer};
use uuid::Uuid;

use crate::bundle;
use crate::error::AdminError;
use crate::issue::{ADMIN, approval_slots, device_cert, open_org_slot, rotation_slots};
use crate::registry::{Registry, TeamRecord};
use crate::state::{
    AdminState, Fingerprints, Passphrase, check_server_url, create_or_resume_keys, open_admin_key,
    open_ork,
};

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// The state directory.
    pub dir: PathBuf,
    /// The server.
    pub server_url: String,
    /// Whether the key files of an interrupted `init` were reused.
    pub resumed: bool,
    /// Fingerprints of ORK, the admin key and the pinned server key.
    pub fingerprints: Fingerprints,
}

/// Bootstraps the org (flow 1): makes the admin key and ORK, seals them under `passphrase`
/// into `dir` (or reopens those an interrupted `init` left there), registers them with
/// `POST /v1/bootstrap`, pins the server key in `admin.json`.
pub async fn init(
    dir: &Path,
    server_url: &str,
    bootstrap_token: &str,
    passphrase: &Passphrase,
) -> Result<InitReport, AdminError> {
    let url = check_server_url(server_url)?;
    let keys = create_or_resume_keys(dir, passphrase)?;
    let client = Client::new(&url, None)?;
    let answer: BootstrapResponse = client
        .post(
            "/v1/bootstrap",
            &BootstrapRequest {
                token: bootstrap_token.trim().to_owned(),
                admin_pub: keys.admin.public().as_bytes().to_vec(),
                org_recovery_pub: keys.ork.public().as_bytes().to_vec(),
            },
        )
        .await?;
    let server_pub = SigPublic::from_bytes(&answer.server_pub)
        .map_err(|_| AdminError::Untrusted("the server identity key is malformed".into()))?;
    let state = AdminState::new(&url, &server_pub, &keys.admin.public(), &keys.ork.public());
    state.save(dir)?;
    Ok(InitReport {
        dir: dir.to_owned(),
        server_url: url,
        resumed: !keys.created,
        fingerprints: state.fingerprints,
    })
}

/// A device with the fingerprints its screen shows.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    /// The device as the server reports it.
    #[serde(flatten)]
    pub device: DeviceInfo,
    /// Fingerprint of its DevSig key.
    pub sig_fingerprint: String,
    /// Fingerprint of its DevKEM key.
    pub kem_fingerprint: String,
    /// The device code (both keys) as the server's keys give it: IT compares the code shown on
    /// the device's own screen, and `approve` takes that one, never this.
    pub device_code: String,
}

impl DeviceView {
    fn new(device: DeviceInfo) -> DeviceView {
        DeviceView {
            sig_fingerprint: fingerprint(&device.sig_pub),
            kem_fingerprint: fingerprint(&device.kem_pub),
            device_code: device_code(&device.sig_pub, &device.kem_pub),
            device,
        }
    }
}

/// What `device provision` made.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionReport {
    /// The bundle file.
    pub bundle_file: PathBuf,
    /// Its QR code as PNG.
    pub qr_png: PathBuf,
    /// User id.
    pub user: Uuid,
    /// User name.
    pub user_name: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
    /// When the code expires.
    pub expires_at: String,
    /// The shortest PIN the device will accept.
    pub pin_min_digits: u32,
    /// The offline key lease in days.
    pub lease_days: u32,
    /// The QR code as terminal text (not in `--json` output).
    #[serde(skip)]
    pub qr_terminal: String,
}

/// IT's policy for a device, carried in its enrollment bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicePolicy {
    /// The shortest PIN (6–32 digits).
    pub pin_min_digits: u32,
    /// Days the device may go without reaching the server before its store locks (1–90).
    pub lease_days: u32,
}

impl Default for DevicePolicy {
    fn default() -> DevicePolicy {
        DevicePolicy {
            pin_min_digits: EnrollmentBundle::MIN_PIN_DIGITS,
            lease_days: EnrollmentBundle::DEFAULT_LEASE_DAYS,
        }
    }
}

impl DevicePolicy {
    fn check(&self) -> Result<(), AdminError> {
        if !(EnrollmentBundle::MIN_PIN_DIGITS..=EnrollmentBundle::MAX_PIN_DIGITS)
            .contains(&self.pin_min_digits)
        {
            return Err(AdminError::BadPolicy(format!(
                "--pin-min-digits {} is outside {}–{}",
                self.pin_min_digits,
                EnrollmentBundle::MIN_PIN_DIGITS,
                EnrollmentBundle::MAX_PIN_DIGITS
            )));
        }
        if !(1..=EnrollmentBundle::MAX_LEASE_DAYS).contains(&self.lease_days) {
            return Err(AdminError::BadPolicy(format!(
                "--lease-days {} is outside 1–{}",
                self.lease_days,
                EnrollmentBundle::MAX_LEASE_DAYS
            )));
        }
        Ok(())
    }
}

/// What `device approve` did.
#[derive(Debug, Clone, Serialize)]
pub struct ApproveReport {
    /// The device, now active, with its fingerprints.
    pub device: DeviceView,
    /// The team-key epoch sealed to it.
    pub epoch: u32,
    /// Whether this approval created the team's first key.
    pub new_team_key: bool,
    /// The version of the team statement signed with it.
    pub statement_version: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    /// Team.
    pub team: String,
    /// The new epoch.
    pub epoch: u32,
    /// Who received the new key: the registry's members, then `"org"`.
    pub recipients: Vec<String>,
    /// The version of the team statement signed with it.
    pub statement_version: u64,
}

/// What `device revoke` did.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeReport {
    /// The revoked device.
    pub device: Uuid,
    /// Its team.
    pub team: String,
    /// The rotation that followed (`None` when the team had no key yet).
    pub rotation: Option<RotationReport>,
}

/// An opened admin state: the pinned keys, the admin key and a client that signs as `admin`.
#[derive(Debug)]
pub struct Admin {
    dir: PathBuf,
    state: AdminState,
    admin_pub: SigPublic,
    ork_pub: KemPublic,
    key: SigKey,
    passphrase: Passphrase,
    client: Client,
}

fn parse_id(what: &'static str, value: &str) -> Result<Uuid, AdminError> {
    Uuid::parse_str(value.trim()).map_err(|_| AdminError::BadId {
        what,
        value: value.to_owned(),
    })
}

/// Checks a team id: `[a-z0-9-]{1,64}`, not starting with `-`.
pub fn check_team_id(team: &str) -> Result<&str, AdminError> {
    let ok = !team.is_empty()
        && team.len() <= 64
        && !team.starts_with('-')
        && team
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(team)
    } else {
        Err(AdminError::BadTeamId(team.to_owned()))
    }
}

/// A 404 from the server is the operator naming something that does not exist.
fn not_found(e: ClientError, unknown: impl FnOnce(String) -> AdminError) -> AdminError {
    match e {
        ClientError::Refused {
            status: 404,
            message,
            ..
        } => unknown(message),
        other => AdminError::Server(other),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Admin {
    /// Opens the state in `dir` with IT's passphrase (which opens `admin.key`).
    pub fn open(dir: &Path, passphrase: Passphrase) -> Result<Admin, AdminError> {
        let state = AdminState::load(dir)?;
        let key = open_admin_key(dir, &passphrase)?;
        let admin_pub = state.admin_pub()?;
        if key.public() != admin_pub {
            return Err(AdminError::StateUnreadable {
                path: dir.join(crate::state::ADMIN_KEY_FILE),
                detail: "the admin key does not match admin_pub in admin.json".into(),
            });
        }
        let ork_pub = state.ork_pub()?;
        let client = Client::new(
            &state.server_url,
            Some(Signer {
                key_id: ADMIN.to_owned(),
                key: SigKey::from_seed(key.seed().as_ref())?,
            }),
        )?;
        Ok(Admin {
            dir: dir.to_owned(),
            state,
            admin_pub,
            ork_pub,
            key,
            passphrase,
            client,
        })
    }

    /// The public state.
    pub fn state(&self) -> &AdminState {
        &self.state
    }

    /// `team create`.
    pub async fn create_team(&self, id: &str, program: &str) -> Result<Team, AdminError> {
        let id = check_team_id(id)?;
        Ok(self
            .client
            .post(
                "/v1/admin/teams",
                &CreateTeam {
                    id: id.to_owned(),
                    program: program.trim().to_owned(),
                },
            )
            .await?)
    }

    /// `user create`.
    pub async fn create_user(
        &self,
        name: &str,
        team: &str,
        role: &str,
    ) -> Result<User, AdminError> {
        let role = Role::parse(role).ok_or_else(|| AdminError::BadRole(role.to_owned()))?;
        let team = check_team_id(team)?;
        self.client
            .post(
                "/v1/admin/users",
                &CreateUser {
                    name: name.trim().to_owned(),
                    team: team.to_owned(),
                    role,
                },
            )
            .await
            .map_err(|e| {
                not_found(e, |detail| AdminError::UnknownTeam {
                    team: team.to_owned(),
                    detail,
                })
            })
    }

    /// `device provision` (flow 2): a one-time code for `user`, written as a bundle file that
    /// pins this org's server, admin and ORK keys, with its QR code. `out` defaults to
    /// `<user>-<UTC time>.tsunagi-enroll.json` in the working directory.
    pub async fn provision(
        &self,
        user: &str,
        ttl_hours: Option<u32>,
        out: Option<&Path>,
    ) -> Result<ProvisionReport, AdminError> {
        self.provision_with(user, ttl_hours, out, DevicePolicy::default())
            .await
    }

    /// `device provision` with IT's device policy (shortest PIN, offline key lease) in the
    /// bundle.
    pub async fn provision_with(
        &self,
        user: &str,
        ttl_hours: Option<u32>,
        out: Option<&Path>,
        policy: DevicePolicy,
    ) -> Result<ProvisionReport, AdminError> {
        let user_id = parse_id("user", user)?;
        if let Some(t) = ttl_hours
            && !(1..=720).contains(&t)
        {
            return Err(AdminError::BadTtl(t));
        }
        policy.check()?;
        let path = match out {
            Some(p) => p.to_owned(),
            None => PathBuf::from(format!(
                "{user_id}-{}.tsunagi-enroll.json",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            )),
        };
        bundle::check_free(&path)?;
        let issued: EnrollmentBundle = self
            .client
            .post(
                "/v1/admin/enrollments",
                &CreateEnrollment {
                    user: user_id,
                    ttl_hours,
                },
            )
            .await
            .map_err(|e| {
                not_found(e, |detail| AdminError::UnknownUser {
                    user: user_id.to_string(),
                    detail,
                })
            })?;
        if !issued.server_pub.is_empty() && issued.server_pub != self.state.server_pub {
            return Err(AdminError::Untrusted(
                "the server's identity key differs from the one pinned at init".into(),
            ));
        }
        if issued.user != user_id {
            return Err(AdminError::Untrusted(format!(
                "asked a code for user {user_id}, got one for {}",
                issued.user
            )));
        }
        // What the device pins comes from this admin's own state, not from the answer.
        let bundle = EnrollmentBundle {
            v: 1,
            server_url: self.state.server_url.clone(),
            server_pub: self.state.server_pub.clone(),
            admin_pub: self.state.admin_pub.clone(),
            org_recovery_pub: self.state.org_recovery_pub.clone(),
            pin_min_digits: policy.pin_min_digits,
            lease_days: policy.lease_days,
            ..issued
        };
        let (qr_png, code) = bundle::write_bundle(&bundle, &path)?;
        Ok(ProvisionReport {
            bundle_file: path,
            qr_png,
            user: bundle.user,
            user_name: bundle.user_name,
            team: bundle.team,
            role: bundle.role,
            expires_at: bundle.expires_at,
            pin_min_digits: bundle.pin_min_digits,
            lease_days: bundle.lease_days,
            qr_terminal: bundle::qr_terminal(&code),
        })
    }

    /// `device list`.
    pub async fn list_devices(&self, team: Option<&str>) -> Result<Vec<DeviceView>, AdminError> {
        let path = match team {
            Some(t) => format!("/v1/admin/devices?team={}", check_team_id(t)?),
            None => "/v1/admin/devices".to_owned(),
        };
        let devices: Vec<DeviceInfo> = self.client.get(&path).await.map_err(|e| {
            not_found(e, |detail| AdminError::UnknownTeam {
                team: team.unwrap_or_default().to_owned(),
                detail,
            })
        })?;
        Ok(devices.into_iter().map(DeviceView::new).collect())
    }

    async fn device(&self, id: &Uuid) -> Result<DeviceInfo, AdminError> {
        let info: DeviceInfo = self
            .client
            .get(&format!("/v1/devices/{id}"))
            .await
            .map_err(|e| {
                not_found(e, |detail| AdminError::UnknownDevice {
                    device: id.to_string(),
                    detail,
                })
            })?;
        if info.id != *id {
            return Err(AdminError::Untrusted(format!(
                "asked for device {id}, got {}",
                info.id
            )));
        }
        Ok(info)
    }

    async fn team(&self, team: &str) -> Result<TeamMembers, AdminError> {
        self.client
            .get(&format!("/v1/admin/teams/{}", check_team_id(team)?))
            .await
            .map_err(|e| {
                not_found(e, |detail| AdminError::UnknownTeam {
                    team: team.to_owned(),
                    detail,
                })
            })
    }

    /// `device show`: keys and fingerprints to compare with the device's screen.
    pub async fn show_device(&self, device: &str) -> Result<DeviceView, AdminError> {
        let id = parse_id("device", device)?;
        Ok(DeviceView::new(self.device(&id).await?))
    }

    /// `device approve` (flow 4): only after `code` — read off the device's own screen — is the
    /// device code of the keys the server reports for it. Then the admin-signed certificate,
    /// the slot of the team's current key (opened from the `"org"` slot with ORK) or the
    /// team's first key (epoch 1, sealed to the device and to `"org"`), and a new team
    /// statement with the device as a member; its keys go into IT's registry.
    pub async fn approve(&self, device: &str, code: &str) -> Result<ApproveReport, AdminError> {
        let id = parse_id("device", device)?;
        let info = self.device(&id).await?;
        if info.state != DeviceState::Pending {
            return Err(AdminError::NotPending {
                device: id.to_string(),
                state: info.state.key(),
            });
        }
        if !device_code_matches(code, &info.sig_pub, &info.kem_pub).map_err(AdminError::BadCode)? {
            return Err(AdminError::CodeMismatch {
                device: id.to_string(),
            });
        }
        let kem = KemPublic::from_bytes(&info.kem_pub)
            .map_err(|_| AdminError::Untrusted("the device's KEM key is malformed".into()))?;
        SigPublic::from_bytes(&info.sig_pub)
            .map_err(|_| AdminError::Untrusted("the device's signing key is malformed".into()))?;
        let mut registry = Registry::load(&self.dir)?;
        let mut record = registry.team(&info.team);
        if record.revoked.contains(&id) {
            return Err(AdminError::Untrusted(format!(
                "device {id} was revoked; a revoked device is never approved again"
            )));
        }
        let members = self.team(&info.team).await?;
        let server_epoch = members.team.current_epoch.unwrap_or(0);
        if server_epoch != record.epoch {
            return Err(AdminError::Untrusted(format!(
                "the server says team {} is at key epoch {server_epoch}, IT's registry says {}",
                info.team, record.epoch
            )));
        }
        let current = match members.team.current_epoch {
            None => None,
            Some(epoch) => {
                let slot = members.org_slot.as_ref().ok_or_else(|| {
                    AdminError::Untrusted(format!(
                        "team {} is at epoch {epoch} but the server sent no org slot",
                        info.team
                    ))
                })?;
                let ork = open_ork(&self.dir, &self.passphrase)?;
                let tk = open_org_slot(slot, &info.team, epoch, &self.admin_pub, &ork)?;
                Some((epoch, tk))
            }
        };
        let (epoch, slots) = approval_slots(
            &self.key,
            &info.team,
            &id,
            &kem,
            current.as_ref().map(|(e, tk)| (*e, tk)),
            &self.ork_pub,
        )?;
        let cert = device_cert(&self.key, &info, &now_rfc3339())?;
        // The statement first: once devices hold it, the new member's slot verifies.
        let mut team_members: Vec<StatementMember> = record
            .members
            .iter()
            .filter(|m| m.device != id)
            .cloned()
            .collect();
        team_members.push(StatementMember {
            device: id,
            user: info.user,
            user_name: info.user_name.clone(),
            role: info.role,
            sig_pub: info.sig_pub.clone(),
            kem_pub: info.kem_pub.clone(),
        });
        let statement = record.sign_next(
            &self.key,
            &info.team,
            epoch,
            team_members.clone(),
            record.revoked.clone(),
            &now_rfc3339(),
        )?;
        self.publish(&statement).await?;
        record.version = statement.version;
        record.members = team_members;
        registry.teams.insert(info.team.clone(), record.clone());
        registry.save(&self.dir)?;
        let _: IgnoredAny = self
            .client
            .post(
                &format!("/v1/devices/{id}/approve"),
                &ApproveRequest { cert, slots },
            )
            .await?;
        record.epoch = epoch;
        registry.teams.insert(info.team.clone(), record);
        registry.save(&self.dir)?;
        let mut device = DeviceView::new(info);
        device.device.state = DeviceState::Active;
        Ok(ApproveReport {
            device,
            epoch,
            new_team_key: current.is_none(),
            statement_version: statement.version,
        })
    }

    /// Sends a signed team statement to the server.
    async fn publish(&self, statement: &TeamStatement) -> Result<(), AdminError> {
        let _: IgnoredAny = self
            .client
            .post(
                &format!("/v1/admin/teams/{}/statement", statement.team),
                statement,
            )
            .await?;
        Ok(())
    }

    /// `team rotate-key`: a new key for the team's members in IT's registry (less `exclude`,
    /// which is recorded as revoked) and ORK, announced by a new team statement. The server's
    /// list of devices is not asked: a key it inserted gets nothing.
    pub async fn rotate(
        &self,
        team: &str,
        exclude: Option<&Uuid>,
    ) -> Result<RotationReport, AdminError> {
        let team = check_team_id(team)?;
        let members = self.team(team).await?;
        let mut registry = Registry::load(&self.dir)?;
        let mut record: TeamRecord = registry.team(team);
        let server_epoch = members.team.current_epoch.unwrap_or(0);
        if server_epoch != record.epoch {
            return Err(AdminError::Untrusted(format!(
                "the server says team {team} is at key epoch {server_epoch}, IT's registry says {}",
                record.epoch
            )));
        }
        let epoch = record
            .epoch
            .checked_add(1)
            .ok_or_else(|| AdminError::Untrusted("the team's key epoch is exhausted".into()))?;
        let mut revoked = record.revoked.clone();
        if let Some(x) = exclude
            && !revoked.contains(x)
        {
            revoked.push(*x);
        }
        let kept: Vec<StatementMember> = record
            .members
            .iter()
            .filter(|m| !revoked.contains(&m.device))
            .cloned()
            .collect();
        let mut recipients = Vec::with_capacity(kept.len());
        for m in &kept {
            let kem =
                KemPublic::from_bytes(&m.kem_pub).map_err(|_| AdminError::RegistryUnreadable {
                    path: self.dir.join(crate::registry::REGISTRY_FILE),
                    detail: format!("device {} has a malformed KEM key", m.device),
                })?;
            recipients.push((m.device, kem));
        }
        let slots = rotation_slots(&self.key, team, epoch, &recipients, &self.ork_pub)?;
        let statement = record.sign_next(
            &self.key,
            team,
            epoch,
            kept.clone(),
            revoked.clone(),
            &now_rfc3339(),
        )?;
        self.publish(&statement).await?;
        record.version = statement.version;
        record.members = kept;
        record.revoked = revoked;
        registry.teams.insert(team.to_owned(), record.clone());
        registry.save(&self.dir)?;
        let _: IgnoredAny = self
            .client
            .post(
                &format!("/v1/admin/teams/{team}/slots"),
                &SlotsUpload { epoch, slots },
            )
            .await?;
        record.epoch = epoch;
        registry.teams.insert(team.to_owned(), record);
        registry.save(&self.dir)?;
        let mut names: Vec<String> = recipients.iter().map(|(d, _)| d.to_string()).collect();
        names.push(crate::issue::ORG.to_owned());
        Ok(RotationReport {
            team: team.to_owned(),
            epoch,
            recipients: names,
            statement_version: statement.version,
        })
    }

    /// Records `device` as revoked in a new statement without a new key (a team that has
    /// none yet).
    async fn revoke_without_key(&self, team: &str, device: &Uuid) -> Result<(), AdminError> {
        let mut registry = Registry::load(&self.dir)?;
        let mut record = registry.team(team);
        if !record.revoked.contains(device) {
            record.revoked.push(*device);
        }
        record.members.retain(|m| m.device != *device);
        let statement = record.sign_next(
            &self.key,
            team,
            record.epoch,
            record.members.clone(),
            record.revoked.clone(),
            &now_rfc3339(),
        )?;
        self.publish(&statement).await?;
        record.version = statement.version;
        registry.teams.insert(team.to_owned(), record);
        registry.save(&self.dir)
    }

    /// `device revoke` (flow 6): refused by the server at once; then the team's key rotates
    /// so the revoked device cannot read what is written from now on.
    pub async fn revoke(&self, device: &str) -> Result<RevokeReport, AdminError> {
        let id = parse_id("device", device)?;
        let info = self.device(&id).await?;
        let known = Registry::load(&self.dir)?;
        if let Some((team, _)) = known
            .teams
            .iter()
            .find(|(_, r)| r.member(&id).is_some() || r.revoked.contains(&id))
            && *team != info.team
        {
            return Err(AdminError::Untrusted(format!(
                "the server says device {id} is in team {}, IT approved it into {team}",
                info.team
            )));
        }
        let _: IgnoredAny = self
            .client
            .post(
                &format!("/v1/admin/devices/{id}/revoke"),
                &serde_json::json!({}),
            )
            .await
            .map_err(|e| {
                not_found(e, |detail| AdminError::UnknownDevice {
                    device: id.to_string(),
                    detail,
                })
            })?;
        // IT's registry names it revoked before anything else can fail: a rotation run again
        // by hand (`team rotate-key`) then leaves it out too.
        let mut registry = Registry::load(&self.dir)?;
        let mut record = registry.team(&info.team);
        if !record.revoked.contains(&id) {
            record.revoked.push(id);
            registry.teams.insert(info.team.clone(), record);
            registry.save(&self.dir)?;
        }
        let after_revoke = |source: AdminError| AdminError::RotationAfterRevoke {
            device: id.to_string(),
            team: info.team.clone(),
            source: Box::new(source),
        };
        let has_key = self
            .team(&info.team)
            .await
            .map_err(after_revoke)?
            .team
            .current_epoch
            .is_some();
        let rotation = if has_key {
            Some(
                self.rotate(&info.team, Some(&id))
                    .await
                    .map_err(after_revoke)?,
            )
        } else {
            self.revoke_without_key(&info.team, &id)
                .await
                .map_err(after_revoke)?;
            None
        };
        Ok(RevokeReport {
            device: id,
            team: info.team,
            rotation,
        })
    }
}
