//! Enrollment and keys (docs/identity.md): redeeming an enrollment bundle with keys generated
//! on this device, the verified key directory (team keys opened only from slots whose signer
//! checks out against the pinned admin key, under a team statement no older than the one
//! held), and another device's keys for review. Only IT approves devices.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tsunagi_crypto::identity::{
    KemKey, KemPublic, SigKey, SigPublic, Signature, device_code, fingerprint, open_team_key,
};
use tsunagi_crypto::{open_under_store_key, seal_under_store_key};
use tsunagi_protocol::api::{
    DeviceCert, DeviceInfo, DeviceState, EnrollRequest, EnrollResponse, EnrollmentBundle,
    KeyDirectory, KeySlot, Role,
};
use tsunagi_protocol::client::{Client, Pool, Signer};
use tsunagi_store::keys::{KeyError, Keystore};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{Device, DeviceError};

/// What this device knows about its enrollment (kept in the encrypted store's meta table).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrollment {
    /// The server.
    pub server_url: String,
    /// Pinned server identity key (base64).
    pub server_pub: String,
    /// Pinned admin key (base64).
    pub admin_pub: String,
    /// Pinned org recovery key (base64).
    pub org_recovery_pub: String,
    /// This device's id on the server.
    pub device: Uuid,
    /// The user.
    pub user: Uuid,
    /// The user's name.
    pub user_name: String,
    /// The team.
    pub team: String,
    /// The role.
    pub role: Role,
    /// When (RFC 3339).
    pub enrolled_at: String,
    /// IT's shortest PIN for this device (from the bundle; 6 for enrollments before it).
    #[serde(default = "default_pin_min_digits")]
    pub pin_min_digits: u32,
    /// IT's offline key lease in days (from the bundle; 14 for enrollments before it).
    #[serde(default = "default_lease_days")]
    pub lease_days: u32,
}

fn default_pin_min_digits() -> u32 {
    EnrollmentBundle::MIN_PIN_DIGITS
}

fn default_lease_days() -> u32 {
    EnrollmentBundle::DEFAULT_LEASE_DAYS
}

impl Enrollment {
    fn key(field: &str, b64: &str) -> Result<Vec<u8>, DeviceError> {
        B64.decode(b64)
            .map_err(|_| DeviceError::Bundle(format!("{field} is not base64")))
    }

    pub(crate) fn admin_key(&self) -> Result<SigPublic, DeviceError> {
        SigPublic::from_bytes(&Self::key("admin_pub", &self.admin_pub)?)
            .map_err(|e| DeviceError::Bundle(format!("admin key: {e}")))
    }
}

/// This device's own keys, as fingerprints, and what it knows of its enrollment.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityReport {
    /// Signing key fingerprint.
    pub sig_fingerprint: String,
    /// Key-exchange key fingerprint.
    pub kem_fingerprint: String,
    /// The device code (both keys) IT compares before approving.
    pub device_code: String,
    /// The enrollment (server, user, team, role), once it went through.
    pub enrollment: Option<Enrollment>,
}

/// What `enroll` shows: the ids and the fingerprints to compare with IT's screen.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollReport {
    /// This device's id on the server.
    pub device: Uuid,
    /// User name.
    pub user_name: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
    /// DevSig fingerprint.
    pub sig_fingerprint: String,
    /// DevKEM fingerprint.
    pub kem_fingerprint: String,
    /// The device code (both keys) IT compares before approving.
    pub device_code: String,
    /// The pinned server identity's fingerprint.
    pub server_fingerprint: String,
    /// The pinned admin key's fingerprint.
    pub admin_fingerprint: String,
    /// The pinned org recovery key's fingerprint.
    pub org_recovery_fingerprint: String,
}

/// What `keys` reports.
#[derive(Debug, Clone, Serialize)]
pub struct KeysReport {
    /// This device's state on the server.
    pub state: DeviceState,
    /// Team.
    pub team: String,
    /// The team's current key epoch, as the held team statement says (never the server).
    pub current_epoch: Option<u32>,
    /// The version of the team statement held.
    pub statement_version: Option<u64>,
    /// Epochs whose key this device now holds.
    pub epochs_held: Vec<u32>,
    /// Team members whose certificates verified.
    pub verified_members: usize,
    /// Slots, certificates or statements refused, with the reason (never silently dropped).
    pub refused: Vec<String>,
    /// The directory was the one last taken whole: nothing was verified or written.
    pub unchanged: bool,
}

/// Public keys and fingerprints of another device, for comparing before approval.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    /// The device as the server lists it.
    pub info: DeviceInfo,
    /// DevSig fingerprint.
    pub sig_fingerprint: String,
    /// DevKEM fingerprint.
    pub kem_fingerprint: String,
}

/// The device's identity keys, kept in the OS keystore sealed under the store key.
#[derive(Serialize, Deserialize)]
struct IdentityRecord {
    sig: String,
    kem: String,
}

const IDENTITY_LABEL: &str = "tsunagi/device-identity/v1";

pub(crate) struct Identity {
    pub(crate) sig: SigKey,
    pub(crate) kem: KemKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({:?}, {:?})", self.sig, self.kem)
    }
}

fn identity_entry(store_id: &str) -> String {
    format!("identity/{store_id}")
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn untrusted(what: impl Into<String>) -> DeviceError {
    DeviceError::Untrusted(what.into())
}

/// Reads an enrollment bundle without using it: what it is for and which keys it pins. The
/// same checks as [`Device::enroll`] makes before any request (format, version, keys, expiry).
pub(crate) fn inspect_bundle(bundle_json: &str) -> Result<crate::api::BundleInfo, DeviceError> {
    let bundle = parse_bundle(bundle_json)?;
    let server_pub = SigPublic::from_bytes(&bundle.server_pub)
        .map_err(|e| DeviceError::Bundle(format!("server key: {e}")))?;
    let admin_pub = SigPublic::from_bytes(&bundle.admin_pub)
        .map_err(|e| DeviceError::Bundle(format!("admin key: {e}")))?;
    KemPublic::from_bytes(&bundle.org_recovery_pub)
        .map_err(|e| DeviceError::Bundle(format!("org recovery key: {e}")))?;
    Ok(crate::api::BundleInfo {
        server_url: bundle.server_url,
        user_name: bundle.user_name,
        team: bundle.team,
        role: bundle.role.key().to_owned(),
        expires_at: bundle.expires_at,
        server_fingerprint: server_pub.fingerprint(),
        admin_fingerprint: admin_pub.fingerprint(),
        pin_min_digits: bundle.pin_min_digits,
        lease_days: bundle.lease_days,
    })
}

/// Parses a bundle and refuses an unknown version, a plain `http://` server URL other than
/// loopback (`insecure_url`, before any request) or an expired code.
fn parse_bundle(bundle_json: &str) -> Result<EnrollmentBundle, DeviceError> {
    let bundle: EnrollmentBundle = serde_json::from_str(bundle_json.trim())
        .map_err(|e| DeviceError::Bundle(format!("not an enrollment bundle: {e}")))?;
    if bundle.v != 1 {
        return Err(DeviceError::Bundle(format!(
            "bundle version {} is not supported",
            bundle.v
        )));
    }
    match tsunagi_protocol::client::check_server_url(&bundle.server_url) {
        Ok(()) => {}
        Err(e @ tsunagi_protocol::client::ClientError::InsecureUrl(_)) => return Err(e.into()),
        Err(e) => return Err(DeviceError::Bundle(format!("server URL: {e}"))),
    }
    crate::lease::check_bundle_policy(&bundle)?;
    if let Ok(exp) = chrono::DateTime::parse_from_rfc3339(&bundle.expires_at)
        && exp < Utc::now()
    {
        return Err(DeviceError::Bundle(format!(
            "the enrollment code expired at {}",
            bundle.expires_at
        )));
    }
    Ok(bundle)
}

impl Device {
    /// The identity keys, if this device has enrolled.
    pub(crate) fn load_identity<K: Keystore>(
        &self,
        keystore: &K,
    ) -> Result<Option<Identity>, DeviceError> {
        let Some(sealed) = keystore.get(&identity_entry(&self.settings.store_id))? else {
            return Ok(None);
        };
        let plain = open_under_store_key(&self.key, IDENTITY_LABEL, &sealed).map_err(|_| {
            KeyError::Corrupt("identity keys do not open with this store's key".into())
        })?;
        let rec: IdentityRecord =
            serde_json::from_slice(&plain).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        let sig = B64
            .decode(&rec.sig)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Corrupt("sig".into()))?;
        let kem = B64
            .decode(&rec.kem)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Corrupt("kem".into()))?;
        Ok(Some(Identity {
            sig: SigKey::from_seed(&sig)?,
            kem: KemKey::from_secret(&kem)?,
        }))
    }

    fn save_identity<K: Keystore>(&self, keystore: &K, id: &Identity) -> Result<(), DeviceError> {
        let rec = IdentityRecord {
            sig: B64.encode(id.sig.seed().as_ref()),
            kem: B64.encode(id.kem.secret().as_ref()),
        };
        let json =
            Zeroizing::new(serde_json::to_vec(&rec).map_err(|e| KeyError::Corrupt(e.to_string()))?);
        drop(rec);
        let sealed = seal_under_store_key(&self.key, IDENTITY_LABEL, &json)?;
        keystore.set(&identity_entry(&self.settings.store_id), &sealed)?;
        Ok(())
    }

    /// This device's enrollment, if any.
    pub fn enrollment(&self) -> Result<Option<Enrollment>, DeviceError> {
        match self.store.meta("enrollment")? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| DeviceError::Bundle(format!("stored enrollment unreadable: {e}"))),
        }
    }

    fn require_enrollment(&self) -> Result<Enrollment, DeviceError> {
        self.enrollment()?.ok_or(DeviceError::NotEnrolled)
    }

    /// The device's HTTP connections, made on first use and kept while it is open (every sync
    /// round reuses the TLS setup and the open connection).
    fn http_pool(&self) -> Result<&Pool, DeviceError> {
        if let Some(pool) = self.http.get() {
            return Ok(pool);
        }
        let pool = Pool::new()?;
        Ok(self.http.get_or_init(|| pool))
    }

    /// A client signed with this device's key (loaded from the keystore each time, so a
    /// re-enrollment or a removed key takes effect at once), over the device's connections.
    pub(crate) fn signed_client<K: Keystore>(
        &self,
        keystore: &K,
    ) -> Result<(Client, Enrollment, Identity), DeviceError> {
        let enrollment = self.require_enrollment()?;
        let identity = self
            .load_identity(keystore)?
            .ok_or(DeviceError::NotEnrolled)?;
        let signer = Signer {
            key_id: enrollment.device.to_string(),
            key: SigKey::from_seed(identity.sig.seed().as_ref())?,
        };
        let client = Client::with_pool(self.http_pool()?, &enrollment.server_url, Some(signer))?;
        Ok((client, enrollment, identity))
    }

    /// Redeems an enrollment bundle: generates DevSig and DevKEM here, registers their public
    /// halves with the code, and checks the server's answer against the pinned server key.
    pub async fn enroll<K: Keystore>(
        &mut self,
        bundle_json: &str,
        keystore: &K,
    ) -> Result<EnrollReport, DeviceError> {
        if self.enrollment()?.is_some() {
            return Err(DeviceError::AlreadyEnrolled);
        }
        let bundle = parse_bundle(bundle_json)?;
        let server_pub = SigPublic::from_bytes(&bundle.server_pub)
            .map_err(|e| DeviceError::Bundle(format!("server key: {e}")))?;
        let admin_pub = SigPublic::from_bytes(&bundle.admin_pub)
            .map_err(|e| DeviceError::Bundle(format!("admin key: {e}")))?;
        let ork = KemPublic::from_bytes(&bundle.org_recovery_pub)
            .map_err(|e| DeviceError::Bundle(format!("org recovery key: {e}")))?;

        // Keys are made (and kept) before the request, so a lost answer can be retried with
        // the same keys; a stale identity from an earlier failed attempt is replaced.
        let identity = Identity {
            sig: SigKey::generate()?,
            kem: KemKey::generate()?,
        };
        self.save_identity(keystore, &identity)?;
        let sig_pub = identity.sig.public();
        let kem_pub = identity.kem.public();
        let proof = identity.sig.sign(&EnrollRequest::proof_message(
            &bundle.code,
            sig_pub.as_bytes(),
            kem_pub.as_bytes(),
        ));
        let client = Client::new(&bundle.server_url, None)?;
        let resp: EnrollResponse = client
            .post(
                "/v1/enroll",
                &EnrollRequest {
                    code: bundle.code.clone(),
                    sig_pub: sig_pub.as_bytes().to_vec(),
                    kem_pub: kem_pub.as_bytes().to_vec(),
                    proof: proof.0.to_vec(),
                    device: Some(*self.settings.device_id.as_uuid()),
                },
            )
            .await?;
        let server_sig = Signature::from_bytes(&resp.server_sig)
            .map_err(|_| untrusted("malformed server signature"))?;
        server_pub
            .verify(
                &EnrollResponse::signed_message(&resp.device, &bundle.code, sig_pub.as_bytes()),
                &server_sig,
            )
            .map_err(|_| {
                untrusted("the server's answer is not signed by the server pinned in the bundle")
            })?;
        if resp.user != bundle.user || resp.team != bundle.team || resp.role != bundle.role {
            return Err(untrusted(
                "the server enrolled this device for another user, team or role than the bundle says",
            ));
        }
        let enrollment = Enrollment {
            server_url: bundle.server_url.clone(),
            server_pub: B64.encode(server_pub.as_bytes()),
            admin_pub: B64.encode(admin_pub.as_bytes()),
            org_recovery_pub: B64.encode(ork.as_bytes()),
            device: resp.device,
            user: resp.user,
            user_name: resp.user_name.clone(),
            team: resp.team.clone(),
            role: resp.role,
            enrolled_at: now_rfc3339(),
            pin_min_digits: bundle.pin_min_digits,
            lease_days: bundle.lease_days,
        };
        let json =
            serde_json::to_string(&enrollment).map_err(|e| DeviceError::Bundle(e.to_string()))?;
        self.store.set_meta("enrollment", &json)?;
        self.enrolled_policy(keystore)?;
        Ok(EnrollReport {
            device: resp.device,
            user_name: resp.user_name,
            team: resp.team,
            role: resp.role,
            sig_fingerprint: sig_pub.fingerprint(),
            kem_fingerprint: kem_pub.fingerprint(),
            device_code: device_code(sig_pub.as_bytes(), kem_pub.as_bytes()),
            server_fingerprint: server_pub.fingerprint(),
            admin_fingerprint: admin_pub.fingerprint(),
            org_recovery_fingerprint: ork.fingerprint(),
        })
    }

    /// Fetches the key directory, verifies every certificate and slot, and keeps the team keys
    /// sealed to this device. Anything that does not verify is refused and reported.
    pub async fn refresh_keys<K: Keystore>(
        &mut self,
        keystore: &K,
    ) -> Result<KeysReport, DeviceError> {
        let (client, enrollment, identity) = self.signed_client(keystore)?;
        self.refresh_keys_with(&client, &enrollment, &identity)
            .await
    }

    /// [`Device::refresh_keys`] with a client and keys already loaded (a sync round loads
    /// them once).
    pub(crate) async fn refresh_keys_with(
        &mut self,
        client: &Client,
        enrollment: &Enrollment,
        identity: &Identity,
    ) -> Result<KeysReport, DeviceError> {
        let dir: KeyDirectory = client.get("/v1/keys").await?;
        if dir.device != enrollment.device {
            return Err(untrusted("the key directory is for another device"));
        }
        if dir.team != enrollment.team {
            return Err(untrusted("the key directory is for another team"));
        }
        // Nothing changed since the last refresh that went through: nothing to verify or write.
        let digest = directory_digest(&dir)?;
        if self.store.meta(KEYS_DIGEST)?.as_deref() == Some(digest.as_str()) {
            let st = self.held_statement(&enrollment.team)?;
            return Ok(KeysReport {
                state: dir.state,
                team: dir.team.clone(),
                current_epoch: st.as_ref().map(|s| s.epoch).filter(|e| *e > 0),
                statement_version: st.map(|s| s.version),
                epochs_held: self.store.team_key_epochs(&dir.team)?,
                verified_members: 0,
                refused: Vec::new(),
                unchanged: true,
            });
        }
        let admin = enrollment.admin_key()?;
        let mut refused = Vec::new();
        let statement = self.take_statement(
            dir.statement.as_ref(),
            &admin,
            &enrollment.team,
            &mut refused,
        )?;
        let members = verified_certs(&dir.certs, &admin, &mut refused);
        let me = enrollment.device.to_string();
        // Slots count only under a statement that lists this device with its own keys, and
        // only up to the statement's epoch: the server's word on either counts for nothing.
        let max_epoch = match &statement {
            None => {
                if !dir.slots.is_empty() {
                    refused.push(
                        "no team statement signed by IT is held yet; key slots wait for one"
                            .to_owned(),
                    );
                }
                0
            }
            Some(st) => match st.member(&enrollment.device) {
                Some(m)
                    if m.sig_pub == identity.sig.public().as_bytes()
                        && m.kem_pub == identity.kem.public().as_bytes() =>
                {
                    st.epoch
                }
                Some(_) => {
                    refused.push(format!(
                        "key_substituted: statement {} lists other keys for this device than its own",
                        st.version
                    ));
                    0
                }
                None if st.revoked.contains(&enrollment.device) => {
                    refused.push(format!("statement {} revokes this device", st.version));
                    0
                }
                None => {
                    refused.push(format!(
                        "statement {} does not list this device (yet)",
                        st.version
                    ));
                    0
                }
            },
        };
        for slot in &dir.slots {
            if slot.recipient != me || slot.team != enrollment.team {
                refused.push(format!(
                    "slot {}/{} is addressed to {}",
                    slot.team, slot.epoch, slot.recipient
                ));
                continue;
            }
            if slot.epoch == 0 || slot.epoch > max_epoch {
                if max_epoch > 0 {
                    refused.push(format!(
                        "slot {}/{} is beyond the epoch {max_epoch} of the team statement",
                        slot.team, slot.epoch
                    ));
                }
                continue;
            }
            if let Err(why) = verify_slot(slot, &admin) {
                refused.push(format!("slot {}/{}: {why}", slot.team, slot.epoch));
                continue;
            }
            if self.store.team_key(&slot.team, slot.epoch)?.is_some() {
                continue;
            }
            match open_team_key(&identity.kem, &slot.sealed(), &slot.context()) {
                Ok(tk) => self.store.put_team_key(
                    &slot.team,
                    slot.epoch,
                    &tk,
                    &slot.signer,
                    &now_rfc3339(),
                )?,
                Err(_) => refused.push(format!(
                    "slot {}/{} does not open with this device's key",
                    slot.team, slot.epoch
                )),
            }
        }
        if refused.is_empty() {
            self.store.set_meta(KEYS_DIGEST, &digest)?;
        }
        Ok(KeysReport {
            state: dir.state,
            team: dir.team.clone(),
            current_epoch: statement.as_ref().map(|s| s.epoch).filter(|e| *e > 0),
            statement_version: statement.map(|s| s.version),
            epochs_held: self.store.team_key_epochs(&dir.team)?,
            verified_members: members.len(),
            refused,
            unchanged: false,
        })
    }

    /// Another device's public keys and fingerprints (a lead compares them before approving).
    pub async fn peer<K: Keystore>(
        &self,
        device: &str,
        keystore: &K,
    ) -> Result<PeerReport, DeviceError> {
        let id =
            Uuid::parse_str(device.trim()).map_err(|_| tsunagi_core::DomainError::InvalidId {
                what: "device id",
                value: device.to_owned(),
            })?;
        let (client, _, _) = self.signed_client(keystore)?;
        let info: DeviceInfo = client.get(&format!("/v1/devices/{id}")).await?;
        Ok(PeerReport {
            sig_fingerprint: fingerprint(&info.sig_pub),
            kem_fingerprint: fingerprint(&info.kem_pub),
            info,
        })
    }

    /// This device's own fingerprints (to compare with IT's screen) and its enrollment.
    /// Refused before enrollment (there are no keys yet).
    pub fn identity<K: Keystore>(&self, keystore: &K) -> Result<IdentityReport, DeviceError> {
        let identity = self
            .load_identity(keystore)?
            .ok_or(DeviceError::NotEnrolled)?;
        Ok(IdentityReport {
            sig_fingerprint: identity.sig.public().fingerprint(),
            kem_fingerprint: identity.kem.public().fingerprint(),
            device_code: device_code(
                identity.sig.public().as_bytes(),
                identity.kem.public().as_bytes(),
            ),
            enrollment: self.enrollment()?,
        })
    }
}

/// Certificates that verify against the pinned admin key (IT alone approves devices). Returns
/// device id → (DevSig, certificate).
pub(crate) fn verified_certs(
    certs: &[DeviceCert],
    admin: &SigPublic,
    refused: &mut Vec<String>,
) -> HashMap<String, (SigPublic, DeviceCert)> {
    let mut ok: HashMap<String, (SigPublic, DeviceCert)> = HashMap::new();
    for c in certs {
        let checked = (|| -> Result<SigPublic, String> {
            if c.signer != "admin" {
                return Err(format!("signed by {}, not by the admin key", c.signer));
            }
            let sig =
                Signature::from_bytes(&c.sig).map_err(|_| "malformed signature".to_string())?;
            admin
                .verify(&c.signed_message(), &sig)
                .map_err(|_| "signature does not verify".to_string())?;
            SigPublic::from_bytes(&c.sig_pub).map_err(|e| e.to_string())
        })();
        match checked {
            Ok(pk) => {
                ok.insert(c.device.to_string(), (pk, c.clone()));
            }
            Err(why) => refused.push(format!("certificate of {}: {why}", c.device)),
        }
    }
    ok
}

/// A slot verifies when the admin key signed it.
fn verify_slot(slot: &KeySlot, admin: &SigPublic) -> Result<(), String> {
    if slot.signer != "admin" {
        return Err(format!("signed by {}, not by the admin key", slot.signer));
    }
    let sig = Signature::from_bytes(&slot.sig).map_err(|_| "malformed signature".to_string())?;
    admin
        .verify(&slot.signed_message(), &sig)
        .map_err(|_| "signature does not verify".to_string())
}

/// SHA-256 of the directory as received (hex): equal when nothing in it changed.
fn directory_digest(dir: &KeyDirectory) -> Result<String, DeviceError> {
    let json = serde_json::to_vec(dir).map_err(|e| untrusted(e.to_string()))?;
    Ok(tsunagi_crypto::identity::sha256(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Meta key of the digest of the last key directory taken whole.
const KEYS_DIGEST: &str = "keys.directory_digest";
