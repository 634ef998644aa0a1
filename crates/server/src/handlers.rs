//! The endpoints of docs/identity.md. Handlers check who may do what and verify every
//! signature (certificates, key slots, enrollment proofs); storage makes each change atomic.
//! Nothing here can decrypt: the server only verifies and stores bytes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashSet;
use tsunagi_crypto::identity::{KemPublic, SigPublic, Signature};
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, BootstrapResponse, CreateEnrollment, CreateTeam, CreateUser,
    DeviceCert, DeviceInfo, DeviceState, EnrollRequest, EnrollResponse, EnrollmentBundle, Health,
    KeyDirectory, KeySlot, Role, SlotsUpload, StatementAnswer, Team, TeamMembers, TeamStatement,
    User,
};
use uuid::Uuid;

use crate::auth::{Caller, JsonBody, Signed};
use crate::error::{ApiError, ApiResult, error_response};
use crate::storage::{
    Approval, ApproveOutcome, BootstrapOutcome, DeviceRow, NewDevice, RedeemOutcome, RotateOutcome,
    TeamRow, UserRow,
};
use crate::{AppState, now_ms, secret_hash};

/// Enrollment codes live this long unless asked otherwise.
const DEFAULT_TTL_HOURS: u32 = 72;
/// And at most this long.
const MAX_TTL_HOURS: u32 = 720;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn info(d: &DeviceRow) -> DeviceInfo {
    DeviceInfo {
        id: d.id,
        user: d.user.id,
        user_name: d.user.name.clone(),
        team: d.user.team.clone(),
        role: d.user.role,
        state: d.state,
        sig_pub: d.sig_pub.clone(),
        kem_pub: d.kem_pub.clone(),
        enrolled_at: rfc3339(d.enrolled_at),
        approved_at: d.approved_at.map(rfc3339),
        revoked_at: d.revoked_at.map(rfc3339),
        last_seen: d.last_seen.map(rfc3339),
    }
}

fn team_dto(t: &TeamRow) -> Team {
    Team {
        id: t.id.clone(),
        program: t.program.clone(),
        current_epoch: t.current_epoch,
    }
}

pub(crate) fn parse_device_id(s: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found("no such device"))
}

pub(crate) fn stored_cert(d: &DeviceRow) -> ApiResult<Option<DeviceCert>> {
    d.cert
        .as_deref()
        .map(serde_json::from_str::<DeviceCert>)
        .transpose()
        .map_err(|e| ApiError::internal(&format!("stored certificate of {}: {e}", d.id)))
}

/// The caller's lead certificate, when it is an active device certified (by the admin) as a
/// lead of its own team.
fn lead_cert(d: &DeviceRow) -> ApiResult<Option<DeviceCert>> {
    if d.state != DeviceState::Active {
        return Ok(None);
    }
    Ok(stored_cert(d)?.filter(|c| {
        c.role == Role::Lead && c.signer == "admin" && c.team == d.user.team && c.device == d.id
    }))
}

async fn admin_public(state: &AppState) -> ApiResult<SigPublic> {
    let org = state
        .storage()
        .org()
        .await?
        .and_then(|o| o.admin_pub)
        .ok_or_else(|| ApiError::internal(&"no admin key although a request was authenticated"))?;
    SigPublic::from_bytes(&org).map_err(|e| ApiError::internal(&format!("admin key: {e}")))
}

pub(crate) fn verify_sig(public: &SigPublic, msg: &[u8], sig: &[u8], what: &str) -> ApiResult<()> {
    let sig = Signature::from_bytes(sig).map_err(|_| {
        ApiError::bad_request("bad_signature", format!("{what}: malformed signature"))
    })?;
    public.verify(msg, &sig).map_err(|_| {
        ApiError::bad_request(
            "bad_signature",
            format!("{what}: signature does not verify"),
        )
    })
}

/// Shape checks of a slot the server cannot open: HPKE X25519 `enc` is 32 bytes, the sealed
/// 32-byte key with its tag 48.
fn check_slot_shape(s: &KeySlot) -> ApiResult<()> {
    if s.enc.len() != 32 || s.ct.len() != 48 {
        return Err(ApiError::bad_request(
            "bad_slot",
            format!("slot for {}: enc must be 32 bytes and ct 48", s.recipient),
        ));
    }
    Ok(())
}

pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

pub(crate) async fn bootstrap(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BootstrapRequest>,
) -> ApiResult<Json<BootstrapResponse>> {
    SigPublic::from_bytes(&req.admin_pub)
        .map_err(|e| ApiError::bad_request("bad_key", format!("admin_pub: {e}")))?;
    KemPublic::from_bytes(&req.org_recovery_pub)
        .map_err(|e| ApiError::bad_request("bad_key", format!("org_recovery_pub: {e}")))?;
    match state
        .storage()
        .bootstrap(
            secret_hash(&req.token),
            &req.admin_pub,
            &req.org_recovery_pub,
            now_ms(),
        )
        .await?
    {
        BootstrapOutcome::Done => {
            tracing::info!("org bootstrapped");
            Ok(Json(BootstrapResponse {
                server_pub: state.server_pub(),
            }))
        }
        BootstrapOutcome::WrongToken => {
            Err(ApiError::unauthorized("bad_token", "wrong bootstrap token"))
        }
        BootstrapOutcome::Already => Err(ApiError::conflict(
            "already_bootstrapped",
            "this server is already bootstrapped",
        )),
    }
}

pub(crate) async fn enroll(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    let sig_pub = SigPublic::from_bytes(&req.sig_pub)
        .map_err(|e| ApiError::bad_request("bad_key", format!("sig_pub: {e}")))?;
    KemPublic::from_bytes(&req.kem_pub)
        .map_err(|e| ApiError::bad_request("bad_key", format!("kem_pub: {e}")))?;
    let proof = Signature::from_bytes(&req.proof)
        .map_err(|_| ApiError::bad_request("bad_proof", "proof is not a 64-byte signature"))?;
    sig_pub
        .verify(
            &EnrollRequest::proof_message(&req.code, &req.sig_pub, &req.kem_pub),
            &proof,
        )
        .map_err(|_| {
            ApiError::unauthorized("bad_proof", "the proof does not verify with sig_pub")
        })?;
    // The device's own id (the one its change sets carry), or one made here.
    let id = match req.device {
        Some(id) if id.is_nil() => {
            return Err(ApiError::bad_request(
                "bad_device_id",
                "the device id must not be the nil UUID",
            ));
        }
        Some(id) => id,
        None => Uuid::now_v7(),
    };
    let device = NewDevice {
        id,
        sig_pub: req.sig_pub.clone(),
        kem_pub: req.kem_pub.clone(),
    };
    match state
        .storage()
        .redeem(secret_hash(&req.code), &device, now_ms())
        .await?
    {
        RedeemOutcome::Enrolled(user) => {
            tracing::info!(device = %device.id, user = %user.id, "device enrolled (pending)");
            let server_sig = state.inner.identity.sign(&EnrollResponse::signed_message(
                &device.id,
                &req.code,
                &req.sig_pub,
            ));
            Ok(Json(EnrollResponse {
                device: device.id,
                user: user.id,
                user_name: user.name,
                team: user.team,
                role: user.role,
                server_sig: server_sig.0.to_vec(),
            }))
        }
        RedeemOutcome::Unknown => Err(ApiError::unauthorized(
            "unknown_code",
            "unknown enrollment code",
        )),
        RedeemOutcome::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "code_expired",
            "this enrollment code has expired; ask IT for a new one",
        )),
        RedeemOutcome::Used => Err(ApiError::conflict(
            "code_used",
            "this enrollment code was already used",
        )),
        RedeemOutcome::KeyInUse => Err(ApiError::conflict(
            "key_in_use",
            "this signing key is already enrolled",
        )),
        RedeemOutcome::IdInUse => Err(ApiError::conflict(
            "device_id_in_use",
            "another device is already enrolled under this device id; the code is still usable",
        )),
    }
}

pub(crate) async fn keys(
    State(state): State<AppState>,
    signed: Signed<true>,
) -> ApiResult<Json<KeyDirectory>> {
    let Caller::Device(me) = signed.caller else {
        return Err(ApiError::forbidden("the key directory is for devices"));
    };
    let storage = state.storage();
    let team = storage
        .team(&me.user.team)
        .await?
        .ok_or_else(|| ApiError::internal(&format!("team {} of a device", me.user.team)))?;
    let mut certs = Vec::new();
    for d in storage.devices(Some(&me.user.team)).await? {
        if d.state == DeviceState::Active
            && let Some(c) = stored_cert(&d)?
        {
            certs.push(c);
        }
    }
    let slots = storage.slots_for(&me.id.to_string()).await?;
    let statement = stored_statement(&state, &me.user.team).await?;
    Ok(Json(KeyDirectory {
        device: me.id,
        state: me.state,
        team: me.user.team.clone(),
        current_epoch: team.current_epoch,
        certs,
        slots,
        statement,
    }))
}

async fn stored_statement(state: &AppState, team: &str) -> ApiResult<Option<TeamStatement>> {
    state
        .storage()
        .statement(team)
        .await?
        .map(|body| {
            serde_json::from_str(&body)
                .map_err(|e| ApiError::internal(&format!("stored statement of {team}: {e}")))
        })
        .transpose()
}

/// `POST /v1/admin/teams/{team}/statement`: the admin's signed statement of the team, kept
/// when its version is above the stored one (409 `stale_statement` otherwise). The server
/// checks the signature only to refuse garbage early: devices check it themselves.
pub(crate) async fn put_statement(
    State(state): State<AppState>,
    Path(team): Path<String>,
    signed: Signed,
) -> ApiResult<Json<TeamStatement>> {
    signed.require_admin()?;
    let st: TeamStatement = signed.json()?;
    let storage = state.storage();
    storage
        .team(&team)
        .await?
        .ok_or_else(|| ApiError::not_found("no such team"))?;
    if st.team != team
        || st.version == 0
        || i64::try_from(st.version).is_err()
        || chrono::DateTime::parse_from_rfc3339(&st.issued_at).is_err()
    {
        return Err(ApiError::bad_request(
            "bad_statement",
            "a statement names this team, a version from 1 to 2^63-1 and an RFC 3339 issue time",
        ));
    }
    let admin = admin_public(&state).await?;
    verify_sig(&admin, &st.signed_message(), &st.sig, "team statement")?;
    let body = serde_json::to_string(&st)
        .map_err(|e| ApiError::internal(&format!("statement json: {e}")))?;
    if !storage
        .put_statement(&team, st.version, &body, now_ms())
        .await?
    {
        return Err(ApiError::conflict(
            "stale_statement",
            format!("team {team} has a statement of this version or a later one"),
        ));
    }
    tracing::info!(team = %team, version = st.version, epoch = st.epoch, "team statement stored");
    Ok(Json(st))
}

/// `GET /v1/teams/{team}/statement`: any active device reads any team's statement (to check a
/// team it shares a case with); the statement names devices and keys, nothing of any record.
pub(crate) async fn get_statement(
    State(state): State<AppState>,
    Path(team): Path<String>,
    _signed: Signed,
) -> ApiResult<Json<StatementAnswer>> {
    if !valid_team_id(&team) {
        return Err(ApiError::bad_request("bad_team", "not a team id"));
    }
    Ok(Json(StatementAnswer {
        statement: stored_statement(&state, &team).await?,
    }))
}

/// Whether `caller` may see `target`: the admin, or an active lead of the target's team.
fn may_see(caller: &Caller, target: &DeviceRow) -> ApiResult<()> {
    match caller {
        Caller::Admin => Ok(()),
        Caller::Device(d) => match lead_cert(d)? {
            Some(c) if c.team == target.user.team => Ok(()),
            Some(_) => Err(ApiError::forbidden(
                "a lead acts only on devices of its own team",
            )),
            None => Err(ApiError::forbidden(
                "only the admin or a lead of the team may do this",
            )),
        },
    }
}

pub(crate) async fn device_info(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> ApiResult<Json<DeviceInfo>> {
    let id = parse_device_id(&id)?;
    let target = state
        .storage()
        .device(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such device"))?;
    may_see(&signed.caller, &target)?;
    Ok(Json(info(&target)))
}

pub(crate) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> ApiResult<Json<DeviceInfo>> {
    // Only IT approves: it compares the device code and keeps the registry of approved keys
    // that team statements are signed from (docs/security.md).
    signed.require_admin()?;
    let id = parse_device_id(&id)?;
    let req: ApproveRequest = signed.json()?;
    let storage = state.storage();
    let target = storage
        .device(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such device"))?;
    let signer = "admin";
    if target.state != DeviceState::Pending {
        return Err(ApiError::conflict(
            "not_pending",
            format!("the device is {}, not pending", target.state.key()),
        ));
    }
    let signer_pub = admin_public(&state).await?;

    // The certificate: signed by the admin key, about exactly this device.
    let cert = &req.cert;
    if cert.signer != signer {
        return Err(ApiError::bad_request(
            "bad_cert",
            "the certificate's signer must be the caller",
        ));
    }
    let matches = cert.device == target.id
        && cert.user == target.user.id
        && cert.user_name == target.user.name
        && cert.team == target.user.team
        && cert.role == target.user.role
        && cert.sig_pub == target.sig_pub
        && cert.kem_pub == target.kem_pub
        && chrono::DateTime::parse_from_rfc3339(&cert.issued_at).is_ok();
    if !matches {
        return Err(ApiError::bad_request(
            "bad_cert",
            "the certificate does not match the enrolled device, its user, team and role",
        ));
    }
    verify_sig(
        &signer_pub,
        &cert.signed_message(),
        &cert.sig,
        "certificate",
    )?;

    // The slots: for this team, the current epoch (or epoch 1 with an org slot when the team
    // has no key yet), sealed to this device, signed by the caller.
    let team = storage
        .team(&target.user.team)
        .await?
        .ok_or_else(|| ApiError::internal(&format!("team {} of a device", target.user.team)))?;
    let (epoch, creates) = match team.current_epoch {
        Some(e) => (e, false),
        None => (1, true),
    };
    let device_name = target.id.to_string();
    let mut seen = HashSet::new();
    for s in &req.slots {
        check_slot_shape(s)?;
        if s.team != team.id {
            return Err(ApiError::bad_request(
                "bad_slot",
                "a slot is for another team",
            ));
        }
        if s.epoch != epoch {
            return Err(ApiError::bad_request(
                "bad_slot",
                format!("slots must be for the team's current epoch {epoch}"),
            ));
        }
        let allowed = s.recipient == device_name || (creates && s.recipient == "org");
        if !allowed {
            return Err(ApiError::bad_request(
                "bad_slot",
                format!("a slot is sealed to {:?}, not to this device", s.recipient),
            ));
        }
        if s.signer != signer {
            return Err(ApiError::bad_request(
                "bad_slot",
                "a slot's signer must be the caller",
            ));
        }
        if !seen.insert(s.recipient.clone()) {
            return Err(ApiError::bad_request(
                "bad_slot",
                "two slots for one recipient",
            ));
        }
        verify_sig(&signer_pub, &s.signed_message(), &s.sig, "key slot")?;
    }
    if !seen.contains(&device_name) || (creates && !seen.contains("org")) {
        return Err(ApiError::bad_request(
            "bad_slot",
            if creates {
                "the team's first key needs slots for the device and for \"org\""
            } else {
                "a slot for the device is required"
            },
        ));
    }

    let cert_json =
        serde_json::to_string(cert).map_err(|e| ApiError::internal(&format!("cert json: {e}")))?;
    let now = now_ms();
    match storage
        .approve(
            &Approval {
                device: id,
                team: team.id.clone(),
                cert_json,
                slots: req.slots,
                epoch,
                creates_epoch: creates,
            },
            now,
        )
        .await?
    {
        ApproveOutcome::Approved => {}
        ApproveOutcome::NotPending => {
            return Err(ApiError::conflict(
                "not_pending",
                "the device is not pending",
            ));
        }
        ApproveOutcome::EpochChanged => {
            return Err(ApiError::conflict(
                "epoch_changed",
                "the team's key epoch changed meanwhile; fetch it and try again",
            ));
        }
    }
    tracing::info!(device = %id, by = %signer, epoch, "device approved");
    let d = storage
        .device(id)
        .await?
        .ok_or_else(|| ApiError::internal(&"approved device vanished"))?;
    Ok(Json(info(&d)))
}

pub(crate) fn valid_team_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

pub(crate) async fn create_team(
    State(state): State<AppState>,
    signed: Signed,
) -> ApiResult<(StatusCode, Json<Team>)> {
    signed.require_admin()?;
    let req: CreateTeam = signed.json()?;
    if !valid_team_id(&req.id) {
        return Err(ApiError::bad_request(
            "bad_team",
            "team id: 1-64 lower-case ASCII letters, digits and '-'",
        ));
    }
    let program_ok = (1..=32).contains(&req.program.len())
        && req
            .program
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !program_ok {
        return Err(ApiError::bad_request(
            "bad_program",
            "program: 1-32 lower-case ASCII letters, digits and '_'",
        ));
    }
    let team = TeamRow {
        id: req.id,
        program: req.program,
        current_epoch: None,
    };
    if !state.storage().create_team(&team, now_ms()).await? {
        return Err(ApiError::conflict("exists", "a team with this id exists"));
    }
    Ok((StatusCode::CREATED, Json(team_dto(&team))))
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    signed: Signed,
) -> ApiResult<(StatusCode, Json<User>)> {
    signed.require_admin()?;
    let req: CreateUser = signed.json()?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "bad_name",
            "name: 1-200 characters, no control characters",
        ));
    }
    let storage = state.storage();
    if storage.team(&req.team).await?.is_none() {
        return Err(ApiError::not_found("no such team"));
    }
    let user = UserRow {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        team: req.team,
        role: req.role,
    };
    storage.create_user(&user, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(User {
            id: user.id,
            name: user.name,
            team: user.team,
            role: user.role,
        }),
    ))
}

pub(crate) async fn create_enrollment(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: Signed,
) -> ApiResult<(StatusCode, Json<EnrollmentBundle>)> {
    signed.require_admin()?;
    let req: CreateEnrollment = signed.json()?;
    let ttl = req.ttl_hours.unwrap_or(DEFAULT_TTL_HOURS);
    if !(1..=MAX_TTL_HOURS).contains(&ttl) {
        return Err(ApiError::bad_request(
            "bad_ttl",
            format!("ttl_hours: 1 to {MAX_TTL_HOURS}"),
        ));
    }
    let storage = state.storage();
    let user = storage
        .user(req.user)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    let org = storage
        .org()
        .await?
        .ok_or_else(|| ApiError::internal(&"no org row"))?;
    let (Some(admin_pub), Some(org_recovery_pub)) = (org.admin_pub, org.org_recovery_pub) else {
        return Err(ApiError::internal(&"org not bootstrapped"));
    };
    let code =
        crate::base32(&tsunagi_crypto::random_array::<16>().map_err(|e| ApiError::internal(&e))?);
    let now = now_ms();
    let expires_at = now + i64::from(ttl) * 3_600_000;
    storage
        .create_enrollment(secret_hash(&code), user.id, expires_at, now)
        .await?;
    let server_url = match &state.settings().public_url {
        Some(u) => u.clone(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    tracing::info!(user = %user.id, ttl_hours = ttl, "enrollment code issued");
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentBundle {
            v: 1,
            server_url,
            server_pub: state.server_pub(),
            admin_pub,
            org_recovery_pub,
            code,
            user: user.id,
            user_name: user.name,
            team: user.team,
            role: user.role,
            expires_at: rfc3339(expires_at),
            // IT's device policy is set by tsunagi-admin in the bundle it writes.
            pin_min_digits: EnrollmentBundle::MIN_PIN_DIGITS,
            lease_days: EnrollmentBundle::DEFAULT_LEASE_DAYS,
        }),
    ))
}

pub(crate) async fn list_devices(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    signed: Signed,
) -> ApiResult<Json<Vec<DeviceInfo>>> {
    signed.require_admin()?;
    let mut team = None;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("team", t)) if valid_team_id(t) => team = Some(t.to_owned()),
            _ => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    "the only query parameter is team=<team id>",
                ));
            }
        }
    }
    let devices = state.storage().devices(team.as_deref()).await?;
    Ok(Json(devices.iter().map(info).collect()))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> ApiResult<Json<DeviceInfo>> {
    signed.require_admin()?;
    let id = parse_device_id(&id)?;
    let storage = state.storage();
    if !storage.revoke(id, now_ms()).await? {
        return Err(ApiError::not_found("no such device"));
    }
    tracing::info!(device = %id, "device revoked");
    let d = storage
        .device(id)
        .await?
        .ok_or_else(|| ApiError::internal(&"revoked device vanished"))?;
    Ok(Json(info(&d)))
}

pub(crate) async fn team_members(
    State(state): State<AppState>,
    Path(team): Path<String>,
    signed: Signed,
) -> ApiResult<Json<TeamMembers>> {
    signed.require_admin()?;
    let storage = state.storage();
    let t = storage
        .team(&team)
        .await?
        .ok_or_else(|| ApiError::not_found("no such team"))?;
    let devices = storage.devices(Some(&team)).await?;
    // The admin opens this slot with the offline recovery key to seal the current team key to
    // a newly approved device; it verifies the admin signature on it first.
    let org_slot = match t.current_epoch {
        Some(epoch) => storage
            .slots_of(&team, epoch)
            .await?
            .into_iter()
            .find(|s| s.recipient == "org"),
        None => None,
    };
    Ok(Json(TeamMembers {
        team: team_dto(&t),
        devices: devices.iter().map(info).collect(),
        org_slot,
    }))
}

pub(crate) async fn rotate(
    State(state): State<AppState>,
    Path(team): Path<String>,
    signed: Signed,
) -> ApiResult<Json<Team>> {
    signed.require_admin()?;
    let req: SlotsUpload = signed.json()?;
    let storage = state.storage();
    let t = storage
        .team(&team)
        .await?
        .ok_or_else(|| ApiError::not_found("no such team"))?;
    let next = t.current_epoch.unwrap_or(0) + 1;
    if req.epoch != next {
        return Err(ApiError::conflict(
            "epoch_changed",
            format!("the next epoch of {team} is {next}"),
        ));
    }
    let admin = admin_public(&state).await?;
    for s in &req.slots {
        check_slot_shape(s)?;
        if s.team != team || s.epoch != req.epoch || s.signer != "admin" {
            return Err(ApiError::bad_request(
                "bad_slot",
                "every slot must be for this team and epoch, signed by \"admin\"",
            ));
        }
        verify_sig(&admin, &s.signed_message(), &s.sig, "key slot")?;
    }
    match storage
        .rotate(&team, req.epoch, &req.slots, now_ms())
        .await?
    {
        RotateOutcome::Rotated => {}
        RotateOutcome::EpochChanged => {
            return Err(ApiError::conflict(
                "epoch_changed",
                "the team's epoch changed meanwhile",
            ));
        }
        RotateOutcome::Recipients { missing, extra } => {
            return Err(ApiError::bad_request(
                "slot_recipients",
                format!(
                    "slots must be exactly one per active device and one for \"org\"; missing {missing:?}, not allowed {extra:?}"
                ),
            ));
        }
    }
    tracing::info!(team = %team, epoch = req.epoch, "team key rotated");
    Ok(Json(Team {
        current_epoch: Some(req.epoch),
        ..team_dto(&t)
    }))
}
